"""Answering an alert by text: codes, case, spacing, ambiguity, strangers and forgeries."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from responder.extensions import db
from responder.models import Activation, Contact, TimelineEvent
from responder.responses.reply_codes import parse_reply
from tests.timeline_words import said

AUTH_TOKEN = "test-auth-token-for-signatures"
URL = "http://responder.test/webhooks/twilio/inbound"


@pytest.fixture
def signed_app(app):
    app.config["TWILIO_AUTH_TOKEN"] = AUTH_TOKEN
    return app


def send(client, from_number: str, body: str, *, signature: str | None = None):
    params = {"From": from_number, "Body": body, "MessageSid": "SM" + "0" * 32, "To": "+447700900000"}
    if signature is None:
        signature = RequestValidator(AUTH_TOKEN).compute_signature(URL, params)
    return client.post("/webhooks/twilio/inbound", data=params, headers={"X-Twilio-Signature": signature})


def answer(response) -> str:
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    return response.get_data(as_text=True)


def activation(key: str) -> Activation:
    return db.session.scalar(select(Activation).where(Activation.agency_key == key))


def lead_phone(key: str) -> str:
    return activation(key).lead_contact.phone


@pytest.fixture
def incident(make_incident, signed_app):
    return make_incident()


@pytest.mark.parametrize(
    "text", ["YES {code}", "yes {code}", "  Ack   {code}  ", "ACK {code}", "Yes. {code}!", "y{code}"]
)
def test_yes_or_ack_with_the_code_acknowledges(client, incident, text):
    youth = activation("bham-youth-service")
    reply = answer(send(client, youth.lead_contact.phone, text.format(code=youth.reply_code)))
    assert "thank you. Birmingham Youth Service is covering" in reply
    db.session.refresh(youth)
    assert youth.state == "covered"
    event = db.session.scalar(select(TimelineEvent).where(TimelineEvent.kind == "acknowledged"))
    assert event.channel == "sms_reply" and "by SMS reply" in said(event)


def test_a_uk_number_written_nationally_is_matched(client, incident):
    youth = activation("bham-youth-service")
    national = "0" + youth.lead_contact.phone.removeprefix("+44")
    assert "covering" in answer(send(client, national, f"YES {youth.reply_code}"))


def test_no_with_code_and_reason_declines_and_hands_on(client, incident):
    youth = activation("bham-youth-service")
    reply = answer(send(client, youth.lead_contact.phone, f"no {youth.reply_code}   not our area"))
    assert "decline" in reply and "The deputy has been alerted." in reply
    db.session.refresh(youth)
    assert youth.state == "escalated" and youth.escalation_level == 1
    declined = db.session.scalar(select(TimelineEvent).where(TimelineEvent.kind == "declined"))
    assert "reason: not our area" in said(declined)


def test_a_wrong_code_changes_nothing(client, incident):
    youth = activation("bham-youth-service")
    police = activation("wmp-birmingham")
    reply = answer(send(client, youth.lead_contact.phone, f"YES {police.reply_code}"))
    assert f"code {police.reply_code} does not match an alert sent to this number" in reply
    db.session.refresh(police)
    db.session.refresh(youth)
    assert police.state == youth.state == "alerted"


def test_yes_alone_works_with_exactly_one_pending_alert(client, incident):
    youth = activation("bham-youth-service")
    assert "covering" in answer(send(client, youth.lead_contact.phone, "YES"))


def test_yes_alone_is_ambiguous_with_two_pending_alerts(client, incident, make_incident):
    second = make_incident(local_authority="birmingham")
    youth = activation("bham-youth-service")
    reply = answer(send(client, youth.lead_contact.phone, "yes"))
    assert "you have 2 alerts waiting" in reply
    assert incident.reference in reply and second.reference in reply
    assert db.session.scalar(select(TimelineEvent).where(TimelineEvent.kind == "acknowledged")) is None


def test_an_unknown_number_is_told_and_nothing_changes(client, incident):
    reply = answer(send(client, "+447700900999", "YES"))
    assert "not in the contact directory" in reply and "0121 496 0000" in reply
    assert db.session.scalar(select(TimelineEvent).where(TimelineEvent.kind == "acknowledged")) is None


def test_gibberish_gets_instructions(client, incident):
    reply = answer(send(client, lead_phone("bham-youth-service"), "who is this?"))
    assert "Reply YES and the 4-digit code" in reply


def test_a_reply_for_a_closed_incident_is_refused_politely(client, incident):
    youth = activation("bham-youth-service")
    incident.status = "closed"
    db.session.commit()
    reply = answer(send(client, youth.lead_contact.phone, f"YES {youth.reply_code}"))
    assert "is closed, so nothing was recorded" in reply
    db.session.refresh(youth)
    assert youth.state == "alerted"


@pytest.mark.parametrize("signature", ["", "forged-signature", "wrong" * 6])
def test_unsigned_or_forged_requests_are_refused(client, incident, signature):
    youth = activation("bham-youth-service")
    response = send(client, youth.lead_contact.phone, f"YES {youth.reply_code}", signature=signature)
    assert response.status_code == 403
    db.session.refresh(youth)
    assert youth.state == "alerted"


def test_a_signature_for_other_parameters_is_refused(client, incident):
    youth = activation("bham-youth-service")
    other = RequestValidator(AUTH_TOKEN).compute_signature(
        URL, {"From": youth.lead_contact.phone, "Body": "NO"}
    )
    assert (
        send(client, youth.lead_contact.phone, f"YES {youth.reply_code}", signature=other).status_code == 403
    )


def test_reply_codes_are_unique_among_open_activations(make_incident):
    for _ in range(5):
        make_incident()
    codes = db.session.scalars(select(Activation.reply_code)).all()
    assert len(codes) == len(set(codes))
    assert all(code is not None and len(code) == 4 and code.isdigit() for code in codes)


def test_the_sms_tells_the_lead_how_to_reply(incident):
    from responder.models import Message

    youth = activation("bham-youth-service")
    sms = db.session.scalar(
        select(Message).where(Message.activation_id == youth.id, Message.channel == "sms")
    )
    assert sms.body.endswith(f"or reply YES {youth.reply_code}")


@pytest.mark.parametrize(
    ("text", "verb", "code", "reason"),
    [
        ("YES 4821", "acknowledge", "4821", ""),
        ("yes", "acknowledge", None, ""),
        ("No 4821 not our area", "decline", "4821", "not our area"),
        ("NO", "decline", None, ""),
        ("\tack\n4821 ", "acknowledge", "4821", ""),
    ],
)
def test_reply_parsing(text, verb, code, reason):
    reply = parse_reply(text)
    assert (reply.verb, reply.code, reply.reason) == (verb, code, reason)


@pytest.mark.parametrize("text", ["", "hello", "yes please", "YES 48210", "yesterday", "4821"])
def test_replies_that_are_not_understood(text):
    assert parse_reply(text) is None


def test_contacts_can_share_a_phone_and_still_be_matched(client, incident):
    youth = activation("bham-youth-service")
    other = db.session.scalar(select(Contact).where(Contact.key == "bham-csp-lead"))
    other.phone = youth.lead_contact.phone
    db.session.commit()
    assert "covering" in answer(send(client, youth.lead_contact.phone, f"YES {youth.reply_code}"))


def test_a_code_stops_answering_when_the_alerts_links_expire(client, incident, app):
    youth = activation("bham-youth-service")
    phone, code = youth.lead_contact.phone, youth.reply_code
    youth.activated_at -= app.config["ACCESS_TOKEN_TTL"]  # the alert went out a link's lifetime ago
    db.session.commit()
    reply = answer(send(client, phone, f"YES {code}"))
    assert f"code {code} does not match an alert" in reply
    db.session.refresh(youth)
    assert youth.state == "alerted"


def test_a_draw_looks_up_a_few_random_codes_not_every_code_held(incident, monkeypatch):
    from responder.responses import reply_codes

    looked_up = []
    real_held_codes = reply_codes._held_codes

    def held_codes(stale, among=None):
        looked_up.append(among)
        return real_held_codes(stale, among)

    monkeypatch.setattr(reply_codes, "_held_codes", held_codes)
    held = {a.reply_code for a in incident.activations if a.reply_code}

    drawn = reply_codes.allocate(3)

    assert len(looked_up) == 1 and len(looked_up[0]) == 3 * reply_codes.CANDIDATES_PER_CODE
    assert len(set(drawn)) == 3 and not set(drawn) & held and set(drawn) <= set(looked_up[0])


def test_a_draw_whose_random_codes_are_all_held_reads_every_held_code_and_still_draws_free_ones(
    incident, monkeypatch
):
    from responder.responses import reply_codes

    held = sorted(a.reply_code for a in incident.activations if a.reply_code)
    real_sample = reply_codes._RANDOM.sample
    samples = iter([held])  # the first look lands on held codes only

    def sample(population, k):
        return next(samples, None) or real_sample(population, k)

    monkeypatch.setattr(reply_codes._RANDOM, "sample", sample)
    monkeypatch.setattr(reply_codes, "CANDIDATES_PER_CODE", 1)

    drawn = reply_codes.allocate(len(held))

    assert len(set(drawn)) == len(held) and not set(drawn) & set(held)


def test_an_expired_alerts_code_is_drawn_again_and_taken_off_the_old_alert(incident, app):
    from responder.responses import reply_codes

    youth = activation("bham-youth-service")
    code = youth.reply_code
    youth.activated_at -= app.config["ACCESS_TOKEN_TTL"]
    db.session.commit()
    held = {a.reply_code for a in incident.activations if a.reply_code}
    drawn = reply_codes.allocate(len(reply_codes.CODE_RANGE) - len(held) + 1)  # every free code
    assert code in drawn and not (held - {code}) & set(drawn)
    db.session.refresh(youth)
    assert youth.reply_code is None
    with pytest.raises(reply_codes.CodesExhausted):
        reply_codes.allocate(len(reply_codes.CODE_RANGE) - len(held) + 2)
