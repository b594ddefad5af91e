"""Reliability drills: a crash after the commit, a sender killed mid-send, two senders at once.

Each drill checks what the fake Twilio and the SMTP server actually received:
every alert exactly once, none lost.
"""

from __future__ import annotations

import os
import select as selectors
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func
from sqlalchemy import select as sql_select

from responder.clock import now_utc
from responder.extensions import db
from responder.models import Message, MessageState

from .conftest import PLAYBOOKS, ROOT, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, is_postgres

pytestmark = pytest.mark.slow

# Opens one Birmingham incident in its own process, then stops dead at the
# point the drill names, so the parent can SIGKILL it there.
OPEN_AND_STOP = textwrap.dedent(
    """
    import sys, threading
    from datetime import timedelta

    import responder.notify.dispatcher
    from responder import create_app
    from responder.clock import now_utc
    from responder.incidents.opening import IncidentReport, open_incident
    from responder.notify.backends import DevOutbox
    from responder.unit_of_work import unit_of_work

    stop_at, database_url, playbooks = sys.argv[1:4]
    forever = threading.Event()

    def stop_here(*args, **kwargs):
        print("stopped", flush=True)
        forever.wait()

    if stop_at == "after-commit":
        # Between the commit and waking the dispatcher: nothing has been sent.
        responder.notify.dispatcher.wake_dispatcher = stop_here
    else:
        # Inside the provider call: every message claimed, none handed over.
        DevOutbox.send = stop_here
    app = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "PLAYBOOKS_DIR": playbooks,
            "DISPATCH_AFTER_COMMIT": stop_at == "mid-send",
        },
    )
    with app.app_context():
        with unit_of_work():
            open_incident(
                IncidentReport(
                    local_authority="birmingham",
                    type="stabbing",
                    occurred_at=now_utc() - timedelta(minutes=20),
                    location="Drill Road",
                    youngest_age=16,
                    school_link=True,
                ),
                None,
            )
        forever.wait()
    """
)


def start_opener(tmp_path, stop_at: str, database_url: str) -> subprocess.Popen:
    script = tmp_path / "open_and_stop.py"
    script.write_text(OPEN_AND_STOP)
    return subprocess.Popen(
        [sys.executable, str(script), stop_at, database_url, str(PLAYBOOKS)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the drill did not reach its stopping point")
        time.sleep(0.05)


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    process.stdout.close()


def count(*conditions) -> int:
    db.session.rollback()
    return db.session.scalar(sql_select(func.count()).select_from(Message).where(*conditions))


def assert_each_alert_arrived_once(fake_twilio, smtp_server, incidents: int = 1) -> None:
    db.session.expire_all()
    messages = db.session.scalars(sql_select(Message)).all()
    assert len(messages) == 20 * incidents
    assert all(m.state == MessageState.SENT for m in messages), Counter(m.state for m in messages)
    # Bodies differ per message (each carries its own link), so they identify it.
    sms_bodies = Counter(r.form["Body"] for r in fake_twilio.accepted)
    assert len(sms_bodies) == 10 * incidents and set(sms_bodies.values()) == {1}
    email_ids = Counter(email.message["Message-ID"] for email in smtp_server.received)
    assert len(email_ids) == 10 * incidents and set(email_ids.values()) == {1}


def test_a_crash_between_commit_and_send_loses_nothing(
    real_providers, directory, database_url, tmp_path, send_outbox, fake_twilio, smtp_server
):
    opener = start_opener(tmp_path, "after-commit", database_url)
    ready, _, _ = selectors.select([opener.stdout], [], [], 60)
    assert ready and opener.stdout.readline().strip() == "stopped"
    kill(opener)
    assert count(Message.state == MessageState.PENDING) == 20

    send_outbox()  # as on restart
    send_outbox()  # and once more, as the periodic sweep would

    assert_each_alert_arrived_once(fake_twilio, smtp_server)


def test_a_sender_killed_mid_send_is_taken_over_once_its_lease_runs_out(
    real_providers, directory, database_url, tmp_path, send_outbox, fake_twilio, smtp_server
):
    opener = start_opener(tmp_path, "mid-send", database_url)
    wait_until(lambda: count(Message.state == MessageState.SENDING) == 20)
    kill(opener)

    assert send_outbox().sent == 0  # still leased to the dead sender: nobody doubles it
    assert fake_twilio.requests == []

    lease = timedelta(seconds=real_providers.config["MESSAGE_LEASE_SECONDS"])
    with freeze_time(now_utc() + lease + timedelta(seconds=1), tick=True):
        assert send_outbox().sent == 20
        assert send_outbox().sent == 0

    assert_each_alert_arrived_once(fake_twilio, smtp_server)
    assert count(Message.attempts == 2) == 20


def sweep_in_another_process(fake_twilio, smtp_server, database_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RESPONDER_ENV": "testing",
        "TEST_DATABASE_URL": database_url,
        "PLAYBOOKS_DIR": str(PLAYBOOKS),
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
        "TWILIO_FROM": "+447700900000",
        "TWILIO_API_BASE_URL": fake_twilio.base_url,
        "EMAIL_BACKEND": "smtp",
        "SMTP_HOST": smtp_server.host,
        "SMTP_PORT": str(smtp_server.port),
        "MAIL_FROM": "responder@vru.example.org",
        # Few senders each, so both processes are still claiming when the other starts.
        "MESSAGE_SEND_WORKERS": "3",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "sweep"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.skipif(
    not is_postgres(os.environ.get("TEST_DATABASE_URL", "")), reason="needs PostgreSQL (TEST_DATABASE_URL)"
)
def test_two_senders_at_once_send_each_message_exactly_once(
    real_providers, make_incident, database_url, fake_twilio, smtp_server
):
    for _ in range(3):
        make_incident()
    fake_twilio.set_delay(300)

    senders = [sweep_in_another_process(fake_twilio, smtp_server, database_url) for _ in range(2)]
    outputs = [sender.communicate(timeout=120)[0] for sender in senders]

    assert all(sender.returncode == 0 for sender in senders), outputs
    sent = [int(output.strip().splitlines()[-1].split(" sent")[0]) for output in outputs]
    assert sum(sent) == 60 and all(n > 0 for n in sent), outputs  # both really sent
    assert_each_alert_arrived_once(fake_twilio, smtp_server, incidents=3)
