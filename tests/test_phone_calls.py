"""A phone call for the last rungs: placed beside the rung's text, answered with a key, or not answered.

Calls go through the Twilio SDK to the fake Twilio (tests/fake_twilio.py),
which plays Twilio and the person called: it answers, presses keys and reports
how the call ended through Responder's signed voice webhooks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from responder.extensions import db
from responder.incidents import lifecycle
from responder.models import (
    ActivationState,
    AgencyResponse,
    CallOutcome,
    Channel,
    Contact,
    EventKind,
    Incident,
    Message,
    MessageState,
    ResponseChannel,
    SharingRecord,
    TimelineEvent,
)
from responder.responses import acknowledgements as acks
from responder.responses.phone_calls import spoken_reference
from responder.scheduling.firing import fire_due_actions
from tests.timeline_words import sentences

from .conftest import TWILIO_AUTH_TOKEN

# Tuesday 24 November 2026, 21:50 GMT; Birmingham escalates every 15 minutes.
OPENED = datetime(2026, 11, 24, 21, 50, tzinfo=UTC)
DUTY_MANAGER = "bham-vru-duty"
ON_CALL = "wm-vru-on-call"
PUBLIC = "http://responder.test"


@pytest.fixture
def voice(real_providers, fake_twilio):
    """Texts and calls through the Twilio SDK to the fake, which signs its webhooks as Twilio does."""
    real_providers.config.update(VOICE_BACKEND="twilio")
    fake_twilio.auth_token = TWILIO_AUTH_TOKEN
    return fake_twilio


@pytest.fixture
def incident(voice, make_incident):
    with freeze_time(OPENED):
        return make_incident()


def youth_service(incident: Incident):
    return next(a for a in incident.activations if a.agency_key == "bham-youth-service")


def fire_at(minutes: int) -> None:
    with freeze_time(OPENED + timedelta(minutes=minutes)):
        fire_due_actions()
    db.session.expire_all()


def calls_for(activation) -> list[Message]:
    return list(
        db.session.scalars(
            select(Message)
            .where(Message.activation_id == activation.id, Message.channel == Channel.VOICE)
            .order_by(Message.id)
        )
    )


def placed(fake, message: Message):
    """The fake's record of the call Responder placed for this outbox row."""
    (call,) = [call for call in fake.calls if call.url.endswith(f"?message={message.id}")]
    return call


def through(client):
    """Carry a webhook from the fake to the app, as Twilio would reach PUBLIC_BASE_URL."""

    def deliver(url: str, form: dict[str, str], headers: dict[str, str]) -> str:
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == PUBLIC
        response = client.post(f"{parts.path}?{parts.query}", data=form, headers=headers)
        assert response.status_code in (200, 204), (url, response.status_code)
        db.session.expire_all()
        return response.get_data(as_text=True)

    return deliver


@pytest.fixture
def duty_manager_called(incident, send_outbox, voice):
    """Nobody answered the lead or the deputy: at 30 minutes the duty manager is texted and phoned."""
    send_outbox()
    fire_at(15)
    fire_at(30)
    send_outbox()
    activation = youth_service(incident)
    assert activation.escalation_level == 2
    (call,) = calls_for(activation)
    return activation, call


