"""Phone calls for the last rungs: placed beside a rung's text when the playbook says so.

An alert step's ``call: [duty_manager, on_call]`` names the rungs that are
phoned as well as texted when the alert reaches them (responder.responses.escalation).
A call is an outbox row on the voice channel, written in the transaction
that reaches the rung and placed after the commit like any text
(responder.notify.voice_twilio). When it is answered Twilio asks Responder
what to say (responder.responses.call_answers): the local authority, the
incident type and the reference, spelt out, and the agency; then 1 to
acknowledge, 2 to decline. No name, place, age or school is ever spoken.

Nothing about a call changes the escalation clock: an unanswered call (no
answer, busy, voicemail, failed) is noted on the timeline and the ladder
climbs on time as it does for texts. A call whose outcome is unknown is
never placed again (Twilio keeps no body to look it up by): the rung's text
stands.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from responder import timeline
from responder.clock import as_utc, now_utc
from responder.extensions import db
from responder.governance import sharing
from responder.models import (
    Activation,
    Channel,
    Contact,
    EventKind,
    Incident,
    Message,
    MessageKind,
    MessageState,
)
from responder.notify.backends import voice_backend
from responder.notify.outbox import cancel_pending
from responder.timeline.actors import SYSTEM, Actor

# Calls to one phone are placed at least this far apart: when several agencies' alerts reach
# the same duty manager at once, each call can be heard in turn instead of finding the line busy.
CALL_SPACING = timedelta(seconds=60)
KEYS = "Press 1 to acknowledge. Press 2 to decline."


def calls_rung(activation: Activation, rung: str) -> bool:
    """Whether the incident's frozen playbook phones ``rung`` (lead, deputy, duty_manager, on_call)."""
    step = activation.incident.frozen_playbooks.alert_step(activation.source)
    return step is not None and rung in step.call


def call_rung(
    activation: Activation, rung: str, contact: Contact, *, shared_by: Actor = SYSTEM, duty_note: str = ""
) -> Message | None:
    """Queue a call to ``contact`` if the playbook phones this rung and a voice provider is set up.

    ``duty_note`` says how they came to hold the rung (a rota), for the sharing record.
    """
    if not calls_rung(activation, rung) or voice_backend(current_app.config) == "off":
        return None
    sharing.record_message_share(
        activation,
        contact,
        sharing.PHONE_CALL,
        shared_by=shared_by,
        purpose=f"the {rung.replace('_', ' ')} is phoned as well as texted"
        + (f"; {duty_note}" if duty_note else ""),
        channel=sharing.PHONE,
    )
    incident = activation.incident
    message = Message(
        incident=incident,
        activation=activation,
        contact=contact,
        channel=Channel.VOICE,
        kind=MessageKind.ALERT,
        recipient=contact.phone,
        body=spoken_alert(incident, activation),
        next_attempt_at=_spaced_from_other_calls(contact.phone),
    )
    db.session.add(message)
    return message


def spoken_alert(incident: Incident, activation: Activation) -> str:
    """What the call says: no personal data, the reference spelt out so that it can be written down."""
    opening = "This is a Responder exercise." if incident.exercise else "This is Responder."
    return (
        f"{opening} An alert for {incident.local_authority_name}: {incident.type_label.lower()}, "
        f"reference {spoken_reference(incident.reference)}. {activation.agency_name} needs cover. {KEYS}"
    )


def spoken_reference(reference: str) -> str:
    """'BHM-2026-0042' -> 'B H M, 2 0 2 6, 0 0 4 2': every character read on its own."""
    return ", ".join(" ".join(part) for part in reference.split("-") if part)


def cancel_pending_calls(activation: Activation, why: str, contact: Contact | None = None) -> int:
    """Calls not yet handed to Twilio for this activation (or to ``contact`` only) are not placed after all."""
    whose = (Message.contact_id == contact.id,) if contact is not None else ()
    cancelled = cancel_pending(
        Message.activation_id == activation.id,
        Message.channel == Channel.VOICE,
        *whose,
        why=f"not placed: {why}",
    )
    if cancelled:
        timeline.record(
            activation.incident,
            EventKind.MESSAGES_CANCELLED,
            agency_key=activation.agency_key,
            count=cancelled,
            because=why,
            calls=True,
        )
    return cancelled


def _spaced_from_other_calls(phone: str) -> datetime | None:
    """None (at once), or a minute after the latest call already waiting for or placed to this phone."""
    now = now_utc()
    latest = db.session.scalar(
        # A call placed counts from when it went (sent_at), one waiting from when it will go.
        select(func.max(func.coalesce(Message.sent_at, Message.next_attempt_at, Message.created_at))).where(
            Message.channel == Channel.VOICE,
            Message.recipient == phone,
            Message.state != MessageState.CANCELLED,
            Message.created_at > now - 10 * CALL_SPACING,
        )
    )
    if latest is None:
        return None
    after = as_utc(latest) + CALL_SPACING
    return after if after > now else None
