"""How the scheduler copes with 10,000 pending timed actions across 300 incidents.

Prints: the reconciliation sweep when the scheduler starts (and how long until
every job it asked for is stored), the process's memory, and how late a batch
of actions due at the same second fired (p50, p99, max).
Targets: reconciliation under 5 s, p99 lateness under 1 s.

    .venv/bin/python benchmarks/scheduler_scale.py                 # SQLite in a temporary directory
    .venv/bin/python benchmarks/scheduler_scale.py --database-url \\
        postgresql+psycopg://postgres@127.0.0.1:5432/responder_bench   # dropped and re-created

Not a test: it measures wall-clock time on this machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._figures import Figure, database_of, record  # noqa: E402
from responder import create_app  # noqa: E402
from responder.clock import now_utc  # noqa: E402
from responder.demo import DEMO_CONTACTS  # noqa: E402
from responder.directory.contacts import import_contacts  # noqa: E402
from responder.extensions import db  # noqa: E402
from responder.incidents.opening import IncidentReport, open_incident  # noqa: E402
from responder.models import ActionKind, ActionState, Incident, Message, TimedAction  # noqa: E402
from responder.operations.heap import freeze_start_up_objects  # noqa: E402
from responder.scheduling import add_action  # noqa: E402
from responder.scheduling.runtime import SchedulerRuntime  # noqa: E402

LOCAL_AUTHORITIES = ["birmingham", "coventry", "dudley", "sandwell", "solihull", "walsall", "wolverhampton"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="a PostgreSQL database whose name ends in _bench (re-created)")
    parser.add_argument("--actions", type=int, default=10_000)
    parser.add_argument("--incidents", type=int, default=300)
    parser.add_argument("--batch", type=int, default=300, help="actions due at the same second")
    parser.add_argument(
        "--batch-in", type=float, default=20.0, help="seconds from start until the batch is due"
    )
    args = parser.parse_args()

    url = prepare_database(args.database_url)
    app = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "PLAYBOOKS_DIR": str(ROOT / "playbooks"),
            "OUTBOX_SWEEP_SECONDS": 3600,
        },
    )
    with app.app_context():
        db.create_all()
        print(f"database: {db.engine.url.render_as_string(hide_password=True)}")
        started = time.perf_counter()
        batch_due = seed(args)
        print(
            f"seeded {pending_count()} pending actions across {args.incidents} incidents "
            f"in {time.perf_counter() - started:.1f} s"
        )
        batch_ids = [
            row.id for row in db.session.scalars(select_pending().where(TimedAction.due_at == batch_due))
        ]
        db.session.rollback()
        freeze_start_up_objects()  # as wsgi.py does once the app is built

    rss_before = rss_mib()
    runtime = SchedulerRuntime(app)
    thread = threading.Thread(target=runtime.run, daemon=True)
    started = time.perf_counter()
    thread.start()
    try:
        wait(lambda: runtime.last_reconcile is not None and not runtime.jobs_waiting_to_be_added(), 120)
        ready = time.perf_counter() - started
        report = runtime.last_reconcile
        print(
            f"reconciliation on start: sweep {report.seconds:.3f} s ({report}); "
            f"leader with every job stored {ready:.3f} s after starting"
        )
        with app.app_context():
            wait(lambda: fired(app, batch_ids) == len(batch_ids), args.batch_in + 120)
            lateness = sorted(db.session.scalars(select_lateness(batch_ids)).all())
            db.session.rollback()
        rss_after = rss_mib()
    finally:
        runtime.stop()
        thread.join(timeout=60)

    print(
        f"memory: {rss_before:.0f} MiB before the scheduler started, {rss_after:.0f} MiB after the batch "
        f"({rss_after - rss_before:+.0f} MiB)"
    )
    print(
        f"batch of {len(lateness)} due at the same second: lateness p50 {percentile(lateness, 50):.3f} s, "
        f"p99 {percentile(lateness, 99):.3f} s, max {lateness[-1]:.3f} s"
    )
    database = database_of(url)
    target = 1.0 if args.batch <= 300 else 2.0
    p99 = percentile(lateness, 99)
    what = f"{len(lateness)} actions due in the same second: lateness p99"
    record(Figure("scheduler_scale", what, database, p99, "s", f"< {target:g} s", p99 < target))
    if args.batch <= 300:
        sweep = report.seconds
        what = f"reconciliation sweep on start, {args.actions:,} pending"
        record(Figure("scheduler_scale", what, database, sweep, "s", "< 5 s", sweep < 5))


def prepare_database(url: str | None) -> str:
    if url is None:
        directory = Path(tempfile.mkdtemp(prefix="responder-bench-"))
        return f"sqlite:///{directory / 'bench.db'}"
    target = sa.engine.make_url(url)
    if not target.database or not target.database.endswith("_bench"):
        raise SystemExit("--database-url must name a scratch database ending in _bench: it is dropped")
    server = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    server.dispose()
    return url


def seed(args) -> object:
    """Open incidents (their own timed actions), then top up to ``args.actions`` pending ones."""
    import_contacts(DEMO_CONTACTS.read_text(encoding="utf-8"), "contacts.csv")
    now = now_utc()
    incidents = []
    for n in range(args.incidents):
        report = IncidentReport(
            local_authority=LOCAL_AUTHORITIES[n % len(LOCAL_AUTHORITIES)],
            type="stabbing",
            occurred_at=now - timedelta(minutes=30),
            location="Benchmark Road",
            youngest_age=16,
            school_link=n % 2 == 0,
        )
        incidents.append(open_incident(report, None).id)
    # Their alerts are not what is measured: pretend they went out.
    db.session.execute(sa.update(Message).values(state="sent"))
    db.session.commit()
    extra = args.actions - pending_count()
    if extra < args.batch:
        raise SystemExit(f"--actions {args.actions} leaves no room for a batch of {args.batch}")
    spread = extra - args.batch
    batch = []
    for n in range(extra):
        incident = db.session.get(Incident, incidents[n % len(incidents)])
        # The rest spread over the 28 days a response lasts; the batch's time is set below.
        due = now + timedelta(days=28) * ((n + 1) / spread) if n < spread else now + timedelta(days=1)
        action = add_action(
            incident,
            ActionKind.DEADLINE,
            due,
            details={"name": f"Benchmark deadline {n}", "notify": "wm-vru-on-call", "due": due.isoformat()},
        )
        if n >= spread:
            batch.append(action)
        if n % 500 == 0:
            db.session.commit()
    db.session.commit()
    # Due at one whole second, counted from now: seeding takes a while.
    batch_due = (now_utc() + timedelta(seconds=args.batch_in)).replace(microsecond=0)
    db.session.execute(
        sa.update(TimedAction).where(TimedAction.id.in_([a.id for a in batch])).values(due_at=batch_due)
    )
    db.session.commit()
    return batch_due


def select_pending():
    return sa.select(TimedAction).where(TimedAction.state == ActionState.PENDING)


def select_lateness(ids: list[int]):
    return sa.select(TimedAction.lateness_seconds).where(TimedAction.id.in_(ids))


def pending_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(select_pending().subquery()))


def fired(app, ids: list[int]) -> int:
    count = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(TimedAction)
        .where(TimedAction.id.in_(ids), TimedAction.state == ActionState.FIRED)
    )
    db.session.rollback()
    return count


def wait(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up after {timeout:.0f} s")
        time.sleep(0.05)


def percentile(values: list[float], pct: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    main()
