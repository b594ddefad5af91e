"""What happens to an outbox message after the commit: claimed, sent, retried, failed, delivered.

Every function here is one short transaction, so no database connection is
held while a provider is slow. A message moves

    pending --claim--> sending --accepted--> sent --receipt--> delivered / failed
                          |--transient--> pending (later, with backoff)
                          |--permanent--> failed

A claim is a conditional UPDATE (due, no provider id) that bumps ``attempts``;
whoever's UPDATE matched owns the message until ``lease_until``, and the
finishing UPDATE only applies while ``attempts`` still equals the claim's, so
a sender whose lease ran out cannot overwrite the next one. This works the
same on SQLite and PostgreSQL. A message with a provider id is never claimed
again.

Managers see outcomes on the timeline (sent, delivered, failed with the
reason, reached by email instead); routine retries stay on the message row
(``attempts``, ``last_error``, ``next_attempt_at``).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import selectinload

from responder import timeline
from responder.clock import now_utc
from responder.extensions import db
from responder.models import Channel, EventKind, Message, MessageState
from responder.notify.backends import OutgoingMessage
from responder.notify.outbox import rendered_body
from responder.notify.sms_twilio import describe_twilio_error

log = logging.getLogger(__name__)

# Twilio's status callback values (MessageStatus) and what they mean here.
_SMS_DELIVERED = {"delivered"}
_SMS_FAILED = {"undelivered", "failed", "canceled"}
_SMS_IN_PROGRESS = {"queued", "accepted", "scheduled", "sending", "sent"}


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to keep trying (MESSAGE_* settings in config.py)."""

    max_attempts: int = 10
    base_seconds: float = 5.0
    max_seconds: float = 300.0
    lease_seconds: float = 300.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RetryPolicy:
        return cls(
            max_attempts=int(config["MESSAGE_MAX_ATTEMPTS"]),
            base_seconds=float(config["MESSAGE_RETRY_BASE_SECONDS"]),
            max_seconds=float(config["MESSAGE_RETRY_MAX_SECONDS"]),
            lease_seconds=float(config["MESSAGE_LEASE_SECONDS"]),
        )

    def delay_after(self, attempt: int) -> timedelta:
        """Exponential backoff, capped, with jitter over its upper half.

        The jitter stops forty messages that failed together in an outage
        from all retrying in the same instant when the provider comes back.
        """
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** max(attempt - 1, 0))
        return timedelta(seconds=ceiling / 2 + random.uniform(0, ceiling / 2))  # noqa: S311


@dataclass(frozen=True)
class Claim:
    """A message this sender owns for now: ``attempt`` is its fencing number."""

    message: OutgoingMessage
    attempt: int


def _due(now: datetime):
    waiting = and_(
        Message.state == MessageState.PENDING,
        or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
    )
    # A sender that died mid-send leaves its claim behind; once the lease
    # runs out anyone may take the message over.
    abandoned = and_(Message.state == MessageState.SENDING, Message.lease_until <= now)
    return and_(Message.provider_id.is_(None), or_(waiting, abandoned))


def due_message_ids(limit: int = 1000, channel: str | None = None) -> list[int]:
    """Messages (of ``channel``, or any) a sender may claim now: SMS first, then oldest first.

    An SMS is what wakes a lead at 2 a.m., so when senders are scarce the
    emails of the same alert wait a moment rather than the texts.
    """
    sms_first = case((Message.channel == Channel.SMS, 0), else_=1)
    query = select(Message.id).where(_due(now_utc())).order_by(sms_first, Message.id).limit(limit)
    if channel is not None:
        query = query.where(Message.channel == channel)
    return list(db.session.scalars(query))


def next_retry_at() -> datetime | None:
    """When the earliest retry still in the future falls due, if any."""
    return db.session.scalar(
        select(func.min(Message.next_attempt_at)).where(
            Message.state == MessageState.PENDING,
            Message.provider_id.is_(None),
            Message.next_attempt_at > now_utc(),
        )
    )


