"""What happens during Responder's phone call: answered, a key pressed, and how the call ended.

Twilio asks three things, each a signed webhook (responder.web.voice_calls):
what to say when the call is answered (:func:`call_answered`), what a key
means (:func:`key_pressed`), and how the call ended (:func:`call_ended`).
Each names the call by its outbox row (in the signed URL) and Twilio's
CallSid, which must agree once the sid is recorded.

A call's outcome is written once (``Message.call_outcome``, a conditional
UPDATE), so a webhook that arrives twice, or is replayed, acts once. A
voicemail is hung up on without a word. Nothing here moves the escalation
on: an unanswered call is noted, and the ladder climbs on time as it does for
texts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import update

from responder import timeline
from responder.clock import now_utc
from responder.extensions import db
from responder.models import (
    ActivationState,
    CallOutcome,
    Channel,
    EventKind,
    IncidentStatus,
    Message,
    MessageState,
    ResponseChannel,
)
from responder.notify.delivery import record_call_failure
from responder.responses import acknowledgements as acks
from responder.responses.phone_calls import KEYS

log = logging.getLogger(__name__)

GOODBYE = "Goodbye."
# What Twilio's machine detection says when a machine (or a fax) answered.
MACHINE_ANSWERS = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")
# How Twilio's CallStatus ends a call that was not answered with a key.
_UNANSWERED = {
    "busy": CallOutcome.BUSY,
    "no-answer": CallOutcome.NO_ANSWER,
    "canceled": CallOutcome.NO_ANSWER,
}
DECLINED_BY_PHONE = "declined by phone (no reason is asked for by phone)"


@dataclass(frozen=True)
class Script:
    """What the call says next; ``gather`` waits for one key afterwards. Nothing to say: hang up."""

    say: str = ""
    gather: bool = False


def find_call(message_id: int | str | None, call_sid: str) -> Message | None:
    """The outbox row of this call, if the signed URL names one and Twilio's sid does not contradict it."""
    try:
        message = db.session.get(Message, int(message_id or 0))
    except (TypeError, ValueError):
        return None
    if message is None or message.channel != Channel.VOICE or message.activation is None:
        return None
    if message.provider_id is not None and message.provider_id != call_sid:
        log.warning("call webhook for message %s names another call; ignored", message.id)
        return None
    return message


def call_answered(message: Message | None, answered_by: str) -> Script:
    """Someone (or something) picked up: the alert, then wait for a key; a machine gets nothing."""
    if message is None:
        return Script(f"This is Responder. This call is not recognised. {GOODBYE}")
    if answered_by.strip().lower() in MACHINE_ANSWERS:
        _settle(message, CallOutcome.VOICEMAIL)
        return Script()
    _mark_answered(message)
    if (no_need := _no_answer_needed(message)) is not None:
        _settle(message, CallOutcome.NO_KEY, note=False)  # nothing was asked, so nothing went unanswered
        return Script(f"This is Responder. {no_need} No action is needed. {GOODBYE}")
    return Script(message.body, gather=True)


def key_pressed(message: Message | None, digits: str) -> Script:
    """1 acknowledges, 2 declines (handing on as a decline by link does); anything else asks again."""
    if message is None:
        return Script(f"This call is not recognised. {GOODBYE}")
    digits = digits.strip()[:1]
    if digits not in ("1", "2"):
        return Script(f"Sorry, that key does nothing. {KEYS}", gather=True)
    outcome = CallOutcome.ACKNOWLEDGED if digits == "1" else CallOutcome.DECLINED
    if not _settle(message, outcome, note=False):
        return Script(f"Your answer to this call is already recorded. {GOODBYE}")
    if outcome == CallOutcome.ACKNOWLEDGED:
        result = acks.acknowledge(message.activation, message.contact, ResponseChannel.PHONE_CALL)
    else:
        result = acks.decline(
            message.activation, message.contact, ResponseChannel.PHONE_CALL, DECLINED_BY_PHONE
        )
    return Script(f"{_spoken_outcome(result)} {GOODBYE}")


def call_ended(message: Message | None, status: str, answered_by: str = "", error_code: str = "") -> None:
    """Twilio's final word on the call. Unanswered and failed calls are noted; the escalation carries on."""
    if message is None:
        return
    status = status.strip().lower()
    message.provider_status = status[:32] or message.provider_status
    if status == "failed":
        if _settle(message, CallOutcome.FAILED, note=False):
            record_call_failure(message, error_code)
    elif status in _UNANSWERED:
        _settle(message, _UNANSWERED[status])
    elif status == "completed":
        machine = answered_by.strip().lower() in MACHINE_ANSWERS
        _settle(message, CallOutcome.VOICEMAIL if machine else CallOutcome.NO_KEY)


def _settle(message: Message, outcome: CallOutcome, *, note: bool = True) -> bool:
    """Write the call's outcome if it has none yet (once, however often Twilio asks); note it if unanswered."""
    won = db.session.execute(
        update(Message)
        .where(Message.id == message.id, Message.call_outcome.is_(None))
        .values(call_outcome=outcome)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(message)
    if won and note:
        timeline.record(
            message.incident,
            EventKind.CALL_UNANSWERED,
            contact=message.contact,
            channel=Channel.VOICE,
            agency_key=message.activation.agency_key,
            message=message.kind,
            message_id=message.id,
            outcome=outcome,
        )
    return bool(won)


def _mark_answered(message: Message) -> None:
    """A person picked up: the call is delivered (once; Twilio's acceptance may not be recorded yet)."""
    answered = db.session.execute(
        update(Message)
        .where(Message.id == message.id, Message.state.in_((MessageState.SENDING, MessageState.SENT)))
        .values(state=MessageState.DELIVERED, delivered_at=now_utc(), provider_status="in-progress")
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(message)
    if answered:
        timeline.record(
            message.incident,
            EventKind.MESSAGE_DELIVERED,
            contact=message.contact,
            channel=Channel.VOICE,
            agency_key=message.activation.agency_key,
            message=message.kind,
            message_id=message.id,
        )


def _no_answer_needed(message: Message) -> str | None:
    """Why this call no longer needs a key (already covered, standing down, closed), or None."""
    activation = message.activation
    incident = activation.incident
    if incident.status == IncidentStatus.CLOSED:
        return "This incident is closed."
    if incident.status == IncidentStatus.STANDING_DOWN:
        return "This response is standing down."
    if activation.state in (ActivationState.COVERED, ActivationState.NOT_APPLICABLE):
        return f"{activation.agency_name} is already covered."
    return None


def _spoken_outcome(result: acks.Outcome) -> str:
    agency = result.activation.agency_name
    return {
        "acknowledged": f"Thank you. {agency} is recorded as covering this response.",
        "already_covered": f"{agency} was already covered. Nothing has changed.",
        "declined": "Your decline is recorded."
        + (
            f" The {result.handed_to} has been alerted."
            if result.handed_to
            else " The response team has been told."
        ),
        "already_declined": "You had already declined. Nothing has changed.",
        "standing_down": "Thank you. The response is standing down, so no cover is needed now.",
        "incident_closed": "This incident is closed, so nothing was recorded.",
    }[result.status]
