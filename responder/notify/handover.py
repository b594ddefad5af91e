"""Texts claimed by the transaction that queues them, and handed to this process's sender at its commit.

In a process that sends after commit (DISPATCH_AFTER_COMMIT) and stays up
to send (a web request's, or one whose sender is running, such as the
scheduler's; not a one-off command), a text that is due at once is written
already claimed: ``sending``, its first attempt, ``handed_at`` and a lease
of MESSAGE_LEASE_SECONDS, exactly as a claim by the sender would leave it
(responder.notify.delivery). When the transaction
commits, the texts go straight to the sender's event loop, so nothing stands
between the commit that alerts forty leads and the first request to the
provider: no wake-up round trip, no claiming statement.

Nothing is lost: if the transaction rolls back (or a savepoint holding the
text does), the claim goes with it and nothing is handed over. If the
process dies between the commit and the request, or hands a text over too
late to send it within its lease, the lease runs out and whichever sender
takes the text over asks the provider first (``unknown_since``), as for any
sender that died. At most MESSAGE_SEND_WORKERS texts are claimed so per
transaction; the rest, and every email, wait for the sender's own claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, has_app_context, has_request_context
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from responder.clock import now_utc
from responder.models import Channel, Message, MessageState
from responder.notify.delivery import Claim, RetryPolicy, outgoing

# session.info keys: texts this transaction claimed, and the claims ready to hand over at commit.
_CLAIMED = "responder.texts_claimed"
_READY = "responder.texts_ready"


@dataclass(frozen=True)
class HandedOver:
    """A text claimed by the committing transaction, and when its claim runs out."""

    claim: Claim
    lease_until: datetime


def claim_new_texts(session: Session, *_: Any) -> None:
    """Before a flush: claim the new texts that are due now, if this process sends after commit."""
    if not _sends_after_commit_here():
        return
    claimed: list[Message] = session.info.setdefault(_CLAIMED, [])
    room = current_app.config["MESSAGE_SEND_WORKERS"] - len(claimed)
    if room <= 0:
        return
    now = now_utc()
    lease = timedelta(seconds=RetryPolicy.from_config(current_app.config).lease_seconds)
    for row in session.new:
        if not _due_text(row):
            continue
        row.state = MessageState.SENDING
        row.attempts = (row.attempts or 0) + 1
        row.handed_at = now
        row.lease_until = now + lease
        claimed.append(row)
        room -= 1
        if room == 0:
            return


def prepare_hand_over(session: Session) -> None:
    """Before the commit: what each claimed text will say, read while the rows are in memory.

    Only at the transaction's own commit: a savepoint released inside it may
    still be rolled back with the transaction, or its text changed after.
    """
    if session.in_nested_transaction():
        return
    session.flush()  # the commit would flush next: its new texts are claimed now, not after this
    claimed: list[Message] = session.info.pop(_CLAIMED, [])
    if not claimed:
        return
    ready = [
        HandedOver(Claim(outgoing(row), row.attempts), row.lease_until)
        for row in claimed
        # A savepoint rolled back takes its rows with it; a row changed since its claim is left alone.
        if inspect(row).persistent and row.state == MessageState.SENDING and row.provider_id is None
    ]
    session.info[_READY] = session.info.get(_READY, []) + ready


def take_ready(session: Session) -> list[HandedOver]:
    """After the commit: the texts to hand to the sender now."""
    return session.info.pop(_READY, [])


def forget(session: Session) -> None:
    """As a new transaction begins: what an earlier one claimed and did not commit was never written.

    (A savepoint rolled back inside a transaction is not a new transaction:
    the texts claimed around it still go, and its own are left out when the
    transaction commits, as rows no longer in the session.)
    """
    session.info.pop(_CLAIMED, None)
    session.info.pop(_READY, None)


def _sends_after_commit_here() -> bool:
    from responder.notify.dispatcher import dispatcher_running

    if not has_app_context() or not current_app.config["DISPATCH_AFTER_COMMIT"]:
        return False
    return has_request_context() or dispatcher_running(current_app._get_current_object())


def _due_text(row: object) -> bool:
    return (
        isinstance(row, Message)
        and row.channel == Channel.SMS
        and row.state == MessageState.PENDING
        and row.next_attempt_at is None
        and row.provider_id is None
    )
