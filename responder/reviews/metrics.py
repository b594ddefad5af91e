"""Response metrics for a learning review, worked out from an incident's rows.

What a review panel asks first: how long before the first alert went out,
how quickly each agency acknowledged (against the playbook's target), where
the alert had to climb the escalation ladder and who covered in the end,
which messages failed and whether email caught them, whether check-ins were
answered, and what became of the support offered.

Time to acknowledge runs from the agency's activation (when its alert was
queued) to its acknowledgement, whoever on the ladder gave it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from responder.clock import as_utc
from responder.extensions import db
from responder.incidents.summary import tension_trend
from responder.incidents.view import ack_target
from responder.models import (
    Activation,
    ActivationState,
    CheckIn,
    EventKind,
    Incident,
    Message,
    MessageKind,
    MessageState,
    OfferActivation,
    OfferState,
    TimelineEvent,
)
from responder.responses.escalation import LEVEL_NAMES, ladder

# Activations that never counted: nobody to alert, or ruled out by a manager.
NOT_COUNTED = (ActivationState.NO_CONTACT, ActivationState.NOT_APPLICABLE)


@dataclass(frozen=True)
class Escalation:
    agency_key: str
    agency_name: str
    at: datetime
    level: int

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES.get(self.level, f"level {self.level}")


@dataclass(frozen=True)
class AgencyResponseTime:
    agency_key: str
    agency_name: str
    state: str
    alerted_at: datetime
    acknowledged_at: datetime | None
    target: timedelta | None
    # The ladder rung that covered (0 lead, 1 deputy, ...), None while uncovered.
    covered_at_level: int | None
    escalations: tuple[Escalation, ...] = ()

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        if self.acknowledged_at is None:
            return None
        return self.acknowledged_at - self.alerted_at

    @property
    def within_target(self) -> bool | None:
        """None when there is no target to meet; False when never acknowledged."""
        if self.target is None:
            return None
        took = self.time_to_acknowledge
        return took is not None and took <= self.target

    @property
    def covered_at_name(self) -> str | None:
        if self.covered_at_level is None:
            return None
        return LEVEL_NAMES.get(self.covered_at_level, f"level {self.covered_at_level}")


@dataclass(frozen=True)
class CheckInCounts:
    sent: int = 0
    answered: int = 0
    missed: int = 0  # flagged after the reminder and still unanswered


@dataclass(frozen=True)
class OfferCounts:
    offered: int = 0
    accepted: int = 0  # accepted or already delivered
    delivered: int = 0
    declined: int = 0


@dataclass(frozen=True)
class TensionPoint:
    at: datetime
    level: str


@dataclass(frozen=True)
class ResponseMetrics:
    opened_at: datetime
    first_alert_sent_at: datetime | None
    agencies: tuple[AgencyResponseTime, ...]
    escalations: tuple[Escalation, ...]
    messages_sent: int
    messages_failed: int
    fallbacks_used: int
    check_ins: CheckInCounts
    offers: OfferCounts
    tension: tuple[TensionPoint, ...]

    @property
    def time_to_first_alert(self) -> timedelta | None:
        if self.first_alert_sent_at is None:
            return None
        return self.first_alert_sent_at - self.opened_at

    @property
    def alerted(self) -> tuple[AgencyResponseTime, ...]:
        """Agencies whose response counts: alerted and not ruled out."""
        return tuple(agency for agency in self.agencies if agency.state not in NOT_COUNTED)

    @property
    def acknowledged(self) -> tuple[AgencyResponseTime, ...]:
        return tuple(agency for agency in self.alerted if agency.acknowledged_at is not None)

    @property
    def median_time_to_acknowledge(self) -> timedelta | None:
        times = [agency.time_to_acknowledge for agency in self.acknowledged]
        if not times:
            return None
        return timedelta(seconds=statistics.median(t.total_seconds() for t in times))

    @property
    def slowest(self) -> AgencyResponseTime | None:
        """The agency that took longest to acknowledge (of those that did)."""
        return max(self.acknowledged, key=lambda agency: agency.time_to_acknowledge, default=None)

    @property
    def within_target(self) -> int:
        return sum(1 for agency in self.alerted if agency.within_target)

    @property
    def with_target(self) -> int:
        """Alerted agencies that had an acknowledgement target to meet."""
        return sum(1 for agency in self.alerted if agency.target is not None)

    @property
    def share_within_target(self) -> float | None:
        """Acknowledged within target, as a fraction of alerted agencies that had one."""
        return self.within_target / self.with_target if self.with_target else None

    @property
    def peak_tension(self) -> str | None:
        order = ("low", "medium", "high", "critical")
        levels = [point.level for point in self.tension if point.level in order]
        return max(levels, key=order.index, default=None)


def response_metrics(incident: Incident) -> ResponseMetrics:
    """Every metric for one incident; a handful of queries, whatever the timeline's length."""
    escalations = _escalations(incident)
    agencies = tuple(
        _agency_response_time(incident, activation, escalations) for activation in incident.activations
    )
    return ResponseMetrics(
        opened_at=as_utc(incident.opened_at),
        first_alert_sent_at=_first_alert_sent_at(incident),
        agencies=agencies,
        escalations=tuple(
            escalation for escalation_list in escalations.values() for escalation in escalation_list
        ),
        messages_sent=_count(Message, Message.incident_id == incident.id, Message.sent_at.is_not(None)),
        messages_failed=_count(
            Message, Message.incident_id == incident.id, Message.state == MessageState.FAILED
        ),
        fallbacks_used=_count(
            TimelineEvent,
            TimelineEvent.incident_id == incident.id,
            TimelineEvent.kind == EventKind.FELL_BACK_TO_EMAIL,
        ),
        check_ins=_check_in_counts(incident),
        offers=_offer_counts(incident),
        tension=tuple(TensionPoint(as_utc(at), level) for at, level in tension_trend(incident)),
    )


