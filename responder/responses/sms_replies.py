"""Answering an alert by text: "YES 4821", "NO 4821 not our area", or just "YES".

Every reply gets an answer saying what happened or what to send. Anything
ambiguous, unknown, or from a number not in the directory changes nothing.
Answers carry references and codes only, never incident details. The same
words confirm a call-out test ("YES 4821" with the test's code); a code is
never held by an alert and a test at once, and a reply that could mean either
is refused.
"""

from __future__ import annotations

from sqlalchemy import select

from responder.callouts import confirmations as callouts
from responder.directory.contacts import ContactError, normalise_phone
from responder.extensions import db
from responder.models import (
    AccessToken,
    Activation,
    Contact,
    IncidentStatus,
    Message,
    ReceivedText,
    ResponseChannel,
    TokenPurpose,
)
from responder.notify.outbox import queue_sms_answer
from responder.responses import acknowledgements as acks
from responder.responses import reply_codes
from responder.responses.reply_codes import Reply, parse_reply

HOW_TO_REPLY = (
    "Reply YES and the 4-digit code from your alert to confirm (e.g. YES 4821), or NO, the code and a reason."
)


def answer_sms(from_number: str, text: str) -> str:
    """Act on one inbound SMS and return the text to send back."""
    contacts = _contacts_with_phone(from_number)
    if not contacts:
        return (
            "Responder: this number is not in the contact directory, so nothing was recorded. " + _duty_line()
        )
    reply = parse_reply(text)
    if reply is None:
        return f"Responder: sorry, we did not understand that. {HOW_TO_REPLY}"
    alerted = _alerted_activations(contacts)
    if (test_answer := _callout_answer(callouts.open_for(contacts), alerted, reply)) is not None:
        return test_answer
    target = _choose(alerted, reply)
    if isinstance(target, str):
        return target
    contact = _contact_for(target, contacts)
    if reply.verb == "acknowledge":
        outcome = acks.acknowledge(target, contact, ResponseChannel.SMS_REPLY)
    else:
        outcome = acks.decline(target, contact, ResponseChannel.SMS_REPLY, reply.reason or "none given")
    return _describe(outcome)


def answer_received_text(provider: str, provider_id: str, from_number: str, text: str) -> Message | None:
    """Act on a text that came through a provider that cannot answer in the same request, and queue the answer.

    GOV.UK Notify delivers a received text as a callback, which it repeats
    when the answer is slow: ``provider_id`` (Notify's id for the text) is
    kept, so a repeat changes nothing and is not answered twice (None).
    """
    seen = select(ReceivedText.id).where(
        ReceivedText.provider == provider, ReceivedText.provider_id == provider_id
    )
    if db.session.scalar(seen) is not None:
        return None
    db.session.add(ReceivedText(provider=provider, provider_id=provider_id))
    # Two deliveries of one text at once: the second fails here, and its request runs again and sees the first.
    db.session.flush()
    return queue_sms_answer(from_number, answer_sms(from_number, text))


def _callout_answer(tests: list, alerted: list[Activation], reply: Reply) -> str | None:
    """The answer if the reply is about a call-out test; None if it is about an alert."""
    if not tests:
        return None
    if reply.code is not None:
        matching = [test for test in tests if test.reply_code == reply.code]
        if not matching:
            return None
        if any(activation.reply_code == reply.code for activation in alerted):
            return (
                f"Responder: code {reply.code} matches both an alert and a call-out test, so nothing was "
                "recorded. Use the link in the message you are answering."
            )
        return callouts.answer_reply(matching[0], reply.verb)
    unconfirmed = [test for test in tests if test.confirmed_at is None]
    if not unconfirmed:
        return None
    if _waiting(alerted) or len(unconfirmed) > 1:
        return f"Responder: more than one message is waiting for your answer. {HOW_TO_REPLY}"
    return callouts.answer_reply(unconfirmed[0], reply.verb)


def _waiting(alerted: list[Activation]) -> list[Activation]:
    return [a for a in alerted if a.state in acks.OPEN_STATES and a.incident.status != IncidentStatus.CLOSED]


def _choose(alerted: list[Activation], reply: Reply) -> Activation | str:
    """The one activation the reply means, or the text explaining why it is unclear."""
    if reply.code is not None:
        for activation in alerted:
            if activation.reply_code == reply.code:
                return activation
        return f"Responder: code {reply.code} does not match an alert sent to this number. {HOW_TO_REPLY}"
    waiting = _waiting(alerted)
    if len(waiting) == 1:
        return waiting[0]
    if not waiting:
        return f"Responder: no alert is waiting for an answer from this number. {_duty_line()}"
    listed = ", ".join(f"{a.incident.reference} code {a.reply_code}" for a in waiting[:5])
    return f"Responder: you have {len(waiting)} alerts waiting ({listed}). Reply YES and the code."


def _describe(outcome: acks.Outcome) -> str:
    reference = outcome.activation.incident.reference
    agency = outcome.activation.agency_name
    return {
        "acknowledged": f"Responder: thank you. {agency} is covering {reference}.",
        "already_covered": f"Responder: {agency} was already covered for {reference}. Nothing changed.",
        "declined": f"Responder: your decline for {reference} is recorded."
        + (f" The {outcome.handed_to} has been alerted." if outcome.handed_to else ""),
        "already_declined": f"Responder: you already declined {reference}. Nothing changed.",
        "standing_down": f"Responder: thank you. The response to {reference} is standing down, "
        "so no cover is needed now; your answer is noted.",
        "incident_closed": f"Responder: {reference} is closed, so nothing was recorded. Thank you.",
    }[outcome.status]


def _contacts_with_phone(raw: str) -> list[Contact]:
    try:
        phone = normalise_phone(raw)
    except ContactError:
        return []
    return list(db.session.scalars(select(Contact).where(Contact.phone == phone, Contact.active.is_(True))))


def _alerted_activations(contacts: list[Contact]) -> list[Activation]:
    """Activations holding a live reply code whose alert went to one of these contacts."""
    return list(
        db.session.scalars(
            select(Activation)
            .join(AccessToken, AccessToken.activation_id == Activation.id)
            .where(
                AccessToken.contact_id.in_([c.id for c in contacts]),
                AccessToken.purpose == TokenPurpose.ACKNOWLEDGE,
                Activation.reply_code.is_not(None),
                Activation.activated_at >= reply_codes.alert_code_cutoff(),
            )
            .distinct()
            .order_by(Activation.id)
        )
    )


def _contact_for(activation: Activation, contacts: list[Contact]) -> Contact:
    alerted = {c.id for c in acks.alerted_contacts(activation)}
    return next(c for c in contacts if c.id in alerted)


def _duty_line() -> str:
    from flask import current_app

    return f"If you need help, call the VRU duty line on {current_app.config['VRU_DUTY_NUMBER']}."
