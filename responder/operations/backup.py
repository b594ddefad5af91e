"""Backups: a consistent copy of the database, taken while the service runs.

SQLite: SQLite's online backup API (``sqlite3.Connection.backup``) copies
pages under a read lock, so the copy is consistent even while web workers
and the scheduler write. PostgreSQL: ``pg_dump``, which does the same with a
snapshot; this module says so rather than pretend (README, "Operations").

Restoring is putting the file back (SQLite) or ``pg_restore`` (PostgreSQL)
and starting the service: the database is the source of truth, and the
scheduler's start-up reconciliation re-creates every pending timed action
from its row (responder.scheduling.runtime).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from responder.extensions import db
from responder.models import ActionState, Incident, TimedAction


class BackupError(Exception):
    """No backup was written; the message says why and what to do instead."""


@dataclass(frozen=True)
class BackupReport:
    path: Path
    size_bytes: int
    incidents: int
    pending_actions: int

    def __str__(self) -> str:
        return (
            f"backed up to {self.path} ({self.size_bytes:,} bytes): {self.incidents} incidents, "
            f"{self.pending_actions} pending timed actions"
        )


def backup_database(target: Path) -> BackupReport:
    """Copy the app's SQLite database to ``target`` (which must not exist yet)."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        raise BackupError(postgres_instructions(str(engine.url)))
    if engine.dialect.name != "sqlite":
        raise BackupError(f"backups of {engine.dialect.name} databases are not supported; use its own tools")
    target = Path(target)
    if target.exists():
        raise BackupError(f"{target} already exists; choose a new file name (backups are never overwritten)")
    # Written beside the target and renamed at the end: a half-written file never looks like a backup.
    partial = target.with_name(f".{target.name}.partial")
    raw = engine.raw_connection()
    try:
        copy = sqlite3.connect(partial)
        try:
            raw.driver_connection.backup(copy)
            contents = _contents(copy)
        finally:
            copy.close()
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise BackupError(f"the backup failed: {error}") from None
    finally:
        raw.close()
    os.replace(partial, target)
    return BackupReport(target, target.stat().st_size, *contents)


def postgres_instructions(url: str) -> str:
    """What to run instead for PostgreSQL, with the password hidden."""
    shown = make_url(url).set(drivername="postgresql").render_as_string(hide_password=True)
    return (
        "DATABASE_URL is PostgreSQL, which this command does not back up. Use pg_dump, which takes a "
        f'consistent snapshot while the service runs: pg_dump --format=custom --file=FILE "{shown}" '
        "(password from ~/.pgpass or PGPASSWORD). Restore into an empty database with: pg_restore --no-owner "
        '--dbname="<new database URL>" FILE, then start the service. See README.md, "Operations".'
    )


def _contents(copy: sqlite3.Connection) -> tuple[int, int]:
    """What the copy holds (not the live database, which may have moved on)."""
    incidents = copy.execute(f"SELECT count(*) FROM {Incident.__tablename__}").fetchone()[0]  # noqa: S608
    pending = copy.execute(
        f"SELECT count(*) FROM {TimedAction.__tablename__} WHERE state = ?",  # noqa: S608 - table names are ours
        (ActionState.PENDING.value,),
    ).fetchone()[0]
    return incidents, pending