def claim_messages(message_ids: list[int], policy: RetryPolicy) -> list[Claim]:
    """Take those of ``message_ids`` that are still due, for one send attempt each.

    One conditional UPDATE claims them all, so a burst of forty alerts costs
    one write, not forty competing ones. Messages that are no longer due, or
    that another sender took first, are simply left out.
    """
    if not message_ids:
        return []
    now = now_utc()
    claimed = db.session.scalars(
        update(Message)
        .where(Message.id.in_(message_ids), _due(now))
        .values(
            state=MessageState.SENDING,
            lease_until=now + timedelta(seconds=policy.lease_seconds),
            attempts=Message.attempts + 1,
        )
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    ).all()
    rows = db.session.scalars(
        select(Message)
        .where(Message.id.in_(claimed))
        .order_by(Message.id)
        .options(selectinload(Message.access_token))
        .execution_options(populate_existing=True)
    ).all()
    claims = [Claim(_outgoing(message), message.attempts) for message in rows]
    db.session.commit()
    return claims


def _outgoing(message: Message) -> OutgoingMessage:
    return OutgoingMessage(
        id=message.id,
        channel=message.channel,
        recipient=message.recipient,
        subject=message.subject,
        text=rendered_body(message),
        html=rendered_body(message, html=True) if message.html_body else None,
        created_at=message.created_at,
    )


