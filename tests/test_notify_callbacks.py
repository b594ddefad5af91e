"""GOV.UK Notify's callbacks: delivery receipts and received texts, each proved by its bearer token."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from responder.extensions import db
from responder.models import (
    Activation,
    Channel,
    Contact,
    EventKind,
    Message,
    MessageKind,
    MessageState,
    ReceivedText,
    TimelineEvent,
)
from responder.notify.govuk_notify import reference_for
from tests.timeline_words import sentences

from .conftest import NOTIFY_CALLBACK_TOKEN

LEAD = "bham-youth-lead"
GOOD = {"Authorization": f"Bearer {NOTIFY_CALLBACK_TOKEN}"}
FORGED = [
    {},
    {"Authorization": "Bearer "},
    {"Authorization": "Bearer somebody-elses-token-0123456789"},
    {"Authorization": f"Bearer {NOTIFY_CALLBACK_TOKEN}x"},
    {"Authorization": f"Bearer {NOTIFY_CALLBACK_TOKEN[:-1]}"},
    {"Authorization": f"Basic {NOTIFY_CALLBACK_TOKEN}"},
    {"Authorization": NOTIFY_CALLBACK_TOKEN},
    {"X-Notify-Token": NOTIFY_CALLBACK_TOKEN},
]


def lead_message(channel: str) -> Message:
    return db.session.scalar(
        select(Message)
        .join(Contact, Message.contact_id == Contact.id)
        .where(Contact.key == LEAD, Message.channel == channel)
    )


def receipt(message: Message, status: str, **changes) -> dict:
    """A delivery receipt as Notify posts it."""
    return {
        "id": message.provider_id,
        "reference": reference_for(message),
        "to": message.recipient,
        "status": status,
        "created_at": "2026-11-30T09:00:00.000000Z",
        "completed_at": "2026-11-30T09:00:05.000000Z",
        "sent_at": "2026-11-30T09:00:01.000000Z",
        "notification_type": message.channel,
        "template_id": "2d5b7f3c-1a9e-4c6d-8b0f-6e4a3c2b1d9e",
        "template_version": 1,
        **changes,
    }


def post(client, path: str, body, headers: dict[str, str]):
    response = client.post(f"/webhooks/notify/{path}", json=body, headers=headers)
    db.session.expire_all()
    return response


@pytest.fixture
def sent_alerts(notify_providers, make_incident, send_outbox):
    make_incident()
    send_outbox()
    return lead_message(Channel.SMS)


# --- delivery receipts ------------------------------------------------------------------


def test_a_delivered_receipt_marks_the_text_delivered(sent_alerts, client):
    assert post(client, "status", receipt(sent_alerts, "delivered"), GOOD).status_code == 200

    sms = lead_message(Channel.SMS)
    assert sms.state == MessageState.DELIVERED and sms.provider_status == "delivered"
    assert sentences(EventKind.MESSAGE_DELIVERED) == [
        f"Alert SMS to {sms.contact.name}, Lead, Birmingham Youth Service: delivered to the phone"
    ]


def test_a_delivered_email_receipt_says_the_mail_server_took_it(sent_alerts, client):
    email = lead_message(Channel.EMAIL)
    assert post(client, "status", receipt(email, "delivered"), GOOD).status_code == 200
    assert lead_message(Channel.EMAIL).state == MessageState.DELIVERED
    assert sentences(EventKind.MESSAGE_DELIVERED)[0].endswith("delivered to the mail server")


def test_a_permanent_failure_fails_the_text_and_says_the_lead_was_emailed(sent_alerts, client):
    assert post(client, "status", receipt(sent_alerts, "permanent-failure"), GOOD).status_code == 200

    sms = lead_message(Channel.SMS)
    words = "the number does not exist or the network refused the text (GOV.UK Notify: permanent-failure)"
    assert sms.state == MessageState.FAILED and sms.last_error == words
    name = sms.contact.name
    assert sentences(EventKind.MESSAGE_FAILED) == [
        f"Alert SMS to {name}, Lead, Birmingham Youth Service failed: {words}"
    ]
    assert sentences(EventKind.FELL_BACK_TO_EMAIL) == [
        f"{name}, Lead, Birmingham Youth Service reached by email instead: the SMS failed ({words})"
    ]


@pytest.mark.parametrize("headers", FORGED)
def test_a_receipt_without_the_token_is_refused_and_changes_nothing(sent_alerts, client, headers):
    assert post(client, "status", receipt(sent_alerts, "permanent-failure"), headers).status_code == 403
    assert lead_message(Channel.SMS).state == MessageState.SENT
    assert sentences(EventKind.MESSAGE_FAILED) == []


def test_receipts_are_refused_when_no_callback_token_is_configured(sent_alerts, client):
    client.application.config["NOTIFY_CALLBACK_TOKEN"] = None
    assert post(client, "status", receipt(sent_alerts, "delivered"), GOOD).status_code == 403
    assert (
        post(client, "status", receipt(sent_alerts, "delivered"), {"Authorization": "Bearer "}).status_code
        == 403
    )
    assert lead_message(Channel.SMS).state == MessageState.SENT


def test_a_replayed_or_late_receipt_never_undoes_delivery(sent_alerts, client):
    delivered = receipt(sent_alerts, "delivered")
    assert post(client, "status", delivered, GOOD).status_code == 200
    assert post(client, "status", delivered, GOOD).status_code == 200
    assert post(client, "status", receipt(sent_alerts, "temporary-failure"), GOOD).status_code == 200

    assert lead_message(Channel.SMS).state == MessageState.DELIVERED
    assert len(sentences(EventKind.MESSAGE_DELIVERED)) == 1 and sentences(EventKind.MESSAGE_FAILED) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"id": str(uuid.uuid4())},  # another system's notification on the same Notify service
        {"reference": "responder-1-20260101000000"},  # our id with somebody else's reference
        {"reference": None},
    ],
)
def test_a_receipt_for_someone_elses_notification_changes_nothing(sent_alerts, client, changes):
    assert (
        post(client, "status", receipt(sent_alerts, "permanent-failure", **changes), GOOD).status_code == 200
    )
    assert lead_message(Channel.SMS).state == MessageState.SENT
    assert sentences(EventKind.MESSAGE_FAILED) == []


@pytest.mark.parametrize(
    "body", [None, [], "text", {"status": "delivered"}, {"id": 7, "status": "delivered"}]
)
def test_a_receipt_that_is_not_notifys_json_is_a_bad_request(sent_alerts, client, body):
    response = client.post(
        "/webhooks/notify/status", data=b"" if body is None else None, json=body, headers=GOOD
    )
    assert response.status_code == 400


# --- received texts ------------------------------------------------------------------------


def received_text(phone: str, text: str, notification_id: str | None = None) -> dict:
    """A received-text callback as Notify posts it: the sender's number without its "+"."""
    return {
        "id": notification_id or str(uuid.uuid4()),
        "source_number": phone.removeprefix("+"),
        "destination_number": "07700900000",
        "message": text,
        "date_received": "2026-11-30T09:05:00.000000Z",
    }


