"""Confirming a call-out test: "this number reaches me", by the link in the text or by replying its code.

A confirmation is written once (a conditional UPDATE): the link used twice,
or a reply sent twice, says when it was first confirmed and changes nothing.
After the test's 24 hours neither works, and nothing is recorded.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from responder.clock import as_utc, now_utc
from responder.extensions import db
from responder.models import (
    LOCAL_AUTHORITIES,
    CalloutRecipient,
    CalloutTest,
    ConfirmedBy,
    Contact,
    TokenPurpose,
)
from responder.responses.access_tokens import find_token


class Result(enum.StrEnum):
    CONFIRMED = "confirmed"
    ALREADY_CONFIRMED = "already_confirmed"
    ENDED = "ended"  # the test's 24 hours are over


@dataclass(frozen=True)
class Confirmation:
    result: Result
    recipient: CalloutRecipient
    at: datetime | None = None  # when it was confirmed (first)


def recipient_for_link(raw: str) -> CalloutRecipient | None:
    """The call-out recipient a link belongs to, or None (unknown, malformed, or another kind of link)."""
    token = find_token(raw, TokenPurpose.CALLOUT)
    if token is None:
        return None
    return db.session.scalar(select(CalloutRecipient).where(CalloutRecipient.access_token_id == token.id))


def has_ended(recipient: CalloutRecipient, at: datetime | None = None) -> bool:
    return as_utc(recipient.test.ends_at) <= (at or now_utc())


def confirm(recipient: CalloutRecipient, by: ConfirmedBy) -> Confirmation:
    """Record that the number reached its holder (once), unless the test has ended."""
    now = now_utc()
    if has_ended(recipient, now):
        return Confirmation(Result.ENDED, recipient)
    won = db.session.execute(
        update(CalloutRecipient)
        .where(CalloutRecipient.id == recipient.id, CalloutRecipient.confirmed_at.is_(None))
        .values(confirmed_at=now, confirmed_by=by)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(recipient)
    return Confirmation(
        Result.CONFIRMED if won else Result.ALREADY_CONFIRMED, recipient, recipient.confirmed_at
    )


def open_for(contacts: list[Contact]) -> list[CalloutRecipient]:
    """Running tests' requests to these contacts that still hold a reply code (for SMS replies)."""
    if not contacts:
        return []
    return list(
        db.session.scalars(
            select(CalloutRecipient)
            .join(CalloutTest, CalloutRecipient.test_id == CalloutTest.id)
            .where(
                CalloutRecipient.contact_id.in_([c.id for c in contacts]),
                CalloutRecipient.reply_code.is_not(None),
                CalloutTest.ends_at > now_utc(),
            )
            .order_by(CalloutRecipient.id)
        )
    )


def answer_reply(recipient: CalloutRecipient, verb: str) -> str:
    """Act on "YES 4821" (confirm) or "NO 4821" (noted, nothing recorded) and say what happened."""
    area = LOCAL_AUTHORITIES.get(recipient.test.local_authority, recipient.test.local_authority)
    if verb != "acknowledge":
        return (
            f"Responder: the {area} call-out test is not confirmed for this number. "
            "If it should not be on the list, tell your Responder administrator."
        )
    outcome = confirm(recipient, ConfirmedBy.SMS_REPLY)
    if outcome.result == Result.ALREADY_CONFIRMED:
        return f"Responder: this number was already confirmed for the {area} call-out test. Thank you."
    if outcome.result == Result.ENDED:
        return f"Responder: the {area} call-out test has ended, so nothing was recorded."
    return (
        f"Responder: thank you. This number is confirmed for the {area} call-out test. This was only a test."
    )
