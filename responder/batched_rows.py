"""Rows a unit of work writes once and never reads back as objects, inserted a table at a time.

Timeline events, sharing records and the timed actions an opening schedules
are many, small and never changed by the transaction that writes them. As
ORM objects each one went through the unit of work (history, dependency
sorting, a statement per row on SQLite), which cost an opening more than
everything else it wrote. :func:`add_row` keeps a row's values on the
session instead, and the session writes the rows waiting with one INSERT per
table:

* after each flush, when the objects a row refers to (the incident of an
  event, say) have their primary keys;
* before any statement the session runs with autoflush on, so a query in the
  same transaction finds them, as it finds pending objects;
* before the commit.

(A flush with nothing else to write does not run, so it writes none of
them; the next statement does.)

Rows are written in the order they were added, so their ids keep the order
of events (a statement takes a table's rows that set the same columns, as
every row of one kind does). A rollback, of the transaction or of a savepoint, forgets the
rows not yet written; the database rolls back the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.orm.interfaces import MANYTOONE

from responder.extensions import db

# session.info key: the rows added and not yet written, oldest first.
_WAITING = "responder.batched_rows"


@dataclass(frozen=True)
class _KeyOf:
    """A foreign key whose value is the primary key of ``instance``, once it has one."""

    instance: Any


@dataclass(frozen=True)
class _Row:
    table: sa.Table
    values: dict[str, Any]
    # The innermost transaction (a savepoint, or the transaction) when it was added.
    added_in: SessionTransaction | None


@dataclass(frozen=True)
class _Shape:
    """How a model's attribute names map to its table's columns."""

    columns: dict[str, str]  # column attribute -> column name
    references: dict[str, str]  # many-to-one relationship -> its foreign key column's name


def add_row(model: type[db.Model], **values: Any) -> None:
    """Insert a ``model`` row with ``values`` in the session's transaction, at its next flush.

    ``values`` are keyed by attribute, as the model's constructor takes them;
    a many-to-one relationship (``incident=incident``) may name an object
    not flushed yet. Columns left out get their defaults.
    """
    shape = _shape_of(model)
    row: dict[str, Any] = {}
    for name, value in values.items():
        if name in shape.references:
            row[shape.references[name]] = None if value is None else _KeyOf(value)
        else:
            row[shape.columns[name]] = value
    session = db.session()
    if session.get_transaction() is None:
        session.connection()  # begin the transaction, as adding an object does, so a rollback forgets it
    added_in = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_WAITING, []).append(_Row(model.__table__, row, added_in))


def install(session_class: type[Session]) -> None:
    """Write waiting rows at flushes, before statements and before commits. Idempotent."""
    for name, listener in (
        ("after_flush", _after_flush),
        ("do_orm_execute", _before_statement),
        ("before_commit", _before_commit),
        ("after_soft_rollback", _forget_rolled_back),
        ("after_transaction_end", _forget_at_the_end),
    ):
        if not sa.event.contains(session_class, name, listener):
            sa.event.listen(session_class, name, listener)


def _after_flush(session: Session, flush_context: Any) -> None:
    _write(session)


def _before_statement(state: ORMExecuteState) -> None:
    session = state.session
    # When the ORM would autoflush: not in a no_autoflush block, nor for a statement that
    # asks for none, nor in a load during a flush.
    autoflush = session.autoflush and state.execution_options.get("autoflush", True)
    if session.info.get(_WAITING) and autoflush and not session._flushing:
        session.flush()  # writes them, through _after_flush, unless nothing else was pending
        _write(session)


def _before_commit(session: Session) -> None:
    if not session.info.get(_WAITING):
        return
    session.flush()
    _write(session)
    # A savepoint released may still see the object added before the transaction commits.
    if session.info.get(_WAITING) and not session.in_nested_transaction():
        raise sa.exc.InvalidRequestError(
            "a batched row refers to an object that was never added to the session"
        )


def _forget_rolled_back(session: Session, rolled_back: SessionTransaction) -> None:
    """Rows added inside a savepoint go with it; the rows added before it still wait."""
    waiting: list[_Row] = session.info.get(_WAITING) or []
    waiting[:] = [row for row in waiting if not _inside(row.added_in, rolled_back)]


def _forget_at_the_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_WAITING, None)


def _inside(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return outer.parent is None  # the whole transaction rolled back: rows added before it began too


def _write(session: Session) -> None:
    """Insert the waiting rows whose referenced objects have keys, oldest first, a statement per run."""
    waiting: list[_Row] = session.info.get(_WAITING) or []
    ready: list[tuple[sa.Table, dict[str, Any]]] = []
    for row in waiting:
        values = _resolved(row.values)
        if values is None:
            break  # and the rows after it wait too, so ids keep the order rows were added in
        ready.append((row.table, values))
    if not ready:
        return
    del waiting[: len(ready)]
    runs: dict[tuple[sa.Table, tuple[str, ...]], list[dict[str, Any]]] = {}
    for table, values in ready:
        runs.setdefault((table, tuple(values)), []).append(values)
    connection = session.connection()
    for (table, _), rows in runs.items():
        connection.execute(sa.insert(table), rows)


def _resolved(values: dict[str, Any]) -> dict[str, Any] | None:
    if not any(isinstance(value, _KeyOf) for value in values.values()):
        return values
    resolved = {}
    for column, value in values.items():
        if isinstance(value, _KeyOf):
            value = _primary_key(value.instance)
            if value is None:
                return None
        resolved[column] = value
    return resolved


def _primary_key(instance: Any) -> Any:
    state = sa.inspect(instance)
    if state.identity is not None:
        return state.identity[0]
    # Inserted by the flush that is finishing: the key is set, the identity not yet.
    return state.dict.get(state.mapper.primary_key[0].key)


@cache
def _shape_of(model: type) -> _Shape:
    mapper = sa.inspect(model)
    references = {}
    for relationship in mapper.relationships:
        if relationship.direction is MANYTOONE and not relationship.viewonly:
            ((local, _remote),) = relationship.local_remote_pairs
            references[relationship.key] = local.name
    return _Shape(
        columns={attribute.key: attribute.columns[0].name for attribute in mapper.column_attrs},
        references=references,
    )
