"""The scheduler: APScheduler in one process at a time, the lease, and the reconciliation sweep.

Where it runs (design sections 2-4):

* production: ``flask --app wsgi scheduler run`` (web workers run with
  ``SCHEDULER=off``). Start two for failover: the second waits as a standby
  and takes over within SCHEDULER_LEASE_SECONDS of the first dying;
* development (``SCHEDULER=embedded``): a thread in the app process, started
  by the first request it serves - never at import, in ``create_app`` or in
  a CLI command. The lease still applies, so two dev servers do not both act.

The database is the source of truth. APScheduler's SQLAlchemyJobStore (the
``apscheduler_jobs`` table, kept out of migrations) holds one date job per
timed action due within the horizon (10 minutes or three sweeps, whichever
is longer), pointing at the row id. The reconciliation sweep, at start and
every SCHEDULER_RECONCILE_SECONDS, adds jobs for pending rows entering the
horizon (rows written by web workers, which have no scheduler) and fires
every overdue row that has no job - so a lost job store, a crash between a
job being taken and its transaction committing, or a scheduler that was down
never drops an action.

Late actions (misfires): jobs never expire (``misfire_grace_time=None``).
There is no cut-off after which an overdue action is skipped - a late
escalation or deadline reminder still beats none - and the grace period is
the start-up sweep itself: a recovering scheduler fires every overdue action
as soon as it holds the lease. Each firing records ``lateness_seconds``
(fired_at - due_at) on its row, and its timeline entry says how late when it
is over a minute.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from responder.clock import now_utc
from responder.extensions import db
from responder.models import ActionState, TimedAction
from responder.playbooks import registry
from responder.scheduling import jobs
from responder.scheduling.firing import fire_due_together
from responder.scheduling.job_store import TimedActionJobStore, build_job_store
from responder.scheduling.lease import Lease, new_holder_name
from responder.unit_of_work import unit_of_work

log = logging.getLogger(__name__)

MIN_HORIZON = timedelta(minutes=10)
STANDBY_POLL_SECONDS = 1.0
_EMBEDDED_KEY = "responder.scheduler"
_embedded_lock = threading.Lock()
_leading: SchedulerRuntime | None = None


def leading_runtime() -> SchedulerRuntime | None:
    """The runtime leading in this process, for the job functions."""
    return _leading


def job_id(action_id: int) -> str:
    return f"timed-action-{action_id}"


@dataclass(frozen=True)
class ReconcileReport:
    pending_in_horizon: int
    jobs_created: int
    overdue_fired: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"{self.pending_in_horizon} pending within the horizon, {self.jobs_created} jobs created, "
            f"{self.overdue_fired} overdue fired, in {self.seconds:.3f} s"
        )


class SchedulerRuntime:
    """Standby until the lease is ours, then lead: run APScheduler, renew the lease, sweep."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        config = app.config
        self.reconcile_every = config["SCHEDULER_RECONCILE_SECONDS"]
        self.horizon = max(MIN_HORIZON, timedelta(seconds=3 * self.reconcile_every))
        self.lease_period = timedelta(seconds=config["SCHEDULER_LEASE_SECONDS"])
        self.holder = new_holder_name()
        self.pid = os.getpid()
        self.state = "starting"
        self.scheduler: BackgroundScheduler | None = None
        self.last_reconcile: ReconcileReport | None = None
        self._stop = threading.Event()
        self._lost = threading.Event()
        # Jobs ask the leader's thread to add jobs: an APScheduler call from inside
        # a job can deadlock its shutdown, which holds the job-store lock while it waits.
        self._wanted: queue.SimpleQueue[tuple[int, datetime | None]] = queue.SimpleQueue()
        self._jobstore: TimedActionJobStore | None = None
        # One batch of timed actions at a time: the next job's batch starts after this one commits.
        self._firing = threading.Lock()

    # --- lifecycle --------------------------------------------------------------

    def run(self) -> None:
        """Block until :meth:`stop`."""
        with self.app.app_context():
            engine = db.engine
        lease = Lease(engine, self.holder, self.lease_period)
        poll = min(STANDBY_POLL_SECONDS, self.lease_period.total_seconds() / 2)
        while not self._stop.is_set():
            if self._acquire(lease):
                try:
                    self._lead(lease)
                except Exception:
                    # The database went away mid-start, say. Keep trying: a scheduler
                    # thread that died quietly would drop every action from now on.
                    log.exception("scheduler %s: failed while leading; trying again", self.holder)
                    self._stop.wait(poll)
            else:
                if self.state != "standby":
                    log.info("scheduler %s: standby, waiting for the lease", self.holder)
                self.state = "standby"
                self._stop.wait(poll)
        self.state = "stopped"

    def stop(self) -> None:
        self._stop.set()

    def _acquire(self, lease: Lease) -> bool:
        try:
            return lease.acquire()
        except SQLAlchemyError:
            log.warning("scheduler %s: database unreachable; trying again", self.holder, exc_info=True)
            return False

    def _lead(self, lease: Lease) -> None:
        global _leading
        log.info("scheduler %s: leading", self.holder)
        self.state = "leader"
        self._lost.clear()
        heartbeat = threading.Thread(
            target=self._heartbeat, args=(lease,), name="responder-scheduler-lease", daemon=True
        )
        heartbeat.start()
        self._wanted = queue.SimpleQueue()
        self._jobstore = build_job_store(self.app)
        scheduler = build_scheduler(self.app, self._jobstore)
        _leading = self
        try:
            scheduler.start()
            self._add_housekeeping(scheduler)
            # Shown to the rest of the process once its housekeeping jobs are on it.
            self.scheduler = scheduler
            self._add_wanted_jobs_until_stopped()
        finally:
            # Running jobs finish (they only queue requests now); queued requests are
            # dropped: their rows are still pending, so the next leader's sweep has them.
            if scheduler.running:
                scheduler.shutdown(wait=True)
            # APScheduler's loop looks for due jobs once more after the store has
            # closed its engine; close what that reopened.
            self._jobstore.engine.dispose()
            self.scheduler = None
            _leading = None
            self._lost.set()  # ends the heartbeat
            heartbeat.join()
            if self._stop.is_set():
                self._release(lease)
        log.info("scheduler %s: stopped leading", self.holder)

    def _add_wanted_jobs_until_stopped(self) -> None:
        while not (self._stop.is_set() or self._lost.is_set()):
            try:
                action_id, run_at = self._wanted.get(timeout=0.25)
            except queue.Empty:
                continue
            try:
                self._add_job(action_id, run_at)
            except Exception:
                # The row is still pending: the next sweep asks again.
                log.warning(
                    "scheduler %s: could not add a job for action %s", self.holder, action_id, exc_info=True
                )

    def _add_job(self, action_id: int, run_at: datetime | None) -> None:
        if run_at is None:
            # Due already: a stored job would only be written and deleted again.
            self.scheduler.add_job(
                jobs.fire_timed_action_job,
                args=[action_id],
                id=f"overdue-{action_id}",
                jobstore="memory",
                replace_existing=True,
            )
        else:
            self.scheduler.add_job(
                jobs.fire_timed_action_job,
                "date",
                run_date=run_at,
                args=[action_id],
                id=job_id(action_id),
                jobstore="default",
                replace_existing=True,
            )

    def jobs_waiting_to_be_added(self) -> bool:
        return not self._wanted.empty()

    def _heartbeat(self, lease: Lease) -> None:
        interval = self.lease_period.total_seconds() / 3
        last_renewed = time.monotonic()
        while not self._lost.wait(interval):
            try:
                if lease.renew():
                    last_renewed = time.monotonic()
                    continue
                log.error("scheduler %s: another scheduler took the lease; standing down", self.holder)
            except SQLAlchemyError:
                if time.monotonic() - last_renewed < 0.8 * self.lease_period.total_seconds():
                    continue
                log.error("scheduler %s: cannot renew the lease; standing down", self.holder)
            self._lost.set()

    def _release(self, lease: Lease) -> None:
        try:
            lease.release()
        except SQLAlchemyError:
            log.warning("scheduler %s: could not release the lease; it runs out by itself", self.holder)

    def _add_housekeeping(self, scheduler: BackgroundScheduler) -> None:
        # In memory, not the database: re-added at every start, and a stored copy
        # could outlive the lease of the scheduler that added it.
        now = datetime.now(UTC)
        every = {"reconcile": self.reconcile_every, "outbox-sweep": self.app.config["OUTBOX_SWEEP_SECONDS"]}
        scheduler.add_job(
            jobs.reconcile_job,
            "interval",
            seconds=every["reconcile"],
            next_run_time=now,
            id="reconcile",
            jobstore="memory",
            replace_existing=True,
        )
        scheduler.add_job(
            jobs.sweep_outbox_job,
            "interval",
            seconds=every["outbox-sweep"],
            next_run_time=now,
            id="outbox-sweep",
            jobstore="memory",
            replace_existing=True,
        )
        hour, _, minute = self.app.config["RETENTION_PURGE_TIME"].partition(":")
        scheduler.add_job(
            jobs.retention_purge_job,
            "cron",
            hour=int(hour),
            minute=int(minute or 0),
            timezone=self.app.config["TIMEZONE"],
            id="retention-purge",
            jobstore="memory",
            replace_existing=True,
        )
        hour, _, minute = self.app.config["ROTA_EXTEND_TIME"].partition(":")
        scheduler.add_job(
            jobs.extend_rotas_job,
            "cron",
            hour=int(hour),
            minute=int(minute or 0),
            timezone=self.app.config["TIMEZONE"],
            id="rota-extend",
            jobstore="memory",
            replace_existing=True,
        )

    # --- work (called from jobs) -----------------------------------------------

    def fire(self, action_id: int) -> None:
        """Fire the action and whatever else is due with it (one batch at a time in this process).

        The jobs of actions that went in another job's batch find them fired and do nothing.
        """
        with self._firing, self.app.app_context():
            batch = fire_due_together(action_id)
        for fired in batch:
            for follow_up_id, due_at in fired.follow_ups:
                self._time(follow_up_id, due_at, now_utc())

    def reconcile(self) -> ReconcileReport:
        """Add jobs for pending rows entering the horizon; fire overdue rows that have none."""
        started = time.perf_counter()
        now = now_utc()
        with self.app.app_context(), unit_of_work():
            rows = db.session.execute(
                sa.select(TimedAction.id, TimedAction.due_at).where(
                    TimedAction.state == ActionState.PENDING, TimedAction.due_at <= now + self.horizon
                )
            ).all()
        scheduled = self._stored_job_ids()
        # A job this far past its time is stuck, not just queued: fire anyway (the claim makes it safe).
        stuck_before = now - timedelta(seconds=self.reconcile_every)
        created = overdue = 0
        for action_id, due_at in rows:
            has_job = job_id(action_id) in scheduled
            if due_at <= now and (not has_job or due_at <= stuck_before):
                self._run_now(action_id)
                overdue += 1
            elif due_at > now and not has_job:
                self._time(action_id, due_at, now)
                created += 1
        report = ReconcileReport(len(rows), created, overdue, time.perf_counter() - started)
        self.last_reconcile = report
        level = logging.INFO if created or overdue else logging.DEBUG
        log.log(level, "scheduler %s: reconciled: %s", self.holder, report)
        return report

    def _time(self, action_id: int, due_at: datetime, now: datetime) -> None:
        if due_at <= now:
            self._run_now(action_id)
        elif due_at <= now + self.horizon:
            self._wanted.put((action_id, due_at))

    def _run_now(self, action_id: int) -> None:
        self._wanted.put((action_id, None))

    def _stored_job_ids(self) -> set[str]:
        # Straight from the table: the scheduler's own lookup takes a lock its shutdown holds.
        return self._jobstore.stored_job_ids()