def key_figures(metrics: ResponseMetrics) -> dict[str, object]:
    """The headline figures, flat, for the regional roll-up and the JSON export."""
    slowest = metrics.slowest
    share = metrics.share_within_target
    return {
        "minutes_to_first_alert": minutes(metrics.time_to_first_alert),
        "agencies_alerted": len(metrics.alerted),
        "agencies_acknowledged": len(metrics.acknowledged),
        "median_minutes_to_acknowledge": minutes(metrics.median_time_to_acknowledge),
        "slowest_minutes_to_acknowledge": minutes(slowest.time_to_acknowledge) if slowest else None,
        "acknowledged_within_target": metrics.within_target,
        "share_acknowledged_within_target": round(share, 3) if share is not None else None,
        "escalations": len(metrics.escalations),
        "messages_failed": metrics.messages_failed,
        "fallbacks_used": metrics.fallbacks_used,
        "check_ins_sent": metrics.check_ins.sent,
        "check_ins_answered": metrics.check_ins.answered,
        "check_ins_missed": metrics.check_ins.missed,
        "offers_offered": metrics.offers.offered,
        "offers_accepted": metrics.offers.accepted,
        "offers_delivered": metrics.offers.delivered,
        "peak_tension": metrics.peak_tension,
    }


def _agency_response_time(
    incident: Incident, activation: Activation, escalations: dict[str, list[Escalation]]
) -> AgencyResponseTime:
    acknowledged_at = as_utc(activation.acknowledged_at) if activation.acknowledged_at else None
    return AgencyResponseTime(
        agency_key=activation.agency_key,
        agency_name=activation.agency_name,
        state=activation.state,
        alerted_at=as_utc(activation.activated_at),
        acknowledged_at=acknowledged_at,
        target=ack_target(incident, activation.source),
        covered_at_level=_covered_at_level(activation),
        escalations=tuple(escalations.get(activation.agency_key, ())),
    )


def _covered_at_level(activation: Activation) -> int | None:
    """Which rung acknowledged: a lead may still answer after the alert climbed past them."""
    if activation.state != ActivationState.COVERED:
        return None
    if activation.acknowledged_by is not None:
        for rung in ladder(activation):
            if rung.role == activation.acknowledged_by.key:
                return rung.level
    return activation.escalation_level


def _escalations(incident: Incident) -> dict[str, list[Escalation]]:
    names = {activation.agency_key: activation.agency_name for activation in incident.activations}
    rows = db.session.execute(
        select(TimelineEvent.agency_key, TimelineEvent.at, TimelineEvent.data)
        .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == EventKind.ESCALATED)
        .order_by(TimelineEvent.at, TimelineEvent.id)
    )
    found: dict[str, list[Escalation]] = {}
    for agency_key, at, data in rows:
        level = (data or {}).get("level")
        if agency_key is None or not isinstance(level, int):
            continue
        escalation = Escalation(agency_key, names.get(agency_key, agency_key), as_utc(at), level)
        found.setdefault(agency_key, []).append(escalation)
    return found


def _first_alert_sent_at(incident: Incident) -> datetime | None:
    sent = db.session.scalar(
        select(func.min(Message.sent_at)).where(
            Message.incident_id == incident.id,
            Message.kind == MessageKind.ALERT,
            Message.sent_at.is_not(None),
        )
    )
    return as_utc(sent) if sent is not None else None


def _check_in_counts(incident: Incident) -> CheckInCounts:
    rows = db.session.execute(
        select(CheckIn.responded_at, CheckIn.missed_at).where(CheckIn.incident_id == incident.id)
    ).all()
    return CheckInCounts(
        sent=len(rows),
        answered=sum(1 for responded, _ in rows if responded is not None),
        missed=sum(1 for responded, missed in rows if missed is not None and responded is None),
    )


def _offer_counts(incident: Incident) -> OfferCounts:
    states = list(
        db.session.scalars(select(OfferActivation.state).where(OfferActivation.incident_id == incident.id))
    )
    return OfferCounts(
        offered=len(states),
        accepted=sum(1 for state in states if state in (OfferState.ACCEPTED, OfferState.DELIVERED)),
        delivered=states.count(OfferState.DELIVERED),
        declined=states.count(OfferState.DECLINED),
    )


def _count(model, *conditions) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0


def minutes(value: timedelta | None) -> float | None:
    """A duration in minutes to one decimal place, for tables and CSV."""
    return None if value is None else round(value.total_seconds() / 60, 1)


def describe_duration(value: timedelta | None) -> str:
    """'4 min 30 s', '2 h 05 min', '3 d 4 h'; an em dash when there is none."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    mins, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days} d {hours} h"
    if hours:
        return f"{sign}{hours} h {mins:02d} min"
    if mins:
        return f"{sign}{mins} min {secs:02d} s" if secs else f"{sign}{mins} min"
    return f"{sign}{secs} s"
