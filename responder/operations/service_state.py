"""What operators watch, read from the database: is the outbox flowing, is the scheduler alive?

Shared by ``GET /metrics`` (responder.web.metrics) and ``GET /healthz``
(responder.web.health). Every figure comes from rows, so any web process
reports the same state whichever machine the scheduler runs on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from responder.clock import as_utc, now_utc
from responder.extensions import db
from responder.models import (
    ActionState,
    Activation,
    Channel,
    Incident,
    IncidentStatus,
    Message,
    MessageState,
    ProviderStatus,
    SchedulerLease,
    TimedAction,
)
from responder.scheduling.lease import LEASE_NAME

# Not yet handed to a provider: waiting, retrying, or claimed by a sender.
UNSENT = (MessageState.PENDING, MessageState.SENDING)
# A timed action this far past due has not just been queued: the scheduler is behind or down.
OVERDUE_AFTER = timedelta(minutes=1)


@dataclass(frozen=True)
class OutboxBacklog:
    pending_by_channel: dict[str, int]
    failed_by_channel: dict[str, int]
    oldest_pending_at: datetime | None

    def oldest_pending_age(self, now: datetime) -> timedelta | None:
        return None if self.oldest_pending_at is None else now - self.oldest_pending_at


@dataclass(frozen=True)
class Heartbeat:
    holder: str
    renewed_at: datetime
    expires_at: datetime

    def age(self, now: datetime) -> timedelta:
        return now - self.renewed_at


def outbox_backlog() -> OutboxBacklog:
    """Messages not yet sent and messages that failed for good, per channel; the oldest unsent."""
    counts = db.session.execute(
        select(Message.state, Message.channel, func.count())
        .where(Message.state.in_((*UNSENT, MessageState.FAILED)))
        .group_by(Message.state, Message.channel)
    ).all()
    pending: dict[str, int] = {}
    failed: dict[str, int] = {}
    for state, channel, count in counts:
        target = failed if state == MessageState.FAILED else pending
        target[channel] = target.get(channel, 0) + count
    oldest = db.session.scalar(select(func.min(Message.created_at)).where(Message.state.in_(UNSENT)))
    return OutboxBacklog(pending, failed, as_utc(oldest) if oldest is not None else None)


def calls_by_outcome() -> dict[str, int]:
    """Phone calls handed to the provider, by outcome ("placed" while Twilio has not said)."""
    rows = db.session.execute(
        select(Message.call_outcome, func.count())
        .where(Message.channel == Channel.VOICE, Message.provider_id.is_not(None))
        .group_by(Message.call_outcome)
    ).all()
    return {str(outcome or "placed"): count for outcome, count in rows}


def failing_providers(since: datetime) -> list[str]:
    """Channels whose provider has refused or not answered every attempt since before ``since``."""
    return list(
        db.session.scalars(
            select(ProviderStatus.channel).where(
                ProviderStatus.failing_since.is_not(None), ProviderStatus.failing_since <= since
            )
        )
    )


def scheduler_heartbeat() -> Heartbeat | None:
    """The scheduler lease row: who leads and when it last renewed (None if no scheduler ever ran)."""
    lease = db.session.get(SchedulerLease, LEASE_NAME, populate_existing=True)
    if lease is None:
        return None
    return Heartbeat(lease.holder, as_utc(lease.renewed_at), as_utc(lease.expires_at))


def overdue_actions(now: datetime | None = None) -> int:
    """Timed actions still pending more than a minute after they fell due."""
    now = now or now_utc()
    return (
        db.session.scalar(
            select(func.count())
            .select_from(TimedAction)
            .where(TimedAction.state == ActionState.PENDING, TimedAction.due_at < now - OVERDUE_AFTER)
        )
        or 0
    )


def open_incidents_by_local_authority() -> dict[tuple[str, bool], int]:
    """(local authority, exercise) -> incidents not yet closed."""
    rows = db.session.execute(
        select(Incident.local_authority, Incident.exercise, func.count())
        .where(Incident.status != IncidentStatus.CLOSED)
        .group_by(Incident.local_authority, Incident.exercise)
    ).all()
    return {(local_authority, bool(exercise)): count for local_authority, exercise, count in rows}


@dataclass(frozen=True)
class LatencyHistogram:
    """Acknowledgements counted per bucket (cumulative, as Prometheus wants), for real or exercise."""

    exercise: bool
    cumulative: tuple[int, ...]  # one count per bound: acknowledgements within it
    count: int
    total_seconds: float


def acknowledgement_histograms(bounds: Sequence[float]) -> list[LatencyHistogram]:
    """Every acknowledgement's time from alert, bucketed by the database: one statement, no rows read.

    ``Activation.acknowledged_after_seconds`` is written with the acknowledgement,
    so the cost is one aggregate over an index-sized column, not a row per agency.
    """
    seconds = Activation.acknowledged_after_seconds
    within = [func.coalesce(func.sum(case((seconds <= bound, 1), else_=0)), 0) for bound in bounds]
    rows = db.session.execute(
        select(Incident.exercise, func.count(), func.coalesce(func.sum(seconds), 0.0), *within)
        .join(Incident, Activation.incident_id == Incident.id)
        .where(seconds.is_not(None))
        .group_by(Incident.exercise)
    ).all()
    found = {bool(row[0]): row for row in rows}
    histograms = []
    for exercise in (False, True):
        row = found.get(exercise)
        if row is None:
            histograms.append(LatencyHistogram(exercise, tuple(0 for _ in bounds), 0, 0.0))
            continue
        histograms.append(
            LatencyHistogram(exercise, tuple(int(n) for n in row[3:]), int(row[1]), float(row[2]))
        )
    return histograms
