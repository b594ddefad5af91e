"""Alert fan-out: how long from the request that opens an incident to the last lead's SMS being accepted?

A temporary playbook activates 40 agencies (40 leads). The fake Twilio from
the test suite answers every request after 200 ms and an aiosmtpd sink takes
the emails; both run as processes of their own, as real providers would be,
so their work does not compete with Responder's for the interpreter. The
incident is opened with ``POST /api/v1/incidents``; the dispatcher starts
sending as soon as that commits. A sequential sender would take about
40 x 200 ms; the target is at most 1.4 x 200 ms.

    .venv/bin/python benchmarks/alert_fanout.py [--runs 5] [--database-url URL]

Without --database-url it uses a temporary SQLite file. A PostgreSQL URL
must name a scratch database ending in _bench: it is dropped and re-created.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._figures import Figure, database_of, record  # noqa: E402
from benchmarks.scheduler_scale import prepare_database  # noqa: E402
from responder import create_app  # noqa: E402
from responder.accounts.users import create_user, issue_api_token  # noqa: E402
from responder.directory.contacts import import_contacts  # noqa: E402
from responder.extensions import db  # noqa: E402
from responder.models import Incident  # noqa: E402
from responder.notify.dispatcher import stop_dispatcher  # noqa: E402
from responder.operations.heap import freeze_start_up_objects  # noqa: E402

LEADS = 40
PROVIDER_DELAY_MS = 200
TARGET_RATIO = 1.4


def write_playbooks(folder: Path) -> None:
    (folder / "regional.yaml").write_text(
        "region: west-midlands\nname: West Midlands\non_call: bench-on-call\n", encoding="utf-8"
    )
    agencies = "".join(
        f"  bench-agency-{n:02d}:\n"
        f"    name: Benchmark agency {n:02d}\n"
        "    sector: council\n"
        "    sharing_basis: s115-cda-1998\n"
        f"    lead: bench-lead-{n:02d}\n"
        for n in range(1, LEADS + 1)
    )
    keys = ", ".join(f"bench-agency-{n:02d}" for n in range(1, LEADS + 1))
    (folder / "birmingham.yaml").write_text(
        "local_authority: birmingham\nname: Birmingham\ncode: BHM\nduty_manager: bench-duty\n"
        f"agencies:\n{agencies}"
        f"activation:\n  - when: {{}}\n    agencies: [{keys}]\n"
        "steps:\n  - {at: 0m, do: alert, ack_within: 15m}\n",
        encoding="utf-8",
    )


def contacts_csv() -> str:
    rows = ["key,name,phone,email,local_authority"]
    for n in range(1, LEADS + 1):
        rows.append(f"bench-lead-{n:02d},Lead {n:02d},+4477009{n:05d},lead{n:02d}@example.org,birmingham")
    rows.append("bench-duty,Duty Manager,+447700900999,duty@example.org,birmingham")
    rows.append("bench-on-call,On Call,+447700900998,oncall@example.org,regional")
    return "\n".join(rows) + "\n"


class FakeTwilioProcess:
    """tests/fake_twilio.py in a process of its own, driven over its control endpoints."""

    def __init__(self, process: subprocess.Popen, base_url: str) -> None:
        self.process = process
        self.base_url = base_url

    def control(self, **settings: object) -> None:
        request = urllib.request.Request(  # noqa: S310
            self.base_url + "/_fake/behaviour", data=json.dumps(settings).encode(), method="POST"
        )
        urllib.request.urlopen(request).close()  # noqa: S310 (our own http://127.0.0.1 fake)

    def accepted(self) -> list[dict]:
        with urllib.request.urlopen(self.base_url + "/_fake/requests") as response:  # noqa: S310
            return [r for r in json.load(response) if r["status"] == 201]


@contextmanager
def providers():
    """The fake Twilio and an SMTP sink, each in its own process; yields (twilio, smtp port)."""
    twilio = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_twilio", "--delay-ms", str(PROVIDER_DELAY_MS)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    smtp_port = free_port()
    smtp = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-c",
            "aiosmtpd.handlers.Sink",
            "-l",
            f"127.0.0.1:{smtp_port}",
        ],
        cwd=ROOT,
    )
    try:
        fake = FakeTwilioProcess(twilio, twilio.stdout.readline().strip())
        wait_for_port(smtp_port)
        yield fake, smtp_port
    finally:
        for process in (twilio, smtp):
            process.terminate()
            process.wait(timeout=10)


def provider_settings(fake: FakeTwilioProcess, smtp_port: int) -> dict[str, str]:
    """Responder's settings (config keys, or environment variables) for texts to the fake Twilio, email to the sink."""
    return {
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "benchmark-token",
        "TWILIO_FROM": "+447700900000",
        "TWILIO_API_BASE_URL": fake.base_url,
        "EMAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class Timing(NamedTuple):
    """Seconds from the open request to its commit, to its 201 answer and to the last SMS accepted.

    With the statements the request sent the database.
    """

    committed: float
    answered: float
    last_accepted: float
    statements: int


def open_and_time(client, token: str, fake: FakeTwilioProcess) -> Timing:
    """Open an incident and time it on the system's monotonic clock (the fake's process shares it on Linux)."""
    fake.control(reset=True, delay_ms=PROVIDER_DELAY_MS)
    body = opening_body()
    with opening_commits() as commits, statements_of_this_thread() as statements:
        started = time.monotonic()
        response = client.post("/api/v1/incidents", json=body, headers={"Authorization": f"Bearer {token}"})
        answered = time.monotonic()
        sent_by_the_request = statements.count
        assert response.status_code == 201, response.get_data(as_text=True)
        wait_until_everything_is_recorded()  # so the next run starts from a quiet system
    accepted = fake.accepted()
    if len(accepted) != LEADS:
        raise SystemExit(f"{len(accepted)} SMS accepted, expected {LEADS}")
    last_accepted = max(request["answered_at"] for request in accepted)
    [committed] = commits
    return Timing(committed - started, answered - started, last_accepted - started, sent_by_the_request)


@dataclass
class StatementCount:
    count: int = 0


@contextmanager
def statements_of_this_thread() -> Iterator[StatementCount]:
    """How many statements this thread (the request's, not the sender's) sends the database in the block."""
    sent = StatementCount()
    thread = threading.get_ident()

    def note(*_: object) -> None:
        if threading.get_ident() == thread:
            sent.count += 1

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)