def test_the_rungs_the_playbook_names_are_phoned_beside_their_text(incident, send_outbox, voice):
    activation = youth_service(incident)
    send_outbox()
    fire_at(15)  # the deputy: texted, not phoned (the playbook calls duty_manager and on_call)
    send_outbox()
    assert calls_for(activation) == []

    fire_at(30)
    send_outbox()
    (call,) = calls_for(activation)
    assert call.contact.key == DUTY_MANAGER and call.state == MessageState.SENT
    text = db.session.scalar(
        select(Message).where(
            Message.activation_id == activation.id,
            Message.contact_id == call.contact_id,
            Message.channel == Channel.SMS,
        )
    )
    assert text is not None and text.state == MessageState.SENT  # the rung's text, beside the call
    at_twilio = placed(voice, call)
    assert at_twilio.to == call.contact.phone == call.recipient
    assert at_twilio.sid == call.provider_id and at_twilio.machine_detection == "Enable"
    assert at_twilio.url == f"{PUBLIC}/webhooks/twilio/voice/answer?message={call.id}"
    assert at_twilio.status_callback == f"{PUBLIC}/webhooks/twilio/voice/status?message={call.id}"
    (escalated,) = [s for s in sentences(EventKind.ESCALATED) if "duty manager" in s and "Youth Service" in s]
    assert "by text and a phone call" in escalated
    # The call is on the sharing record, as a phone call, on the agency's basis.
    assert db.session.scalar(
        select(func.count()).select_from(SharingRecord).where(SharingRecord.channel == "phone call")
    )


def test_a_calls_list_parameter_reaches_twilio_as_a_form_field(incident, send_outbox, voice):
    """Responder's client encodes the form itself: a list (StatusCallbackEvent) goes as repeated fields."""
    activation = youth_service(incident)
    send_outbox()
    fire_at(15)  # the deputy's text
    send_outbox()
    fire_at(30)  # the duty manager's text and call
    send_outbox()
    (call,) = calls_for(activation)
    (request,) = [
        r for r in voice.requests if r.path.endswith("/Calls.json") and r.form["Url"].endswith(f"={call.id}")
    ]
    assert request.form["StatusCallbackEvent"] == "completed"
    assert request.form["To"] == call.recipient


def test_what_the_call_says_has_no_personal_data(duty_manager_called, client, voice):
    activation, call = duty_manager_called
    (twiml,) = voice.play_call(placed(voice, call), through(client))
    assert "Birmingham" in twiml and "stabbing" in twiml
    assert spoken_reference(activation.incident.reference) in twiml  # "B H M, 2 0 2 6, 0 0 0 1"
    assert "Birmingham Youth Service" in twiml
    assert "Press 1 to acknowledge. Press 2 to decline." in twiml
    assert '<Gather action="http://responder.test/webhooks/twilio/voice/key?message=' in twiml
    for personal in ("SUMMARY-CANARY", "Lozells", call.contact.name, call.contact.phone, "16"):
        assert personal not in twiml


def test_pressing_1_acknowledges_and_stops_the_escalation(
    duty_manager_called, client, voice, make_user, login
):
    activation, call = duty_manager_called
    answers = voice.play_call(placed(voice, call), through(client), keys="1")

    assert "is recorded as covering this response" in answers[-1] and "<Hangup" in answers[-1]
    db.session.refresh(activation)
    assert activation.state == ActivationState.COVERED
    assert activation.acknowledged_by.key == DUTY_MANAGER
    response = db.session.scalar(select(AgencyResponse).where(AgencyResponse.activation_id == activation.id))
    assert response.channel == ResponseChannel.PHONE_CALL
    db.session.refresh(call)
    assert call.call_outcome == CallOutcome.ACKNOWLEDGED and call.state == MessageState.DELIVERED
    assert any(
        "acknowledged by" in s and "by pressing a key during Responder's phone call" in s
        for s in sentences(EventKind.ACKNOWLEDGED)
    )
    fire_at(45)
    assert youth_service(activation.incident).escalation_level == 2  # nobody further up is alerted
    login(make_user("officer"))
    page = client.get(f"/incidents/{activation.incident.reference}").get_data(as_text=True)
    assert "by phone call" in page and "phone_call" not in page


def test_pressing_2_declines_and_hands_on_to_the_on_call_who_is_phoned_too(
    duty_manager_called, client, voice, send_outbox
):
    activation, call = duty_manager_called
    answers = voice.play_call(placed(voice, call), through(client), keys="2")

    assert "Your decline is recorded. The VRU regional on-call has been alerted." in answers[-1]
    db.session.refresh(activation)
    assert activation.escalation_level == 3 and activation.state == ActivationState.ESCALATED
    declined = db.session.scalar(select(AgencyResponse).where(AgencyResponse.activation_id == activation.id))
    assert declined.channel == ResponseChannel.PHONE_CALL and "no reason" in declined.note
    send_outbox()
    first, second = calls_for(activation)
    assert first.call_outcome == CallOutcome.DECLINED
    assert second.contact.key == ON_CALL and second.state == MessageState.SENT


