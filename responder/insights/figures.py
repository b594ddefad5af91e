"""Every figure on the insights page, worked out in SQL from the incidents a user may see.

Which incidents: those among ``visible_incidents(user)`` opened (local date)
from ``first`` to ``last``, involving the local authority asked for (where it
happened or added across a border), and not exercises unless asked for. Each
figure is one statement over that set, so the page runs the same eight
statements for three incidents or three thousand. Months are local calendar
months of the incident's opening, their bounds worked out here (so a BST month
starts at 23:00 UTC on both databases).

Each figure is a :class:`FigureTable`: a title, columns and rows of plain
values. The page's table, its CSV download and its chart all read the same
rows, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, case, exists, func, literal, select, union_all

from responder.clock import local_zone
from responder.extensions import db
from responder.insights.sql import bucket, percentile, seconds_between
from responder.models import (
    LOCAL_AUTHORITIES,
    Activation,
    CheckIn,
    EventKind,
    Incident,
    IncidentArea,
    IncidentStatus,
    IncidentType,
    OfferActivation,
    OfferState,
    Tension,
    TensionReading,
    TimelineEvent,
)
from responder.playbooks.model import PlaybookSet

# A longer period makes a chart nobody can read; the regional CSV export serves longer ones.
MONTH_LIMIT = 36
ALL_MONTHS = "All months"
SECTOR_LABELS = {
    "police": "Police",
    "fire": "Fire and rescue",
    "council": "Council",
    "childrens_social_care": "Children's social care",
    "youth_justice": "Youth justice",
    "youth_service": "Youth service",
    "education": "Education",
    "health": "Health",
    "probation": "Probation",
    "voluntary": "Voluntary sector",
    "community": "Community",
    "vru": "Violence reduction unit",
    "added_by_hand": "Added by hand",
    "other": "Not in today's playbooks",
}
# Agencies added by hand have keys made from their typed names (responder.responses.activations).
BY_HAND = "adhoc-"


@dataclass(frozen=True)
class Filters:
    """Which incidents the figures cover: opened on ``first`` to ``last`` (local dates, inclusive)."""

    first: date
    last: date
    local_authority: str | None = None
    include_exercises: bool = False

    def months(self) -> list[Month]:
        months = []
        year, month = self.first.year, self.first.month
        while (year, month) <= (self.last.year, self.last.month):
            months.append(Month(year, month))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months

    @property
    def starts(self) -> datetime:
        return datetime.combine(self.first, time.min, local_zone())

    @property
    def ends(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time.min, local_zone())


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @property
    def label(self) -> str:
        return f"{date(self.year, self.month, 1):%b %Y}"

    @property
    def next_starts(self) -> datetime:
        year, month = (self.year + 1, 1) if self.month == 12 else (self.year, self.month + 1)
        return datetime(year, month, 1, tzinfo=local_zone())


@dataclass(frozen=True)
class FigureTable:
    """One figure: its table (and CSV) rows; the first column names the row."""

    key: str  # in the CSV's address: /insights/<key>.csv
    title: str
    description: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    @property
    def empty(self) -> bool:
        return not self.rows


@dataclass(frozen=True)
class Insights:
    filters: Filters
    months: tuple[str, ...]
    incidents: int
    figures: tuple[FigureTable, ...]

    def figure(self, key: str) -> FigureTable | None:
        return next((figure for figure in self.figures if figure.key == key), None)


FIGURE_KEYS = (
    "incidents-by-month",
    "incidents-by-local-authority",
    "acknowledgement-by-sector",
    "acknowledgement-by-local-authority",
    "escalations",
    "check-ins",
    "support-offers",
    "tension",
)


def insights(visible: Select[tuple[Incident]], filters: Filters, playbooks: PlaybookSet) -> Insights:
    """Every figure for the incidents among ``visible`` that ``filters`` choose."""
    chosen = _chosen(visible, filters)
    months = filters.months()
    month = bucket(Incident.opened_at, [(m.next_starts, m.label) for m in months[:-1]], months[-1].label)
    labels = [m.label for m in months]
    by_month = _incidents_by_month(chosen, month, labels)
    figures = (
        by_month,
        _incidents_by_area(chosen, filters),
        _acknowledgement(chosen, month, labels, _sector(playbooks), "sector", filters),
        _acknowledgement(chosen, month, labels, _agency_area(), "local-authority", filters),
        _escalations(chosen, month, labels),
        _check_ins(chosen, month, labels),
        _offers(chosen, month, labels),
        _tension(chosen),
    )
    return Insights(filters, tuple(labels), sum(row[-1] for row in by_month.rows), figures)


def _chosen(visible: Select[tuple[Incident]], filters: Filters) -> Select[tuple[int]]:
    query = visible.with_only_columns(Incident.id).where(
        Incident.opened_at >= filters.starts, Incident.opened_at < filters.ends
    )
    if not filters.include_exercises:
        query = query.where(Incident.exercise.is_(False))
    if filters.local_authority:
        query = query.where(
            exists().where(
                IncidentArea.incident_id == Incident.id,
                IncidentArea.local_authority == filters.local_authority,
            )
        )
    return query


# --- how many incidents ------------------------------------------------------------------

TYPES = tuple(IncidentType)
TYPE_COLUMNS = tuple(kind.label for kind in TYPES)


def _incidents_by_month(chosen, month, labels: list[str]) -> FigureTable:
    counts = db.session.execute(
        select(month, Incident.type, func.count())
        .where(Incident.id.in_(chosen))
        .group_by(month, Incident.type)
    ).all()
    found = {(label, str(kind)): count for label, kind, count in counts}
    rows = []
    for label in labels:
        by_type = [found.get((label, kind.value), 0) for kind in TYPES]
        rows.append((label, *by_type, sum(by_type)))
    return FigureTable(
        "incidents-by-month",
        "Incidents by month",
        "Incidents opened each month, by type.",
        ("Month", *TYPE_COLUMNS, "Total"),
        tuple(rows),
    )


def _incidents_by_area(chosen, filters: Filters) -> FigureTable:
    query = (
        select(IncidentArea.local_authority, Incident.type, func.count())
        .join(Incident, Incident.id == IncidentArea.incident_id)
        .where(Incident.id.in_(chosen))
        .group_by(IncidentArea.local_authority, Incident.type)
    )
    if filters.local_authority:
        query = query.where(IncidentArea.local_authority == filters.local_authority)
    found = {(area, str(kind)): count for area, kind, count in db.session.execute(query)}
    rows = []
    for slug, name in LOCAL_AUTHORITIES.items():
        by_type = [found.get((slug, kind.value), 0) for kind in TYPES]
        if sum(by_type) or (filters.local_authority in (None, slug)):
            rows.append((name, *by_type, sum(by_type)))
    return FigureTable(
        "incidents-by-local-authority",
        "Incidents by local authority",
        "Incidents by type in each local authority. An incident that crossed a border counts in each "
        "authority it involved.",
        ("Local authority", *TYPE_COLUMNS, "Total"),
        tuple(rows),
    )


# --- time to acknowledge -------------------------------------------------------------------


def _sector(playbooks: PlaybookSet):
    """Each activation's agency sector, from today's playbooks (an agency keeps its sector)."""
    sectors = {key: agency.sector for key, agency in playbooks.region.agencies.items()}
    for playbook in playbooks.playbooks.values():
        sectors.update({key: agency.sector for key, agency in playbook.agencies.items()})
    unknown = case((Activation.agency_key.startswith(BY_HAND), "added_by_hand"), else_="other")
    if not sectors:
        return unknown, SECTOR_LABELS
    return case(sectors, value=Activation.agency_key, else_=unknown), SECTOR_LABELS


def _agency_area():
    """Each activation's local authority: its own playbook's, or where it happened for a regional one."""
    area = case((Activation.source == "regional", Incident.local_authority), else_=Activation.source)
    return area, LOCAL_AUTHORITIES


def _acknowledgement(
    chosen, month, labels: list[str], grouping, dimension: str, filters: Filters
) -> FigureTable:
    """Median and 90th percentile of minutes from alert to acknowledgement, by group and month."""
    group, names = grouping
    acknowledged = (
        select(
            group.label("grp"),
            month.label("month"),
            func.round(seconds_between(Activation.activated_at, Activation.acknowledged_at)).label("seconds"),
        )
        .join(Incident, Incident.id == Activation.incident_id)
        .where(Activation.incident_id.in_(chosen), Activation.acknowledged_at.is_not(None))
    )
    if dimension == "local-authority" and filters.local_authority:
        acknowledged = acknowledged.where(group == filters.local_authority)
    acknowledged = acknowledged.cte("acknowledged")
    both = union_all(
        select(acknowledged.c.grp, acknowledged.c.month, acknowledged.c.seconds),
        select(acknowledged.c.grp, literal(ALL_MONTHS).label("month"), acknowledged.c.seconds),
    ).subquery("both_periods")
    partition = (both.c.grp, both.c.month)
    ranked = select(
        both.c.grp,
        both.c.month,
        both.c.seconds,
        func.row_number().over(partition_by=partition, order_by=both.c.seconds).label("rank"),
        func.count().over(partition_by=partition).label("size"),
    ).subquery("ranked")
    rows = db.session.execute(
        select(
            ranked.c.grp,
            ranked.c.month,
            ranked.c.size,
            percentile(5, ranked.c.seconds, ranked.c.rank, ranked.c.size),
            percentile(9, ranked.c.seconds, ranked.c.rank, ranked.c.size),
        ).group_by(ranked.c.grp, ranked.c.month, ranked.c.size)
    ).all()
    order = {label: index for index, label in enumerate([*labels, ALL_MONTHS])}
    names_order = {key: index for index, key in enumerate(names)}
    rows = sorted(rows, key=lambda row: (names_order.get(row[0], len(names)), str(row[0]), order[row[1]]))
    first = "Agency sector" if dimension == "sector" else "Local authority"
    return FigureTable(
        f"acknowledgement-by-{dimension}",
        f"Time to acknowledge by {'agency sector' if dimension == 'sector' else 'local authority'}",
        "Minutes from an agency's alert to its acknowledgement (whoever on the ladder gave it): "
        "the median and the 90th percentile, month by month and over the whole period.",
        (first, "Month", "Agencies acknowledged", "Median minutes", "90th percentile minutes"),
        tuple(
            (names.get(group_key, group_key), period, size, _minutes(median), _minutes(p90))
            for group_key, period, size, median, p90 in rows
        ),
    )


# --- the response ---------------------------------------------------------------------------


def _escalations(chosen, month, labels: list[str]) -> FigureTable:
    escalated = (TimelineEvent.incident_id == Incident.id) & (TimelineEvent.kind == EventKind.ESCALATED)
    found = {
        label: (incidents, escalations)
        for label, incidents, escalations in db.session.execute(
            select(month, func.count(func.distinct(Incident.id)), func.count(TimelineEvent.id))
            .select_from(Incident)
            .outerjoin(TimelineEvent, escalated)
            .where(Incident.id.in_(chosen))
            .group_by(month)
        )
    }
    rows = []
    for label in labels:
        incidents, escalations = found.get(label, (0, 0))
        rows.append((label, incidents, escalations, round(escalations / incidents, 2) if incidents else None))
    return FigureTable(
        "escalations",
        "Escalations per incident",
        "How often an alert had to climb the ladder (deputy, duty manager, regional on-call) because "
        "nobody acknowledged in time, per incident opened that month.",
        ("Month", "Incidents", "Escalations", "Escalations per incident"),
        tuple(rows),
    )


def _check_ins(chosen, month, labels: list[str]) -> FigureTable:
    found = {
        label: (sent, answered)
        for label, sent, answered in db.session.execute(
            select(month, func.count(CheckIn.id), func.count(CheckIn.responded_at))
            .join(Incident, Incident.id == CheckIn.incident_id)
            .where(CheckIn.incident_id.in_(chosen))
            .group_by(month)
        )
    }
    rows = []
    for label in labels:
        sent, answered = found.get(label, (0, 0))
        rows.append((label, sent, answered, round(100 * answered / sent, 1) if sent else None))
    return FigureTable(
        "check-ins",
        "Check-in response rate",
        "Check-ins sent to covering agencies and how many were answered, by the month the incident opened.",
        ("Month", "Check-ins sent", "Answered", "Response rate (%)"),
        tuple(rows),
    )


def _offers(chosen, month, labels: list[str]) -> FigureTable:
    taken_up = (OfferState.ACCEPTED, OfferState.DELIVERED)
    found = {
        label: (offered, accepted, delivered)
        for label, offered, accepted, delivered in db.session.execute(
            select(
                month,
                func.count(OfferActivation.id),
                func.count(case((OfferActivation.state.in_(taken_up), 1))),
                func.count(case((OfferActivation.state == OfferState.DELIVERED, 1))),
            )
            .join(Incident, Incident.id == OfferActivation.incident_id)
            .where(OfferActivation.incident_id.in_(chosen))
            .group_by(month)
        )
    }
    return FigureTable(
        "support-offers",
        "Support offers offered, accepted and delivered",
        "Support offers made by the playbooks (or by hand), how many were accepted (or already "
        "delivered) and how many delivered, by the month the incident opened.",
        ("Month", "Offered", "Accepted", "Delivered"),
        tuple((label, *found.get(label, (0, 0, 0))) for label in labels),
    )


def _tension(chosen) -> FigureTable:
    """The level each incident opened with (its first reading) and its level at close (or now)."""
    first_reading = (
        select(TensionReading.level)
        .where(TensionReading.incident_id == Incident.id)
        .order_by(TensionReading.at, TensionReading.id)
        .limit(1)
        .correlate(Incident)
        .scalar_subquery()
    )
    each = (
        select(
            func.coalesce(first_reading, Incident.tension).label("opening"),
            Incident.tension.label("latest"),
            case((Incident.status == IncidentStatus.CLOSED, "close"), else_="open").label("closed"),
        )
        .where(Incident.id.in_(chosen))
        .subquery("each_incident")
    )
    counts = db.session.execute(
        union_all(
            select(literal("opening"), each.c.opening, func.count()).group_by(each.c.opening),
            select(each.c.closed, each.c.latest, func.count()).group_by(each.c.closed, each.c.latest),
        )
    ).all()
    found = {(when, str(level)): count for when, level, count in counts}
    return FigureTable(
        "tension",
        "Community tension at opening and at close",
        "How many incidents opened at each level of community tension (the first reading, whatever "
        "changed it later), and the level they closed at; incidents still open are counted at their "
        "latest level.",
        ("Community tension", "At opening", "At close", "Still open: latest"),
        tuple(
            (
                level.label,
                found.get(("opening", level.value), 0),
                found.get(("close", level.value), 0),
                found.get(("open", level.value), 0),
            )
            for level in Tension
        ),
    )


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(float(seconds) / 60, 1)