@contextmanager
def opening_commits() -> Iterator[list[float]]:
    """The monotonic time of every commit in this process that wrote an incident, while the block runs.

    (Other commits are left out: the sender's, and a bearer token's last use
    written once a minute.)
    """
    times: list[float] = []
    wrote_an_incident: set[Session] = set()

    def note_flush(session: Session, flush_context: object) -> None:
        if any(isinstance(row, Incident) for row in session.new):
            wrote_an_incident.add(session)

    def note_commit(session: Session) -> None:
        if session in wrote_an_incident:
            wrote_an_incident.discard(session)
            times.append(time.monotonic())

    sa.event.listen(Session, "after_flush", note_flush)
    sa.event.listen(Session, "after_commit", note_commit)
    try:
        yield times
    finally:
        sa.event.remove(Session, "after_flush", note_flush)
        sa.event.remove(Session, "after_commit", note_commit)


def opening_body(local_authority: str = "birmingham", tension: str = "medium", **facts: object) -> dict:
    """The body of ``POST /api/v1/incidents`` a benchmark sends (by default the temporary playbook's 40 leads)."""
    return {
        "local_authority": local_authority,
        "type": "stabbing",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=20)).isoformat(),
        "location": "Benchmark Road",
        "tension": tension,
        **facts,
    }