def test_another_key_asks_again(duty_manager_called, client, voice):
    activation, call = duty_manager_called
    answers = voice.play_call(placed(voice, call), through(client), keys="91")
    assert "that key does nothing" in answers[1] and "<Gather" in answers[1]
    db.session.refresh(activation)
    assert activation.state == ActivationState.COVERED


@pytest.mark.parametrize(
    ("line", "answered_by", "outcome", "words"),
    [
        ("no-answer", "", CallOutcome.NO_ANSWER, "nobody answered"),
        ("busy", "", CallOutcome.BUSY, "the line was busy"),
        ("answered", "machine_start", CallOutcome.VOICEMAIL, "voicemail answered"),
        ("answered", "human", CallOutcome.NO_KEY, "no key was pressed"),
    ],
)
def test_an_unanswered_call_lets_the_escalation_move_on_to_the_next_rung(
    duty_manager_called, client, voice, send_outbox, line, answered_by, outcome, words
):
    activation, call = duty_manager_called
    answers = voice.play_call(placed(voice, call), through(client), line=line, answered_by=answered_by)
    if answered_by == "machine_start":
        assert answers == ['<?xml version="1.0" encoding="UTF-8"?><Response><Hangup /></Response>']

    db.session.refresh(call)
    assert call.call_outcome == outcome
    (unanswered,) = sentences(EventKind.CALL_UNANSWERED)
    assert words in unanswered and "the escalation carries on" in unanswered
    db.session.refresh(activation)
    assert activation.state == ActivationState.ESCALATED and activation.escalation_level == 2

    fire_at(45)  # the escalation goes on as for texts: the on-call is texted and phoned
    send_outbox()
    assert [c.contact.key for c in calls_for(activation)] == [DUTY_MANAGER, ON_CALL]
    fire_at(60)
    assert youth_service(activation.incident).state == ActivationState.NOT_REACHED
    told = db.session.scalars(
        select(Message).where(Message.kind == "response_notice", Message.channel == Channel.SMS)
    ).all()
    assert any("Birmingham Youth Service could not be reached" in m.body for m in told)
    assert {m.contact.key for m in told} == {DUTY_MANAGER}


def test_a_call_twilio_cannot_place_fails_with_the_reason_and_the_text_stands(
    duty_manager_called, client, voice
):
    _activation, call = duty_manager_called
    voice.play_call(placed(voice, call), through(client), line="failed")
    db.session.refresh(call)
    assert call.state == MessageState.FAILED and call.call_outcome == CallOutcome.FAILED
    assert call.last_error == "Twilio could not place the call"
    assert any("phone call" in s and "failed" in s for s in sentences(EventKind.MESSAGE_FAILED))


def test_a_forged_voice_webhook_is_refused_and_changes_nothing(duty_manager_called, client, voice):
    activation, call = duty_manager_called
    at_twilio = placed(voice, call)
    key_url = f"{PUBLIC}/webhooks/twilio/voice/key?message={call.id}"
    form = {"CallSid": at_twilio.sid, "Digits": "1", "AccountSid": at_twilio.resource["account_sid"]}
    path = f"/webhooks/twilio/voice/key?message={call.id}"
    for signature in ("", "forged", RequestValidator("another-token").compute_signature(key_url, form)):
        assert client.post(path, data=form, headers={"X-Twilio-Signature": signature}).status_code == 403
    # A genuine signature for another call does not cover this one: the query is signed too.
    other = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(key_url.replace(str(call.id), "999"), form)
    assert client.post(path, data=form, headers={"X-Twilio-Signature": other}).status_code == 403
    for endpoint in ("answer", "status"):
        assert (
            client.post(f"/webhooks/twilio/voice/{endpoint}?message={call.id}", data=form).status_code == 403
        )
    db.session.expire_all()
    assert youth_service(activation.incident).state == ActivationState.ESCALATED
    assert db.session.get(Message, call.id).call_outcome is None


