"""Firing deadlines and their reminders: tell the role the playbook names, and the timeline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from responder import timeline
from responder.clock import format_local
from responder.extensions import db
from responder.models import Contact, EventKind, TimedAction
from responder.playbooks import parse_duration
from responder.scheduling.firing import Result, late_note
from responder.scheduling.notices import queue_deadline_notice


def remind_deadline(action: TimedAction, now: datetime) -> Result:
    details = action.details
    due = datetime.fromisoformat(details["due"])
    if due <= now:
        # After an outage: the deadline itself has passed, and says so.
        return Result.cancel("superseded: the deadline itself has passed")
    before = parse_duration(details["before"]).describe()
    told = _tell(action, due, reminder=True)
    timeline.record(
        action.incident,
        EventKind.DEADLINE_REMINDER,
        f"Reminder ({before} before): {details['name']}, due {format_local(due)}; {told}{late_note(action)}",
        data={"timed_action_id": action.id},
    )
    return Result(f"reminder: {told}")


def announce_deadline(action: TimedAction, now: datetime) -> Result:
    details = action.details
    due = datetime.fromisoformat(details["due"])
    told = _tell(action, due, reminder=False)
    timeline.record(
        action.incident,
        EventKind.DEADLINE_DUE,
        f"Deadline reached: {details['name']}; {told}{late_note(action)}",
        data={"timed_action_id": action.id},
    )
    return Result(f"deadline reached: {told}")


def _tell(action: TimedAction, due: datetime, *, reminder: bool) -> str:
    role = action.details.get("notify")
    contact = db.session.scalar(select(Contact).where(Contact.key == role, Contact.active.is_(True)))
    if contact is None:
        return f"nobody told: no active contact for role {role}"
    queue_deadline_notice(action.incident, contact, action.details["name"], due, reminder=reminder)
    return f"{contact.name} ({role}) told by SMS and email"
