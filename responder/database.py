"""How Responder connects to its database, and what it does when the database is in trouble.

* PostgreSQL: a connect timeout, a statement timeout and a bounded pool, so a
  database that is down or overloaded gives an error within seconds (answered
  with 503 and ``Retry-After``) instead of holding every thread. The budget of
  connections is in the README ("Connections").
* SQLite: write-ahead logging, so readers never wait for the writer (the web,
  the sender and the scheduler share one file in development), and a busy
  timeout for writers.
* :func:`wait_turn`: a check-then-write that two requests must not both pass.
"""

from __future__ import annotations

import hashlib
from typing import Any

import psycopg
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError


def configure_engine(app: Flask) -> None:
    """Engine options for the configured database; call before ``db.init_app``."""
    config = app.config
    options: dict[str, Any] = {"pool_pre_ping": True, **config.get("SQLALCHEMY_ENGINE_OPTIONS", {})}
    # A database error must not copy personal fields into a log line.
    options["hide_parameters"] = True
    url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "postgresql":
        statement_ms = int(config["DATABASE_STATEMENT_TIMEOUT_SECONDS"] * 1000)
        options.setdefault("pool_size", config["DATABASE_POOL_SIZE"])
        options.setdefault("max_overflow", config["DATABASE_MAX_OVERFLOW"])
        options.setdefault("pool_timeout", config["DATABASE_POOL_TIMEOUT_SECONDS"])
        options["connect_args"] = {
            "connect_timeout": config["DATABASE_CONNECT_TIMEOUT_SECONDS"],
            "options": f"-c statement_timeout={statement_ms}",
            **options.get("connect_args", {}),
        }
        if url.get_driver_name() == "psycopg":
            # Statements go to PostgreSQL with their $1 placeholders as SQLAlchemy wrote them:
            # psycopg does not parse each one again (an opening's multi-row INSERTs carry
            # thousands of parameters, too many for psycopg's cache of parsed statements).
            options.setdefault("paramstyle", "numeric_dollar")
            options["connect_args"].setdefault("cursor_factory", psycopg.RawCursor)
    config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    _install_sqlite_settings()


def wait_turn(session: Any, table: sa.Table, name: str) -> None:
    """Hold the turn called ``name`` until the session's transaction ends; another asking for it waits.

    For a check whose answer a concurrent transaction could be about to
    change (is a call-out test of this playbook already running?): take the
    turn, then check, then write. On PostgreSQL a transaction-level advisory
    lock; SQLite lets one writer in at a time, so there the turn is its write
    lock, taken at once by a write to ``table`` that changes nothing.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
    else:
        session.execute(sa.update(table).where(sa.false()).values({table.primary_key.columns[0]: 0}))


def is_unavailable(error: BaseException) -> bool:
    """True for the database being down, unreachable, overloaded or timing out (not a bug)."""
    if isinstance(error, OperationalError | PoolTimeoutError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def _install_sqlite_settings() -> None:
    if not sa.event.contains(Engine, "connect", _sqlite_on_connect):
        sa.event.listen(Engine, "connect", _sqlite_on_connect)
    if not sa.event.contains(Engine, "connect", _raw_server_cursors):
        sa.event.listen(Engine, "connect", _raw_server_cursors)


def _raw_server_cursors(dbapi_connection: Any, connection_record: Any) -> None:
    """A connection whose cursors take $1 placeholders streams results with such cursors too."""
    if getattr(dbapi_connection, "cursor_factory", None) is psycopg.RawCursor:
        dbapi_connection.server_cursor_factory = psycopg.RawServerCursor


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout = 10000")
        if _is_file_database(cursor):
            cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()


def _is_file_database(cursor: Any) -> bool:
    return any(row[2] for row in cursor.execute("PRAGMA database_list") if row[1] == "main")
