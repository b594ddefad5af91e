"""GOV.UK Notify as the provider: sending through its client to a fake Notify, failures, and reconciliation."""

from __future__ import annotations

import socket
from collections import Counter
from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from responder import create_app
from responder.clock import now_utc
from responder.extensions import db
from responder.models import Channel, Contact, EventKind, Message, MessageState, ProviderStatus
from responder.notify.backends import ConfigurationError, check_backend_settings
from responder.notify.govuk_notify import reference_for
from tests.timeline_words import sentences

from .conftest import NOTIFY_API_KEY, notify_settings
from .fake_notify import EMAIL_TEMPLATE_ID, SMS_TEMPLATE_ID

LEAD = "bham-youth-lead"  # Birmingham Youth Service, activated by every test incident


def message_to(key: str, channel: str) -> Message:
    return db.session.scalar(
        select(Message)
        .join(Contact, Message.contact_id == Contact.id)
        .where(Contact.key == key, Message.channel == channel)
    )


def messages(channel: str) -> list[Message]:
    return list(db.session.scalars(select(Message).where(Message.channel == channel).order_by(Message.id)))


@pytest.fixture
def unused_port() -> int:
    """A port on 127.0.0.1 with nothing listening."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def send_until_settled(send_outbox, passes: int = 30) -> None:
    for _ in range(passes):
        send_outbox()
        waiting = select(Message.id).where(Message.state.in_([MessageState.PENDING, MessageState.SENDING]))
        if db.session.scalar(waiting) is None:
            return
    pytest.fail("messages still waiting after every pass")


# --- sending ---------------------------------------------------------------------------


def test_alerts_go_through_the_generic_templates_with_their_own_reference(
    notify_providers, make_incident, send_outbox, fake_notify
):
    make_incident()
    report = send_outbox()

    texts, emails = messages(Channel.SMS), messages(Channel.EMAIL)
    assert report.sent == len(texts) + len(emails) == 20 and report.failed == 0
    created = {n.reference: n for n in fake_notify.created}
    assert len(created) == 20
    for message in texts + emails:
        notification = created[reference_for(message)]
        assert message.state == MessageState.SENT and message.provider_id == notification.id
        assert notification.to == message.recipient
    sms = message_to(LEAD, Channel.SMS)
    text = created[reference_for(sms)]
    assert text.type == "sms" and text.template_id == SMS_TEMPLATE_ID
    assert text.personalisation["body"].startswith("Responder alert: Birmingham")
    assert "http://responder.test/a/" in text.personalisation["body"]  # the lead's own link, filled in
    email = created[reference_for(message_to(LEAD, Channel.EMAIL))]
    assert email.type == "email" and email.template_id == EMAIL_TEMPLATE_ID
    assert email.personalisation["subject"] == message_to(LEAD, Channel.EMAIL).subject
    assert "http://responder.test/a/" in email.personalisation["body"]
    assert any(d.endswith("handed to GOV.UK Notify") for d in sentences(EventKind.MESSAGE_SENT))


def test_the_reference_names_the_outbox_row_and_when_it_was_queued(notify_providers, make_incident):
    make_incident()
    sms = message_to(LEAD, Channel.SMS)
    assert reference_for(sms) == f"responder-{sms.id}-{sms.created_at:%Y%m%d%H%M%S}"


def test_a_request_signed_with_another_key_is_refused_and_retried_not_failed(
    notify_providers, make_incident, send_outbox, fake_notify
):
    notify_providers.config["NOTIFY_API_KEY"] = NOTIFY_API_KEY[:-36] + "00000000-0000-4000-8000-000000000000"
    make_incident()
    send_outbox()

    assert fake_notify.created == [] and {r.status for r in fake_notify.requests} == {403}
    sms = message_to(LEAD, Channel.SMS)
    assert sms.state == MessageState.PENDING
    assert sms.last_error.startswith("GOV.UK Notify refused Responder's API key (check NOTIFY_API_KEY")
    assert sentences(EventKind.MESSAGE_FAILED) == []


def test_a_template_notify_does_not_know_is_retried_and_named(
    notify_providers, make_incident, send_outbox, fake_notify
):
    notify_providers.config["NOTIFY_SMS_TEMPLATE_ID"] = "11111111-2222-4333-8444-555555555555"
    make_incident()
    send_outbox()

    sms = message_to(LEAD, Channel.SMS)
    assert sms.state == MessageState.PENDING
    assert "Template not found" in sms.last_error and "NOTIFY_SMS_TEMPLATE_ID" in sms.last_error
    assert message_to(LEAD, Channel.EMAIL).state == MessageState.SENT


# --- failures ----------------------------------------------------------------------------


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.EMAIL])
def test_a_recipient_notify_refuses_fails_at_once(
    notify_providers, make_incident, send_outbox, fake_notify, directory, channel
):
    lead = next(row for row in directory if row["key"] == LEAD)
    fake_notify.reject_recipient(lead["phone"] if channel == Channel.SMS else lead["email"])
    make_incident()
    send_outbox()
    send_outbox()

    message = message_to(LEAD, channel)
    words = "phone_number Not a UK mobile number" if channel == Channel.SMS else "email_address Not a valid"
    assert message.state == MessageState.FAILED and message.attempts == 1
    assert message.last_error.startswith(f"GOV.UK Notify refused the recipient: {words}")
    failed = [d for d in sentences(EventKind.MESSAGE_FAILED) if "Birmingham Youth Service" in d]
    assert len(failed) == 1 and "GOV.UK Notify refused the recipient" in failed[0]
    if channel == Channel.SMS:
        assert message_to(LEAD, Channel.EMAIL).state == MessageState.SENT
        assert len(sentences(EventKind.FELL_BACK_TO_EMAIL)) == 1
    # A wrong number or address is the recipient's, not Notify's health.
    status = db.session.get(ProviderStatus, channel)
    assert status is None or status.failing_since is None


def test_a_429_storm_delays_messages_but_loses_and_doubles_none(
    notify_providers, make_incident, send_outbox, fake_notify
):
    fake_notify.fail_next(35, status=429)
    make_incident()
    send_outbox()
    waiting = [m for m in messages(Channel.SMS) + messages(Channel.EMAIL) if m.state == MessageState.PENDING]
    assert waiting and all(
        m.last_error.startswith("GOV.UK Notify asked Responder to slow down (HTTP 429") for m in waiting
    )
    assert db.session.get(ProviderStatus, Channel.SMS).failing_since is not None

    send_until_settled(send_outbox)

    assert Counter(n.type for n in fake_notify.created) == {"sms": 10, "email": 10}
    assert fake_notify.duplicates() == {}
    assert all(m.state == MessageState.SENT for m in messages(Channel.SMS) + messages(Channel.EMAIL))
    assert sentences(EventKind.MESSAGE_FAILED) == []
    assert db.session.get(ProviderStatus, Channel.SMS).failing_since is None


@pytest.mark.parametrize("status", [500, 503])
def test_notify_having_trouble_is_retried(notify_providers, make_incident, send_outbox, fake_notify, status):
    fake_notify.fail_next(20, status=status)
    make_incident()
    send_outbox()
    assert (
        message_to(LEAD, Channel.SMS).last_error == f"GOV.UK Notify had a problem on its side (HTTP {status})"
    )
    send_until_settled(send_outbox)
    assert len(fake_notify.created) == 20 and fake_notify.duplicates() == {}


def test_notify_unreachable_is_retried(notify_providers, make_incident, send_outbox, unused_port):
    notify_providers.config["NOTIFY_BASE_URL"] = f"http://127.0.0.1:{unused_port}"
    make_incident()
    send_outbox()
    sms = message_to(LEAD, Channel.SMS)
    assert sms.state == MessageState.PENDING and sms.unknown_since is None
    assert sms.last_error == "could not connect to GOV.UK Notify"


# --- an unknown outcome is looked up, never sent twice ------------------------------------------


def test_an_answer_that_comes_too_late_is_looked_up_not_sent_again(
    notify_providers, make_incident, send_outbox, fake_notify
):
    notify_providers.config["MESSAGE_SEND_TIMEOUT_SECONDS"] = 1
    fake_notify.set_delay(1500)  # Notify creates each notification, then answers after the sender gave up
    with freeze_time(now_utc()) as clock:
        make_incident()
        send_outbox()
        sms = message_to(LEAD, Channel.SMS)
        assert sms.state == MessageState.PENDING and sms.unknown_since is not None
        assert sms.last_error.startswith("GOV.UK Notify did not answer")
        assert len(fake_notify.created) == 20

        fake_notify.set_delay(0)
        clock.tick(timedelta(minutes=1))
        send_outbox()

    sms = message_to(LEAD, Channel.SMS)
    assert sms.state == MessageState.SENT and sms.unknown_since is None
    assert sms.provider_id == next(n.id for n in fake_notify.created if n.reference == reference_for(sms))
    assert len(fake_notify.created) == 20 and fake_notify.duplicates() == {}
    assert len([d for d in sentences(EventKind.MESSAGE_SENT) if "found at GOV.UK Notify" in d]) == 20
    lookups = [r for r in fake_notify.requests if r.method == "GET"]
    assert len(lookups) == 20 and all("reference=responder-" in r.path for r in lookups)


def test_a_connection_cut_after_the_notification_was_created_is_looked_up_not_sent_again(
    notify_providers, make_incident, send_outbox, fake_notify
):
    fake_notify.drop_after_create(20)
    with freeze_time(now_utc()) as clock:
        make_incident()
        send_outbox()
        assert message_to(LEAD, Channel.SMS).unknown_since is not None
        assert message_to(LEAD, Channel.SMS).last_error.startswith("the connection to GOV.UK Notify broke")
        clock.tick(timedelta(minutes=1))
        send_outbox()

    assert all(m.state == MessageState.SENT for m in messages(Channel.SMS) + messages(Channel.EMAIL))
    assert len(fake_notify.created) == 20 and fake_notify.duplicates() == {}


def test_a_gateway_timeout_is_looked_up_and_sent_once_when_notify_has_nothing(
    notify_providers, make_incident, send_outbox, fake_notify
):
    fake_notify.fail_next(20, status=504)  # a gateway gave up: Notify may or may not have it
    with freeze_time(now_utc()) as clock:
        make_incident()
        send_outbox()
        assert message_to(LEAD, Channel.SMS).unknown_since is not None
        clock.tick(timedelta(minutes=1))
        send_outbox()

    assert message_to(LEAD, Channel.SMS).state == MessageState.SENT
    assert len(fake_notify.created) == 20 and fake_notify.duplicates() == {}


# --- mixed providers and settings -----------------------------------------------------------


def test_twilio_for_texts_and_notify_for_email(
    real_providers, fake_notify, make_incident, send_outbox, fake_twilio, smtp_server
):
    real_providers.config.update(EMAIL_BACKEND="notify", **notify_settings(fake_notify))
    make_incident()
    send_outbox()

    assert len(fake_twilio.accepted) == 10 and smtp_server.received == []
    assert Counter(n.type for n in fake_notify.created) == {"email": 10}
    assert all(m.state == MessageState.SENT for m in messages(Channel.SMS) + messages(Channel.EMAIL))


def test_notify_for_texts_and_smtp_for_email(
    real_providers, fake_notify, make_incident, send_outbox, fake_twilio, smtp_server
):
    real_providers.config.update(SMS_BACKEND="notify", **notify_settings(fake_notify))
    make_incident()
    send_outbox()

    assert fake_twilio.requests == [] and len(smtp_server.received) == 10
    assert Counter(n.type for n in fake_notify.created) == {"sms": 10}


VALID = {
    "SMS_BACKEND": "notify",
    "EMAIL_BACKEND": "notify",
    "NOTIFY_API_KEY": NOTIFY_API_KEY,
    "NOTIFY_SMS_TEMPLATE_ID": SMS_TEMPLATE_ID,
    "NOTIFY_EMAIL_TEMPLATE_ID": EMAIL_TEMPLATE_ID,
    "NOTIFY_CALLBACK_TOKEN": None,
}


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"NOTIFY_API_KEY": None}, "NOTIFY_API_KEY is not set"),
        ({"NOTIFY_API_KEY": "not-a-key"}, "NOTIFY_API_KEY is not a Notify API key"),
        ({"NOTIFY_SMS_TEMPLATE_ID": None}, "NOTIFY_SMS_TEMPLATE_ID is not set"),
        ({"NOTIFY_EMAIL_TEMPLATE_ID": "welcome"}, "NOTIFY_EMAIL_TEMPLATE_ID is not a template ID"),
        ({"NOTIFY_CALLBACK_TOKEN": "short"}, "NOTIFY_CALLBACK_TOKEN must be at least 20 characters"),
        ({"EMAIL_BACKEND": "smtp", "NOTIFY_SMS_TEMPLATE_ID": None}, "NOTIFY_SMS_TEMPLATE_ID is not set"),
        ({"SMS_BACKEND": "outbox", "NOTIFY_EMAIL_TEMPLATE_ID": None}, "NOTIFY_EMAIL_TEMPLATE_ID is not set"),
    ],
)
def test_start_up_refuses_notify_without_its_settings(app, changes, words):
    config = {**app.config, **VALID, **changes}
    with pytest.raises(ConfigurationError, match=words):
        check_backend_settings(config)
    with pytest.raises(SystemExit) as refused:
        create_app("testing", {key: config[key] for key in (*VALID, *changes)})
    assert words in str(refused.value) and NOTIFY_API_KEY[-36:] not in str(refused.value)


def test_a_channel_that_does_not_use_notify_needs_none_of_its_settings(app):
    check_backend_settings({**app.config, **VALID, "SMS_BACKEND": "outbox", "NOTIFY_SMS_TEMPLATE_ID": None})
    check_backend_settings({**app.config, **VALID, "SMS_BACKEND": "outbox", "EMAIL_BACKEND": "outbox"})
