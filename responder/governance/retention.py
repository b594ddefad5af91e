"""Retention: once an incident has been closed long enough, its personal fields are replaced.

After RETENTION_MONTHS (exercises: EXERCISE_RETENTION_DAYS) from closing,
``flask --app wsgi retention purge`` - and the scheduler, daily - replaces
what identifies people with :data:`MARKER` or a role label:

* the incident's summary and location;
* timeline details written in someone's own words (updates, meeting notes,
  reasons), rebuilt without them as in a redacted export; names, numbers
  and addresses in the rest become role labels or pseudonyms;
* acknowledgement and decline notes, check-in answers, notes on deadlines done;
* message recipients, and names, numbers and addresses in message text and errors;
* the same in review notes, the action plan and sharing-record purposes.

It keeps references, times, states, kinds, playbook snapshots and every row,
so the review metrics (responder.reviews.metrics) and regional statistics
stay exactly as they were. The timeline is otherwise never changed; this is
its one, recorded, exception: each purge adds a timeline event and a log line.
Incidents that are never closed are never purged.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import exists, select

from responder import timeline
from responder.clock import as_utc, now_utc
from responder.extensions import db
from responder.models import (
    AgencyResponse,
    CheckIn,
    Deadline,
    EventKind,
    Incident,
    IncidentStatus,
    Message,
    SharingRecord,
    TimedAction,
    TimelineEvent,
)
from responder.models.reviews import ReviewAction, ReviewNote
from responder.operations.structured_logs import incident_context
from responder.timeline import SYSTEM, Actor

log = logging.getLogger(__name__)

MARKER = "[removed under the retention policy]"
# The timeline kind that records a purge (the timeline's own kinds are in responder.models.timeline).
PURGED = EventKind.PERSONAL_DATA_PURGED


@dataclass(frozen=True)
class Change:
    """One field of one row to be replaced, and how it is described in a dry run."""

    row: Any
    attribute: str
    value: Any
    what: str


@dataclass
class PurgeResult:
    reference: str
    exercise: bool
    closed_at: datetime
    counts: Counter = field(default_factory=Counter)

    def describe(self) -> str:
        fields = ", ".join(f"{count} {what}" for what, count in sorted(self.counts.items())) or "nothing"
        kind = "exercise" if self.exercise else "incident"
        return f"{self.reference} ({kind}, closed {self.closed_at:%Y-%m-%d}): {fields}"


def purge_due(
    now: datetime | None = None, *, dry_run: bool = False, actor: Actor = SYSTEM
) -> list[PurgeResult]:
    """Purge every incident past its retention period, one transaction each.

    With ``dry_run``, change nothing and say what would change.
    """
    now = now or now_utc()
    results = []
    for incident, closed_at in due_for_purge(now):
        with incident_context(incident.reference):
            results.append(_purge(incident, closed_at, dry_run=dry_run, actor=actor))
    return results


def due_for_purge(now: datetime) -> list[tuple[Incident, datetime]]:
    """Closed incidents, not yet purged, whose retention period has ended; with when each closed."""
    already = exists().where(TimelineEvent.incident_id == Incident.id, TimelineEvent.kind == PURGED)
    closed = db.session.scalars(
        select(Incident).where(Incident.status == IncidentStatus.CLOSED, ~already).order_by(Incident.id)
    ).all()
    closed_at = _closing_times([incident.id for incident in closed])
    config = current_app.config
    due = []
    for incident in closed:
        at = closed_at.get(incident.id)
        if at is None:
            continue
        if incident.exercise:
            until = at + timedelta(days=config["EXERCISE_RETENTION_DAYS"])
        else:
            until = add_months(at, config["RETENTION_MONTHS"])
        if until <= now:
            due.append((incident, at))
    return due


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` later (the month's last day when it is shorter)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    next_month = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=moment.tzinfo)
    last_day = (next_month - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def _closing_times(incident_ids: list[int]) -> dict[int, datetime]:
    """When each incident was closed, from its timeline (the last move to closed)."""
    if not incident_ids:
        return {}
    rows = db.session.execute(
        select(TimelineEvent.incident_id, TimelineEvent.at, TimelineEvent.data).where(
            TimelineEvent.incident_id.in_(incident_ids), TimelineEvent.kind == EventKind.STATUS_CHANGED
        )
    )
    found: dict[int, datetime] = {}
    for incident_id, at, data in rows:
        if (data or {}).get("to") == IncidentStatus.CLOSED:
            found[incident_id] = max(found.get(incident_id, as_utc(at)), as_utc(at))
    return found


def _purge(incident: Incident, closed_at: datetime, *, dry_run: bool, actor: Actor) -> PurgeResult:
    changes = planned_changes(incident)
    result = PurgeResult(incident.reference, incident.exercise, closed_at, Counter(c.what for c in changes))
    if dry_run:
        return result
    for change in changes:
        setattr(change.row, change.attribute, change.value)
    period = (
        f"{current_app.config['EXERCISE_RETENTION_DAYS']} days"
        if incident.exercise
        else f"{current_app.config['RETENTION_MONTHS']} months"
    )
    timeline.record(
        incident, EventKind.PERSONAL_DATA_PURGED, by=actor, period=period, fields=dict(result.counts)
    )
    log.info("retention purge: %s", result.describe())
    return result


def planned_changes(incident: Incident) -> list[Change]:
    """Every personal field of the incident's rows that a purge replaces (with the marker)."""
    changes: list[Change] = []
    changes += _replace(incident, ("summary", "location"), "incident summary and location")
    for event in _rows(TimelineEvent, TimelineEvent.incident_id == incident.id):
        changes += _replace(event, ("text",), "people's words on the timeline")
    activation_ids = [activation.id for activation in incident.activations]
    if activation_ids:
        responses = db.session.scalars(
            select(AgencyResponse).where(AgencyResponse.activation_id.in_(activation_ids))
        )
        for response in responses:
            changes += _replace(response, ("note",), "acknowledgement and decline notes")
    for check_in in _rows(CheckIn, CheckIn.incident_id == incident.id):
        changes += _replace(check_in, ("status_update", "needs"), "check-in answers")
    for deadline in _rows(Deadline, Deadline.incident_id == incident.id):
        changes += _replace(deadline, ("note",), "deadline notes")
    for message in _rows(Message, Message.incident_id == incident.id):
        changes += _replace(message, ("recipient",), "message recipients")
        changes += _replace(message, ("subject", "body", "html_body", "last_error"), "message texts")
    for note in _rows(ReviewNote, ReviewNote.incident_id == incident.id):
        changes += _replace(note, ("text",), "review notes")
    for action in _rows(ReviewAction, ReviewAction.incident_id == incident.id):
        changes += _replace(action, ("action", "owner"), "action plan entries")
    for record in _rows(SharingRecord, SharingRecord.incident_id == incident.id):
        changes += _replace(record, ("purpose",), "sharing-record purposes")
    for action in _rows(TimedAction, TimedAction.incident_id == incident.id):
        changes += _replace(action, ("last_error",), "timed-action errors")
    return changes


def _replace(row: Any, attributes: tuple[str, ...], what: str) -> list[Change]:
    """Free text replaced outright: nothing in it is kept."""
    return [
        Change(row, name, MARKER, what)
        for name in attributes
        if (value := getattr(row, name)) and value.strip() and value != MARKER
    ]


def _rows(model, *conditions) -> list:
    return list(db.session.scalars(select(model).where(*conditions).order_by(model.id)))
