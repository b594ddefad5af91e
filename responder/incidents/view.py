"""What the incident page and the regional dashboard show, worked out from the rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from responder.clock import as_utc, now_utc
from responder.deadlines import missed_deadline_counts
from responder.extensions import db
from responder.models import (
    LOCAL_AUTHORITIES,
    ActionState,
    Activation,
    ActivationState,
    EventGroup,
    EventKind,
    Incident,
    IncidentStatus,
    Message,
    MessageState,
    TimedAction,
    TimelineEvent,
)
from responder.timeline.naming import Naming
from responder.timeline.render import sentence, who

# Timeline filters: what a manager asks to see, and the event kinds behind each.
TIMELINE_FILTERS = {group.value: EventKind.of_group(group) for group in EventGroup}
# Events shown at once; older ones a page at a time.
TIMELINE_PAGE = 100
WAITING = (ActivationState.ALERTED, ActivationState.ESCALATED)
# Incidents on the dashboard at most (open incidents are far fewer).
DASHBOARD_LIMIT = 200
COUNTED = (
    ActivationState.ALERTED,
    ActivationState.ESCALATED,
    ActivationState.COVERED,
    ActivationState.DECLINED,
    ActivationState.NOT_REACHED,
    ActivationState.NO_CONTACT,
)


# How the board names a phone call's progress (a text's or an email's is its state).
CALL_WORDS = {
    "sent": "placed",
    "delivered": "answered",
    "acknowledged": "answered, 1 pressed (acknowledged)",
    "declined": "answered, 2 pressed (declined)",
    "no_key": "answered, no key pressed",
    "no_answer": "not answered",
    "busy": "not answered (busy)",
    "voicemail": "not answered (voicemail)",
    "failed": "failed",
}


@dataclass
class BoardMessage:
    message: Message
    to: str  # whom it went to, when not the agency's lead ("" for the lead)

    @property
    def channel_label(self) -> str:
        return {"sms": "SMS", "voice": "Call"}.get(self.message.channel, "Email")

    @property
    def progress(self) -> str:
        """Where it has got to, in a word or two (a call: what the person did)."""
        message = self.message
        if message.channel != "voice" or message.state == "failed":
            return message.state
        return CALL_WORDS.get(message.call_outcome or message.state, message.state)


@dataclass
class BoardRow:
    activation: Activation
    covered_by: str  # who acknowledged, or the lead it waits for, named as the page names people
    messages: list[BoardMessage]
    overdue: bool
    time_to_acknowledge: timedelta | None


@dataclass
class BoardGroup:
    name: str
    rows: list[BoardRow] = field(default_factory=list)


def ack_target(incident: Incident, source: str) -> timedelta | None:
    """The playbook's ack_within for agencies from ``source`` (regional agencies use the first LA's)."""
    target = incident.frozen_playbooks.ack_within(source)
    return target.as_timedelta() if target is not None else None


def is_overdue(activation: Activation, now: datetime | None = None) -> bool:
    """Still waiting for an answer after the playbook's acknowledgement target."""
    if activation.state not in WAITING:
        return False
    target = ack_target(activation.incident, activation.source)
    return target is not None and as_utc(activation.activated_at) + target < (now or now_utc())


def board(incident: Incident, naming: Naming) -> list[BoardGroup]:
    """Activations grouped by local authority (regional agencies last), with their messages."""
    messages: dict[int, list[BoardMessage]] = {}
    leads = {activation.id: activation.lead_contact_id for activation in incident.activations}
    for message in db.session.scalars(
        select(Message).where(Message.incident_id == incident.id).order_by(Message.id)
    ):
        if message.contact_id is None:
            to = naming.address(message.recipient) or "an address typed by hand"
        elif message.contact_id != leads.get(message.activation_id):
            to = _named(naming, message.contact_id)
        else:
            to = ""
        messages.setdefault(message.activation_id, []).append(BoardMessage(message, to))
    groups = {slug: BoardGroup(LOCAL_AUTHORITIES.get(slug, slug)) for slug in incident.local_authorities}
    groups["regional"] = BoardGroup("Regional agencies")
    now = now_utc()
    for activation in incident.activations:
        took = None
        if activation.acknowledged_at is not None:
            took = as_utc(activation.acknowledged_at) - as_utc(activation.activated_at)
        if activation.acknowledged_by_id is not None:
            covered_by = _named(naming, activation.acknowledged_by_id)
        elif activation.lead_contact_id is not None:
            covered_by = "Lead: " + _named(naming, activation.lead_contact_id)
        else:
            covered_by = f"No contact for {activation.lead_role}"
        row = BoardRow(
            activation, covered_by, messages.get(activation.id, []), is_overdue(activation, now), took
        )
        groups.setdefault(activation.source, BoardGroup(activation.source)).rows.append(row)
    return [group for group in groups.values() if group.rows]


def _named(naming: Naming, contact_id: int) -> str:
    """A person's name, or (redacted, purged) the role they hold here."""
    return naming.name(contact_id) or naming.person(contact_id)


