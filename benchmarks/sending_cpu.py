"""Where a web process's CPU goes per opening, its alerts sent and their outcomes recorded included.

Walsall incidents (12 leads: 12 texts, 12 emails) opened one after another
through ``POST /api/v1/incidents`` in one process, with the real sender
(the dispatcher, Twilio's SDK to the fake Twilio answering in 200 ms, SMTP
to an aiosmtpd sink, both in processes of their own). Prints the process's
CPU time per opening once every message is recorded as sent, and how much of
it went to the request itself, to recording outcomes, to SMTP and to claims
(each part timed by its own thread's CPU clock). Not part of ``make bench``:
it explains the opening-under-load figure rather than being one.

    .venv/bin/python benchmarks/sending_cpu.py [--opens 100] [--database-url URL]

Without --database-url it uses a temporary SQLite file. A PostgreSQL URL must
name a scratch database whose name ends in _bench: it is dropped and re-created.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.alert_fanout import provider_settings, providers  # noqa: E402
from benchmarks.open_load import seed, wait_until_sent  # noqa: E402
from benchmarks.profile_opening import open_one  # noqa: E402
from benchmarks.scheduler_scale import prepare_database  # noqa: E402
from responder import create_app  # noqa: E402
from responder.notify import dispatcher, email_smtp  # noqa: E402

WARM_UP = 5


class ThreadCpu:
    """CPU seconds spent inside wrapped functions, on whichever thread called them."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self._lock = threading.Lock()

    def wrap(self, part: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                with self._lock:
                    self.seconds[part] += time.thread_time() - started

        return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opens", type=int, default=100)
    parser.add_argument("--database-url", default=None, help="scratch database (default: temporary SQLite)")
    args = parser.parse_args()
    url = prepare_database(args.database_url)
    token = seed(url)
    cpu = ThreadCpu()
    # The sender looks these up on its modules when it calls them: wrapped there, they are timed.
    dispatcher.record_outcomes = cpu.wrap("recording outcomes", dispatcher.record_outcomes)
    dispatcher.claim_due = cpu.wrap("claiming messages", dispatcher.claim_due)
    email_smtp.SmtpEmail.send_now = cpu.wrap("SMTP (building and sending)", email_smtp.SmtpEmail.send_now)

    with providers() as (fake, smtp_port):
        app = create_app(
            "testing",
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "PLAYBOOKS_DIR": str(ROOT / "playbooks"),
                "DISPATCH_AFTER_COMMIT": True,
                **provider_settings(fake, smtp_port),
            },
        )
        logging.disable(logging.WARNING)
        try:
            with app.app_context():
                client = app.test_client()
                fake.control(reset=True, delay_ms=200)
                for _ in range(WARM_UP):
                    open_one(client, token)
                wait_until_sent(url)
                cpu.seconds.clear()
                process_started, request_started = time.process_time(), time.thread_time()
                for _ in range(args.opens):
                    open_one(client, token)
                requests = time.thread_time() - request_started
                wait_until_sent(url)
                process = time.process_time() - process_started
        finally:
            dispatcher.stop_dispatcher(app)

    per_open = 1000 / args.opens
    print(f"{args.opens} Walsall openings on {url.split(':', 1)[0]}, every text and email sent and recorded")
    print(f"process CPU per opening: {process * per_open:.1f} ms")
    print(f"  the request (parsing, opening, the 201 answer, commit): {requests * per_open:.1f} ms")
    for part, seconds in cpu.seconds.most_common():
        print(f"  {part}: {seconds * per_open:.1f} ms")


if __name__ == "__main__":
    main()
