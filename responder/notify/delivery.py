"""What happens to an outbox message after the commit, in the database: claimed, recorded, retried.

The sender (responder.notify.sender) calls these from its database thread,
each inside a unit of work; none of them talks to a provider. A message moves

    pending --claim--> sending --accepted--> sent --receipt--> delivered / failed
                          |--did not go, may help later--> pending (later, with backoff)
                          |--may have gone (timeout...)--> pending, unknown_since set
                          |--did not go, never will--> failed

A claim is one conditional UPDATE over a batch: due (pending and past its
retry time, or sending with a lease that has run out), no provider id. It
bumps ``attempts`` (the claim's fencing number), sets ``handed_at`` (the
sender starts the request at once: nothing but this write stands between
the commit and the provider) and a lease of MESSAGE_LEASE_SECONDS, longer
than a send may take. A message taken over from a sender that died after
handing it over carries ``unknown_since``, and is looked up at the provider
before it is sent again. Outcomes are recorded only while the claim is still
the message's (same ``attempts``), except that an accepted message always
keeps its provider id, so that it is never sent again.

Managers see outcomes on the timeline (sent, delivered, failed with the
reason, reached by email instead); routine retries stay on the message row
(``attempts``, ``last_error``, ``next_attempt_at``).
"""

from __future__ import annotations

import enum
import logging
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload, selectinload

from responder import timeline
from responder.clock import now_utc
from responder.extensions import db
from responder.models import Channel, EventKind, Message, MessageKind, MessageState, ProviderStatus
from responder.notify.backends import OutgoingMessage, Receipt
from responder.notify.outbox import email_fallback, rendered_body
from responder.notify.sms_twilio import describe_twilio_error

log = logging.getLogger(__name__)

