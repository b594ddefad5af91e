"""The escalation ladder: lead -> deputy -> duty manager -> VRU regional on-call.

Used both when a lead declines (handing on at once) and when nobody
acknowledges in time (the scheduler). Roles come from the playbook snapshot
the incident was opened with, so editing a playbook never changes a
running response.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from responder import timeline
from responder.extensions import db
from responder.models import Activation, ActivationState, Contact, EventKind
from responder.notify.outbox import queue_alert
from responder.playbooks.schema import RUNGS
from responder.responses.phone_calls import call_rung
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


def next_rung(activation: Activation) -> tuple[Rung, Contact] | None:
    """The next rung above the current level that has an active contact."""
    for rung in ladder(activation)[activation.escalation_level + 1 :]:
        contact = _active_contact(rung.role)
        if contact is not None:
            return rung, contact
    return None


def alert_next_level(activation: Activation, reason: str, actor: Actor = SYSTEM) -> Contact | None:
    """Alert the next rung in the caller's transaction; None when the ladder is exhausted.

    Skips rungs without an active contact (saying so on the timeline), moves
    the activation to ESCALATED and records who was alerted and why.
    """
    found = next_rung(activation)
    incident = activation.incident
    if found is None:
        if activation.state != ActivationState.COVERED:
            activation.state = ActivationState.NOT_REACHED
        timeline.record(
            incident, EventKind.NOT_REACHED, by=actor, agency_key=activation.agency_key, because=reason
        )
        return None
    rung, contact = found
    activation.escalation_level = rung.level
    activation.state = ActivationState.ESCALATED
    queue_alert(incident, activation, contact, purpose=f"escalated to the {rung.name} because {reason}")
    called = call_rung(activation, rung.key, contact, shared_by=actor)
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
    )
    return contact


def _active_contact(role: str | None) -> Contact | None:
    if not role:
        return None
    return db.session.scalar(select(Contact).where(Contact.key == role, Contact.active.is_(True)))
