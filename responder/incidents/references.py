"""Human incident references such as BHM-2026-0042: per local authority, per year."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from responder.clock import now_utc, to_local
from responder.extensions import db
from responder.models import ReferenceCounter

_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def next_reference(local_authority: str, code: str) -> str:
    """Take the next number in the caller's transaction.

    The counter row is created if missing (ON CONFLICT DO NOTHING) and then
    incremented with an UPDATE, which holds a row lock on PostgreSQL (the
    write lock on SQLite) until the transaction ends, so two officers opening
    incidents at the same moment never get the same number.
    """
    year = to_local(now_utc()).year
    key = {"local_authority": local_authority, "year": year}
    insert = _INSERT[db.session.get_bind().dialect.name]
    db.session.execute(insert(ReferenceCounter).values(**key, last_number=0).on_conflict_do_nothing())
    db.session.execute(
        update(ReferenceCounter)
        .filter_by(**key)
        .values(last_number=ReferenceCounter.last_number + 1)
        .execution_options(synchronize_session=False)
    )
    number = db.session.scalar(select(ReferenceCounter.last_number).filter_by(**key))
    return f"{code}-{year}-{number:04d}"