# Twilio's status callback values (MessageStatus) and what they mean here.
_SMS_DELIVERED = {"delivered"}
_SMS_FAILED = {"undelivered", "failed", "canceled"}
_SMS_IN_PROGRESS = {"queued", "accepted", "scheduled", "sending", "sent"}
# A success is written to the provider's status at most this often (it is a write per batch otherwise).
_SUCCESS_NOTED_EVERY = timedelta(seconds=60)
_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
# A call Twilio has taken, whether or not the sender has written so yet: its webhooks may say how it went.
_ACCEPTED_CALL_STATES = (MessageState.SENDING, MessageState.SENT, MessageState.DELIVERED)
# Accepted messages recorded by one UPDATE (two bound values each, well under either database's limit).
_ACCEPTED_PER_STATEMENT = 200


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to keep trying (MESSAGE_* settings in config.py)."""

    retry_for: timedelta = timedelta(hours=2)
    base_seconds: float = 5.0
    max_seconds: float = 300.0
    lease_seconds: float = 20.0
    email_fallback_after: timedelta = timedelta(minutes=2)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RetryPolicy:
        return cls(
            retry_for=timedelta(seconds=config["MESSAGE_RETRY_FOR_SECONDS"]),
            base_seconds=float(config["MESSAGE_RETRY_BASE_SECONDS"]),
            max_seconds=float(config["MESSAGE_RETRY_MAX_SECONDS"]),
            lease_seconds=float(config["MESSAGE_LEASE_SECONDS"]),
            email_fallback_after=timedelta(seconds=config["MESSAGE_EMAIL_FALLBACK_SECONDS"]),
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
    """A message this sender owns for now: ``attempt`` is its fencing number.

    ``unknown_since`` is set when an earlier attempt may have reached the
    provider: ask it (find_sent) before sending.
    """

    message: OutgoingMessage
    attempt: int
    unknown_since: datetime | None = None


class Result(enum.StrEnum):
    SENT = "sent"  # accepted by the provider (or found there after all)
    RETRY = "retry"  # did not go; try again after a backoff
    UNKNOWN = "unknown"  # may have gone; ask the provider before trying again
    FAILED = "failed"  # did not go and never will


@dataclass(frozen=True)
class Outcome:
    """What became of one claim, for :func:`record_outcomes`."""

    claim: Claim
    result: Result
    provider_name: str
    receipt: Receipt | None = None
    reason: str = ""
    provider_trouble: bool = False  # the provider refused or did not answer (not this recipient)
    found_at_provider: bool = False  # an earlier attempt had reached it after all


def _due(now: datetime):
    waiting = and_(
        Message.state == MessageState.PENDING,
        or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
    )
    # A sender that died leaves its claim behind; once the lease runs out anyone may take it over.
    abandoned = and_(Message.state == MessageState.SENDING, Message.lease_until <= now)
    return and_(Message.provider_id.is_(None), or_(waiting, abandoned))


def claim_due(
    limit: int, policy: RetryPolicy, channel: str | None = None, exclude: Iterable[int] = ()
) -> list[Claim]:
    """Take up to ``limit`` due messages (of ``channel``, or any; texts first, then oldest first).

    An SMS is what wakes a lead at 2 a.m., so when senders are scarce the
    emails of the same alert wait a moment rather than the texts.
    """
    if limit <= 0:
        return []
    now = now_utc()
    sms_first = case((Message.channel == Channel.SMS, 0), else_=1)
    query = select(Message.id).where(_due(now)).order_by(sms_first, Message.id).limit(limit)
    if channel is not None:
        query = query.where(Message.channel == channel)
    exclude = list(exclude)
    if exclude:
        query = query.where(Message.id.not_in(exclude))
    candidates = list(db.session.scalars(query))
    if not candidates:
        return []
    # The WHERE is checked again by the UPDATE: of two senders racing for a row, one takes it.
    taken_over = and_(Message.state == MessageState.SENDING, Message.handed_at.is_not(None))
    claimed = db.session.scalars(
        update(Message)
        .where(Message.id.in_(candidates), _due(now))
        .values(
            state=MessageState.SENDING,
            attempts=Message.attempts + 1,
            handed_at=now,
            lease_until=now + timedelta(seconds=policy.lease_seconds),
            unknown_since=case(
                (taken_over, func.coalesce(Message.unknown_since, Message.handed_at)),
                else_=Message.unknown_since,
            ),
        )
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    ).all()
    rows = db.session.scalars(
        select(Message)
        .where(Message.id.in_(claimed))
        .order_by(sms_first, Message.id)
        .options(selectinload(Message.access_token))
        .execution_options(populate_existing=True)
    ).all()
    return [Claim(outgoing(message), message.attempts, message.unknown_since) for message in rows]


def outgoing(message: Message) -> OutgoingMessage:
    """What the provider is sent: the rows' values, with the recipient's link filled in."""
    return OutgoingMessage(
        id=message.id,
        channel=message.channel,
        recipient=message.recipient,
        subject=message.subject,
        text=rendered_body(message),
        html=rendered_body(message, html=True) if message.html_body else None,
        created_at=message.created_at,
    )


def next_due_at() -> datetime | None:
    """When the next retry or the next lease to run out falls due, if any."""
    retry = db.session.scalar(
        select(func.min(Message.next_attempt_at)).where(
            Message.state == MessageState.PENDING, Message.provider_id.is_(None)
        )
    )
    lease = db.session.scalar(
        select(func.min(Message.lease_until)).where(
            Message.state == MessageState.SENDING, Message.provider_id.is_(None)
        )
    )
    moments = [moment for moment in (retry, lease) if moment is not None]
    return min(moments) if moments else None


def record_outcomes(outcomes: list[Outcome], policy: RetryPolicy) -> None:
    """Write what became of a batch of claims, in the caller's unit of work."""
    if not outcomes:
        return
    _lock_with_twins([outcome.claim.message.id for outcome in outcomes])
    now = now_utc()
    accepted = [outcome for outcome in outcomes if outcome.result == Result.SENT]
    for start in range(0, len(accepted), _ACCEPTED_PER_STATEMENT):
        _record_accepted(accepted[start : start + _ACCEPTED_PER_STATEMENT], now)
    for outcome in outcomes:
        if outcome.result == Result.FAILED:
            _record_failure(outcome.claim, outcome.reason, now)
        elif outcome.result != Result.SENT:
            _record_retry(outcome, policy, now)
    _note_provider_health(outcomes, now)


