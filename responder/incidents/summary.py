"""The summary band at the top of the incident page: is this response working?

Status, coverage, agencies overdue, the next timed action, community tension
and which way it is going, open deadlines, and how long the incident has been
open: each worked out from the rows, so a reload and a live update agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import func, select

from responder.clock import as_utc, now_utc
from responder.extensions import db
from responder.incidents.upcoming import Upcoming, UpcomingGroup
from responder.models import (
    EventKind,
    Incident,
    IncidentStatus,
    Tension,
    TimelineEvent,
)
from responder.models.tension import TensionReading

LEVELS = list(Tension)


class TensionPoint(NamedTuple):
    at: datetime
    level: Tension


@dataclass(frozen=True)
class SummaryBand:
    status: str
    covered: int
    expected: int
    overdue: int
    next_action: UpcomingGroup | None
    tension: Tension
    direction: str  # rising | falling | steady
    was: Tension | None  # the level before the latest change, if any
    open_deadlines: int
    open_for: timedelta


def summary_band(
    incident: Incident,
    covered: int,
    expected: int,
    overdue: int,
    coming: Upcoming,
    trend: list[TensionPoint],
    open_deadlines: int,
) -> SummaryBand:
    """The band from what the page has already read (coverage, what is coming, tension, deadlines)."""
    direction, was = tension_direction(trend)
    return SummaryBand(
        status=incident.status,
        covered=covered,
        expected=expected,
        overdue=overdue,
        next_action=coming.next,
        tension=Tension(incident.tension),
        direction=direction,
        was=was,
        open_deadlines=open_deadlines,
        open_for=_open_until(incident) - as_utc(incident.opened_at),
    )


def _open_until(incident: Incident) -> datetime:
    """Now, or when a closed incident was closed: its last status change (closed is final)."""
    if incident.status != IncidentStatus.CLOSED:
        return now_utc()
    closed = db.session.scalar(
        select(func.max(TimelineEvent.at)).where(
            TimelineEvent.incident_id == incident.id, TimelineEvent.kind == EventKind.STATUS_CHANGED
        )
    )
    return as_utc(closed) if closed is not None else now_utc()


def opening_tension(incident: Incident) -> Tension:
    """The level the incident was opened with, whatever changed it since."""
    return tension_trend(incident)[0].level


def tension_trend(incident: Incident) -> list[TensionPoint]:
    """The opening level first, then every change and check-in reading, oldest first.

    The opening level is kept as a reading before the first change
    (responder.incidents.lifecycle.record_opening_tension); for an incident
    changed before that reading was kept, the first change's "from" says it.
    """
    readings = db.session.scalars(
        select(TensionReading)
        .where(TensionReading.incident_id == incident.id)
        .order_by(TensionReading.at, TensionReading.id)
    ).all()
    points = [TensionPoint(as_utc(r.at), Tension(r.level)) for r in readings]
    opened = as_utc(incident.opened_at)
    if not points or points[0].at > opened:
        points.insert(0, TensionPoint(opened, _level_before_first_change(incident)))
    return points


def tension_direction(trend: list[TensionPoint]) -> tuple[str, Tension | None]:
    """How the latest reading compares with the one before it, and that earlier level if it differs."""
    if len(trend) < 2 or trend[-1].level == trend[-2].level:
        return "steady", None
    before, now = trend[-2].level, trend[-1].level
    return ("rising" if LEVELS.index(now) > LEVELS.index(before) else "falling"), before


def _level_before_first_change(incident: Incident) -> Tension:
    first_change = db.session.scalar(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == EventKind.TENSION_CHANGED)
        .order_by(TimelineEvent.id)
    )
    if first_change is not None and (first_change.data or {}).get("from") in LEVELS:
        return Tension(first_change.data["from"])
    return Tension(incident.tension)