def youth_service() -> Activation:
    return db.session.scalar(select(Activation).where(Activation.agency_key == "bham-youth-service"))


def answers() -> list[Message]:
    query = select(Message).where(Message.kind == MessageKind.REPLY_ANSWER).order_by(Message.id)
    return list(db.session.scalars(query))


def test_a_text_reply_acknowledges_and_the_confirmation_goes_as_a_new_text(
    sent_alerts, client, send_outbox, fake_notify
):
    youth = youth_service()
    phone = youth.lead_contact.phone
    body = received_text(phone, f"YES {youth.reply_code}")
    assert post(client, "inbound", body, GOOD).status_code == 200

    assert youth_service().state == "covered"
    acknowledged = db.session.scalar(select(TimelineEvent).where(TimelineEvent.kind == "acknowledged"))
    assert acknowledged.channel == "sms_reply"
    [answer] = answers()
    assert answer.recipient == phone and answer.state == MessageState.PENDING
    assert (
        answer.body
        == f"Responder: thank you. Birmingham Youth Service is covering {youth.incident.reference}."
    )

    send_outbox()
    [confirmation] = [n for n in fake_notify.sent_to(phone) if "thank you" in n.body]
    assert confirmation.type == "sms" and confirmation.reference == reference_for(answer)


def test_a_repeated_received_text_is_acted_on_and_answered_once(sent_alerts, client):
    youth = youth_service()
    body = received_text(youth.lead_contact.phone, f"NO {youth.reply_code} not our area")
    assert post(client, "inbound", body, GOOD).status_code == 200
    assert post(client, "inbound", body, GOOD).status_code == 200

    assert len(answers()) == 1
    assert db.session.scalar(select(func.count()).select_from(ReceivedText)) == 1
    assert db.session.scalar(select(func.count()).where(TimelineEvent.kind == "declined")) == 1


def test_a_stranger_is_answered_and_nothing_changes(sent_alerts, client):
    youth = youth_service()
    body = received_text("+447700900999", f"YES {youth.reply_code}")
    assert post(client, "inbound", body, GOOD).status_code == 200
    assert youth_service().state != "covered"
    [answer] = answers()
    assert answer.recipient == "+447700900999" and "not in the contact directory" in answer.body


@pytest.mark.parametrize("headers", FORGED)
def test_a_received_text_without_the_token_is_refused_and_changes_nothing(sent_alerts, client, headers):
    youth = youth_service()
    body = received_text(youth.lead_contact.phone, f"YES {youth.reply_code}")
    assert post(client, "inbound", body, headers).status_code == 403
    assert youth_service().state != "covered"
    assert answers() == [] and db.session.scalar(select(func.count()).select_from(ReceivedText)) == 0


def test_the_answer_carries_no_incident_detail(sent_alerts, client):
    youth = youth_service()
    post(client, "inbound", received_text(youth.lead_contact.phone, "YES"), GOOD)
    [answer] = answers()
    assert "SUMMARY-CANARY" not in answer.body and "Lozells" not in answer.body