def _record_accepted(outcomes: list[Outcome], now: datetime) -> None:
    """The provider took these: keep each one's id so it is never sent again, whoever holds the claim now.

    One UPDATE for the lot, then one read of what the timeline needs: a
    batch costs a fixed number of statements, not a handful per message.
    """
    by_id = {outcome.claim.message.id: outcome for outcome in outcomes}
    recorded = set(
        db.session.scalars(
            update(Message)
            .where(Message.id.in_(by_id), Message.provider_id.is_(None))
            .values(
                # A call's webhooks can come before this is written: what they recorded stands.
                state=case(
                    (Message.state.in_((MessageState.DELIVERED, MessageState.FAILED)), Message.state),
                    else_=MessageState.SENT,
                ),
                provider_id=_per_message(
                    Message.provider_id, {i: o.receipt.provider_id for i, o in by_id.items()}
                ),
                provider_status=_per_message(
                    Message.provider_status, {i: o.receipt.status for i, o in by_id.items()}
                ),
                sent_at=now,
                lease_until=None,
                next_attempt_at=None,
                handed_at=None,
                unknown_since=None,
                failing_since=None,
                last_error=case((Message.state == MessageState.FAILED, Message.last_error), else_=None),
            )
            .returning(Message.id)
            .execution_options(synchronize_session=False)
        )
    )
    for message_id in by_id.keys() - recorded:
        _note_if_sent_twice(by_id[message_id])
    if not recorded:
        return
    messages = db.session.scalars(
        select(Message)
        .where(Message.id.in_(recorded))
        .order_by(Message.id)
        .options(
            selectinload(Message.incident),
            joinedload(Message.contact),
            joinedload(Message.activation),
        )
        .execution_options(populate_existing=True)
    ).all()
    twins = _twins_of([message for message in messages if message.channel == Channel.EMAIL])
    for message in messages:
        outcome = by_id[message.id]
        _record(
            message,
            EventKind.MESSAGE_SENT,
            provider=outcome.provider_name,
            found=outcome.found_at_provider or None,
        )
        if message.channel == Channel.EMAIL:
            _note_reached_by_email(message, twins.get(message.twin_of_id))


def _per_message(column: Any, values: Mapping[int, str | None]) -> Any:
    """A column's new value message by message, for one UPDATE over many messages."""
    return case(
        {message_id: literal(value, column.type) for message_id, value in values.items()}, value=Message.id
    )


def _note_if_sent_twice(outcome: Outcome) -> None:
    """An accepted message whose row already had a provider id: the same id is a lookup, another is a double."""
    message_id, receipt = outcome.claim.message.id, outcome.receipt
    recorded = db.session.scalar(select(Message.provider_id).where(Message.id == message_id))
    if recorded != receipt.provider_id:
        log.error(
            "message %s was accepted by %s as %s but was already recorded as %s: it went twice",
            message_id,
            outcome.provider_name,
            receipt.provider_id,
            recorded,
        )


def _record_retry(outcome: Outcome, policy: RetryPolicy, now: datetime) -> None:
    """Not sent, or not known to be: try again later, unless the time for retrying has run out."""
    claim = outcome.claim
    message = db.session.get(Message, claim.message.id, populate_existing=True)
    if not _still_ours(message, claim):
        log.warning("message %s: attempt %s lost its claim before it was recorded", message.id, claim.attempt)
        return
    failing_since = message.failing_since or now
    if now - failing_since >= policy.retry_for:
        unsure = " (it may have been delivered: the provider could not say)" if message.unknown_since else ""
        _fail(
            message,
            f"gave up after trying for {_duration(policy.retry_for)}{unsure}; the last attempt: "
            f"{outcome.reason}",
            now,
        )
        return
    if outcome.result == Result.UNKNOWN:
        message.unknown_since = message.unknown_since or message.handed_at or now
    message.state = MessageState.PENDING
    message.next_attempt_at = now + policy.delay_after(claim.attempt)
    message.lease_until = message.handed_at = None
    message.failing_since = failing_since
    message.last_error = outcome.reason
    if message.channel == Channel.SMS and now - failing_since >= policy.email_fallback_after:
        _fall_back_to_email(
            message, f"the text has not gone for {_duration(now - failing_since)} ({outcome.reason})"
        )


def _record_failure(claim: Claim, reason: str, now: datetime) -> None:
    """A permanent failure: stop, and tell the timeline in plain words."""
    message = db.session.get(Message, claim.message.id, populate_existing=True)
    if not _still_ours(message, claim):
        log.warning("message %s: attempt %s lost its claim before it failed", message.id, claim.attempt)
        return
    _fail(message, reason, now)
    if message.channel == Channel.SMS:
        _fall_back_to_email(message, f"the text failed ({reason})")


def _fail(message: Message, reason: str, now: datetime) -> None:
    message.state = MessageState.FAILED
    message.failed_at = now
    message.lease_until = message.next_attempt_at = message.handed_at = None
    message.last_error = reason
    db.session.flush()
    _record_failed(message)


def _still_ours(message: Message | None, claim: Claim) -> bool:
    return (
        message is not None
        and message.state == MessageState.SENDING
        and message.attempts == claim.attempt
        and message.provider_id is None
    )


