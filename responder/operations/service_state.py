"""What operators watch, read from the database: is the outbox flowing, is the scheduler alive?

Shared by ``GET /metrics`` (responder.web.metrics) and ``GET /healthz``
(responder.web.health). Every figure comes from rows, so any web process
reports the same state whichever machine the scheduler runs on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

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


def acknowledgement_latencies() -> list[tuple[float, bool]]:
    """Seconds from each agency's alert to its acknowledgement, and whether it was an exercise."""
    rows = db.session.execute(
        select(Activation.activated_at, Activation.acknowledged_at, Incident.exercise)
        .join(Incident, Activation.incident_id == Incident.id)
        .where(Activation.acknowledged_at.is_not(None))
    ).all()
    return [
        (max(0.0, (as_utc(acknowledged) - as_utc(activated)).total_seconds()), bool(exercise))
        for activated, acknowledged, exercise in rows
    ]
