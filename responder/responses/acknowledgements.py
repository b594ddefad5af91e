"""Acknowledging and declining alerts, by link or by SMS reply.

An activation is covered when any contact alerted for it acknowledges. The
state change is a conditional UPDATE, so concurrent acknowledgements give one
"covered" and one timeline event; everyone else is told who got there first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from responder import timeline
from responder.clock import as_utc, now_utc
from responder.extensions import db
from responder.incidents import lifecycle
from responder.incidents.guard import takes_cover
from responder.models import (
    Activation,
    ActivationState,
    AgencyResponse,
    Contact,
    EventKind,
    IncidentStatus,
    ResponseChannel,
    ResponseKind,
)
from responder.notify.outbox import queue_response_notice
from responder.responses.escalation import LEVEL_NAMES, alert_next_level, rung_of
from responder.responses.phone_calls import cancel_pending_calls
from responder.timeline import Actor

log = logging.getLogger(__name__)

# States from which an acknowledgement still changes something.
OPEN_STATES = (
    ActivationState.ALERTED,
    ActivationState.ESCALATED,
    ActivationState.DECLINED,
    ActivationState.NOT_REACHED,
)
DECLINE_REASONS = {
    "not_our_area": "Not our area",
    "passing_to_deputy": "Passing to my deputy",
    "unavailable": "Unavailable",
    "other": "Other",
}
CHANNEL_WORDS = {
    ResponseChannel.LINK: "by link",
    ResponseChannel.SMS_REPLY: "by SMS reply",
    ResponseChannel.PHONE_CALL: "by phone call",
}


@dataclass(frozen=True)
class Outcome:
    """What happened, for the page or the SMS reply to say."""

    status: (
        str  # acknowledged | already_covered | declined | already_declined | standing_down | incident_closed
    )
    activation: Activation
    by: Contact | None = None
    at: datetime | None = None
    handed_to: str | None = None  # the rung alerted after a decline, e.g. "deputy"


def acknowledge(
    activation: Activation, contact: Contact, channel: ResponseChannel, note: str = ""
) -> Outcome:
    """Cover ``activation`` on behalf of ``contact``; harmless to repeat.

    After the stand-down (or the close) an acknowledgement no longer makes the
    agency the one covering: it is thanked and recorded as a late response.
    """
    if not takes_cover(activation.incident):
        return _late(activation, contact, channel, "acknowledgement", note)
    at = now_utc()
    took = max(0.0, (at - as_utc(activation.activated_at)).total_seconds())
    won = db.session.execute(
        update(Activation)
        .where(Activation.id == activation.id, Activation.state.in_(OPEN_STATES))
        .values(
            state=ActivationState.COVERED,
            acknowledged_by_id=contact.id,
            acknowledged_at=at,
            acknowledged_after_seconds=took,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        db.session.refresh(activation)
        return Outcome("already_covered", activation, activation.acknowledged_by, activation.acknowledged_at)
    db.session.refresh(activation)
    db.session.add(
        AgencyResponse(
            activation=activation,
            contact=contact,
            kind=ResponseKind.ACKNOWLEDGED,
            channel=channel,
            note=note.strip(),
            at=at,
        )
    )
    timeline.record(
        activation.incident,
        EventKind.ACKNOWLEDGED,
        by=contact,
        contact=contact,
        channel=channel,
        agency_key=activation.agency_key,
        text=note,
        role=getattr(rung_of(activation, contact), "role", None),
    )
    _stop_escalation(activation)
    cancel_pending_calls(activation, f"{activation.agency_name} is covered")
    lifecycle.mark_active(activation.incident, Actor.of(contact), activation.agency_key)
    queue_response_notice(activation, f"{activation.agency_name} has acknowledged", urgent=False)
    return Outcome("acknowledged", activation, contact, at)


def decline(activation: Activation, contact: Contact, channel: ResponseChannel, reason: str) -> Outcome:
    """Record a decline; if it came from whoever the alert now rests with, hand on at once.

    After the stand-down (or the close) nothing is handed on: it is recorded as a late response.
    """
    if not takes_cover(activation.incident):
        return _late(activation, contact, channel, "decline", reason)
    if activation.state in (ActivationState.COVERED, ActivationState.NOT_APPLICABLE):
        return Outcome("already_covered", activation, activation.acknowledged_by, activation.acknowledged_at)
    earlier = _earlier_response(activation, contact, ResponseKind.DECLINED)
    if earlier is not None:
        return Outcome("already_declined", activation, contact, earlier.at)
    at = now_utc()
    # The same decline submitted twice at once: the unique constraint refuses the
    # second at the flush, and the boundary runs it again (then "already declined").
    db.session.add(
        AgencyResponse(
            activation=activation,
            contact=contact,
            kind=ResponseKind.DECLINED,
            channel=channel,
            note=reason.strip(),
            at=at,
        )
    )
    db.session.flush()
    rung = rung_of(activation, contact)
    timeline.record(
        activation.incident,
        EventKind.DECLINED,
        by=contact,
        contact=contact,
        channel=channel,
        agency_key=activation.agency_key,
        text=reason,
        role=getattr(rung, "role", None),
    )
    handed_to = None
    cancel_pending_calls(activation, "they declined", contact=contact)
    if rung is not None and rung.level == activation.escalation_level:  # the alert rests with them
        who = rung.name
        alerted = alert_next_level(activation, reason=f"the {who} declined", actor=Actor.of(contact))
        if alerted is None:
            activation.state = ActivationState.DECLINED
        else:
            handed_to = LEVEL_NAMES[activation.escalation_level]
            _continue_escalation(activation)
    after = f"; the {handed_to} has been alerted" if handed_to else ""
    queue_response_notice(activation, f"{activation.agency_name} has declined{after}", urgent=True)
    return Outcome("declined", activation, contact, at, handed_to)


def earlier_decline(activation: Activation, contact: Contact) -> AgencyResponse | None:
    """This contact's decline for this activation, if they gave one."""
    return _earlier_response(activation, contact, ResponseKind.DECLINED)


