"""When providers fail: retry what may pass, stop at once on what never will, and reach the lead by email."""

from __future__ import annotations

import socket
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa
from freezegun import freeze_time
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from responder.clock import now_utc
from responder.extensions import db
from responder.models import Channel, Contact, EventKind, Message, MessageState, TimelineEvent
from responder.notify.delivery import RetryPolicy
from tests.timeline_words import sentences

from .smtp_server import RecordingSmtpServer

LEAD = "bham-youth-lead"  # Birmingham Youth Service, activated by every test incident


def lead_phone() -> str:
    return db.session.scalar(select(Contact.phone).where(Contact.key == LEAD))


def message_to(key: str, channel: str) -> Message:
    return db.session.scalar(
        select(Message)
        .join(Contact, Message.contact_id == Contact.id)
        .where(Contact.key == key, Message.channel == channel)
    )


def send_until_settled(send_outbox, passes: int = 20) -> None:
    for _ in range(passes):
        send_outbox()
        waiting = select(Message.id).where(Message.state.in_([MessageState.PENDING, MessageState.SENDING]))
        if db.session.scalar(waiting) is None:
            return
    pytest.fail("messages still waiting after every pass")


# --- transient failures --------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503, 429])
def test_an_outage_delays_alerts_but_loses_and_doubles_none(
    real_providers, make_incident, send_outbox, fake_twilio, status
):
    fake_twilio.fail_next(13, status=status)
    make_incident()

    send_until_settled(send_outbox)

    per_number = Counter(r.form["To"] for r in fake_twilio.accepted)
    assert len(per_number) == 10 and set(per_number.values()) == {1}
    assert len(fake_twilio.requests) == 10 + 13
    sms = db.session.scalars(select(Message).where(Message.channel == Channel.SMS)).all()
    assert all(m.state == MessageState.SENT for m in sms)
    retried = [m for m in sms if m.attempts > 1]
    assert retried and all(m.last_error is None for m in sms)
    # Retries are for the message row, not the managers' timeline.
    assert sentences(EventKind.MESSAGE_FAILED) == []
    assert len(sentences(EventKind.MESSAGE_SENT)) == 20


def test_a_failed_attempt_is_visible_on_the_message_while_it_waits(
    real_providers, make_incident, send_outbox, fake_twilio, login, make_user, client
):
    fake_twilio.fail_next(100, status=503)
    incident = make_incident()
    send_outbox()

    message = message_to(LEAD, Channel.SMS)
    assert message.state == MessageState.PENDING and message.attempts == 1
    assert message.last_error == "Twilio had a problem on its side (HTTP 503)"
    assert message.next_attempt_at is not None
    login(make_user("officer"))
    page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    assert "trying again (1 attempt so far; last: Twilio had a problem on its side (HTTP 503))" in page


def test_retries_wait_for_their_backoff(real_providers, make_incident, send_outbox, fake_twilio):
    real_providers.config.update(MESSAGE_RETRY_BASE_SECONDS=60, MESSAGE_RETRY_MAX_SECONDS=600)
    fake_twilio.fail_next(10, status=500)
    with freeze_time(now_utc(), tick=True) as clock:
        make_incident()
        send_outbox()
        assert len(fake_twilio.requests) == 10
        first = message_to(LEAD, Channel.SMS)
        assert now_utc() + timedelta(seconds=29) <= first.next_attempt_at <= now_utc() + timedelta(seconds=60)

        assert send_outbox().sent == 0  # not due yet: nothing is sent early
        assert len(fake_twilio.requests) == 10

        clock.tick(timedelta(seconds=61))
        assert send_outbox().sent == 10
    assert len(fake_twilio.accepted) == 10


