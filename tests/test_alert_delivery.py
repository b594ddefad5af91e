"""Alerts that arrive: one SMS (through the Twilio SDK) and one email (over SMTP) per activated lead."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select, update

from responder.extensions import db
from responder.models import Channel, EventKind, Message, MessageKind, MessageState, TimelineEvent
from responder.notify.dispatcher import stop_dispatcher
from tests.timeline_words import said

from .conftest import TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN


def messages(channel: str | None = None) -> list[Message]:
    query = select(Message).order_by(Message.id)
    if channel:
        query = query.where(Message.channel == channel)
    return list(db.session.scalars(query))


def events(kind: str) -> list[TimelineEvent]:
    return list(db.session.scalars(select(TimelineEvent).where(TimelineEvent.kind == kind)))


def test_every_lead_gets_one_sms_and_one_email(
    real_providers, make_incident, send_outbox, fake_twilio, smtp_server
):
    incident = make_incident()
    sms, email = messages(Channel.SMS), messages(Channel.EMAIL)
    assert len(sms) == len(email) == 10

    report = send_outbox()

    assert report.sent == 20
    assert sorted(r.form["To"] for r in fake_twilio.accepted) == sorted(m.recipient for m in sms)
    assert sorted(e.rcpt_tos[0] for e in smtp_server.received) == sorted(m.recipient for m in email)
    assert all(m.state == MessageState.SENT and m.sent_at is not None for m in messages())
    assert all(m.provider_id.startswith("SM") for m in sms)
    assert len(events(EventKind.MESSAGE_SENT)) == 20
    sent_event = events(EventKind.MESSAGE_SENT)[0]
    assert sent_event.incident_id == incident.id and "handed to" in said(sent_event)


def test_twilio_requests_carry_the_account_credentials_and_the_status_callback(
    real_providers, make_incident, send_outbox, fake_twilio
):
    make_incident()
    send_outbox()
    request = fake_twilio.accepted[0]
    assert request.account_sid == TWILIO_ACCOUNT_SID
    assert request.basic_auth == (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)
    assert request.form["From"] == "+447700900000"
    assert request.form["StatusCallback"] == "http://responder.test/webhooks/twilio/status"
    assert "http://responder.test/a/" in request.form["Body"]
    assert "{link}" not in request.form["Body"]


def test_a_text_reaches_twilio_exactly_as_written(real_providers, send_outbox, fake_twilio):
    """The form body is encoded by Responder's own HTTP client: every character survives it."""
    body = "Reply YES & call 0121 496 0000 = +44 at 100% (£5)\nsecond line; a=b&c"
    db.session.add(
        Message(channel=Channel.SMS, kind=MessageKind.REPLY_ANSWER, recipient="+447700900123", body=body)
    )
    send_outbox()
    [request] = fake_twilio.accepted
    assert request.form["Body"] == body
    assert request.form["To"] == "+447700900123"


