"""APScheduler's job store for timed actions: its SQLAlchemyJobStore, in the application database.

Two changes from the stock store, both about a batch of actions due at the
same moment (every agency's escalation when an incident's first 15 minutes
run out, say):

* jobs that have run are deleted in one statement per scheduler pass, not one
  transaction per job while the rest of the batch waits to be handed out;
* on PostgreSQL its writes do not wait for the WAL flush.

Both are safe for the same reason: the store is only a cache of the
``timed_actions`` rows, which the reconciliation sweep rebuilds it from.
"""

from __future__ import annotations

import threading

import sqlalchemy as sa
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from flask import Flask

JOBS_TABLE = "apscheduler_jobs"  # excluded from Alembic in migrations/env.py


class TimedActionJobStore(SQLAlchemyJobStore):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._ran: set[str] = set()
        self._ran_lock = threading.Lock()

    def remove_job(self, job_id: str) -> None:
        # Called by the scheduler as it hands each due job to a worker.
        with self._ran_lock:
            self._ran.add(job_id)

    def get_next_run_time(self):
        # The scheduler asks this once it has handed out every due job: delete them now.
        self._delete_ran()
        return super().get_next_run_time()

    def get_due_jobs(self, now):
        self._delete_ran()
        return super().get_due_jobs(now)

    def get_all_jobs(self):
        self._delete_ran()
        return super().get_all_jobs()

    def lookup_job(self, job_id: str):
        self._delete_ran()
        return super().lookup_job(job_id)

    def add_job(self, job) -> None:
        if self._forget(job.id):
            super().update_job(job)  # its row is still there
        else:
            super().add_job(job)

    def update_job(self, job) -> None:
        self._forget(job.id)
        super().update_job(job)

    def remove_all_jobs(self) -> None:
        with self._ran_lock:
            self._ran.clear()
        super().remove_all_jobs()

    def stored_job_ids(self) -> set[str]:
        """Ids of the jobs waiting to run, read straight from the table."""
        self._delete_ran()
        with self.engine.connect() as conn:
            return set(conn.scalars(sa.select(self.jobs_t.c.id)))

    def _forget(self, job_id: str) -> bool:
        with self._ran_lock:
            if job_id in self._ran:
                self._ran.discard(job_id)
                return True
            return False

    def _delete_ran(self) -> None:
        with self._ran_lock:
            ran, self._ran = self._ran, set()
        if ran:
            with self.engine.begin() as conn:
                conn.execute(self.jobs_t.delete().where(self.jobs_t.c.id.in_(ran)))


def build_job_store(app: Flask) -> TimedActionJobStore:
    """On an engine of its own: the store disposes of its engine when the scheduler shuts down."""
    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    options = {}
    if url.get_backend_name() == "postgresql":
        # Only this engine's sessions skip the WAL wait, never the application's.
        options["connect_args"] = {"options": "-c synchronous_commit=off"}
    # A cache used by the scheduler's own thread: a few connections (README, "Connections").
    engine = sa.create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=1, **options)
    return TimedActionJobStore(engine=engine, tablename=JOBS_TABLE)
