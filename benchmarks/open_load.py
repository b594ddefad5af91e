"""Opening under load: 200 incidents through the API, 10 at a time, on PostgreSQL and gunicorn.

Four gthread workers (deploy/gunicorn.conf.py, 8 threads each) serve
``POST /api/v1/incidents`` for the Walsall playbook; each web process sends its
own alerts after the commit, to the fake Twilio (answering in 200 ms) and an
SMTP sink, each in a process of its own on the same machine. Prints the
request latency (p50, p99), opens a second, and counts every text at the fake
provider by recipient and body: each alert once, none lost.
Targets: p99 under 1.5 s, at least 15 opens a second, every alert sent once.

    .venv/bin/python benchmarks/open_load.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/responder_bench

The database name must end in _bench: it is dropped and re-created.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._cpu import CpuAccount, Group, named, tree  # noqa: E402
from benchmarks._figures import Figure, database_of, record  # noqa: E402
from benchmarks.alert_fanout import (  # noqa: E402
    free_port,
    opening_body,
    provider_settings,
    providers,
    wait_for_port,
)
from benchmarks.scheduler_scale import percentile, prepare_database  # noqa: E402
from responder import create_app  # noqa: E402
from responder.accounts.users import create_user, issue_api_token  # noqa: E402
from responder.demo import DEMO_CONTACTS  # noqa: E402
from responder.directory.contacts import import_contacts  # noqa: E402
from responder.extensions import db  # noqa: E402
from responder.models import Message, MessageState  # noqa: E402

OPENS = 200
AT_ONCE = 10
WORKERS = 4
TARGET_P99 = 1.5
TARGET_RATE = 15.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL scratch database ending in _bench")
    parser.add_argument("--opens", type=int, default=OPENS)
    args = parser.parse_args()
    url = prepare_database(args.database_url)
    token = seed(url)

    with providers() as (fake, smtp_port):
        port = free_port()
        env = {
            **os.environ,
            "RESPONDER_ENV": "development",
            "DATABASE_URL": url,
            "SECRET_KEY": "benchmark-secret-key-" + "x" * 40,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "SCHEDULER": "off",
            **provider_settings(fake, smtp_port),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": str(WORKERS),
            "GUNICORN_LOG_LEVEL": "warning",
            "LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--config",
                "deploy/gunicorn.conf.py",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port)
            base = f"http://127.0.0.1:{port}"
            fake.control(reset=True, delay_ms=200)
            for _ in range(WORKERS * 2):  # every worker has loaded its app and its dispatcher
                open_one(base, token)
            wait_until_sent(url)
            fake.control(reset=True, delay_ms=200)
            baseline = _count(url)  # the warm-up's messages are not counted
            cpu = machine_account(server.pid)
            cpu.start()
            started = time.perf_counter()
            with ThreadPoolExecutor(AT_ONCE) as pool:
                latencies = sorted(pool.map(lambda _: open_one(base, token), range(args.opens)))
            wall = time.perf_counter() - started
            sent_after = wait_until_sent(url)
            cpu.stop()
            expected = messages_queued(url, baseline)
            created = created_messages(fake.base_url)
        finally:
            server.terminate()
            server.wait(timeout=30)

    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    rate = args.opens / wall
    counts = Counter((message["to"], message["body"]) for message in created)
    doubled = sum(count - 1 for count in counts.values() if count > 1)
    lost = expected - len(counts)
    load = ", ".join(f"{figure:.1f}" for figure in os.getloadavg())
    print(
        f"Opening under load: {args.opens} incidents, {AT_ONCE} at a time, {WORKERS} gthread workers, "
        f"Walsall playbook; load average {load}"
    )
    print(
        f"request latency: p50 {p50:.3f} s, p99 {p99:.3f} s, max {latencies[-1]:.3f} s (target p99 < {TARGET_P99} s)"
    )
    print(f"{rate:.1f} opens a second over {wall:.1f} s (target >= {TARGET_RATE:g})")
    print(
        f"texts: {expected} queued, {len(created)} accepted by the provider, {doubled} twice, {lost} lost; "
        f"every message sent {sent_after:.1f} s after the last open"
    )
    for line in cpu.lines(args.opens, "opening"):
        print(line)
    database = database_of(url)
    what = f"{args.opens} opens through the API, {AT_ONCE} at a time, {WORKERS} workers: request p99"
    record(Figure("open_load", what, database, p99, "s", f"< {TARGET_P99} s", p99 < TARGET_P99))
    record(
        Figure(
            "open_load", "opens a second", database, rate, "/s", f">= {TARGET_RATE:g}", rate >= TARGET_RATE
        )
    )
    what = "texts sent twice or lost"
    record(Figure("open_load", what, database, doubled + lost, "count", "= 0", doubled == 0 and lost == 0))


def machine_account(server: int) -> CpuAccount:
    """The machine's CPU by what runs on it: each opening's cost, its alerts sent and recorded included."""
    here = os.getpid()
    return CpuAccount(
        [
            Group("web workers", tree(server)),
            Group("PostgreSQL", named("postgres")),
            Group("fake providers", lambda table: [p for p in table if p.parent == here and p.pid != server]),
            Group("load generator", lambda table: [p for p in table if p.pid == here]),
        ]
    )


def seed(url: str) -> str:
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "PLAYBOOKS_DIR": str(ROOT / "playbooks")})
    with app.app_context():
        db.create_all()
        import_contacts(DEMO_CONTACTS.read_text(encoding="utf-8"), "contacts.csv")
        token = issue_api_token(create_user("officer@bench.example", "officer", "benchmark-password-1"))
        db.session.commit()
        db.engine.dispose()
    return token


def walsall_opening() -> dict:
    """The body of ``POST /api/v1/incidents`` each benchmark opening sends (the Walsall playbook, 12 leads)."""
    return opening_body("walsall", tension="high", youngest_age=16, school_link=True)


def open_one(base: str, token: str) -> float:
    request = urllib.request.Request(  # noqa: S310 (our own http://127.0.0.1 server)
        base + "/api/v1/incidents",
        data=json.dumps(walsall_opening()).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        response.read()
        assert response.status == 201, response.status
    return time.perf_counter() - started


def _count(url: str, *conditions) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(sa.select(sa.func.count()).select_from(Message).where(*conditions))
    finally:
        engine.dispose()


def messages_queued(url: str, after_id: int) -> int:
    return _count(url, Message.channel == "sms", Message.id > after_id)


def wait_until_sent(url: str, timeout: float = 300) -> float:
    started = time.perf_counter()
    while _count(url, Message.state.in_([MessageState.PENDING, MessageState.SENDING])):
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"messages still unsent after {timeout:.0f} s")
        time.sleep(0.2)
    return time.perf_counter() - started


def created_messages(base_url: str) -> list[dict]:
    with urllib.request.urlopen(base_url + "/_fake/created") as response:  # noqa: S310
        return json.load(response)


if __name__ == "__main__":
    main()
