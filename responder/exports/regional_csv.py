"""The regional roll-up: one row of headline figures per incident, for the VRU's evaluation.

Incidents are chosen by the local date they were opened on. Exercises are
left out unless asked for, so practice never inflates the figures. No names
or free text: only references, places, types and numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, exists

from responder.clock import format_local, local_zone
from responder.exports.chronology_csv import csv_chunks
from responder.extensions import db
from responder.models import LOCAL_AUTHORITIES, Incident, IncidentArea, IncidentType
from responder.reviews.metrics import key_figures, response_metrics

INCIDENT_COLUMNS = ("Reference", "Local authority", "Type", "Status", "Exercise", "Happened", "Opened")
FIGURE_COLUMNS = {
    "minutes_to_first_alert": "Minutes to first alert sent",
    "agencies_alerted": "Agencies alerted",
    "agencies_acknowledged": "Agencies acknowledged",
    "median_minutes_to_acknowledge": "Median minutes to acknowledge",
    "slowest_minutes_to_acknowledge": "Slowest minutes to acknowledge",
    "acknowledged_within_target": "Acknowledged within target",
    "share_acknowledged_within_target": "Share acknowledged within target",
    "escalations": "Escalations",
    "messages_failed": "Messages failed",
    "fallbacks_used": "Fallbacks used",
    "check_ins_sent": "Check-ins sent",
    "check_ins_answered": "Check-ins answered",
    "check_ins_missed": "Check-ins missed",
    "offers_offered": "Support offers offered",
    "offers_accepted": "Support offers accepted",
    "offers_delivered": "Support offers delivered",
    "peak_tension": "Peak community tension",
}


@dataclass(frozen=True)
class RollUpPeriod:
    """Which incidents: opened on ``first`` to ``last`` (local dates, inclusive)."""

    first: date
    last: date
    local_authority: str | None = None
    include_exercises: bool = False


def regional_csv(incident_ids: list[int]) -> Iterator[bytes]:
    """The roll-up of these incidents (chosen, before the response starts, by :func:`incidents_in`)."""
    return csv_chunks(_rows(incident_ids), (*INCIDENT_COLUMNS, *FIGURE_COLUMNS.values()))


def incidents_in(period: RollUpPeriod, visible: Select[tuple[Incident]]) -> list[int]:
    """Ids of the incidents in the period among ``visible``, oldest first.

    An incident that crossed a border counts for every authority it involved.
    """
    zone = local_zone()
    start = datetime.combine(period.first, time.min, zone)
    end = datetime.combine(period.last + timedelta(days=1), time.min, zone)
    query = (
        visible.with_only_columns(Incident.id)
        .where(Incident.opened_at >= start, Incident.opened_at < end)
        .order_by(Incident.opened_at, Incident.id)
    )
    if not period.include_exercises:
        query = query.where(Incident.exercise.is_(False))
    if period.local_authority:
        query = query.where(
            exists().where(
                IncidentArea.incident_id == Incident.id,
                IncidentArea.local_authority == period.local_authority,
            )
        )
    return list(db.session.scalars(query))


def _rows(incident_ids: list[int]) -> Iterator[tuple]:
    for incident_id in incident_ids:
        incident = db.session.get(Incident, incident_id)
        figures = key_figures(response_metrics(incident))
        yield (
            incident.reference,
            LOCAL_AUTHORITIES.get(incident.local_authority, incident.local_authority),
            IncidentType(incident.type).label,
            incident.status,
            "yes" if incident.exercise else "no",
            format_local(incident.occurred_at, "%Y-%m-%d %H:%M"),
            format_local(incident.opened_at, "%Y-%m-%d %H:%M"),
            *("" if figures[key] is None else figures[key] for key in FIGURE_COLUMNS),
        )