def _fall_back_to_email(text: Message, why: str) -> None:
    """A text with no email beside it gets one, if its recipient has an address; say so on the timeline.

    Not a call-out test's: it asks whether the number works, and an email would answer for it.
    """
    if text.kind == MessageKind.CALLOUT_TEST:
        return
    if _twin(text) is not None or text.contact is None or not text.contact.email:
        return
    email = email_fallback(text)
    db.session.add(email)
    _record(text, EventKind.EMAILED_AS_WELL, channel=Channel.EMAIL, text=why)


class Reported(enum.StrEnum):
    """What a delivery receipt says, whichever provider sent it."""

    DELIVERED = "delivered"
    FAILED = "failed"
    IN_PROGRESS = "in_progress"  # still on its way: kept as the provider's status only
    UNKNOWN = "unknown"  # a status this code does not know: ignored


@dataclass(frozen=True)
class DeliveryReceipt:
    """A provider's report on one message it accepted: its id, its own word, and what that means."""

    provider_id: str
    status: str
    reported: Reported
    reason: str | None = None  # in plain words, for a failure


def record_sms_status(provider_id: str, status: str, error_code: str | None = None) -> Message | None:
    """Apply a Twilio status callback. Returns the message, or None if the id is not ours."""
    status = status.strip().lower()
    if status in _SMS_DELIVERED:
        reported = Reported.DELIVERED
    elif status in _SMS_FAILED:
        reported = Reported.FAILED
    elif status in _SMS_IN_PROGRESS:
        reported = Reported.IN_PROGRESS
    else:
        reported = Reported.UNKNOWN
    reason = describe_twilio_error(error_code) if reported == Reported.FAILED else None
    return record_receipt(DeliveryReceipt(provider_id, status, reported, reason))


def record_receipt(receipt: DeliveryReceipt) -> Message | None:
    """Apply a delivery receipt (Twilio's or Notify's). Returns the message, or None if the id is not ours.

    Only a sent message moves on, so a late or repeated receipt never undoes
    ``delivered`` or ``failed``; a failure after acceptance is a permanent
    failure like any other (a failed text is emailed as well).
    """
    message_id = db.session.scalar(select(Message.id).where(Message.provider_id == receipt.provider_id))
    if message_id is None:
        return None
    now = now_utc()
    if receipt.reported == Reported.DELIVERED:
        values = {"state": MessageState.DELIVERED, "delivered_at": now}
    elif receipt.reported == Reported.FAILED:
        values = {"state": MessageState.FAILED, "failed_at": now, "last_error": receipt.reason}
    elif receipt.reported == Reported.IN_PROGRESS:
        values = {}
    else:
        log.info("ignoring delivery status %r for message %s", receipt.status, message_id)
        return db.session.get(Message, message_id)
    _lock_with_twins([message_id])
    result = db.session.execute(
        update(Message)
        .where(Message.id == message_id, Message.state == MessageState.SENT)
        .values(provider_status=receipt.status[:32], **values)
        .execution_options(synchronize_session=False)
    )
    message = db.session.get(Message, message_id, populate_existing=True)
    if result.rowcount == 1 and message.state == MessageState.DELIVERED:
        _record(message, EventKind.MESSAGE_DELIVERED)
    elif result.rowcount == 1 and message.state == MessageState.FAILED:
        _record_failed(message)
        if message.channel == Channel.SMS:
            _fall_back_to_email(message, f"the text failed ({message.last_error})")
    return message


