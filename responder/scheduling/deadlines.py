"""Firing deadlines and their reminders: tell whoever is on duty in the role the playbook names, and the timeline."""

from __future__ import annotations

from datetime import datetime

from responder import timeline
from responder.models import EventKind, TimedAction
from responder.rotas import on_duty
from responder.scheduling.firing import Result
from responder.scheduling.notices import queue_deadline_notice


def remind_deadline(action: TimedAction, now: datetime) -> Result:
    details = action.details
    due = datetime.fromisoformat(details["due"])
    if _done(action):
        return Result.cancel("not needed: the deadline was marked done")
    if due <= now:
        # After an outage: the deadline itself has passed, and says so.
        return Result.cancel("superseded: the deadline itself has passed")
    return _tell(action, due, EventKind.DEADLINE_REMINDER)


def announce_deadline(action: TimedAction, now: datetime) -> Result:
    if _done(action):
        return Result.cancel("not needed: the deadline was marked done")
    return _tell(action, datetime.fromisoformat(action.details["due"]), EventKind.DEADLINE_DUE)


def _done(action: TimedAction) -> bool:
    return action.deadline is not None and action.deadline.done_at is not None


def _tell(action: TimedAction, due: datetime, kind: EventKind) -> Result:
    """Tell whoever fills the role now (responder.rotas), if anyone, and the timeline."""
    details = action.details
    role = details.get("notify")
    duty = on_duty(role)
    reminder = kind == EventKind.DEADLINE_REMINDER
    for contact in duty.contacts:
        queue_deadline_notice(action.incident, contact, details["name"], due, reminder=reminder)
    for contact in duty.contacts or (None,):
        timeline.record(
            action.incident,
            kind,
            contact=contact,
            name=details["name"],
            due=details["due"],
            before=details.get("before") if reminder else None,
            role=role,
            late_seconds=action.lateness_seconds,
            timed_action_id=action.id,
            **duty.timeline_data(),
        )
    if duty.contacts:
        told = f"{role} told by SMS and email"
    elif duty.is_gap:
        told = f"nobody told: nobody on duty on the rota for {role}"
    else:
        told = f"nobody told: no active contact for {role}"
    return Result(("reminder: " if reminder else "deadline reached: ") + told)
