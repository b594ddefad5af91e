"""A scripted response with known timings, for the export and metrics tests.

Opened at 21:40 GMT on Tue 24 Nov 2026 (T0), Birmingham, a stabbing with a
school link and a 16-year-old involved:

* T0+1m30s  every queued alert is sent (time to first alert: 90 s)
* T0+3m     the youth offending service lead's SMS is undelivered; the email got there
* T0+5m     the youth service lead acknowledges by link (with a note naming someone)
* T0+12m    the police lead acknowledges by link
* T0+16m    children's trust: nobody answered, the alert climbs to the deputy
* T0+25m    the children's trust deputy acknowledges (covered at level 1, outside the 15-minute target)
* T0+4h     the 4-hour check-in asks the three covering agencies
* T0+4h30m  the youth service answers: tension high, detached youth work delivered
* T0+5h     the police answer: tension low, practitioner debrief declined
* T0+6h     the children's trust gets its reminder; T0+8h its check-in is flagged missed

Every other agency stays unanswered. Each step runs the real service under freezegun.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from freezegun import freeze_time
from sqlalchemy import select

from responder.check_ins.service import CheckInAnswer, record_check_in_answer
from responder.extensions import db
from responder.models import (
    ActionKind,
    Activation,
    CheckIn,
    Contact,
    Incident,
    Message,
    ResponseChannel,
    TimedAction,
)
from responder.notify.delivery import record_sms_status
from responder.responses.acknowledgements import acknowledge
from responder.responses.escalation import alert_next_level
from responder.scheduling.firing import fire_timed_action

T0 = datetime(2026, 11, 24, 21, 40, tzinfo=UTC)
# When the review happens: the exports' own timeline events land here, after the response.
REVIEWED = T0 + timedelta(days=2)
SUMMARY = "Canary summary SUMMARY-CANARY-7731"
LOCATION = "Lozells Road LOCATION-CANARY"
ACK_NOTE = "On my way with Jordan Blake, call 07700 900999 or jordan.blake@example.net"
YOUTH_ANSWER = "Detached team out on Lozells Road tonight; Kyle's family asked for support"


@dataclass(frozen=True)
class Scripted:
    incident: Incident
    reference: str


def activation_for(incident: Incident, agency_key: str) -> Activation:
    return next(a for a in incident.activations if a.agency_key == agency_key)


def run_script(make_incident, send_outbox, *, exercise: bool = False, at: datetime = T0) -> Scripted:
    with freeze_time(at) as clock:
        incident = make_incident(
            occurred_at=at - timedelta(minutes=20),
            location=LOCATION,
            summary=SUMMARY,
            tension="medium",
            exercise=exercise,
        )
        reference = incident.reference

        clock.move_to(at + timedelta(seconds=90))
        send_outbox()

        clock.move_to(at + timedelta(minutes=3))
        yos = activation_for(_reload(reference), "bham-yos")
        sms = db.session.scalar(
            select(Message).where(
                Message.activation_id == yos.id, Message.channel == "sms", Message.kind == "alert"
            )
        )
        record_sms_status(sms.provider_id, "undelivered", "30003")

        clock.move_to(at + timedelta(minutes=5))
        youth = activation_for(_reload(reference), "bham-youth-service")
        acknowledge(youth, youth.lead_contact, ResponseChannel.LINK, note=ACK_NOTE)

        clock.move_to(at + timedelta(minutes=12))
        police = activation_for(_reload(reference), "wmp-birmingham")
        acknowledge(police, police.lead_contact, ResponseChannel.LINK)

        clock.move_to(at + timedelta(minutes=16))
        childrens = activation_for(_reload(reference), "bham-childrens-trust")
        alert_next_level(childrens, reason="nobody acknowledged within 15 minutes")
        db.session.commit()

        clock.move_to(at + timedelta(minutes=25))
        childrens = activation_for(_reload(reference), "bham-childrens-trust")
        acknowledge(childrens, childrens.deputy_contact, ResponseChannel.LINK)

        clock.move_to(at + timedelta(hours=4))
        _fire(reference, ActionKind.CHECK_IN, step="4h")

        clock.move_to(at + timedelta(hours=4, minutes=30))
        record_check_in_answer(
            _check_in(reference, "bham-youth-service"),
            CheckInAnswer(YOUTH_ANSWER, "high", offers={"bham-detached-youth-work": "delivered"}),
        )

        clock.move_to(at + timedelta(hours=5))
        record_check_in_answer(
            _check_in(reference, "wmp-birmingham"),
            CheckInAnswer("Patrols in place", "low", offers={"bham-practitioner-debrief": "declined"}),
        )

        clock.move_to(at + timedelta(hours=6))
        _fire_follow_up(reference, "bham-childrens-trust", ActionKind.CHECK_IN_REMINDER)
        clock.move_to(at + timedelta(hours=8))
        _fire_follow_up(reference, "bham-childrens-trust", ActionKind.CHECK_IN_MISSED)
    db.session.expire_all()
    return Scripted(_reload(reference), reference)


def sign_in(login, user):
    with freeze_time(REVIEWED):
        return login(user)


def download(client, path: str, at: datetime = REVIEWED):
    """GET ``path`` at ``at``, reading a streamed body to the end."""
    with freeze_time(at):
        response = client.get(path)
        response.get_data()
    return response


def contacts_of(incident: Incident) -> list[Contact]:
    """Every contact the incident alerted (leads, deputies and anyone escalated to)."""
    ids = set(db.session.scalars(select(Message.contact_id).where(Message.incident_id == incident.id)))
    ids.discard(None)
    return list(db.session.scalars(select(Contact).where(Contact.id.in_(ids))))


def _reload(reference: str) -> Incident:
    db.session.expire_all()
    return db.session.scalar(select(Incident).where(Incident.reference == reference))


def _fire(reference: str, kind: ActionKind, step: str) -> None:
    incident = _reload(reference)
    actions = db.session.scalars(
        select(TimedAction).where(TimedAction.incident_id == incident.id, TimedAction.kind == kind)
    ).all()
    action = next(action for action in actions if action.details.get("step") == step)
    assert fire_timed_action(action.id) is not None


def _check_in(reference: str, agency_key: str) -> CheckIn:
    incident = _reload(reference)
    activation = activation_for(incident, agency_key)
    return db.session.scalar(select(CheckIn).where(CheckIn.activation_id == activation.id))


def _fire_follow_up(reference: str, agency_key: str, kind: ActionKind) -> None:
    check_in = _check_in(reference, agency_key)
    action = db.session.scalar(
        select(TimedAction).where(TimedAction.check_in_id == check_in.id, TimedAction.kind == kind)
    )
    assert fire_timed_action(action.id) is not None
