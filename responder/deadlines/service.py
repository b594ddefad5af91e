"""Marking a deadline done, and how each of an incident's deadlines stands: met, missed, or still to come."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from responder import timeline
from responder.clock import as_utc, now_utc
from responder.extensions import db
from responder.incidents.guard import Change, guarded
from responder.models import Deadline, EventKind, Incident, User
from responder.scheduling import cancel_deadline_notices

NOTE_LENGTH = 1000


class DeadlineError(ValueError):
    """A deadline that cannot be marked done; the message says why."""


class DeadlineState(enum.StrEnum):
    DUE = "due"  # not done, not yet due
    MET = "met"  # done by the time it was due
    DONE_LATE = "done_late"  # done, after it was due: missed by that long
    MISSED = "missed"  # past due and not done


@dataclass(frozen=True)
class DeadlineStatus:
    deadline: Deadline
    state: DeadlineState
    # How long after the due time it was done (DONE_LATE), or has been left undone (MISSED).
    late_by: timedelta | None = None


@guarded(Change.RECORD)
def mark_deadline_done(incident: Incident, user: User, deadline_id: int, note: str) -> Deadline:
    """Mark one of the incident's deadlines done, with a note; its pending reminders are cancelled."""
    deadline = db.session.get(Deadline, deadline_id)
    if deadline is None or deadline.incident_id != incident.id:
        raise DeadlineError("There is no such deadline for this incident.")
    note = (note or "").strip()
    if not note:
        raise DeadlineError("Write a note saying what was done")
    if len(note) > NOTE_LENGTH:
        raise DeadlineError(f"Keep the note under {NOTE_LENGTH:,} characters")
    now = now_utc()
    # Conditional, so that of two people marking it done at once, one is told it already is.
    marked = db.session.execute(
        update(Deadline)
        .where(Deadline.id == deadline.id, Deadline.done_at.is_(None))
        .values(done_at=now, done_by_id=user.id, note=note)
        .execution_options(synchronize_session=False)
    ).rowcount
    if marked != 1:
        raise DeadlineError(f"{deadline.name} is already marked done.")
    db.session.refresh(deadline)
    cancel_deadline_notices(deadline, "not needed: the deadline was marked done")
    late = (now - as_utc(deadline.due_at)).total_seconds()
    timeline.record(
        incident,
        EventKind.DEADLINE_DONE,
        by=user,
        text=note,
        name=deadline.name,
        due=as_utc(deadline.due_at).isoformat(),
        deadline_id=deadline.id,
        late_seconds=late if late > 0 else None,
    )
    return deadline


def deadline_statuses(incident: Incident, now: datetime | None = None) -> list[DeadlineStatus]:
    """Each of the incident's deadlines, soonest due first, with how it stands."""
    now = now or now_utc()
    deadlines = db.session.scalars(
        select(Deadline).where(Deadline.incident_id == incident.id).order_by(Deadline.due_at, Deadline.id)
    )
    return [status_of(deadline, now) for deadline in deadlines]


def status_of(deadline: Deadline, now: datetime) -> DeadlineStatus:
    due = as_utc(deadline.due_at)
    if deadline.done_at is not None:
        done = as_utc(deadline.done_at)
        if done <= due:
            return DeadlineStatus(deadline, DeadlineState.MET)
        return DeadlineStatus(deadline, DeadlineState.DONE_LATE, done - due)
    if due <= now:
        return DeadlineStatus(deadline, DeadlineState.MISSED, now - due)
    return DeadlineStatus(deadline, DeadlineState.DUE)


def missed_deadline_counts(incident_ids: list[int], now: datetime | None = None) -> dict[int, int]:
    """Deadlines past due and not done, per incident (for the dashboard)."""
    if not incident_ids:
        return {}
    rows = db.session.execute(
        select(Deadline.incident_id, func.count())
        .where(
            Deadline.incident_id.in_(incident_ids),
            Deadline.done_at.is_(None),
            Deadline.due_at <= (now or now_utc()),
        )
        .group_by(Deadline.incident_id)
    )
    return dict(rows.all())