def alerted_contacts(activation: Activation) -> list[Contact]:
    """Everyone who has been sent an alert for this activation (lead, deputy, …)."""
    from responder.models import AccessToken, TokenPurpose

    return list(
        db.session.scalars(
            select(Contact)
            .join(AccessToken, AccessToken.contact_id == Contact.id)
            .where(
                AccessToken.activation_id == activation.id, AccessToken.purpose == TokenPurpose.ACKNOWLEDGE
            )
            .distinct()
        )
    )


def _late(
    activation: Activation, contact: Contact, channel: ResponseChannel, what: str, words: str
) -> Outcome:
    """An answer after the stand-down or the close: kept on the timeline, changing nothing else."""
    incident = activation.incident
    closed = incident.status == IncidentStatus.CLOSED
    because = "the incident is closed" if closed else "the response is standing down"
    log.info("a late %s (activation %s): %s", what, activation.id, because)
    timeline.record(
        incident,
        EventKind.LATE_RESPONSE,
        by=contact,
        channel=channel,
        agency_key=activation.agency_key,
        text=words,
        what=what,
        because=because,
    )
    return Outcome("incident_closed" if closed else "standing_down", activation, contact)


def _earlier_response(activation: Activation, contact: Contact, kind: ResponseKind) -> AgencyResponse | None:
    return db.session.scalar(
        select(AgencyResponse).where(
            AgencyResponse.activation_id == activation.id,
            AgencyResponse.contact_id == contact.id,
            AgencyResponse.kind == kind,
        )
    )


def _stop_escalation(activation: Activation) -> None:
    from responder.scheduling import cancel_pending_escalations

    cancel_pending_escalations(activation)


def _continue_escalation(activation: Activation) -> None:
    from responder.scheduling import reschedule_escalation

    reschedule_escalation(activation)
