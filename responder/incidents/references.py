"""Human incident references such as BHM-2026-0042: per local authority, per year."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from responder.clock import now_utc, to_local
from responder.extensions import db
from responder.models import ReferenceCounter

_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def next_reference(local_authority: str, code: str) -> str:
    """Take the next number in the caller's transaction.

    One ``UPDATE ... RETURNING`` increments the area's counter for the year,
    holding a row lock on PostgreSQL (the write lock on SQLite) until the
    transaction ends, so two officers opening incidents at the same moment
    never get the same number. The year's first incident creates the row
    first (ON CONFLICT DO NOTHING: a concurrent first waits for the other's
    row, then counts on from it).
    """
    year = to_local(now_utc()).year
    key = {"local_authority": local_authority, "year": year}
    number = _take_number(key)
    if number is None:
        insert = _INSERT[db.session.get_bind().dialect.name]
        db.session.execute(insert(ReferenceCounter).values(**key, last_number=0).on_conflict_do_nothing())
        number = _take_number(key)
    return f"{code}-{year}-{number:04d}"


def _take_number(key: dict[str, object]) -> int | None:
    """The counter's next number, or None if the area has no counter for the year yet."""
    return db.session.scalar(
        update(ReferenceCounter)
        .filter_by(**key)
        .values(last_number=ReferenceCounter.last_number + 1)
        .returning(ReferenceCounter.last_number)
        .execution_options(synchronize_session=False)
    )