def record_call_failure(message: Message, error_code: str | None = None) -> None:
    """Twilio accepted a call but could not place it: the call failed, with the reason, on the timeline."""
    reason = describe_twilio_error(error_code) if error_code else "Twilio could not place the call"
    failed = db.session.execute(
        update(Message)
        .where(Message.id == message.id, Message.state.in_(_ACCEPTED_CALL_STATES))
        .values(state=MessageState.FAILED, failed_at=now_utc(), last_error=reason)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(message)
    if failed:
        _record_failed(message)


# --- the providers' health ---------------------------------------------------------


def _note_provider_health(outcomes: list[Outcome], now: datetime) -> None:
    """A channel whose provider accepted a message is well; one that refused or timed out is failing.

    Read first, in one statement: a provider that is well and was noted so
    lately needs no write, which is nearly every batch.
    """
    channels = {outcome.claim.message.channel for outcome in outcomes}
    noted = {
        row.channel: row
        for row in db.session.execute(
            select(
                ProviderStatus.channel, ProviderStatus.last_success_at, ProviderStatus.failing_since
            ).where(ProviderStatus.channel.in_(channels))
        )
    }
    for channel in channels:
        mine = [outcome for outcome in outcomes if outcome.claim.message.channel == channel]
        accepted = any(outcome.result == Result.SENT for outcome in mine)
        trouble = [outcome for outcome in mine if outcome.provider_trouble]
        row = noted.get(channel)
        if accepted:
            if row is not None and row.failing_since is None and _lately(row.last_success_at, now):
                continue
            if row is None:
                _provider_row(channel)
            db.session.execute(
                update(ProviderStatus)
                .where(
                    ProviderStatus.channel == channel,
                    or_(
                        ProviderStatus.failing_since.is_not(None),
                        ProviderStatus.last_success_at.is_(None),
                        ProviderStatus.last_success_at < now - _SUCCESS_NOTED_EVERY,
                    ),
                )
                .values(last_success_at=now, failing_since=None)
                .execution_options(synchronize_session=False)
            )
        elif trouble:
            if row is None:
                _provider_row(channel)
            db.session.execute(
                update(ProviderStatus)
                .where(ProviderStatus.channel == channel)
                .values(
                    failing_since=func.coalesce(ProviderStatus.failing_since, now),
                    last_error=trouble[-1].reason[:500],
                )
                .execution_options(synchronize_session=False)
            )


def _lately(success_at: datetime | None, now: datetime) -> bool:
    return success_at is not None and success_at >= now - _SUCCESS_NOTED_EVERY


def _provider_row(channel: str) -> None:
    insert = _INSERT[db.session.get_bind().dialect.name]
    db.session.execute(insert(ProviderStatus).values(channel=channel).on_conflict_do_nothing())


# --- in-transaction helpers -----------------------------------------------------


def _lock_with_twins(message_ids: list[int]) -> None:
    """Lock the messages and their other-channel twins before any changes.

    "Reached by email instead" needs one channel to see the other's outcome:
    with both rows locked (in id order, so two finishers never deadlock) the
    second of the two to finish always sees the first. SQLite has no row
    locks, but it lets one writer at a time in, which gives the same order.
    The emails' texts are looked up first (a twin never changes), so that the
    lock is two index lookups, never a scan of every message.
    """
    texts_of_emails = db.session.scalars(
        select(Message.twin_of_id).where(Message.id.in_(message_ids), Message.twin_of_id.is_not(None))
    )
    pair = or_(Message.id.in_({*message_ids, *texts_of_emails}), Message.twin_of_id.in_(message_ids))
    db.session.execute(select(Message.id).where(pair).order_by(Message.id).with_for_update()).all()


def _twin(message: Message) -> Message | None:
    """The same message on the other channel: an email names the text it goes with."""
    if message.channel == Channel.EMAIL:
        condition = Message.id == message.twin_of_id if message.twin_of_id else None
    else:
        condition = Message.twin_of_id == message.id
    if condition is None:
        return None
    return db.session.scalar(select(Message).where(condition).execution_options(populate_existing=True))


def _twins_of(emails: list[Message]) -> dict[int, Message]:
    """The texts these emails go with, read afresh in one statement, by id."""
    ids = {email.twin_of_id for email in emails if email.twin_of_id is not None}
    if not ids:
        return {}
    texts = db.session.scalars(
        select(Message).where(Message.id.in_(ids)).execution_options(populate_existing=True)
    )
    return {text.id: text for text in texts}


def _record_failed(message: Message) -> None:
    # The provider's reason may quote the address: kept as words, withheld when redacted.
    _record(message, EventKind.MESSAGE_FAILED, text=message.last_error)
    if message.channel == Channel.SMS:
        _note_reached_by_email(message, _twin(message))


def _note_reached_by_email(message: Message, twin: Message | None) -> None:
    """Once the SMS has failed and the email has gone, say the lead was reached by email."""
    if twin is None:
        return
    sms, email = (message, twin) if message.channel == Channel.SMS else (twin, message)
    if sms.state == MessageState.FAILED and email.state in (MessageState.SENT, MessageState.DELIVERED):
        _record(sms, EventKind.FELL_BACK_TO_EMAIL, channel=Channel.EMAIL, text=sms.last_error)


def _record(
    message: Message, kind: EventKind, *, channel: str | None = None, text: str | None = None, **data
) -> None:
    """A message's fate on its incident's timeline: to whom (by id), never the address."""
    if message.incident is None:
        return
    timeline.record(
        message.incident,
        kind,
        contact=message.contact,
        channel=channel or message.channel,
        agency_key=message.activation.agency_key if message.activation is not None else None,
        text=text,
        message=message.kind,
        message_id=message.id,
        attempts=message.attempts,
        to=None if message.contact is not None else "officer",
        **data,
    )


def _duration(span: timedelta) -> str:
    minutes = round(span.total_seconds() / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h" + (f" {minutes} min" if minutes else "")
