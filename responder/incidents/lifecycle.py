"""Running a response: status changes, updates, meetings, extra agencies, stand-down, close.

open -> active (the first agency covers) -> standing down -> closed. Every
change is a timeline event with who, when and why; nothing is deleted.
"""

from __future__ import annotations

from sqlalchemy import select, update

from responder import scheduling, timeline
from responder.clock import now_utc
from responder.extensions import db
from responder.incidents.guard import STATUS_WORDS, Change, LifecycleError, guarded
from responder.models import (
    Activation,
    ActivationState,
    Contact,
    EventKind,
    Incident,
    IncidentStatus,
    Message,
    MessageKind,
    Role,
    Tension,
    User,
)
from responder.models.tension import TensionReading
from responder.notify.outbox import cancel_pending, queue_alert, queue_stand_down
from responder.responses.escalation import ladder, with_duty
from responder.rotas import on_duty
from responder.timeline import Actor

# Which status each status may move to.
TRANSITIONS = {
    IncidentStatus.OPEN: {IncidentStatus.ACTIVE, IncidentStatus.STANDING_DOWN, IncidentStatus.CLOSED},
    IncidentStatus.ACTIVE: {IncidentStatus.STANDING_DOWN, IncidentStatus.CLOSED},
    IncidentStatus.STANDING_DOWN: {IncidentStatus.ACTIVE, IncidentStatus.CLOSED},
    IncidentStatus.CLOSED: set(),
}


def mark_active(incident: Incident, actor: Actor, agency_key: str) -> None:
    """Open becomes active when the first agency covers (in the caller's transaction)."""
    if incident.status == IncidentStatus.OPEN:
        _move(incident, IncidentStatus.ACTIVE, actor, covering=agency_key)


def stand_down(incident: Incident, user: User, reason: str) -> Incident:
    """Thank every covering agency, and stop alerts and escalations still pending."""
    _check_move(incident, IncidentStatus.STANDING_DOWN)
    actor = Actor.of(user)
    _move(incident, IncidentStatus.STANDING_DOWN, actor, reason)
    for activation in incident.activations:
        scheduling.cancel_pending_escalations(activation, reason="the response is standing down")
        if activation.state == ActivationState.COVERED and activation.acknowledged_by is not None:
            queue_stand_down(activation, activation.acknowledged_by, shared_by=actor)
    _cancel_pending_messages(incident, actor, kinds=(MessageKind.ALERT,), why="the response is standing down")
    return incident


def resume(incident: Incident, user: User, reason: str) -> Incident:
    """Standing down turned out to be early: the response is active again."""
    _check_move(incident, IncidentStatus.ACTIVE)
    _move(incident, IncidentStatus.ACTIVE, Actor.of(user), reason)
    return incident


def close(incident: Incident, user: User, reason: str) -> Incident:
    """Managers only: cancel everything pending and free the incident's reply codes."""
    if not user.has_role(Role.MANAGER):
        raise LifecycleError("Only a manager can close an incident.")
    _check_move(incident, IncidentStatus.CLOSED)
    actor = Actor.of(user)
    _move(incident, IncidentStatus.CLOSED, actor, reason)
    scheduling.cancel_incident_actions(incident)
    _cancel_pending_messages(incident, actor, kinds=None, why="the incident was closed")
    db.session.execute(
        update(Activation)
        .where(Activation.incident_id == incident.id)
        .values(reply_code=None)
        .execution_options(synchronize_session=False)
    )
    return incident


@guarded(Change.RECORD)
def post_update(incident: Incident, user: User, text: str) -> None:
    """Free text for the response team; it never leaves Responder by SMS or email."""
    timeline.record(incident, EventKind.UPDATE_POSTED, by=user, text=text)


@guarded(Change.RECORD)
def change_tension(incident: Incident, user: User, level: str, reason: str) -> None:
    level = Tension(level)
    if level == incident.tension:
        raise LifecycleError(f"Community tension is already {level.label.lower()}.")
    before = Tension(incident.tension)
    record_opening_tension(incident)
    incident.tension = level
    db.session.add(TensionReading(incident=incident, at=now_utc(), level=level))
    timeline.record(
        incident, EventKind.TENSION_CHANGED, by=user, text=reason, **{"from": before, "to": level}
    )