def test_backoff_doubles_up_to_its_cap_with_jitter():
    policy = RetryPolicy(base_seconds=5, max_seconds=300)
    for attempt, ceiling in [(1, 5), (2, 10), (3, 20), (4, 40), (7, 300), (9, 300)]:
        delays = {policy.delay_after(attempt).total_seconds() for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered, so failures together do not retry together


def test_a_message_gives_up_once_its_time_for_retrying_has_run_out(
    real_providers, make_incident, send_outbox, fake_twilio
):
    real_providers.config["MESSAGE_RETRY_FOR_SECONDS"] = 3600
    fake_twilio.fail_next(1000, status=503)
    with freeze_time(now_utc()) as clock:
        make_incident()
        send_outbox()
        clock.tick(timedelta(minutes=59))
        send_outbox()
        assert message_to(LEAD, Channel.SMS).state == MessageState.PENDING
        clock.tick(timedelta(minutes=2))
        send_outbox()

    message = message_to(LEAD, Channel.SMS)
    assert message.state == MessageState.FAILED and message.attempts == 3
    assert message.last_error == (
        "gave up after trying for 1 h; the last attempt: Twilio had a problem on its side (HTTP 503)"
    )
    assert any(
        "Birmingham Youth Service" in d and "gave up" in d for d in sentences(EventKind.MESSAGE_FAILED)
    )


def test_twilio_unreachable_is_retried(real_providers, make_incident, send_outbox):
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    real_providers.config["TWILIO_API_BASE_URL"] = f"http://127.0.0.1:{closed}"
    make_incident()
    send_outbox()
    message = message_to(LEAD, Channel.SMS)
    assert message.state == MessageState.PENDING
    assert message.last_error == "could not connect to Twilio"


def test_an_answer_that_comes_too_late_is_looked_up_not_sent_again(
    real_providers, make_incident, send_outbox, fake_twilio
):
    real_providers.config["MESSAGE_SEND_TIMEOUT_SECONDS"] = 1
    fake_twilio.set_delay(1500)  # Twilio creates each message, then answers after the sender gave up
    with freeze_time(now_utc()) as clock:
        make_incident()
        send_outbox()
        message = message_to(LEAD, Channel.SMS)
        assert message.state == MessageState.PENDING and message.unknown_since is not None
        assert message.last_error == "Twilio did not answer within 1 s"

        fake_twilio.set_delay(0)
        clock.tick(timedelta(minutes=1))
        send_outbox()

    message = message_to(LEAD, Channel.SMS)
    assert message.state == MessageState.SENT and message.unknown_since is None
    assert message.provider_id == next(m.sid for m in fake_twilio.created if m.to == lead_phone())
    assert len(fake_twilio.created) == 10 and fake_twilio.duplicates() == {}
    assert any("found at Twilio" in d for d in sentences(EventKind.MESSAGE_SENT))


def test_a_connection_cut_after_the_message_was_created_is_looked_up_not_sent_again(
    real_providers, make_incident, send_outbox, fake_twilio
):
    fake_twilio.drop_after_create(10)
    with freeze_time(now_utc()) as clock:
        make_incident()
        send_outbox()
        assert message_to(LEAD, Channel.SMS).unknown_since is not None
        clock.tick(timedelta(minutes=1))
        send_outbox()

    assert message_to(LEAD, Channel.SMS).state == MessageState.SENT
    assert len(fake_twilio.created) == 10 and fake_twilio.duplicates() == {}


def test_a_message_whose_outcome_is_unknown_and_not_at_the_provider_is_sent(
    real_providers, make_incident, send_outbox, fake_twilio
):
    fake_twilio.fail_next(10, status=502)  # a gateway gave up: Twilio may or may not have it
    with freeze_time(now_utc()) as clock:
        make_incident()
        send_outbox()
        assert message_to(LEAD, Channel.SMS).unknown_since is not None
        clock.tick(timedelta(minutes=1))
        send_outbox()

    assert message_to(LEAD, Channel.SMS).state == MessageState.SENT
    assert len(fake_twilio.created) == 10 and fake_twilio.duplicates() == {}


def test_a_busy_mail_server_is_retried(real_providers, make_incident, send_outbox, smtp_server):
    smtp_server.busy_for(4)
    make_incident()
    send_until_settled(send_outbox)
    assert Counter(len(smtp_server.received_by(m.recipient)) for m in _emails()) == {1: 10}
    assert sentences(EventKind.MESSAGE_FAILED) == []


def _emails() -> list[Message]:
    return list(db.session.scalars(select(Message).where(Message.channel == Channel.EMAIL)))


# --- permanent failures and the email fallback ------------------------------------------


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (21211, "the phone number is not valid (Twilio error 21211)"),
        (21614, "the number cannot receive SMS (not a mobile number) (Twilio error 21614)"),
    ],
)
def test_a_bad_number_fails_at_once_and_the_lead_is_reached_by_email(
    real_providers, make_incident, send_outbox, fake_twilio, smtp_server, code, words
):
    fake_twilio.reject_number(lead_phone(), code)
    make_incident()

    send_outbox()
    send_outbox()

    sms = message_to(LEAD, Channel.SMS)
    assert sms.state == MessageState.FAILED and sms.attempts == 1 and sms.last_error == words
    assert len([r for r in fake_twilio.requests if r.form["To"] == lead_phone()]) == 1
    email = message_to(LEAD, Channel.EMAIL)
    assert email.state == MessageState.SENT
    assert len(smtp_server.received_by(email.recipient)) == 1
    failed = [d for d in sentences(EventKind.MESSAGE_FAILED) if "Birmingham Youth Service" in d]
    assert failed == [f"Alert SMS to {sms.contact.name}, Lead, Birmingham Youth Service failed: {words}"]
    assert sentences(EventKind.FELL_BACK_TO_EMAIL) == [
        f"{sms.contact.name}, Lead, Birmingham Youth Service reached by email instead: the SMS failed ({words})"
    ]