def test_a_replayed_key_press_acts_once(duty_manager_called, client, voice, make_user):
    activation, call = duty_manager_called
    recorded: list[tuple[str, dict, dict]] = []
    deliver = through(client)

    def keep(url, form, headers):
        recorded.append((url, form, headers))
        return deliver(url, form, headers)

    voice.play_call(placed(voice, call), keep, keys="1")
    (key_press,) = [r for r in recorded if "/voice/key" in r[0]]

    # The same signed request again (a replay, or Twilio retrying): nothing more happens,
    # even after the response stood down, when a fresh answer would be noted as late.
    lifecycle.stand_down(activation.incident, make_user("manager"), "all safe")
    db.session.commit()
    events = db.session.scalar(select(func.count()).select_from(TimelineEvent))
    answer = deliver(*key_press)
    assert "already recorded" in answer
    assert db.session.scalar(select(func.count()).select_from(TimelineEvent)) == events
    assert db.session.scalar(select(func.count()).select_from(AgencyResponse)) == 1


def test_a_webhook_naming_another_calls_sid_is_ignored(duty_manager_called, client, voice):
    activation, call = duty_manager_called
    at_twilio = placed(voice, call)
    url = f"{PUBLIC}/webhooks/twilio/voice/key?message={call.id}"
    form = {"CallSid": "CA" + "f" * 32, "Digits": "1"}
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(url, form)
    answer = client.post(
        f"/webhooks/twilio/voice/key?message={call.id}", data=form, headers={"X-Twilio-Signature": signature}
    ).get_data(as_text=True)
    assert "not recognised" in answer and at_twilio.sid == call.provider_id
    db.session.expire_all()
    assert youth_service(activation.incident).state == ActivationState.ESCALATED


def test_a_call_whose_outcome_is_unknown_is_never_placed_again(incident, send_outbox, voice):
    activation = youth_service(incident)
    send_outbox()
    fire_at(15)
    send_outbox()
    fire_at(30)
    voice.drop_after_create(50)  # Twilio creates each text and call, then the connection breaks
    send_outbox()
    (call,) = calls_for(activation)
    assert call.state == MessageState.FAILED
    assert "a call is never placed twice; the text stands" in call.last_error
    assert placed(voice, call).to == call.recipient  # it did ring, once

    voice.drop_after_create(0)
    for _ in range(3):
        send_outbox()
    assert placed(voice, call)  # still exactly one call for this row
    # The rung's text, whose outcome was unknown too, was found at Twilio and recorded, not sent again.
    text = db.session.scalar(
        select(Message).where(
            Message.activation_id == activation.id,
            Message.contact_id == call.contact_id,
            Message.channel == Channel.SMS,
        )
    )
    assert text.state == MessageState.SENT and voice.duplicates() == {}


def test_an_acknowledgement_cancels_a_call_not_yet_placed(incident, send_outbox, voice, client):
    activation = youth_service(incident)
    send_outbox()
    fire_at(15)
    fire_at(30)
    (call,) = calls_for(activation)
    assert call.state == MessageState.PENDING
    acks.acknowledge(activation, activation.deputy_contact, ResponseChannel.LINK)
    db.session.commit()
    send_outbox()
    db.session.refresh(call)
    assert call.state == MessageState.CANCELLED
    assert not [c for c in voice.calls if c.url.endswith(f"?message={call.id}")]
    assert any("1 phone call not yet placed cancelled" in s for s in sentences(EventKind.MESSAGES_CANCELLED))


