"""Timed actions at opening; the escalation chain on time, stopped by an answer, handed on by a decline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from responder.extensions import db
from responder.models import (
    ActionKind,
    ActionState,
    Activation,
    EventKind,
    IncidentStatus,
    Message,
    TimedAction,
    TimelineEvent,
)
from responder.responses.escalation import alert_next_level
from responder.scheduling import cancel_incident_actions, cancel_pending_escalations, reschedule_escalation
from responder.scheduling.firing import fire_due_actions, fire_timed_action
from tests.timeline_words import said

# Tuesday 24 November 2026, 21:50 GMT.
OPENED = datetime(2026, 11, 24, 21, 50, tzinfo=UTC)


@pytest.fixture
def incident(make_incident):
    with freeze_time(OPENED):
        return make_incident()


def youth_service(incident) -> Activation:
    return next(a for a in incident.activations if a.agency_key == "bham-youth-service")


def fire_at(moment: datetime, **offset):
    with freeze_time(moment + timedelta(**offset)):
        fired = fire_due_actions()
    db.session.expire_all()
    return fired


def alerted_roles(activation: Activation) -> list[str]:
    """Who has been sent an alert for this agency, in order."""
    messages = db.session.scalars(
        select(Message)
        .where(Message.activation_id == activation.id, Message.channel == "sms")
        .order_by(Message.id)
    )
    return [m.contact.key for m in messages if m.kind == "alert"]


def actions(incident, kind: str, state: str = ActionState.PENDING) -> list[TimedAction]:
    return list(
        db.session.scalars(
            select(TimedAction)
            .where(
                TimedAction.incident_id == incident.id, TimedAction.kind == kind, TimedAction.state == state
            )
            .order_by(TimedAction.due_at)
        )
    )


def due_of(rows: list[TimedAction], name: str) -> datetime:
    return next(row.due_at for row in rows if row.details["name"].startswith(name))


def test_opening_schedules_escalations_check_ins_and_deadlines(incident):
    alerted = [a for a in incident.activations if a.state == "alerted"]
    escalations = actions(incident, ActionKind.ESCALATION)
    assert sorted(e.activation_id for e in escalations) == sorted(a.id for a in alerted)
    assert {e.due_at for e in escalations} == {OPENED + timedelta(minutes=15)}
    check_ins = [c.due_at - OPENED for c in actions(incident, ActionKind.CHECK_IN)]
    assert check_ins == [timedelta(hours=h) for h in (4, 24, 72, 7 * 24, 14 * 24, 28 * 24)]
    deadlines = actions(incident, ActionKind.DEADLINE)
    reminders = actions(incident, ActionKind.DEADLINE_REMINDER)
    # 5 working days from Tuesday evening is the next Tuesday, same wall-clock time...
    assert due_of(deadlines, "Notify the Child Safeguarding") == datetime(2026, 12, 1, 21, 50, tzinfo=UTC)
    # ...reminded one working day before.
    assert due_of(reminders, "Notify the Child Safeguarding") == datetime(2026, 11, 30, 21, 50, tzinfo=UTC)
    assert due_of(reminders, "Hold the critical incident") == OPENED + timedelta(hours=20)


def test_nobody_acknowledging_climbs_the_ladder_on_time_and_stops_after_the_top(incident):
    activation = youth_service(incident)
    assert alerted_roles(activation) == ["bham-youth-lead"]

    fire_at(OPENED, minutes=14, seconds=59)
    assert alerted_roles(activation) == ["bham-youth-lead"]

    fire_at(OPENED, minutes=15)
    assert alerted_roles(activation) == ["bham-youth-lead", "bham-youth-deputy"]
    assert activation.state == "escalated" and activation.escalation_level == 1
    event = db.session.scalars(
        select(TimelineEvent).where(
            TimelineEvent.kind == EventKind.ESCALATED, TimelineEvent.agency_key == activation.agency_key
        )
    ).one()
    assert f"alerted the deputy, {activation.deputy_contact.name}, because" in said(event)
    assert "nobody acknowledged within 15 minutes" in said(event)

    fire_at(OPENED, minutes=29)
    assert alerted_roles(activation)[-1] == "bham-youth-deputy"
    fire_at(OPENED, minutes=30)
    assert alerted_roles(activation)[-1] == "bham-vru-duty"  # the duty manager
    fire_at(OPENED, minutes=45)
    assert alerted_roles(activation)[-1] == "wm-vru-on-call"  # the VRU regional on-call
    assert activation.escalation_level == 3

    fire_at(OPENED, minutes=60)
    assert activation.state == "not_reached"
    assert len(alerted_roles(activation)) == 4
    assert not [e for e in actions(incident, ActionKind.ESCALATION) if e.activation_id == activation.id]
    fire_at(OPENED, hours=3)
    assert len(alerted_roles(activation)) == 4


def test_an_acknowledgement_stops_the_chain(incident):
    activation = youth_service(incident)
    with freeze_time(OPENED + timedelta(minutes=10)):
        activation.state = "covered"
        cancel_pending_escalations(activation)
        db.session.commit()
    fire_at(OPENED, minutes=45)
    assert alerted_roles(activation) == ["bham-youth-lead"]
    assert youth_service(incident).state == "covered"
    cancelled = [e for e in actions(incident, ActionKind.ESCALATION, ActionState.CANCELLED)]
    assert [e.activation_id for e in cancelled] == [activation.id]
    # Everyone else, who did not answer, was escalated.
    others = [a for a in incident.activations if a.id != activation.id and a.lead_contact is not None]
    assert all(a.escalation_level >= 1 for a in others)


def test_an_acknowledgement_that_beats_the_cancel_still_stops_the_escalation(incident):
    activation = youth_service(incident)
    activation.state = "covered"  # acknowledged, but nothing cancelled its escalation
    db.session.commit()
    fire_at(OPENED, minutes=15)
    assert alerted_roles(activation) == ["bham-youth-lead"]
    escalation = next(
        e
        for e in actions(incident, ActionKind.ESCALATION, ActionState.CANCELLED)
        if e.activation_id == activation.id
    )
    assert escalation.outcome == "not needed: Birmingham Youth Service is covered"


def test_a_decline_hands_on_and_the_chain_continues_from_the_new_level(incident):
    activation = youth_service(incident)
    with freeze_time(OPENED + timedelta(minutes=5)):
        alert_next_level(activation, reason="the lead declined")
        reschedule_escalation(activation)
        db.session.commit()
    assert alerted_roles(activation) == ["bham-youth-lead", "bham-youth-deputy"]

    fire_at(OPENED, minutes=15)  # the lead's original deadline no longer applies
    assert alerted_roles(activation) == ["bham-youth-lead", "bham-youth-deputy"]
    fire_at(OPENED, minutes=20)  # the deputy had the full 15 minutes
    assert alerted_roles(activation) == ["bham-youth-lead", "bham-youth-deputy", "bham-vru-duty"]
    assert activation.escalation_level == 2


def test_closing_cancels_everything_pending(incident):
    pending = len(actions(incident, ActionKind.ESCALATION)) + len(actions(incident, ActionKind.CHECK_IN))
    with freeze_time(OPENED + timedelta(minutes=3)):
        incident.status = IncidentStatus.CLOSED
        count = cancel_incident_actions(incident)
        db.session.commit()
    assert count >= pending
    assert fire_at(OPENED, days=40) == []
    remaining = db.session.scalar(
        select(func.count()).select_from(TimedAction).where(TimedAction.state == ActionState.PENDING)
    )
    assert remaining == 0
    assert all(len(alerted_roles(a)) <= 1 for a in incident.activations)
    event = db.session.scalars(
        select(TimelineEvent).where(TimelineEvent.kind == EventKind.ACTIONS_CANCELLED)
    ).one()
    assert said(event) == f"{count} scheduled actions cancelled: the incident was closed"


def test_an_incident_standing_down_fires_nothing_more(incident):
    incident.status = IncidentStatus.STANDING_DOWN
    db.session.commit()
    fired = fire_at(OPENED, days=1)
    assert fired and all(f.state == ActionState.CANCELLED for f in fired)
    assert all(len(alerted_roles(a)) <= 1 for a in incident.activations)


def test_after_an_outage_each_overdue_action_fires_once_and_records_how_late(incident):
    # The scheduler was down from opening until 26 hours later.
    first = fire_at(OPENED, hours=26)
    again = fire_at(OPENED, hours=26, seconds=1)
    assert first and not [f for f in again if f.action_id in {f.action_id for f in first}]
    # The 4-hour check-in is superseded by the 24-hour one: agencies are asked once.
    superseded = actions(incident, ActionKind.CHECK_IN, ActionState.CANCELLED)
    check_ins = actions(incident, ActionKind.CHECK_IN, ActionState.FIRED)
    assert [c.due_at - OPENED for c in superseded] == [timedelta(hours=4)]
    assert [round(c.lateness_seconds) for c in superseded + check_ins] == [22 * 3600, 2 * 3600]
    reminder = next(r for r in actions(incident, ActionKind.DEADLINE_REMINDER, ActionState.CANCELLED))
    assert reminder.outcome == "superseded: the deadline itself has passed"
    escalation_event = db.session.scalars(
        select(TimelineEvent).where(TimelineEvent.kind == EventKind.ESCALATED).order_by(TimelineEvent.id)
    ).first()
    assert "this ran 25 h 45 min late" in said(escalation_event)
    # One escalation per agency, not one per missed interval: it resumes from there.
    activation = youth_service(incident)
    assert alerted_roles(activation) == ["bham-youth-lead", "bham-youth-deputy"]


def test_firing_an_action_twice_does_nothing_the_second_time(incident):
    escalation = actions(incident, ActionKind.ESCALATION)[0]
    with freeze_time(OPENED + timedelta(minutes=15)):
        assert fire_timed_action(escalation.id) is not None
        assert fire_timed_action(escalation.id) is None
    events = db.session.scalar(
        select(func.count()).select_from(TimelineEvent).where(TimelineEvent.kind == EventKind.ESCALATED)
    )
    assert events == 1


def test_an_action_that_keeps_failing_is_marked_failed_on_the_timeline(incident, monkeypatch):
    from responder.scheduling import escalations

    def broken(action, now):
        raise RuntimeError("bug")

    monkeypatch.setattr(escalations, "fire_escalation", broken)
    escalation_id = actions(incident, ActionKind.ESCALATION)[0].id
    for minute in range(15, 20):
        with freeze_time(OPENED + timedelta(minutes=minute)):
            assert fire_timed_action(escalation_id) is None
    action = db.session.get(TimedAction, escalation_id, populate_existing=True)
    assert action.state == ActionState.FAILED and action.attempts == 5
    assert action.last_error == "RuntimeError: bug"
    event = db.session.scalars(
        select(TimelineEvent).where(TimelineEvent.kind == EventKind.TIMED_ACTION_FAILED)
    ).one()
    assert "needs doing by hand" in said(event)


def test_after_an_outage_a_batch_fires_as_one_by_one_would(incident):
    """The scheduler's batch (everything due with one action) supersedes and cancels the same way."""
    from responder.scheduling.firing import fire_due_together

    with freeze_time(OPENED + timedelta(hours=26)):
        first = min(actions(incident, ActionKind.ESCALATION), key=lambda a: (a.due_at, a.id))
        fired = fire_due_together(first.id, limit=1000)
        db.session.expire_all()
    assert len(fired) > 5
    superseded = actions(incident, ActionKind.CHECK_IN, ActionState.CANCELLED)
    check_ins = actions(incident, ActionKind.CHECK_IN, ActionState.FIRED)
    assert [c.due_at - OPENED for c in superseded] == [timedelta(hours=4)]
    assert [c.due_at - OPENED for c in check_ins] == [timedelta(hours=24)]
    assert alerted_roles(youth_service(incident)) == ["bham-youth-lead", "bham-youth-deputy"]


def test_a_sweep_goes_on_past_a_full_batch_and_takes_a_failing_action_once(
    incident, monkeypatch, break_escalation
):
    from responder.scheduling import firing

    monkeypatch.setattr(firing, "BATCH_SIZE", 3)
    broken = min(actions(incident, ActionKind.ESCALATION), key=lambda a: (a.due_at, a.id))
    break_escalation(broken.id)
    with freeze_time(OPENED + timedelta(hours=26)):
        due = [a.id for a in actions(incident, ActionKind.ESCALATION)]
        fired = fire_due_actions()
    db.session.expire_all()
    assert len(due) > 3 * 2  # more than two batches
    assert broken.id not in {f.action_id for f in fired}
    assert set(due) - {broken.id} <= {f.action_id for f in fired}
    failing = db.session.get(TimedAction, broken.id)
    assert failing.state == ActionState.PENDING and failing.attempts == 1
