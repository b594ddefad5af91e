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
    Channel,
    EventGroup,
    EventKind,
    Incident,
    IncidentStatus,
    Message,
    MessageKind,
    MessageState,
    OfferActivation,
    TimedAction,
    TimelineEvent,
)
from responder.responses.escalation import LEVEL_NAMES
from responder.timeline.naming import Naming
from responder.timeline.render import CHANNEL_WORDS, sentence, who

# Timeline filters: what a manager asks to see, and the event kinds behind each.
TIMELINE_FILTERS = {group.value: EventKind.of_group(group) for group in EventGroup}
# Delivery receipts ("sent", "delivered") are most of a timeline: shown only when asked for.
RECEIPTS = tuple(kind for kind in EventKind if kind.receipt)
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


# How the board names a message's kind, and what became of it.
MESSAGE_KINDS = {
    "alert": "Alert",
    "check_in": "Check-in",
    "check_in_reminder": "Check-in reminder",
    "deadline": "Deadline",
    "response_notice": "Notice",
    "stand_down": "Stand-down",
    "reply_answer": "Reply",
}
MESSAGE_STATES = {
    "pending": "waiting to send",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "failed": "failed",
    "cancelled": "not sent",
}
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
class MessageLine:
    """One kind of message to one person (an alert by SMS and by email, say), as one line."""

    what: str  # "Alert", or "Alert to Bilal Kowalski" when not to the agency's lead
    messages: list[Message] = field(default_factory=list)

    @property
    def is_call(self) -> bool:
        """A phone call: a line of its own, since what the person did is the news."""
        return bool(self.messages) and self.messages[0].channel == Channel.VOICE

    @property
    def call_progress(self) -> str:
        message = self.messages[-1]
        if message.state == "failed":
            return f"failed – {message.last_error}" if message.last_error else "failed"
        return CALL_WORDS.get(
            message.call_outcome or message.state, MESSAGE_STATES.get(message.state, message.state)
        )


@dataclass
class BoardRow:
    activation: Activation
    covered_by: str  # who acknowledged, or who the alert waits for now, as the page names people
    rung: str  # who holds the alert now: "lead", "deputy", "duty manager", ...
    messages: list[MessageLine]
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
    lines: dict[int, dict[tuple, MessageLine]] = {}
    holders: dict[int, int] = {}  # activation id -> the contact its latest alert went to
    leads = {activation.id: activation.lead_contact_id for activation in incident.activations}
    staff = {} if naming.redacted else {person.email: person.name for person in naming.users.values()}
    for message in db.session.scalars(
        select(Message).where(Message.incident_id == incident.id).order_by(Message.id)
    ):
        if message.kind == MessageKind.ALERT and message.contact_id is not None:
            holders[message.activation_id] = message.contact_id
        what = MESSAGE_KINDS.get(message.kind, str(message.kind).replace("_", " ").capitalize())
        if message.contact_id is None:
            what += " to " + (
                staff.get(message.recipient)
                or naming.address(message.recipient)
                or "an address typed by hand"
            )
        elif message.contact_id != leads.get(message.activation_id):
            what += " to " + _named(naming, message.contact_id)
        key = (message.kind, message.contact_id or message.recipient, message.channel == Channel.VOICE)
        line = lines.setdefault(message.activation_id, {}).setdefault(key, MessageLine(what))
        line.messages.append(message)
    groups = {slug: BoardGroup(LOCAL_AUTHORITIES.get(slug, slug)) for slug in incident.local_authorities}
    groups["regional"] = BoardGroup("Regional agencies")
    now = now_utc()
    for activation in incident.activations:
        took = None
        if activation.acknowledged_at is not None:
            took = as_utc(activation.acknowledged_at) - as_utc(activation.activated_at)
        rung = LEVEL_NAMES.get(activation.escalation_level, "lead")
        row = BoardRow(
            activation,
            _covered_by(activation, naming, rung, holders.get(activation.id)),
            rung,
            list(lines.get(activation.id, {}).values()),
            is_overdue(activation, now),
            took,
        )
        groups.setdefault(activation.source, BoardGroup(activation.source)).rows.append(row)
    return [group for group in groups.values() if group.rows]


def _covered_by(activation: Activation, naming: Naming, rung: str, holder_id: int | None) -> str:
    """Who covers the agency, or who the alert rests with now (after an escalation, not the lead)."""
    if activation.acknowledged_by_id is not None:
        return _named(naming, activation.acknowledged_by_id)
    if activation.state == ActivationState.NOT_APPLICABLE:
        return "Not needed"
    holder_id = holder_id or activation.lead_contact_id
    if holder_id is None:
        return f"No contact for {naming.role_labels.get(activation.lead_role, activation.lead_role)}"
    waiting = "Declined, last alerted" if activation.state == ActivationState.DECLINED else "Waiting for"
    if activation.state == ActivationState.NOT_REACHED:
        waiting = "Nobody answered; last alerted"
    return f"{waiting} the {rung}: {_named(naming, holder_id)}"


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
    channel: str | None  # "by SMS", "by link", ... (None when it does not apply)
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
    receipts: bool = False,
) -> TimelinePage:
    """A page of the incident's timeline in words, newest first (or oldest first).

    ``after`` keeps only events newer than an id (the live updates' cursor);
    ``past`` continues a listing beyond the last event of the page before, in
    the listing's order (keyset paging: each page costs the same however long
    the timeline grows). Delivery receipts are left out unless ``receipts``.
    """
    query = select(TimelineEvent).where(TimelineEvent.incident_id == incident.id, TimelineEvent.id > after)
    if not receipts:
        query = query.where(TimelineEvent.kind.not_in(RECEIPTS))
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
            CHANNEL_WORDS.get(event.channel or "", event.channel and f"by {event.channel}"),
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


@dataclass(frozen=True)
class OfferLine:
    offer: OfferActivation
    provider: str  # the agency that provides it
    area: str  # the local authority whose playbook made it ("West Midlands" for a regional one)


@dataclass
class OfferGroup:
    """Offers of the same name (two councils' detached youth work, say) under one heading."""

    name: str
    lines: list[OfferLine] = field(default_factory=list)

    def concerns(self, agency_key: str) -> bool:
        return any(line.offer.provider_agency_key == agency_key for line in self.lines)


def support_offers(incident: Incident) -> list[OfferGroup]:
    """The incident's support offers, each with its provider and local authority, alike names together."""
    frozen = incident.frozen_playbooks
    offers, agencies = frozen.offers(), frozen.agencies()
    names = {activation.agency_key: activation.agency_name for activation in incident.activations}
    groups: dict[str, OfferGroup] = {}
    for offer in incident.offers:
        planned = offers.get(offer.offer_key)
        source = planned.source if planned is not None else incident.local_authority
        provider = names.get(offer.provider_agency_key) or getattr(
            agencies.get(offer.provider_agency_key), "name", offer.provider_agency_key
        )
        line = OfferLine(offer, provider, LOCAL_AUTHORITIES.get(source, "West Midlands"))
        groups.setdefault(offer.name, OfferGroup(offer.name)).lines.append(line)
    return list(groups.values())