def record_accepted(claim: Claim, provider_id: str, provider_name: str) -> None:
    """The provider took the message: keep its id so it is never sent again."""
    _lock_with_twin(claim.message.id)
    result = db.session.execute(
        update(Message)
        .where(Message.id == claim.message.id, Message.provider_id.is_(None))
        .values(
            state=MessageState.SENT,
            provider_id=provider_id,
            provider_status="accepted",
            sent_at=now_utc(),
            lease_until=None,
            next_attempt_at=None,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        log.error(
            "message %s was accepted by %s as %s but already has a provider id: it went twice",
            claim.message.id,
            provider_name,
            provider_id,
        )
        return
    message = db.session.get(Message, claim.message.id, populate_existing=True)
    _record(message, EventKind.MESSAGE_SENT, f"{_what(message)} sent: handed to {provider_name}")
    if message.channel == Channel.EMAIL:
        _note_reached_by_email(message)
    db.session.commit()


def record_retry(claim: Claim, reason: str, policy: RetryPolicy) -> datetime | None:
    """A transient failure: try again after a backoff, or give up after the last attempt.

    Returns when the next attempt is due, or None when the message failed for good.
    """
    if claim.attempt >= policy.max_attempts:
        record_failure(claim, f"gave up after {claim.attempt} attempts; the last one: {reason}")
        return None
    next_attempt_at = now_utc() + policy.delay_after(claim.attempt)
    result = db.session.execute(
        update(Message)
        .where(*_still_ours(claim))
        .values(
            state=MessageState.PENDING,
            next_attempt_at=next_attempt_at,
            lease_until=None,
            last_error=reason,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount != 1:
        log.warning("message %s: attempt %s lost its claim before a retry", claim.message.id, claim.attempt)
    return next_attempt_at


def record_failure(claim: Claim, reason: str) -> None:
    """A permanent failure: stop, and tell the timeline in plain words."""
    _lock_with_twin(claim.message.id)
    result = db.session.execute(
        update(Message)
        .where(*_still_ours(claim))
        .values(
            state=MessageState.FAILED,
            failed_at=now_utc(),
            lease_until=None,
            next_attempt_at=None,
            last_error=reason,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        log.warning("message %s: attempt %s lost its claim before failing", claim.message.id, claim.attempt)
        return
    _record_failed(db.session.get(Message, claim.message.id, populate_existing=True))
    db.session.commit()


def record_sms_status(provider_id: str, status: str, error_code: str | None = None) -> Message | None:
    """Apply a Twilio status callback. Returns the message, or None if the id is not ours.

    Only a sent message moves on, so a late or repeated callback never undoes
    ``delivered`` or ``failed``; ``undelivered`` after acceptance is a
    permanent failure like any other.
    """
    message_id = db.session.scalar(select(Message.id).where(Message.provider_id == provider_id))
    if message_id is None:
        return None
    status = status.strip().lower()
    now = now_utc()
    if status in _SMS_DELIVERED:
        values = {"state": MessageState.DELIVERED, "delivered_at": now}
    elif status in _SMS_FAILED:
        values = {
            "state": MessageState.FAILED,
            "failed_at": now,
            "last_error": describe_twilio_error(error_code),
        }
    elif status in _SMS_IN_PROGRESS:
        values = {}
    else:
        log.info("ignoring Twilio status %r for message %s", status, message_id)
        return db.session.get(Message, message_id)
    _lock_with_twin(message_id)
    result = db.session.execute(
        update(Message)
        .where(Message.id == message_id, Message.state == MessageState.SENT)
        .values(provider_status=status, **values)
        .execution_options(synchronize_session=False)
    )
    message = db.session.get(Message, message_id, populate_existing=True)
    if result.rowcount == 1 and message.state == MessageState.DELIVERED:
        _record(message, EventKind.MESSAGE_DELIVERED, f"{_what(message)} delivered to the phone")
    elif result.rowcount == 1 and message.state == MessageState.FAILED:
        _record_failed(message)
    db.session.commit()
    return message


# --- in-transaction helpers -----------------------------------------------------


def _still_ours(claim: Claim) -> tuple:
    return (
        Message.id == claim.message.id,
        Message.state == MessageState.SENDING,
        Message.attempts == claim.attempt,
    )


def _lock_with_twin(message_id: int) -> None:
    """Lock the message and its other-channel twin before either changes.

    "Reached by email instead" needs one channel to see the other's outcome:
    with both rows locked (in id order, so two finishers never deadlock) the
    second of the two to finish always sees the first. SQLite has no row
    locks, but it lets one writer at a time in, which gives the same order.
    """
    token_id = db.session.scalar(select(Message.access_token_id).where(Message.id == message_id))
    same_pair = Message.access_token_id == token_id if token_id is not None else Message.id == message_id
    db.session.execute(select(Message.id).where(same_pair).order_by(Message.id).with_for_update()).all()


def _twin(message: Message) -> Message | None:
    """The same alert on the other channel (both share one access token)."""
    if message.access_token_id is None:
        return None
    return db.session.scalar(
        select(Message)
        .where(Message.access_token_id == message.access_token_id, Message.channel != message.channel)
        .execution_options(populate_existing=True)
    )


def _record_failed(message: Message) -> None:
    _record(message, EventKind.MESSAGE_FAILED, f"{_what(message)} failed: {message.last_error}")
    if message.channel == Channel.SMS:
        _note_reached_by_email(message)


def _note_reached_by_email(message: Message) -> None:
    """Once the SMS has failed and the email has gone, say the lead was reached by email."""
    twin = _twin(message)
    if twin is None:
        return
    sms, email = (message, twin) if message.channel == Channel.SMS else (twin, message)
    if sms.state == MessageState.FAILED and email.state in (MessageState.SENT, MessageState.DELIVERED):
        _record(
            sms,
            EventKind.FELL_BACK_TO_EMAIL,
            f"{_recipient(sms)} reached by email instead: the SMS failed ({sms.last_error})",
            channel=Channel.EMAIL,
        )


def _what(message: Message) -> str:
    channel = "SMS" if message.channel == Channel.SMS else "email"
    return f"{message.kind.replace('_', ' ').capitalize()} {channel} to {_recipient(message)}"


def _recipient(message: Message) -> str:
    name = message.contact.name if message.contact is not None else message.recipient
    if message.activation is None:
        return name
    return f"{name} ({message.activation.agency_name})"


def _record(message: Message, kind: EventKind, detail: str, *, channel: str | None = None) -> None:
    if message.incident is None:
        return
    timeline.record(
        message.incident,
        kind,
        detail,
        channel=channel or message.channel,
        agency_key=message.activation.agency_key if message.activation is not None else None,
        data={"message_id": message.id, "provider_id": message.provider_id, "attempts": message.attempts},
    )