def test_no_email_fallback_is_claimed_before_the_email_has_gone(
    real_providers, make_incident, send_outbox, fake_twilio, smtp_server
):
    fake_twilio.reject_number(lead_phone(), 21211)
    smtp_server.busy_for(100)
    make_incident()
    send_outbox()
    assert sentences(EventKind.FELL_BACK_TO_EMAIL) == []

    smtp_server.busy_for(0)
    send_outbox()
    assert len(sentences(EventKind.FELL_BACK_TO_EMAIL)) == 1


def test_a_refused_email_address_fails_at_once(real_providers, make_incident, send_outbox, smtp_server):
    address = db.session.scalar(select(Contact.email).where(Contact.key == LEAD))
    smtp_server.refused.add(address)
    make_incident()
    send_outbox()
    email = message_to(LEAD, Channel.EMAIL)
    assert email.state == MessageState.FAILED and email.attempts == 1
    assert email.last_error.startswith("the mail server refused the address: 550")
    assert sentences(EventKind.FELL_BACK_TO_EMAIL) == []


def test_the_incident_page_says_what_failed(
    real_providers, make_incident, send_outbox, fake_twilio, login, make_user, client
):
    fake_twilio.reject_number(lead_phone(), 21211)
    incident = make_incident()
    send_outbox()
    login(make_user("officer"))
    page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    assert "<strong>failed</strong> – the phone number is not valid (Twilio error 21211)" in page
    assert "reached by email instead" in page


def test_outcomes_that_cannot_be_recorded_are_written_once_the_database_answers(
    real_providers, make_incident, send_outbox, fake_twilio, monkeypatch
):
    from responder.notify import dispatcher

    real_record = dispatcher.record_outcomes
    refusals = iter([True, True])

    def record_once_the_database_answers(outcomes, policy):
        if next(refusals, False):
            raise OperationalError("UPDATE messages", {}, Exception("the database is restarting"))
        real_record(outcomes, policy)

    monkeypatch.setattr(dispatcher, "record_outcomes", record_once_the_database_answers)
    make_incident()

    report = send_outbox()

    assert report.sent == 20
    assert {m.state for m in db.session.scalars(select(Message))} == {MessageState.SENT}
    assert fake_twilio.duplicates() == {}


def test_a_sent_message_whose_record_was_lost_is_found_at_the_provider_not_sent_again(
    real_providers, make_incident, send_outbox, fake_twilio, monkeypatch
):
    from responder.notify import dispatcher

    real_record = dispatcher.record_outcomes

    def never_recorded(outcomes, policy):
        raise OperationalError("UPDATE messages", {}, Exception("the database is down"))

    with freeze_time(now_utc()) as clock:
        monkeypatch.setattr(dispatcher, "record_outcomes", never_recorded)
        make_incident()
        send_outbox()  # every text reaches Twilio; none of it is written down
        assert message_to(LEAD, Channel.SMS).state == MessageState.SENDING  # until its lease runs out

        monkeypatch.setattr(dispatcher, "record_outcomes", real_record)
        clock.tick(timedelta(seconds=real_providers.config["MESSAGE_LEASE_SECONDS"] + 1))
        send_outbox()

    assert message_to(LEAD, Channel.SMS).state == MessageState.SENT
    assert len(fake_twilio.created) == 10 and fake_twilio.duplicates() == {}