def test_a_messaging_service_sid_is_sent_as_the_messaging_service(
    real_providers, make_incident, send_outbox, fake_twilio
):
    real_providers.config["TWILIO_FROM"] = "MG" + "1" * 32
    make_incident()
    send_outbox()
    request = fake_twilio.accepted[0]
    assert request.form["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in request.form


def test_the_email_is_a_proper_email_without_personal_data(
    real_providers, make_incident, send_outbox, smtp_server
):
    incident = make_incident(summary="Canary summary SUMMARY-CANARY-7731", location="Lozells Road")
    send_outbox()
    received = smtp_server.received[0]
    email = received.message
    assert email["Message-ID"].startswith("<responder.") and email["Message-ID"].endswith("@vru.example.org>")
    assert email["Date"]
    assert email["Subject"].startswith("[Responder] Birmingham " + incident.reference)
    assert email.get_content_type() == "multipart/alternative"
    text, html = received.part("text/plain"), received.part("text/html")
    assert "http://responder.test/a/" in text and 'href="http://responder.test/a/' in html
    for part in (text, html, received.raw.decode("utf-8", "replace")):
        for secret in ("SUMMARY-CANARY-7731", "Lozells", "aged", "age 16", "youngest"):
            assert secret.lower() not in part.lower()
    message = db.session.scalar(select(Message).where(Message.recipient == received.rcpt_tos[0]))
    assert message.provider_id == "smtp:" + email["Message-ID"][1:].split("@")[0]


def test_an_alert_email_escapes_what_it_is_given_in_html_and_keeps_it_as_is_in_text(app):
    from responder.notify.message_templates import render_message

    context = {
        "exercise": False,
        "local_authority": "Birmingham",
        "reference": "BHM-2026-0001",
        "incident_type": "Stabbing",
        "occurred": "02:10 Mon 30 Nov",
        "agency": "Youth <b>&</b> Play",
        "expires": "07 Dec 2026",
        "reply_code": "4821",
    }
    with app.test_request_context():
        html = render_message("alert.email.html", **context)
        text = render_message("alert.email.txt", **context)
    assert "Youth &lt;b&gt;&amp;&lt;/b&gt; Play" in html and "<b>" not in html
    assert "Youth <b>&</b> Play" in text


def test_the_development_outbox_keeps_everything_on_this_machine(
    app, make_incident, send_outbox, fake_twilio
):
    make_incident()
    send_outbox()
    assert fake_twilio.requests == []
    assert all(m.state == MessageState.SENT and m.provider_id == f"outbox-{m.id}" for m in messages())


def test_a_message_with_a_provider_id_is_never_sent_again(
    real_providers, make_incident, send_outbox, fake_twilio
):
    make_incident()
    send_outbox()
    # Even a row knocked back to pending (a bad restore, a manual edit) keeps its provider id.
    db.session.execute(update(Message).values(state=MessageState.PENDING, lease_until=None))
    db.session.commit()

    assert send_outbox().sent == 0
    assert len(fake_twilio.requests) == 10


def test_the_sweep_command_sends_what_is_due(real_providers, make_incident, fake_twilio):
    make_incident()
    result = real_providers.test_cli_runner().invoke(args=["outbox", "sweep"])
    assert result.exit_code == 0, result.output
    assert "20 sent" in result.output
    assert len(fake_twilio.accepted) == 10


def test_the_sweep_command_names_a_missing_setting(app, make_incident):
    app.config.update(SMS_BACKEND="twilio", TWILIO_ACCOUNT_SID=None)
    make_incident()
    result = app.test_cli_runner().invoke(args=["outbox", "sweep"])
    assert result.exit_code == 1
    assert "TWILIO_ACCOUNT_SID" in result.output
    assert db.session.scalar(select(func.count()).where(Message.state == MessageState.PENDING)) == 20


@pytest.fixture
def dispatching(real_providers):
    """The dispatcher as in production: started by the first commit that queues messages."""
    real_providers.config["DISPATCH_AFTER_COMMIT"] = True
    yield real_providers
    stop_dispatcher(real_providers)


def wait_for(condition, timeout: float = 15.0) -> None:
    """Poll until ``condition()`` holds; fails the test (never passes it) on timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for the dispatcher")
        time.sleep(0.02)


def sent_count() -> int:
    db.session.rollback()
    return db.session.scalar(
        select(func.count()).where(Message.state.in_([MessageState.SENT, MessageState.DELIVERED]))
    )


def test_opening_an_incident_sends_its_alerts_without_a_sweep(
    dispatching, make_incident, fake_twilio, smtp_server
):
    make_incident()
    wait_for(lambda: sent_count() == 20)
    assert len(fake_twilio.accepted) == 10
    assert len(smtp_server.received) == 10


def test_the_dispatcher_retries_on_its_own_until_twilio_recovers(dispatching, make_incident, fake_twilio):
    fake_twilio.fail_next(4, status=503)
    make_incident()
    wait_for(lambda: sent_count() == 20)
    assert len(fake_twilio.accepted) == 10
    assert len({r.form["To"] for r in fake_twilio.accepted}) == 10


def test_leads_do_not_wait_for_each_other(real_providers, make_incident, send_outbox, fake_twilio):
    """Concurrency, shown by overlap at the fake rather than by the clock."""
    fake_twilio.set_delay(1000)  # long enough that a busy test machine cannot blur the overlap
    make_incident()
    send_outbox()
    requests = fake_twilio.accepted
    busiest = max(
        sum(1 for r in requests if r.received_at <= s.received_at < r.answered_at) for s in requests
    )
    assert busiest == 10  # every SMS was in flight at the same moment