def build_scheduler(app: Flask, job_store: TimedActionJobStore) -> BackgroundScheduler:
    """APScheduler 3, late jobs never dropped; in-memory jobs for housekeeping and overdue actions."""
    # Two lines per job run at INFO drown everything else; the outcome is on the row.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return BackgroundScheduler(
        jobstores={"default": job_store, "memory": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(app.config["SCHEDULER_WORKERS"])},
        job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        timezone=UTC,
    )


# --- the production process ---------------------------------------------------------


def run_scheduler_process(app: Flask) -> None:
    """``flask --app wsgi scheduler run``: lead or stand by until SIGTERM or Ctrl-C."""
    registry.require_valid(app)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    runtime = SchedulerRuntime(app)

    def stop(signum, frame) -> None:
        log.info("scheduler %s: signal %s, stopping", runtime.holder, signum)
        runtime.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    runtime.run()


# --- embedded (development) ---------------------------------------------------------


def init_app(app: Flask) -> None:
    """With SCHEDULER=embedded, start the scheduler on the first request this process serves."""
    mode = app.config["SCHEDULER"]
    if mode == "off":
        return
    if mode != "embedded":
        app.logger.warning("SCHEDULER=%r is not 'embedded' or 'off'; no scheduler runs here", mode)
        return

    @app.before_request
    def start_embedded_scheduler() -> None:
        runtime = app.extensions.get(_EMBEDDED_KEY)
        if runtime is None or runtime.pid != os.getpid():
            start_embedded(app)


def start_embedded(app: Flask) -> SchedulerRuntime:
    """Start this process's scheduler thread once (again in a forked child)."""
    with _embedded_lock:
        runtime = app.extensions.get(_EMBEDDED_KEY)
        if runtime is not None and runtime.pid == os.getpid():
            return runtime
        runtime = SchedulerRuntime(app)
        thread = threading.Thread(target=runtime.run, name="responder-scheduler", daemon=True)
        app.extensions[_EMBEDDED_KEY] = runtime
        thread.start()
        atexit.register(_stop_embedded, runtime, thread)
        return runtime


def embedded_runtime(app: Flask) -> SchedulerRuntime | None:
    return app.extensions.get(_EMBEDDED_KEY)


def _stop_embedded(runtime: SchedulerRuntime, thread: threading.Thread) -> None:
    runtime.stop()
    thread.join(timeout=10)
