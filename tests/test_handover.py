"""Texts claimed by the transaction that queues them and handed to the sender at its commit.

Through the real sender, the Twilio SDK and the fake Twilio: the texts an
opening queues reach the provider without the sender claiming them again;
a transaction (or a savepoint) that rolls back hands nothing over; a text
handed over too late for its lease is left to the sender that takes it over,
which asks the provider before sending it once.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from responder.clock import now_utc
from responder.extensions import db
from responder.incidents.opening import open_incident
from responder.models import Channel, Message, MessageState
from responder.notify import dispatcher
from responder.notify.dispatcher import stop_dispatcher, sweep_outbox
from responder.notify.outbox import queue_sms_answer
from tests.conftest import counting_statements, report


@pytest.fixture
def sending_after_commit(real_providers, directory, monkeypatch):
    """DISPATCH_AFTER_COMMIT on, and every claim the sender itself makes, as (channel, id)."""
    real_providers.config["DISPATCH_AFTER_COMMIT"] = True
    claims: list[tuple[str, int]] = []
    claim_due = dispatcher.claim_due

    def watched(*args, **kwargs):
        made = claim_due(*args, **kwargs)
        claims.extend((claim.message.channel, claim.message.id) for claim in made)
        return made

    monkeypatch.setattr(dispatcher, "claim_due", watched)
    return claims


def texts(state: MessageState | None = None) -> list[Message]:
    query = select(Message).where(Message.channel == Channel.SMS).order_by(Message.id)
    if state is not None:
        query = query.where(Message.state == state)
    return list(db.session.scalars(query))


def numbers_texted_once_sent(app, fake_twilio) -> list[str]:
    """Once no text is still being sent (and the sender has stopped): the numbers the provider was asked to text."""
    wait_for(lambda: not texts(MessageState.SENDING))
    stop_dispatcher(app)
    return [request.form["To"] for request in fake_twilio.requests if request.form]


def wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
        db.session.rollback()


def test_an_openings_texts_go_without_the_sender_claiming_them(
    app, sending_after_commit, make_user, fake_twilio
):
    officer = make_user("officer")
    with app.test_request_context("/incidents/new", method="POST"):
        open_incident(report(), officer)
        queued = texts()
        assert queued and all(text.state == MessageState.SENDING for text in queued)
        db.session.commit()
    wait_for(lambda: not texts(MessageState.SENDING))
    stop_dispatcher(app)

    sent = texts()
    assert {text.state for text in sent} == {MessageState.SENT}
    assert {text.attempts for text in sent} == {1}
    assert [channel for channel, _ in sending_after_commit if channel == Channel.SMS] == []
    assert sorted(r.form["To"] for r in fake_twilio.accepted) == sorted(text.recipient for text in sent)
    assert fake_twilio.duplicates() == {}
    # The emails beside them were claimed by the sender, after the texts had started.
    assert {channel for channel, _ in sending_after_commit} == {Channel.EMAIL}


def test_texts_claimed_at_the_flush_go_in_with_the_emails_in_one_insert(app, directory, make_user):
    """Claimed texts and the emails beside them name the same columns, so one INSERT writes them all.

    (On PostgreSQL; SQLite writes the ORM's new rows one by one either way.)
    When only the texts carried their state, the two kinds alternated and each
    message of an opening went in by a statement of its own.
    """
    officer = make_user("officer")
    inserts = {}
    for claiming in (False, True):
        app.config["DISPATCH_AFTER_COMMIT"] = claiming
        with app.test_request_context("/incidents/new", method="POST"), counting_statements() as sent:
            open_incident(report(), officer)
        assert any(text.state == MessageState.SENDING for text in texts()) == claiming
        db.session.rollback()
        inserts[claiming] = [statement for statement in sent if statement.startswith("INSERT INTO messages")]
    assert len(inserts[True]) == len(inserts[False])
    if db.engine.dialect.name == "postgresql":
        assert len(inserts[True]) == 1


def test_a_transaction_that_rolls_back_hands_nothing_over(app, sending_after_commit, fake_twilio):
    with app.test_request_context("/webhooks/twilio/inbound", method="POST"):
        queue_sms_answer("+447700900111", "Responder: this answer is rolled back")
        db.session.flush()
        db.session.rollback()
        queue_sms_answer("+447700900222", "Responder: this answer is kept")
        db.session.commit()
    assert numbers_texted_once_sent(app, fake_twilio) == ["+447700900222"]


def test_a_savepoint_rolled_back_keeps_its_text_and_the_rest_still_goes(
    app, sending_after_commit, fake_twilio
):
    with app.test_request_context("/webhooks/twilio/inbound", method="POST"):
        queue_sms_answer("+447700900333", "Responder: queued before the savepoint")
        db.session.flush()
        savepoint = db.session.begin_nested()
        queue_sms_answer("+447700900111", "Responder: queued inside the savepoint")
        db.session.flush()
        savepoint.rollback()
        db.session.commit()
    assert numbers_texted_once_sent(app, fake_twilio) == ["+447700900333"]
    assert [text.recipient for text in texts()] == ["+447700900333"]
    assert sending_after_commit == []  # it went as handed over, not claimed again


def test_a_text_handed_over_too_late_for_its_lease_is_asked_about_then_sent_once(
    app, sending_after_commit, fake_twilio
):
    lease = app.config["MESSAGE_LEASE_SECONDS"]
    app.config["MESSAGE_LEASE_SECONDS"] = 5  # shorter than a send may take (10 s, and 5 s of grace)
    with app.test_request_context("/webhooks/twilio/inbound", method="POST"):
        queue_sms_answer("+447700900444", "Responder: handed over too late")
        db.session.commit()
    time.sleep(0.3)
    stop_dispatcher(app)
    assert fake_twilio.requests == []
    (text,) = texts()
    assert text.state == MessageState.SENDING and text.attempts == 1

    app.config["DISPATCH_AFTER_COMMIT"] = False
    app.config["MESSAGE_LEASE_SECONDS"] = lease  # the sender taking it over claims with a lease long enough
    assert sweep_outbox(app).skipped == 0 and fake_twilio.requests == []  # its lease holds it
    with freeze_time(now_utc() + timedelta(seconds=6)):
        report_ = sweep_outbox(app)
    assert report_.sent == 1
    db.session.expire_all()
    assert text.state == MessageState.SENT and text.attempts == 2
    assert fake_twilio.lookups == ["+447700900444"]  # the provider was asked first
    assert [r.form["To"] for r in fake_twilio.accepted] == ["+447700900444"]


def test_the_schedulers_outbox_sweep_sends_what_a_web_process_left_behind(
    app, real_providers, fake_twilio, monkeypatch
):
    from types import SimpleNamespace

    from responder.scheduling import jobs, runtime

    queue_sms_answer("+447700900555", "Responder: left behind by a web process")
    db.session.commit()  # DISPATCH_AFTER_COMMIT is off here: nobody sends it yet
    app.config["DISPATCH_AFTER_COMMIT"] = True
    monkeypatch.setattr(runtime, "leading_runtime", lambda: SimpleNamespace(app=app))
    jobs.sweep_outbox_job()
    wait_for(lambda: texts(MessageState.SENT))
    stop_dispatcher(app)
    assert [r.form["To"] for r in fake_twilio.accepted] == ["+447700900555"]


def test_a_one_off_commands_texts_are_left_for_the_sender_to_claim(app, sending_after_commit, fake_twilio):
    # An app context without a request, and no sender running in this process: a `flask ...` command.
    queue_sms_answer("+447700900666", "Responder: queued by a command")
    db.session.flush()
    (text,) = texts()
    assert text.state == MessageState.PENDING and text.attempts == 0
    db.session.commit()  # wakes (starts) this process's sender, which claims the text itself
    wait_for(lambda: texts(MessageState.SENT))
    stop_dispatcher(app)
    assert sending_after_commit == [(Channel.SMS, text.id)]
    assert [r.form["To"] for r in fake_twilio.accepted] == ["+447700900666"]


def test_a_released_savepoint_hands_nothing_over_until_the_transaction_commits(
    app, sending_after_commit, fake_twilio
):
    with app.test_request_context("/webhooks/twilio/inbound", method="POST"):
        outer = db.session.begin_nested()
        inner = db.session.begin_nested()
        queue_sms_answer("+447700900111", "Responder: released, then rolled back with its outer savepoint")
        inner.commit()
        outer.rollback()
        cancelled = db.session.begin_nested()
        queue_sms_answer("+447700900222", "Responder: released, then cancelled")
        cancelled.commit()
        (text,) = texts()
        text.state = MessageState.CANCELLED
        queue_sms_answer("+447700900333", "Responder: kept")
        db.session.commit()
    assert numbers_texted_once_sent(app, fake_twilio) == ["+447700900333"]


def test_texts_handed_over_by_several_commits_keep_to_the_senders_limit(
    app, sending_after_commit, fake_twilio
):
    app.config["MESSAGE_SEND_WORKERS"] = 3
    fake_twilio.set_delay(150)
    for commit in range(3):  # three requests, each handing over as many texts as the sender may send at once
        with app.test_request_context("/webhooks/twilio/inbound", method="POST"):
            for n in range(3):
                queue_sms_answer(f"+4477009005{commit}{n}", f"Responder: text {n} of commit {commit}")
            db.session.commit()
    wait_for(lambda: len(texts(MessageState.SENT)) == 9, seconds=10)
    stop_dispatcher(app)
    requests = fake_twilio.accepted
    at_once = max(
        sum(1 for other in requests if other.received_at <= r.received_at < other.answered_at)
        for r in requests
    )
    assert len(requests) == 9 and at_once <= 3
    assert fake_twilio.duplicates() == {}