def test_the_mail_server_login_is_used_when_configured(real_providers, make_incident, send_outbox):
    server = RecordingSmtpServer(login=("responder", "mail-password")).start()
    try:
        real_providers.config.update(
            SMTP_PORT=server.port, SMTP_USERNAME="responder", SMTP_PASSWORD="mail-password"
        )
        make_incident()
        send_outbox()
        assert len(server.received) == 10 and set(server.logins) == {"responder"}
    finally:
        server.stop()


def test_a_refused_mail_login_is_retried_not_failed(real_providers, make_incident, send_outbox):
    server = RecordingSmtpServer(login=("responder", "mail-password")).start()
    try:
        real_providers.config.update(SMTP_PORT=server.port, SMTP_USERNAME="responder", SMTP_PASSWORD="wrong")
        make_incident()
        send_outbox()
    finally:
        server.stop()
    email = message_to(LEAD, Channel.EMAIL)
    # Fixing the settings lets the retry succeed, so it is not the lead's failure.
    assert email.state == MessageState.PENDING
    assert "refused Responder's login" in email.last_error
    assert sentences(EventKind.MESSAGE_FAILED) == []


# --- recording what the providers said -----------------------------------------------


def _accepted(claims, provider_id_of) -> list:
    from responder.notify.backends import Receipt
    from responder.notify.delivery import Outcome, Result

    return [
        Outcome(claim, Result.SENT, "Twilio", receipt=Receipt(provider_id_of(claim), "queued"))
        for claim in claims
    ]


def _reads_and_updates_while(work) -> int:
    statements = []

    def count(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith("INSERT"):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        work()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    return len(statements)


def test_acceptances_are_recorded_in_the_same_few_statements_however_many_there_are(app, make_incident):
    from responder.notify.delivery import claim_due, record_outcomes

    policy = RetryPolicy.from_config(app.config)
    make_incident()
    claims = claim_due(100, policy)
    db.session.commit()
    texts = [claim for claim in claims if claim.message.channel == Channel.SMS]
    emails = [claim for claim in claims if claim.message.channel == Channel.EMAIL]
    # The first batch also notes that both providers are answering (a row each, written once a minute).
    first, small, large = texts[:1] + emails[:1], texts[1:2] + emails[1:2], texts[2:] + emails[2:]
    assert len(large) >= 8

    counts = []
    for batch in (first, small, large):
        outcomes = _accepted(batch, lambda claim: f"SM{claim.message.id:032d}")
        counts.append(_reads_and_updates_while(lambda outcomes=outcomes: record_outcomes(outcomes, policy)))
        db.session.commit()

    assert counts[1] == counts[2]
    messages = db.session.scalars(select(Message)).all()
    assert {m.state for m in messages} == {MessageState.SENT}
    assert all(m.provider_id == f"SM{m.id:032d}" for m in messages)
    sent_events = db.session.scalars(
        select(TimelineEvent).where(TimelineEvent.kind == EventKind.MESSAGE_SENT)
    )
    assert sorted(event.data["message_id"] for event in sent_events) == sorted(m.id for m in messages)


def test_an_acceptance_already_recorded_is_neither_overwritten_nor_told_twice(app, make_incident, caplog):
    from responder.notify.delivery import claim_due, record_outcomes

    policy = RetryPolicy.from_config(app.config)
    make_incident()
    doubled, found, fresh = claim_due(3, policy)
    # Another sender wrote two of them first: one with a different provider id (it went twice),
    # one with the very id this sender got (it found the message at the provider).
    for claim, provider_id in ((doubled, "SM-the-other-sender"), (found, "SM-found")):
        db.session.get(Message, claim.message.id).provider_id = provider_id
    db.session.commit()

    ids = {doubled: "SM-this-sender", found: "SM-found", fresh: "SM-fresh"}
    record_outcomes(_accepted([doubled, found, fresh], ids.get), policy)
    db.session.commit()

    assert db.session.get(Message, doubled.message.id).provider_id == "SM-the-other-sender"
    assert db.session.get(Message, fresh.message.id).provider_id == "SM-fresh"
    went_twice = [r.getMessage() for r in caplog.records if "went twice" in r.getMessage()]
    assert went_twice == [
        f"message {doubled.message.id} was accepted by Twilio as SM-this-sender "
        "but was already recorded as SM-the-other-sender: it went twice"
    ]
    told = db.session.scalars(select(TimelineEvent).where(TimelineEvent.kind == EventKind.MESSAGE_SENT)).all()
    assert [event.data["message_id"] for event in told] == [fresh.message.id]
