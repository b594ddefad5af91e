"""The after-action report's content, worked out once for both the PDF and the web page.

Everything is already text for the variant asked for (full or redacted), so
the two renderers (responder.exports.report_pdf and the
exports/report.html template) only lay it out and cannot disagree. The charts'
inputs (:class:`~responder.exports.report_charts.AgencyLane`) hold agency
names, rung names and times only, so the redacted report draws the same
pictures.

Each section of the report is a field here and one function in each renderer
(report_pdf.SECTIONS, and a block of the template): a new section is added in
those three places, in the order it should be read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from responder.clock import as_utc, format_local, now_utc
from responder.deadlines import DeadlineState, deadline_statuses
from responder.exports.report_charts import AgencyLane, LaneMark
from responder.exports.report_chronology import Chronology, condensed_chronology
from responder.extensions import db
from responder.models import (
    LOCAL_AUTHORITIES,
    EventKind,
    Incident,
    IncidentStatus,
    IncidentType,
    TimelineEvent,
)
from responder.models.reviews import ReviewNoteKind
from responder.responses.escalation import ladder
from responder.reviews.learning_review import review_for
from responder.reviews.metrics import (
    AgencyResponseTime,
    ResponseMetrics,
    TensionPoint,
    describe_duration,
    response_metrics,
)
from responder.timeline.naming import Naming

# Timeline kinds written while reviewing, not responding.
AFTER_THE_RESPONSE = (EventKind.EXPORTED, EventKind.REVIEW_UPDATED)
# A review panel reads a chronology; beyond this many rows the full one is in the CSV export.
CHRONOLOGY_LIMIT = 2000
REVIEW_SECTION_TITLES = {
    ReviewNoteKind.PRACTICE_EPISODE: "Key practice episodes",
    ReviewNoteKind.LESSON: "Lessons identified",
    ReviewNoteKind.RECOMMENDATION: "Recommendations",
}
# Marks at the same moment, in the order they happen: a decline hands the alert on to the next rung.
MARK_ORDER = ("alerted", "declined", "escalated", "acknowledged", "not_reached")
STATE_WORDS = {
    "alerted": "Alerted, no answer",
    "no_contact": "Not alerted: no contact",
    "covered": "Covered",
    "declined": "Declined",
    "escalated": "Escalated, no answer",
    "not_reached": "Not reached",
    "not_applicable": "Not applicable",
}


@dataclass(frozen=True)
class AgencyRow:
    agency: str
    outcome: str
    time_to_acknowledge: str
    within_target: str
    escalations: str
    covered_by: str


@dataclass(frozen=True)
class ReviewEntry:
    text: str
    author: str
    at: str


@dataclass(frozen=True)
class ActionEntry:
    action: str
    owner: str
    due: str
    rag: str
    rag_label: str


@dataclass(frozen=True)
class DeadlineEntry:
    name: str
    due: str
    outcome: str  # met (when, by whom), missed (by how long), or not yet due
    state: str  # a DeadlineState value
    note: str


@dataclass(frozen=True)
class AfterActionReport:
    reference: str
    variant: str
    exercise: bool
    generated_at: str
    summary: list[tuple[str, str]]
    headline: list[tuple[str, str]]
    agencies: list[AgencyRow]
    tension: tuple[TensionPoint, ...]
    opened_at: datetime
    tension_until: datetime
    lanes: tuple[AgencyLane, ...]
    lanes_until: datetime
    target: str
    chronology: Chronology
    chronology_total: int
    review_sections: list[tuple[str, list[ReviewEntry]]]
    actions: list[ActionEntry]
    playbook_hash: str
    deadlines: tuple[DeadlineEntry, ...] = ()

    @property
    def title(self) -> str:
        return f"After-action report: {self.reference}"

    @property
    def chronology_truncated(self) -> bool:
        return not self.chronology.complete


def build_report(incident: Incident, naming: Naming) -> AfterActionReport:
    metrics = response_metrics(incident)
    lanes = _lanes(incident, metrics, naming)
    total, last_at = _timeline_extent(incident)
    review = review_for(incident)
    return AfterActionReport(
        reference=incident.reference,
        variant=naming.variant,
        exercise=incident.exercise,
        generated_at=format_local(now_utc()),
        summary=_summary(incident, naming, last_at),
        headline=_headline(incident, metrics, naming),
        agencies=[_agency_row(agency, naming) for agency in metrics.agencies],
        tension=metrics.tension,
        opened_at=metrics.opened_at,
        tension_until=max(last_at or metrics.opened_at, metrics.opened_at),
        lanes=lanes,
        lanes_until=_lanes_until(lanes, metrics.opened_at),
        target=_target_words(incident),
        chronology=condensed_chronology(incident.id, naming, CHRONOLOGY_LIMIT),
        chronology_total=total,
        review_sections=[
            (
                REVIEW_SECTION_TITLES[kind],
                [
                    ReviewEntry(
                        naming.own_words(note.text),
                        naming.user(note.created_by),
                        format_local(note.created_at),
                    )
                    for note in review.notes_of(kind)
                ],
            )
            for kind in ReviewNoteKind
        ],
        actions=[
            ActionEntry(
                naming.own_words(action.action),
                naming.own_words(action.owner),
                f"{action.due_on:%d %b %Y}",
                action.rag,
                action.rag_label,
            )
            for action in review.actions
        ],
        playbook_hash=incident.playbook_hash,
        deadlines=_deadlines(incident, naming, last_at),
    )


def _summary(incident: Incident, naming: Naming, last_at: datetime | None) -> list[tuple[str, str]]:
    areas = ", ".join(LOCAL_AUTHORITIES.get(slug, slug) for slug in incident.local_authorities)
    opened_by = naming.user(incident.opened_by)
    return [
        ("Reference", incident.reference),
        ("Local authority" if len(incident.local_authorities) == 1 else "Local authorities", areas),
        ("Type", IncidentType(incident.type).label),
        ("Exercise or live", "Exercise" if incident.exercise else "Live incident"),
        ("Status", incident.status.replace("_", " ").capitalize()),
        ("Happened", format_local(incident.occurred_at)),
        ("Opened", format_local(incident.opened_at) + (f" by {opened_by}" if opened_by else "")),
        ("Last activity in the response", format_local(last_at) if last_at else "—"),
        ("Location", naming.own_words(incident.location) or "—"),
        ("Summary", naming.own_words(incident.summary) or "—"),
    ]


def _headline(incident: Incident, metrics: ResponseMetrics, naming: Naming) -> list[tuple[str, str]]:
    target = _target_words(incident)
    share = metrics.share_within_target
    slowest = metrics.slowest
    first_sent = metrics.first_alert_sent_at
    escalated_agencies = len({escalation.agency_key for escalation in metrics.escalations})
    return [
        (
            "Time from opening to first alert sent",
            describe_duration(metrics.time_to_first_alert)
            + (f" (sent {format_local(first_sent)})" if first_sent else " – no alert was sent"),
        ),
        ("Agencies alerted", f"{len(metrics.alerted)}, of which {len(metrics.acknowledged)} acknowledged"),
        ("Median time to acknowledge", describe_duration(metrics.median_time_to_acknowledge)),
        (
            "Slowest to acknowledge",
            f"{naming.agency(slowest.agency_key)} – {describe_duration(slowest.time_to_acknowledge)}"
            if slowest
            else "—",
        ),
        (
            f"Acknowledged within the playbook's target ({target})",
            f"{metrics.within_target} of {metrics.with_target} ({share:.0%})"
            if share is not None
            else "No target",
        ),
        (
            "Escalations",
            f"{len(metrics.escalations)} across {escalated_agencies} "
            + ("agency" if escalated_agencies == 1 else "agencies"),
        ),
        ("Messages failed", str(metrics.messages_failed)),
        ("Fallbacks used (reached by email after a failed SMS)", str(metrics.fallbacks_used)),
        (
            "Check-ins",
            f"{metrics.check_ins.sent} sent, {metrics.check_ins.answered} answered, "
            f"{metrics.check_ins.missed} missed",
        ),
        (
            "Support offers",
            f"{metrics.offers.offered} offered, {metrics.offers.accepted} accepted, "
            f"{metrics.offers.delivered} delivered",
        ),
    ]


def _deadlines(incident: Incident, naming: Naming, last_at: datetime | None) -> tuple[DeadlineEntry, ...]:
    """Each deadline as met (when, by whom) or missed (by how long); one never done counts until the close."""
    closed = incident.status == IncidentStatus.CLOSED
    until = (last_at or now_utc()) if closed else now_utc()
    entries = []
    for status in deadline_statuses(incident, until):
        deadline = status.deadline
        by = naming.user(deadline.done_by) or "someone"
        if status.state == DeadlineState.MET:
            outcome = f"Met: done {format_local(deadline.done_at)} by {by}"
        elif status.state == DeadlineState.DONE_LATE:
            outcome = f"Missed by {describe_duration(status.late_by)}: done {format_local(deadline.done_at)} by {by}"
        elif status.state == DeadlineState.MISSED:
            outcome = f"Missed by {describe_duration(status.late_by)}: not done" + (
                " when the incident closed" if closed else " yet"
            )
        else:
            outcome = "Not yet due"
        entries.append(
            DeadlineEntry(
                deadline.name,
                format_local(deadline.due_at),
                outcome,
                status.state.value,
                naming.own_words(deadline.note) or "",
            )
        )
    return tuple(entries)


def _agency_row(agency: AgencyResponseTime, naming: Naming) -> AgencyRow:
    within = {None: "—", True: "Yes", False: "No"}[agency.within_target]
    path = "; ".join(
        f"{escalation.level_name} at {format_local(escalation.at, '%H:%M')}"
        for escalation in agency.escalations
    )
    return AgencyRow(
        agency=naming.agency(agency.agency_key),
        outcome=STATE_WORDS.get(agency.state, agency.state),
        time_to_acknowledge=describe_duration(agency.time_to_acknowledge),
        within_target=within,
        escalations=path or "None",
        covered_by=(agency.covered_at_name or "—").capitalize(),
    )


def _target_words(incident: Incident) -> str:
    target = incident.frozen_playbooks.ack_within()
    return target.describe() if target is not None else "none set"


def _timeline_extent(incident: Incident) -> tuple[int, datetime | None]:
    """How many events there are, and when the response last did something.

    Exports and review notes come after the response; counting them as
    activity would stretch the tension chart to the day of the review.
    """
    count = db.session.scalar(
        select(func.count(TimelineEvent.id)).where(TimelineEvent.incident_id == incident.id)
    )
    last = db.session.scalar(
        select(func.max(TimelineEvent.at)).where(
            TimelineEvent.incident_id == incident.id, TimelineEvent.kind.not_in(AFTER_THE_RESPONSE)
        )
    )
    return count, as_utc(last) if last is not None else None


def _lanes(incident: Incident, metrics: ResponseMetrics, naming: Naming) -> tuple[AgencyLane, ...]:
    """Each alerted agency's row in the swimlane and the time-to-acknowledge chart."""
    answers: dict[str, list[LaneMark]] = {}
    rows = db.session.execute(
        select(TimelineEvent.agency_key, TimelineEvent.kind, TimelineEvent.at, TimelineEvent.data)
        .where(
            TimelineEvent.incident_id == incident.id,
            TimelineEvent.kind.in_((EventKind.DECLINED, EventKind.NOT_REACHED)),
        )
        .order_by(TimelineEvent.at, TimelineEvent.id)
    )
    # Who declined, as a rung of the ladder ("lead", "deputy"): never a name.
    roles = {
        (activation.agency_key, rung.role): rung.name
        for activation in incident.activations
        for rung in ladder(activation)
    }
    for agency_key, kind, at, data in rows:
        if kind == EventKind.DECLINED:
            label = roles.get((agency_key, (data or {}).get("role")), "")
            answers.setdefault(agency_key, []).append(LaneMark(as_utc(at), "declined", label))
        else:
            answers.setdefault(agency_key, []).append(LaneMark(as_utc(at), "not_reached"))
    return tuple(_lane(agency, answers.get(agency.agency_key, []), naming) for agency in metrics.alerted)


def _lane(agency: AgencyResponseTime, answers: list[LaneMark], naming: Naming) -> AgencyLane:
    marks = [
        LaneMark(agency.alerted_at, "alerted"),
        *(LaneMark(escalation.at, "escalated", escalation.level_name) for escalation in agency.escalations),
        *answers,
    ]
    if agency.acknowledged_at is not None:
        marks.append(LaneMark(agency.acknowledged_at, "acknowledged"))
    return AgencyLane(
        agency=naming.agency(agency.agency_key),
        alerted_at=agency.alerted_at,
        marks=tuple(sorted(marks, key=lambda mark: (mark.at, MARK_ORDER.index(mark.kind)))),
        time_to_acknowledge=agency.time_to_acknowledge,
        target=agency.target,
    )


def _lanes_until(lanes: tuple[AgencyLane, ...], opened_at: datetime) -> datetime:
    """The swimlane's right edge: the last answer, or the last unanswered agency's target, at least."""
    ends = [mark.at for lane in lanes for mark in lane.marks]
    ends += [
        lane.alerted_at + lane.target for lane in lanes if lane.target and lane.time_to_acknowledge is None
    ]
    return max(ends, default=opened_at)