def coverage(incident: Incident) -> tuple[int, int]:
    """(covered, expected): agencies marked not applicable do not count."""
    counted = [a for a in incident.activations if a.state in COUNTED]
    return sum(1 for a in counted if a.state == ActivationState.COVERED), len(counted)


@dataclass(frozen=True)
class TimelineEntry:
    """One event as a page shows it: its sentence already written for the reader."""

    id: int
    at: datetime
    kind: EventKind
    who: str
    channel: str | None
    agency_key: str | None
    agency: str
    sentence: str


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    more: int | None  # where the next page starts (an event id to continue past), if there is one


def timeline(
    incident: Incident,
    naming: Naming,
    kind: str | None = None,
    *,
    oldest_first: bool = False,
    after: int = 0,
    past: int | None = None,
    limit: int | None = TIMELINE_PAGE,
) -> TimelinePage:
    """A page of the incident's timeline in words, newest first (or oldest first).

    ``after`` keeps only events newer than an id (the live updates' cursor);
    ``past`` continues a listing beyond the last event of the page before, in
    the listing's order (keyset paging: each page costs the same however long
    the timeline grows).
    """
    query = select(TimelineEvent).where(TimelineEvent.incident_id == incident.id, TimelineEvent.id > after)
    if kind in TIMELINE_FILTERS:
        query = query.where(TimelineEvent.kind.in_(TIMELINE_FILTERS[kind]))
    if past is not None:
        query = query.where(TimelineEvent.id > past if oldest_first else TimelineEvent.id < past)
    query = query.order_by(TimelineEvent.id if oldest_first else TimelineEvent.id.desc())
    if limit is not None:
        query = query.limit(limit + 1)
    events = list(db.session.scalars(query))
    more = None
    if limit is not None and len(events) > limit:
        events = events[:limit]
        more = events[-1].id
    entries = [
        TimelineEntry(
            event.id,
            event.at,
            event.kind,
            who(event, naming),
            event.channel,
            event.agency_key,
            naming.agency(event.agency_key),
            sentence(event, naming),
        )
        for event in events
    ]
    return TimelinePage(entries, more)


def latest_event_id(incident: Incident) -> int:
    return (
        db.session.scalar(
            select(TimelineEvent.id)
            .where(TimelineEvent.incident_id == incident.id)
            .order_by(TimelineEvent.id.desc())
        )
        or 0
    )


def tension_trend(incident: Incident) -> list[tuple[datetime, str]]:
    """Opening level, then every change and check-in reading, oldest first."""
    from responder.models.tension import TensionReading

    readings = db.session.scalars(
        select(TensionReading).where(TensionReading.incident_id == incident.id).order_by(TensionReading.at)
    ).all()
    points = [(incident.opened_at, incident.tension)] if not readings else []
    return points + [(reading.at, reading.level) for reading in readings]


@dataclass
class DashboardRow:
    incident: Incident
    covered: int
    expected: int
    overdue: int
    next_action_at: datetime | None
    failed_messages: int
    missed_deadlines: int = 0


def dashboard(
    visible: Select[tuple[Incident]], local_authority: str | None, status: str | None
) -> tuple[list[DashboardRow], list[DashboardRow]]:
    """Open incidents among ``visible`` (live, then exercises), newest first.

    A fixed number of statements however many incidents there are: the
    incidents with their activations, the next timed action of each, the
    failed messages of each and the missed deadlines of each.
    """
    query = visible.options(selectinload(Incident.activations)).order_by(
        Incident.opened_at.desc(), Incident.id.desc()
    )
    if status:
        query = query.where(Incident.status == status)
    else:
        query = query.where(Incident.status != IncidentStatus.CLOSED)
    if local_authority:
        query = query.where(Incident.local_authority == local_authority)
    incidents = db.session.scalars(query.limit(DASHBOARD_LIMIT)).all()
    ids = [incident.id for incident in incidents]
    next_due = _per_incident(
        select(TimedAction.incident_id, func.min(TimedAction.due_at)).where(
            TimedAction.incident_id.in_(ids), TimedAction.state == ActionState.PENDING
        ),
        ids,
    )
    failed = failed_message_counts(ids)
    missed = missed_deadline_counts(ids)
    live, exercises = [], []
    now = now_utc()
    for incident in incidents:
        covered, expected = coverage(incident)
        overdue = sum(1 for a in incident.activations if is_overdue(a, now))
        row = DashboardRow(
            incident,
            covered,
            expected,
            overdue,
            next_due.get(incident.id),
            failed.get(incident.id, 0),
            missed.get(incident.id, 0),
        )
        (exercises if incident.exercise else live).append(row)
    return live, exercises


def failed_message_counts(incident_ids: list[int]) -> dict[int, int]:
    """Messages that failed for good (a wrong number, a refused address), per incident."""
    return _per_incident(
        select(Message.incident_id, func.count()).where(
            Message.incident_id.in_(incident_ids), Message.state == MessageState.FAILED
        ),
        incident_ids,
    )


def _per_incident(query, incident_ids: list[int]) -> dict:
    if not incident_ids:
        return {}
    return dict(db.session.execute(query.group_by(query.selected_columns[0])).all())
