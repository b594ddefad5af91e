"""Chronology CSV export at scale: time and peak memory for 1,000, 10,000 and 100,000 timeline events.

Three Birmingham incidents are opened with the demo directory, then their
timelines are bulk-inserted straight into the table (varied kinds, actors and
detail text, some naming contacts, so the redacted variant has real
scrubbing to do). Each export then runs in a fresh Python process of its own,
through the real view (``GET /incidents/<ref>/export.csv``, streamed to the
end by the test client), so one measurement's memory cannot hide another's:

* time: wall clock for the whole download, without tracing (best of three);
* peak Python memory: ``tracemalloc`` peak during a second, traced download;
* max RSS: the process's resident high-water mark (``resource``).

Targets: time grows linearly with the number of events; the tracemalloc peak
grows by less than 50 MB from 1,000 to 100,000 events.

    .venv/bin/python benchmarks/export_scale.py [--sizes 1000,10000,100000] [--database-url URL]

Without --database-url it uses a temporary SQLite file. A PostgreSQL URL
must point at a scratch database: its schema is dropped and rebuilt.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from responder import create_app  # noqa: E402
from responder.accounts.users import create_user  # noqa: E402
from responder.demo import DEMO_CONTACTS  # noqa: E402
from responder.directory.contacts import import_contacts  # noqa: E402
from responder.extensions import db  # noqa: E402
from responder.incidents.opening import IncidentReport, open_incident  # noqa: E402
from responder.models import Contact, TimelineEvent  # noqa: E402

SIZES = (1_000, 10_000, 100_000)
MEMORY_GROWTH_TARGET_MB = 50
INSERT_BATCH = 5_000
REPEATS = 3
MANAGER = "bench-manager@example.org"
PASSWORD = "benchmark-password-1"
OPENED = datetime(2026, 11, 24, 21, 40, tzinfo=UTC)
KINDS = (
    "message_sent",
    "message_delivered",
    "check_in_requested",
    "acknowledged",
    "update_posted",
    "escalated",
)


def app_for(url: str):
    return create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "PLAYBOOKS_DIR": str(ROOT / "playbooks")})


def reset_postgres(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def prepare(url: str, sizes: list[int]) -> dict[int, str]:
    """One incident per size, its timeline bulk-inserted; returns size -> reference."""
    if url.startswith("postgresql"):
        reset_postgres(url)
    app = app_for(url)
    references = {}
    with app.app_context():
        db.create_all()
        assert not import_contacts(DEMO_CONTACTS.read_text(encoding="utf-8"), "contacts.csv").problems
        officer = create_user("bench-officer@example.org", "officer", PASSWORD, name="Bench Officer")
        create_user(MANAGER, "manager", PASSWORD, name="Bench Manager")
        names = [contact.name for contact in db.session.query(Contact).limit(40)]
        for size in sizes:
            report = IncidentReport(
                local_authority="birmingham",
                type="stabbing",
                occurred_at=OPENED - timedelta(minutes=20),
                location="Lozells Road",
                summary="Benchmark incident",
                youngest_age=16,
                school_link=True,
                tension="medium",
            )
            incident = open_incident(report, officer)
            insert_events(incident.id, size, names)
            references[size] = incident.reference
        db.engine.dispose()
    return references


def insert_events(incident_id: int, count: int, names: list[str]) -> None:
    chooser = random.Random(incident_id)
    for start in range(0, count, INSERT_BATCH):
        rows = []
        for number in range(start, min(start + INSERT_BATCH, count)):
            name = chooser.choice(names)
            rows.append(
                {
                    "incident_id": incident_id,
                    "at": OPENED + timedelta(seconds=number * 7),
                    "actor": chooser.choice(("system", f"user:{MANAGER}", "contact:bham-youth-lead")),
                    "kind": chooser.choice(KINDS),
                    "channel": chooser.choice((None, "sms", "email")),
                    "agency_key": chooser.choice((None, "bham-youth-service", "wmp-birmingham")),
                    "detail": f"Event {number}: alert SMS to {name} (Birmingham Youth Service) handed over",
                    "data": {"message_id": number},
                }
            )
        db.session.execute(TimelineEvent.__table__.insert(), rows)
        db.session.commit()


def measure(url: str, reference: str, redacted: bool, warm_up: str) -> dict:
    """In this (fresh) process: warm up on a small incident, time one download, then trace a second one."""
    app = app_for(url)
    with app.app_context():
        client = app.test_client()
        response = client.post("/login", data={"email": MANAGER, "password": PASSWORD})
        assert response.status_code == 302, "benchmark manager could not sign in"
        path = f"/incidents/{reference}/export.csv" + ("?redacted=1" if redacted else "")
        # First requests compile templates, queries and regular expressions: not what is measured.
        download(client, f"/incidents/{warm_up}/export.csv" + ("?redacted=1" if redacted else ""))

        timings = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            size, rows = download(client, path)
            timings.append(time.perf_counter() - started)
        seconds = min(timings)  # the least disturbed run: other processes only ever add time

        tracemalloc.start()
        download(client, path)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        db.engine.dispose()
    max_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": seconds,
        "bytes": size,
        "rows": rows,
        "peak_mb": peak / 2**20,
        "max_rss_mb": max_rss_kb / 1024,
    }


def download(client, path: str) -> tuple[int, int]:
    """Read the streamed body chunk by chunk, as a browser would, keeping none of it."""
    response = client.get(path, buffered=False)
    assert response.status_code == 200, response.status
    size = rows = 0
    for chunk in response.response:
        size += len(chunk)
        rows += chunk.count(b"\r\n")
    response.close()
    return size, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(size) for size in SIZES))
    parser.add_argument("--database-url", default=None, help="scratch database (default: temporary SQLite)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: reference to export in this process
    parser.add_argument("--redacted", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--warm-up", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:
        print(json.dumps(measure(args.database_url, args.measure, args.redacted, args.warm_up)))
        return

    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        started = time.perf_counter()
        references = prepare(url, sizes)
        print(f"prepared {sum(sizes):,} events in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        results = {
            (size, redacted): run_measurement(url, references[size], redacted, references[min(sizes)])
            for size in sizes
            for redacted in (False, True)
        }
    print_table(results, sizes, url)


def run_measurement(url: str, reference: str, redacted: bool, warm_up: str) -> dict:
    command = [sys.executable, __file__, "--database-url", url, "--measure", reference, "--warm-up", warm_up]
    if redacted:
        command.append("--redacted")
    completed = subprocess.run(command, capture_output=True, text=True, check=True, env={**os.environ})
    return json.loads(completed.stdout.strip().splitlines()[-1])


def print_table(results: dict, sizes: list[int], url: str) -> None:
    print("Chronology CSV export (GET /incidents/<ref>/export.csv, streamed), one fresh process per export")
    machine = f"{platform.platform()}, Python {platform.python_version()}"
    print(f"machine: {machine}; database: {url.split(':', 1)[0]}")
    print()
    columns = ("events", "variant", "time", "per 1k events", "CSV size", "peak (tracemalloc)", "max RSS")
    widths = (8, 9, 9, 14, 10, 19, 9)
    print(" ".join(f"{name:>{width}}" for name, width in zip(columns, widths, strict=True)))
    for (size, redacted), result in results.items():
        assert result["rows"] >= size + 1, f"expected {size} rows, got {result['rows']}"
        print(
            f"{size:>8,} {'redacted' if redacted else 'full':>9} {result['seconds']:>8.2f}s "
            f"{result['seconds'] / size * 1000:>13.3f}s {result['bytes'] / 2**20:>8.1f}MB "
            f"{result['peak_mb']:>17.1f}MB {result['max_rss_mb']:>7.0f}MB"
        )
    print()
    smallest, largest = min(sizes), max(sizes)
    # Linearity from the two largest sizes: at 1,000 events fixed costs (signing the export
    # on the timeline, building the redaction) still outweigh the rows.
    middle = sorted(sizes)[-2] if len(sizes) > 1 else largest
    for redacted in (False, True):
        variant = "redacted" if redacted else "full"
        low, high = results[(smallest, redacted)], results[(largest, redacted)]
        growth = high["peak_mb"] - low["peak_mb"]
        per_event_ratio = (high["seconds"] / largest) / (results[(middle, redacted)]["seconds"] / middle)
        verdict = "MET" if growth < MEMORY_GROWTH_TARGET_MB else "NOT MET"
        print(
            f"{variant}: peak memory growth {smallest:,} -> {largest:,} events: {growth:+.1f} MB "
            f"(target < {MEMORY_GROWTH_TARGET_MB} MB: {verdict}); "
            f"time per event at {largest:,} vs {middle:,}: x{per_event_ratio:.2f} (1.0 = linear)"
        )


if __name__ == "__main__":
    main()
