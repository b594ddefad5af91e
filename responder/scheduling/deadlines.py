"""Firing deadlines and their reminders: tell the role the playbook names, and the timeline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from responder import timeline
from responder.extensions import db
from responder.models import Contact, EventKind, TimedAction
from responder.scheduling.firing import Result
from responder.scheduling.notices import queue_deadline_notice


def remind_deadline(action: TimedAction, now: datetime) -> Result:
    details = action.details
    due = datetime.fromisoformat(details["due"])
    if due <= now:
        # After an outage: the deadline itself has passed, and says so.
        return Result.cancel("superseded: the deadline itself has passed")
    return _tell(action, due, EventKind.DEADLINE_REMINDER)


def announce_deadline(action: TimedAction, now: datetime) -> Result:
    return _tell(action, datetime.fromisoformat(action.details["due"]), EventKind.DEADLINE_DUE)


def _tell(action: TimedAction, due: datetime, kind: EventKind) -> Result:
    """Tell the role the playbook names (if it has an active contact), and the timeline."""
    details = action.details
    role = details.get("notify")
    contact = db.session.scalar(select(Contact).where(Contact.key == role, Contact.active.is_(True)))
    reminder = kind == EventKind.DEADLINE_REMINDER
    if contact is not None:
        queue_deadline_notice(action.incident, contact, details["name"], due, reminder=reminder)
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
    )
    told = (
        f"{role} told by SMS and email"
        if contact is not None
        else f"nobody told: no active contact for {role}"
    )
    return Result(("reminder: " if reminder else "deadline reached: ") + told)