def test_calls_are_counted_on_metrics_and_shown_on_the_board_and_in_exports(
    duty_manager_called, client, voice, make_user, login
):
    activation, call = duty_manager_called
    voice.play_call(placed(voice, call), through(client), line="busy")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'responder_messages_pending{channel="voice"} 0.0' in metrics
    assert 'responder_calls{outcome="busy"} 1.0' in metrics

    login(make_user("manager"))
    reference = activation.incident.reference
    page = client.get(f"/incidents/{reference}").get_data(as_text=True)
    assert 'by phone call: <span class="app-message app-message--sent">not answered (busy)' in page
    document = client.get(f"/incidents/{reference}/export.json").get_json()
    (exported,) = [m for m in document["messages"] if m["id"] == call.id]
    assert exported["call_outcome"] == "busy"
    chronology = client.get(f"/incidents/{reference}/export.csv").get_data(as_text=True)
    assert "phone call" in chronology and "the line was busy" in chronology


def test_no_call_is_queued_when_voice_is_off(app, incident):
    app.config["VOICE_BACKEND"] = "off"
    fire_at(15)
    fire_at(30)
    assert calls_for(youth_service(incident)) == []


def test_a_call_answered_after_the_agency_was_covered_asks_for_nothing(duty_manager_called, client, voice):
    activation, call = duty_manager_called
    acks.acknowledge(activation, activation.deputy_contact, ResponseChannel.LINK)
    db.session.commit()
    (twiml,) = voice.play_call(placed(voice, call), through(client), keys="2")
    assert "Birmingham Youth Service is already covered. No action is needed." in twiml
    assert "<Gather" not in twiml
    assert sentences(EventKind.CALL_UNANSWERED) == []
    db.session.refresh(activation)
    assert activation.state == ActivationState.COVERED and activation.acknowledged_by.key != DUTY_MANAGER


def test_calls_to_one_phone_are_spaced_from_when_the_last_was_placed(incident):
    from responder.responses.phone_calls import CALL_SPACING, call_rung

    activation = youth_service(incident)
    manager = db.session.scalar(select(Contact).where(Contact.key == DUTY_MANAGER))
    with freeze_time(OPENED):
        first = call_rung(activation, "duty_manager", manager)
        second = call_rung(activation, "duty_manager", manager)
        db.session.flush()
    assert first.next_attempt_at is None and second.next_attempt_at == OPENED + CALL_SPACING
    for call, placed_at in ((first, OPENED), (second, OPENED + CALL_SPACING)):
        call.state, call.sent_at, call.next_attempt_at = (
            MessageState.SENT,
            placed_at,
            None,
        )  # as the sender records it
    with freeze_time(OPENED + CALL_SPACING + timedelta(seconds=10)):
        third = call_rung(activation, "duty_manager", manager)
    assert third.next_attempt_at == OPENED + 2 * CALL_SPACING  # not while the second may still be ringing


@pytest.mark.parametrize(
    ("line", "keys", "state"),
    [("answered", "1", MessageState.DELIVERED), ("failed", "", MessageState.FAILED)],
)
def test_a_call_whose_webhooks_come_before_its_acceptance_is_recorded_keeps_what_they_said(
    duty_manager_called, client, voice, app, line, keys, state
):
    from responder.notify.backends import Receipt
    from responder.notify.delivery import Claim, Outcome, Result, RetryPolicy, outgoing, record_outcomes

    _, call = duty_manager_called
    sid = call.provider_id
    # Twilio placed the call, but the sender has not yet written that it did (its outcomes go in batches).
    call.state, call.provider_id, call.sent_at = MessageState.SENDING, None, None
    db.session.commit()
    voice.play_call(placed(voice, call), through(client), keys=keys, line=line)
    db.session.refresh(call)
    assert call.state == state
    reason = call.last_error

    accepted = Outcome(
        Claim(outgoing(call), call.attempts), Result.SENT, "Twilio", receipt=Receipt(sid, "queued")
    )
    record_outcomes([accepted], RetryPolicy.from_config(app.config))
    db.session.commit()
    db.session.refresh(call)
    assert (call.state, call.provider_id, call.last_error) == (state, sid, reason)
