"""Reads that grow with history: /metrics with 10,000 acknowledged agencies, and an incident page
whose timeline holds 10,000 events.

Both are timed in-process through the real views (Flask's test client), so the
figure is server time: median of 20 requests after two warm-up requests.
Targets: /metrics under 50 ms; the incident page's first page under 300 ms.

    .venv/bin/python benchmarks/read_paths.py [--database-url URL]

Without --database-url it uses a temporary SQLite file. A PostgreSQL URL must
name a scratch database whose name ends in _bench: it is dropped and re-created.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._figures import Figure, database_of, record  # noqa: E402
from benchmarks.scheduler_scale import prepare_database  # noqa: E402
from responder import create_app  # noqa: E402
from responder.accounts.users import create_user  # noqa: E402
from responder.clock import now_utc  # noqa: E402
from responder.demo import DEMO_CONTACTS  # noqa: E402
from responder.directory.contacts import import_contacts  # noqa: E402
from responder.extensions import db  # noqa: E402
from responder.incidents.opening import IncidentReport, open_incident  # noqa: E402
from responder.models import Activation, ActivationState, EventKind, TimelineEvent  # noqa: E402

ACKNOWLEDGED = 10_000
EVENTS = 10_000
PASSWORD = "benchmark-password-1"
REQUESTS = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="scratch database ending in _bench")
    args = parser.parse_args()
    url = prepare_database(args.database_url)
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "PLAYBOOKS_DIR": str(ROOT / "playbooks")})
    logging.disable(logging.INFO)  # the request log would bury the figures
    with app.app_context():
        db.create_all()
        started = time.perf_counter()
        reference = seed()
        print(
            f"seeded {ACKNOWLEDGED:,} acknowledged agencies and {EVENTS:,} timeline events "
            f"in {time.perf_counter() - started:.1f} s ({database_of(url)})"
        )
        client = app.test_client()
        response = client.post("/login", data={"email": "manager@bench.example", "password": PASSWORD})
        assert response.status_code == 302, response.status_code
        metrics = timed(client, "/metrics")
        page = timed(client, f"/incidents/{reference}")
        db.engine.dispose()

    database = database_of(url)
    print(f"GET /metrics, {ACKNOWLEDGED:,} acknowledged agencies: median {metrics:.1f} ms (target < 50 ms)")
    print(f"GET /incidents/<ref>, {EVENTS:,} timeline events: median {page:.1f} ms (target < 300 ms)")
    what = f"/metrics scrape, {ACKNOWLEDGED:,} acknowledged agencies (median of {REQUESTS})"
    record(Figure("read_paths", what, database, metrics, "ms", "< 50 ms", metrics < 50))
    what = f"incident page, {EVENTS:,} timeline events: first page (median of {REQUESTS})"
    record(Figure("read_paths", what, database, page, "ms", "< 300 ms", page < 300))


def seed() -> str:
    """Eleven real incidents: one with a long timeline, ten topped up with acknowledged agencies."""
    import_contacts(DEMO_CONTACTS.read_text(encoding="utf-8"), "contacts.csv")
    create_user("manager@bench.example", "manager", PASSWORD)
    now = now_utc()
    incidents = [
        open_incident(
            IncidentReport(
                local_authority="birmingham",
                type="stabbing",
                occurred_at=now - timedelta(hours=2),
                location="Benchmark Road",
                youngest_age=16,
                school_link=True,
            ),
            None,
        )
        for _ in range(11)
    ]
    db.session.flush()
    # The long timeline's incident keeps its own dozen agencies; the others take the 10,000.
    long, others = incidents[0], incidents[1:]
    per_incident = ACKNOWLEDGED // len(others)
    rows = [
        {
            "incident_id": incident.id,
            "agency_key": f"bench-agency-{n}",
            "agency_name": f"Benchmark agency {n}",
            "source": "birmingham",
            "lead_role": "bench-lead",
            "state": ActivationState.COVERED,
            "escalation_level": 0,
            "activated_at": now - timedelta(hours=1),
            "acknowledged_at": now - timedelta(hours=1) + timedelta(seconds=30 + n % 3600),
            "acknowledged_after_seconds": float(30 + n % 3600),
        }
        for incident in others
        for n in range(per_incident)
    ]
    db.session.execute(sa.insert(Activation), rows)
    kinds = [EventKind.UPDATE_POSTED, EventKind.MESSAGE_DELIVERED, EventKind.ACKNOWLEDGED]
    events = [
        {
            "incident_id": long.id,
            "at": now - timedelta(seconds=EVENTS - n),
            "kind": kinds[n % len(kinds)],
            "data": {},
            "text": f"Benchmark update {n}" if n % len(kinds) == 0 else None,
        }
        for n in range(EVENTS)
    ]
    db.session.execute(sa.insert(TimelineEvent), events)
    db.session.commit()
    return long.reference


def timed(client, path: str) -> float:
    for _ in range(2):
        assert client.get(path).status_code == 200, path
    took = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = client.get(path)
        took.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, path
    return statistics.median(took)


if __name__ == "__main__":
    main()