@guarded(Change.RECORD)
def record_meeting(
    incident: Incident, user: User, title: str, attendees: list[str], actions: list[str]
) -> None:
    """A meeting such as the 24-hour strategy meeting, with who attended and what was agreed."""
    notes = f"{title.strip()}. Attended: {', '.join(attendees) or 'not recorded'}."
    if actions:
        notes += " Actions: " + "; ".join(actions) + "."
    # Who attended and what was agreed are people's words: kept whole, withheld when redacted.
    timeline.record(
        incident,
        EventKind.MEETING_RECORDED,
        by=user,
        text=notes,
        attendees=len(attendees),
        actions=len(actions),
    )


@guarded(Change.RESEND)
def resend_alert(activation: Activation, user: User) -> Contact:
    """Send the alert again to whoever it currently rests with."""
    incident = activation.incident
    if activation.state in (ActivationState.COVERED, ActivationState.NOT_APPLICABLE):
        raise LifecycleError(
            f"{activation.agency_name} is {activation.state.replace('_', ' ')}: no need to re-send."
        )
    rung = ladder(activation)[activation.escalation_level]
    # A new message: to whoever is on duty in the rung's role now (responder.rotas).
    duty = on_duty(rung.role)
    if not duty.contacts:
        raise LifecycleError(f"No active contact for {rung.role}: update the contact directory first.")
    for contact in duty.contacts:
        queue_alert(
            incident, activation, contact, shared_by=Actor.of(user), purpose=with_duty("alert re-sent", duty)
        )
        timeline.record(
            incident,
            EventKind.ALERT_RESENT,
            by=user,
            contact=contact,
            agency_key=activation.agency_key,
            rung=rung.name,
            role=rung.role,
            **duty.timeline_data(),
        )
    return duty.contact


@guarded(Change.RECORD)
def mark_not_applicable(activation: Activation, user: User, reason: str) -> None:
    incident = activation.incident
    if activation.state == ActivationState.NOT_APPLICABLE:
        raise LifecycleError(f"{activation.agency_name} is already marked not applicable.")
    activation.state = ActivationState.NOT_APPLICABLE
    scheduling.cancel_pending_escalations(activation, reason="marked not applicable")
    timeline.record(
        incident, EventKind.NOT_APPLICABLE, by=user, agency_key=activation.agency_key, text=reason
    )


def _check_move(incident: Incident, target: IncidentStatus) -> None:
    current = IncidentStatus(incident.status)
    if target not in TRANSITIONS[current]:
        raise LifecycleError(
            f"{incident.reference} is {STATUS_WORDS[current]}, so it cannot be made {STATUS_WORDS[target]}."
        )


def _move(
    incident: Incident, target: IncidentStatus, actor: Actor, why: str = "", *, covering: str | None = None
) -> None:
    """A status change: ``why`` in a person's words, or because the agency ``covering`` answered."""
    before = IncidentStatus(incident.status)
    incident.status = target
    timeline.record(
        incident,
        EventKind.STATUS_CHANGED,
        by=actor,
        agency_key=covering,
        text=why,
        covering=True if covering else None,
        **{"from": before, "to": target},
    )


def record_opening_tension(incident: Incident) -> None:
    """Before the first change, keep the level the incident was opened with as the trend's first reading."""
    first = db.session.scalar(select(TensionReading.id).where(TensionReading.incident_id == incident.id))
    if first is None:
        db.session.add(TensionReading(incident=incident, at=incident.opened_at, level=incident.tension))


def _cancel_pending_messages(
    incident: Incident, actor: Actor, kinds: tuple[str, ...] | None, why: str
) -> None:
    """Messages not yet handed to a provider are not sent after all."""
    which = (Message.kind.in_(kinds),) if kinds is not None else ()
    cancelled = cancel_pending(Message.incident_id == incident.id, *which, why=f"not sent: {why}")
    if cancelled:
        timeline.record(incident, EventKind.MESSAGES_CANCELLED, by=actor, count=cancelled, because=why)
