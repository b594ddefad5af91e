"""The escalation ladder: lead -> deputy -> duty manager -> VRU regional on-call.

Used both when a lead declines (handing on at once) and when nobody
acknowledges in time (the scheduler). Roles come from the playbook snapshot
the incident was opened with, so editing a playbook never changes a
running response; who fills a role is decided when its rung fires
(responder.rotas.on_duty), so a 03:00 escalation reaches the 03:00 holder.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from responder import timeline
from responder.extensions import db
from responder.models import Activation, ActivationState, Contact, EventKind, TimelineEvent
from responder.notify.outbox import queue_alert
from responder.playbooks.schema import RUNGS
from responder.responses.phone_calls import call_rung
from responder.rotas import OnDuty, on_duty
from responder.timeline import SYSTEM, Actor

LEVEL_NAMES = {0: "lead", 1: "deputy", 2: "duty manager", 3: "VRU regional on-call"}
TOP_LEVEL = 3


@dataclass(frozen=True)
class Rung:
    level: int
    role: str | None

    @property
    def name(self) -> str:
        return LEVEL_NAMES[self.level]

    @property
    def key(self) -> str:
        """How a playbook names the rung (an alert step's ``call``): lead, deputy, duty_manager, on_call."""
        return RUNGS[self.level]


def ladder(activation: Activation) -> list[Rung]:
    """Every rung for this activation, from the incident's frozen playbook."""
    frozen = activation.incident.frozen_playbooks
    return [
        Rung(0, activation.lead_role),
        Rung(1, activation.deputy_role),
        # An agency brought in across a border climbs to its own authority's duty manager.
        Rung(2, frozen.duty_manager_for(activation.source)),
        Rung(3, frozen.on_call),
    ]


def next_rung(activation: Activation) -> tuple[Rung, OnDuty] | None:
    """The next rung above the current level with someone to alert, and who is on duty there."""
    found, _gaps = _climb(activation)
    return found


def holder(activation: Activation) -> tuple[Rung, Contact | None]:
    """The rung the alert rests with now, and who holds it now (on its rota, or the directory's contact)."""
    rung = ladder(activation)[activation.escalation_level]
    return rung, on_duty(rung.role).contact


def alert_next_level(activation: Activation, reason: str, actor: Actor = SYSTEM) -> Contact | None:
    """Alert the next rung in the caller's transaction; None when the ladder is exhausted.

    A rung's role is resolved now, to whoever is on duty (responder.rotas):
    two holders are both alerted; a rota with nobody on duty falls back to
    the role's fixed contact, else the rung is skipped, and the timeline says
    so. Moves the activation to ESCALATED and records who was alerted and why.
    """
    found, gaps = _climb(activation)
    incident = activation.incident
    for rung, duty in gaps:
        record_rota_gap(activation, rung, duty, actor)
    if found is None:
        if activation.state != ActivationState.COVERED:
            activation.state = ActivationState.NOT_REACHED
        timeline.record(
            incident, EventKind.NOT_REACHED, by=actor, agency_key=activation.agency_key, because=reason
        )
        return None
    rung, duty = found
    activation.escalation_level = rung.level
    activation.state = ActivationState.ESCALATED
    purpose = f"escalated to the {rung.name} because {reason}"
    for contact in duty.contacts:
        queue_alert(incident, activation, contact, purpose=with_duty(purpose, duty))
        called = call_rung(activation, rung.key, contact, shared_by=actor, duty_note=duty.sharing_note())
        timeline.record(
            incident,
            EventKind.ESCALATED,
            by=actor,
            contact=contact,
            agency_key=activation.agency_key,
            level=rung.level,
            rung=rung.name,
            role=rung.role,
            because=reason,
            called=called is not None or None,
            **duty.timeline_data(),
        )
    return duty.contact


def record_rota_gap(activation: Activation, rung: Rung, duty: OnDuty, actor: Actor = SYSTEM) -> None:
    """Nobody on duty on the rung's rota and no fixed contact: the alert moves on, and the timeline says so."""
    timeline.record(
        activation.incident,
        EventKind.ROTA_GAP,
        by=actor,
        agency_key=activation.agency_key,
        level=rung.level,
        rung=rung.name,
        role=rung.role,
    )


def with_duty(purpose: str, duty: OnDuty) -> str:
    """A sharing record's purpose, saying who was on duty through which rota."""
    note = duty.sharing_note()
    return f"{purpose}; {note}" if note else purpose


def rung_of(activation: Activation, contact: Contact) -> Rung | None:
    """The rung a contact was alerted as for this activation: their own role key, else the rung of the
    last alert they were sent for it (a rota holder's key is not the role's)."""
    rungs = ladder(activation)
    own = next((rung for rung in rungs if rung.role == contact.key), None)
    if own is not None:
        return own
    data = db.session.scalar(
        select(TimelineEvent.data)
        .where(
            TimelineEvent.incident_id == activation.incident_id,
            TimelineEvent.agency_key == activation.agency_key,
            TimelineEvent.contact_id == contact.id,
            TimelineEvent.kind.in_((EventKind.ALERT_QUEUED, EventKind.ESCALATED, EventKind.ALERT_RESENT)),
        )
        .order_by(TimelineEvent.id.desc())
        .limit(1)
    )
    role = (data or {}).get("role")
    return next((rung for rung in rungs if role and rung.role == role), None)


def _climb(activation: Activation) -> tuple[tuple[Rung, OnDuty] | None, list[tuple[Rung, OnDuty]]]:
    """The next rung with someone on duty, and the rungs passed on the way whose rota had nobody."""
    gaps = []
    for rung in ladder(activation)[activation.escalation_level + 1 :]:
        duty = on_duty(rung.role)
        if duty.contacts:
            return (rung, duty), gaps
        if duty.is_gap:
            gaps.append((rung, duty))
    return None, gaps
