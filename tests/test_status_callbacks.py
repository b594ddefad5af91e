"""Delivery receipts: Twilio's signed status callbacks move an SMS to delivered or failed."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from responder import create_app
from responder.extensions import db
from responder.models import Channel, Contact, EventKind, Message, MessageState
from tests.timeline_words import sentences

from .conftest import TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN

CALLBACK_URL = "http://responder.test/webhooks/twilio/status"  # PUBLIC_BASE_URL + path
LEAD = "bham-youth-lead"


def signed(params: dict[str, str], url: str = CALLBACK_URL, token: str = TWILIO_AUTH_TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


def callback(sid: str, status: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": TWILIO_ACCOUNT_SID,
        "MessageStatus": status,
        "SmsStatus": status,
        "To": "+447700900150",
        "From": "+447700900000",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def lead_message(channel: str) -> Message:
    return db.session.scalar(
        select(Message)
        .join(Contact, Message.contact_id == Contact.id)
        .where(Contact.key == LEAD, Message.channel == channel)
    )


@pytest.fixture
def sent_alerts(real_providers, make_incident, send_outbox):
    make_incident()
    send_outbox()
    return lead_message(Channel.SMS)


def post(client, params: dict[str, str], headers: dict[str, str]):
    response = client.post("/webhooks/twilio/status", data=params, headers=headers)
    db.session.expire_all()
    return response


def test_a_delivered_receipt_marks_the_sms_delivered(sent_alerts, client):
    params = callback(sent_alerts.provider_id, "delivered")
    assert post(client, params, signed(params)).status_code == 200

    sms = lead_message(Channel.SMS)
    assert sms.state == MessageState.DELIVERED and sms.delivered_at is not None
    assert sms.provider_status == "delivered"
    assert sentences(EventKind.MESSAGE_DELIVERED) == [
        f"Alert SMS to {sms.contact.name}, Lead, Birmingham Youth Service: delivered to the phone"
    ]


def test_the_signature_is_checked_against_the_public_address_not_the_proxied_one(sent_alerts, client):
    # The test client calls http://localhost/..., as a reverse proxy would forward it.
    params = callback(sent_alerts.provider_id, "delivered")
    internal = signed(params, url="http://localhost/webhooks/twilio/status")
    assert post(client, params, internal).status_code == 403
    assert post(client, params, signed(params)).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
        "signed with another token",
        "signed over other parameters",
    ],
)
def test_a_forged_receipt_is_refused_and_changes_nothing(sent_alerts, client, headers):
    params = callback(sent_alerts.provider_id, "undelivered", ErrorCode="30003")
    if headers == "signed with another token":
        headers = signed(params, token="somebody-elses-token")
    elif headers == "signed over other parameters":
        headers = signed(callback(sent_alerts.provider_id, "delivered"))
    assert post(client, params, headers).status_code == 403
    assert lead_message(Channel.SMS).state == MessageState.SENT
    assert sentences(EventKind.MESSAGE_FAILED) == []


def test_receipts_are_refused_when_no_auth_token_is_configured(sent_alerts, client):
    client.application.config["TWILIO_AUTH_TOKEN"] = None
    params = callback(sent_alerts.provider_id, "delivered")
    assert post(client, params, signed(params)).status_code == 403
    assert lead_message(Channel.SMS).state == MessageState.SENT


def test_undelivered_after_acceptance_is_a_failure_and_the_lead_was_reached_by_email(sent_alerts, client):
    params = callback(sent_alerts.provider_id, "undelivered", ErrorCode="30003")
    assert post(client, params, signed(params)).status_code == 200

    sms, email = lead_message(Channel.SMS), lead_message(Channel.EMAIL)
    words = "the phone was switched off or out of reach (Twilio error 30003)"
    assert sms.state == MessageState.FAILED and sms.last_error == words
    assert email.state == MessageState.SENT
    name = sms.contact.name
    assert sentences(EventKind.MESSAGE_FAILED) == [
        f"Alert SMS to {name}, Lead, Birmingham Youth Service failed: {words}"
    ]
    assert sentences(EventKind.FELL_BACK_TO_EMAIL) == [
        f"{name}, Lead, Birmingham Youth Service reached by email instead: the SMS failed ({words})"
    ]


def test_a_failed_receipt_without_an_error_code_still_says_it_failed(sent_alerts, client):
    params = callback(sent_alerts.provider_id, "failed")
    post(client, params, signed(params))
    assert lead_message(Channel.SMS).last_error == "Twilio reported a failure without a reason"


def test_late_and_repeated_receipts_change_nothing_more(sent_alerts, client):
    for status in ["delivered", "sent", "delivered", "undelivered"]:
        params = callback(sent_alerts.provider_id, status)
        assert post(client, params, signed(params)).status_code == 200
    sms = lead_message(Channel.SMS)
    assert sms.state == MessageState.DELIVERED and sms.provider_status == "delivered"
    assert len(sentences(EventKind.MESSAGE_DELIVERED)) == 1
    assert sentences(EventKind.MESSAGE_FAILED) == []


def test_an_intermediate_receipt_is_kept_without_a_timeline_event(sent_alerts, client):
    params = callback(sent_alerts.provider_id, "sent")
    post(client, params, signed(params))
    sms = lead_message(Channel.SMS)
    assert sms.state == MessageState.SENT and sms.provider_status == "sent"
    assert sentences(EventKind.MESSAGE_DELIVERED) == []


def test_a_receipt_for_an_unknown_message_is_acknowledged_and_logged(sent_alerts, client, caplog):
    params = callback("SM" + "f" * 32, "delivered")
    with caplog.at_level(logging.WARNING, logger="responder.web.webhooks"):
        assert post(client, params, signed(params)).status_code == 200
    assert "SM" + "f" * 32 in caplog.text
    delivered = select(func.count()).where(Message.state == MessageState.DELIVERED)
    assert db.session.scalar(delivered) == 0


def test_receipts_need_no_csrf_token(sent_alerts, database_url):
    app = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "WTF_CSRF_ENABLED": True,
            "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
        },
    )
    params = callback(sent_alerts.provider_id, "delivered")
    try:
        response = app.test_client().post("/webhooks/twilio/status", data=params, headers=signed(params))
    finally:
        with app.app_context():
            db.engine.dispose()
    assert response.status_code == 200