def wait_until_everything_is_recorded() -> None:
    import sqlalchemy as sa

    from responder.models import Message, MessageState

    while db.session.scalar(sa.select(sa.func.count()).where(Message.state != MessageState.SENT)):
        db.session.rollback()
        time.sleep(0.05)
    db.session.rollback()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=None, help="scratch database (default: temporary SQLite)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch, providers() as (fake, smtp_port):
        folder = Path(scratch)
        write_playbooks(folder)
        # A PostgreSQL scratch database (its name ends in _bench) is dropped and created afresh.
        url = prepare_database(args.database_url) if args.database_url else f"sqlite:///{folder / 'bench.db'}"
        app = fanout_app(folder, url, provider_settings(fake, smtp_port), send_after_commit=True)
        try:
            with app.app_context():
                token = seed_leads()
                client = app.test_client()
                freeze_start_up_objects()  # as wsgi.py does once the app is built
                results = [open_and_time(client, token, fake) for _ in range(args.runs)]
        finally:
            stop_dispatcher(app)
            with app.app_context():
                db.engine.dispose()

    print_table(results, url, app.config["MESSAGE_SEND_WORKERS"])


def fanout_app(folder: Path, url: str, providers: dict[str, str], *, send_after_commit: bool):
    """The app the fan-out's openings run in: the temporary playbooks, the fakes as providers."""
    settings = {"SQLALCHEMY_DATABASE_URI": url, "PLAYBOOKS_DIR": str(folder)}
    return create_app("testing", {**settings, "DISPATCH_AFTER_COMMIT": send_after_commit, **providers})


def seed_leads() -> str:
    """The tables, the 40 leads and an officer's API token (in an app context); returns the token."""
    db.create_all()
    assert not import_contacts(contacts_csv(), "bench.csv").problems
    token = issue_api_token(create_user("bench@example.org", "officer", "benchmark-password-1"))
    db.session.commit()
    return token


def print_table(results: list[Timing], url: str, workers: int) -> None:
    delay = PROVIDER_DELAY_MS / 1000
    load = ", ".join(f"{figure:.1f}" for figure in os.getloadavg())
    print(f"Alert fan-out: {LEADS} leads, fake Twilio answering each SMS after {PROVIDER_DELAY_MS} ms")
    print(
        f"machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {load}; database: {url.split(':', 1)[0]}; MESSAGE_SEND_WORKERS={workers}"
    )
    print()
    print(
        f"{'run':>4} {'open committed':>15} {'201 answered':>13} {'last SMS accepted':>18} "
        f"{'after commit':>13} {'ratio':>7} {'statements':>11}"
    )
    for number, (committed, answered, last, statements) in enumerate(results, start=1):
        note = "  (starts the dispatcher)" if number == 1 else ""
        print(
            f"{number:>4} {committed * 1000:>12.0f} ms {answered * 1000:>10.0f} ms {last * 1000:>15.0f} ms "
            f"{(last - committed) * 1000:>10.0f} ms {last / delay:>7.2f} {statements:>11}{note}"
        )
    median = statistics.median(timing.last_accepted for timing in results)
    worst = max(timing.last_accepted for timing in results)
    print()
    print("ratio = (open request to last SMS accepted) / 200 ms; statements: those the opening request sent")
    print(f"median: {median * 1000:.0f} ms, ratio {median / delay:.2f}; worst: ratio {worst / delay:.2f}")
    print(f"target: ratio <= {TARGET_RATIO} (sequential sending would be about {LEADS})")
    print("result:", "MET" if median / delay <= TARGET_RATIO else "NOT MET")
    database = database_of(url)
    what = (
        f"{LEADS} leads, provider 200 ms: (request to last SMS accepted) / 200 ms, median of {len(results)}"
    )
    record(
        Figure(
            "alert_fanout",
            what,
            database,
            median / delay,
            "x",
            f"<= {TARGET_RATIO}",
            median / delay <= TARGET_RATIO,
        )
    )
    committed = statistics.median(timing.committed for timing in results)
    record(
        Figure("alert_fanout", "open request committed (median)", database, committed * 1000, "ms", "-", True)
    )


if __name__ == "__main__":
    main()
