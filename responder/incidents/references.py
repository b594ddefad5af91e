"""Human incident references such as BHM-2026-0042: per local authority, per year."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

from responder.clock import now_utc, to_local
from responder.extensions import db
from responder.models import ReferenceCounter

_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def next_reference(local_authority: str, code: str) -> str:
    """Take the next number in the caller's transaction, in one statement.

    The counter row is created at 1, or incremented if it exists (an upsert);
    either way it stays locked (a row lock on PostgreSQL, the write lock on
    SQLite) until the transaction ends, so two officers opening incidents at
    the same moment never get the same number.
    """
    year = to_local(now_utc()).year
    insert = _INSERT[db.session.get_bind().dialect.name]
    take = (
        insert(ReferenceCounter)
        .values(local_authority=local_authority, year=year, last_number=1)
        .on_conflict_do_update(
            index_elements=[ReferenceCounter.local_authority, ReferenceCounter.year],
            set_={"last_number": ReferenceCounter.last_number + 1},
        )
        .returning(ReferenceCounter.last_number)
    )
    number = db.session.scalar(take)
    return f"{code}-{year}-{number:04d}"
