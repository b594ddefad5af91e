"""Slowing down password guessing without letting strangers lock anyone out.

Failures are counted per (account, address) and per address alone, never per
account alone: the right password from an address that has not been failing is
never refused. Past a number of free failures each further failure makes that
address wait twice as long before its next try (capped), and a try during the
wait is refused with a Retry-After. An hour without failures starts the count
again; a successful sign-in clears its (account, address) count; an admin can
clear an account's counts. The account holder is e-mailed after repeated failures.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select

from responder.clock import as_utc, now_utc
from responder.extensions import db
from responder.links import public_url
from responder.models import Channel, Message, MessageKind, SignInThrottle, ThrottleScope, User
from responder.notify.message_templates import render_message


@dataclass(frozen=True)
class Limit:
    free_failures: int
    longest_wait: timedelta


LIMITS = {
    # One person mistyping: five goes, then 1 s, 2 s, 4 s ... up to 15 minutes between tries.
    ThrottleScope.ACCOUNT_AT_ADDRESS: Limit(free_failures=5, longest_wait=timedelta(minutes=15)),
    # A shared office address: many people, so many more goes before anyone waits.
    ThrottleScope.ADDRESS: Limit(free_failures=30, longest_wait=timedelta(hours=1)),
}
FIRST_WAIT = timedelta(seconds=1)
FORGET_AFTER = timedelta(hours=1)
KEEP_FOR = timedelta(days=1)
# The holder is told at the 5th consecutive failure, and again at every 25th after it.
NOTICE_AFTER = 5
NOTICE_EVERY = 25


def network_of(address: str | None) -> str:
    """The unit an address is throttled as: the IPv4 address, or the IPv6 /64 (one subscriber's)."""
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return (address or "unknown")[:64]
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def _rows(account: str, address: str) -> dict[ThrottleScope, tuple[str, str]]:
    account = account.strip().lower()[:254]
    return {
        ThrottleScope.ACCOUNT_AT_ADDRESS: (
            f"{ThrottleScope.ACCOUNT_AT_ADDRESS}:{account}|{address}",
            account,
        ),
        ThrottleScope.ADDRESS: (f"{ThrottleScope.ADDRESS}:{address}", ""),
    }


def seconds_to_wait(account: str, address: str) -> int:
    """How long this address must wait before trying this account again (0: it may try now)."""
    now = now_utc()
    keys = [key for key, _ in _rows(account, address).values()]
    waits = [
        (as_utc(row.wait_until) - now).total_seconds()
        for row in db.session.scalars(select(SignInThrottle).where(SignInThrottle.key.in_(keys)))
        if row.wait_until is not None
    ]
    return max(0, math.ceil(max(waits, default=0)))


def record_failure(account: str, address: str, user: User | None) -> None:
    """Count a failed password or code from ``address`` for ``account`` (and e-mail its holder when due)."""
    now = now_utc()
    # Addresses are personal data: rows idle for a day are of no more use, so they go.
    db.session.execute(delete(SignInThrottle).where(SignInThrottle.last_failure_at < now - KEEP_FOR))
    for scope, (key, row_account) in _rows(account, address).items():
        row = db.session.scalar(select(SignInThrottle).where(SignInThrottle.key == key))
        if row is None:
            row = SignInThrottle(key=key, scope=scope, account=row_account, address=address, failures=0)
            db.session.add(row)
        elif now - as_utc(row.last_failure_at) >= FORGET_AFTER:
            row.failures, row.wait_until = 0, None
        row.failures += 1
        row.last_failure_at = now
        row.wait_until = _wait_until(LIMITS[scope], row.failures, now)
    if user is not None and user.active:
        user.failed_logins += 1
        if user.failed_logins == NOTICE_AFTER or (
            user.failed_logins > NOTICE_AFTER and (user.failed_logins - NOTICE_AFTER) % NOTICE_EVERY == 0
        ):
            _queue_notice(user)
    db.session.flush()


def _wait_until(limit: Limit, failures: int, now: datetime) -> datetime | None:
    beyond = failures - limit.free_failures
    if beyond <= 0:
        return None
    wait = FIRST_WAIT * 2 ** min(beyond - 1, 30)
    return now + min(wait, limit.longest_wait)


def record_success(account: str, address: str, user: User) -> None:
    """A full sign-in: this (account, address) starts afresh, and so does the holder's count."""
    key, _ = _rows(account, address)[ThrottleScope.ACCOUNT_AT_ADDRESS]
    db.session.execute(delete(SignInThrottle).where(SignInThrottle.key == key))
    user.failed_logins = 0


def clear_account(user: User) -> int:
    """An admin's "unlock": forget every address's failures at this account; returns rows cleared."""
    user.failed_logins = 0
    return db.session.execute(
        delete(SignInThrottle).where(SignInThrottle.account == user.email.lower())
    ).rowcount


def throttled_addresses(user: User) -> int:
    """How many addresses are waiting before they may try this account again."""
    now = now_utc()
    rows = db.session.scalars(select(SignInThrottle).where(SignInThrottle.account == user.email.lower()))
    return sum(1 for row in rows if row.wait_until is not None and as_utc(row.wait_until) > now)


def _queue_notice(user: User) -> None:
    """Tell the holder; no address, place or time of the attempts (nothing personal in a message)."""
    context = {
        "failures": user.failed_logins,
        "sign_in_url": public_url("/login"),
        "contact": current_app.config["ACCESS_REQUEST_CONTACT"],
    }
    db.session.add(
        Message(
            channel=Channel.EMAIL,
            kind=MessageKind.SIGN_IN_NOTICE,
            recipient=user.email,
            subject="[Responder] Failed sign-ins to your account",
            body=render_message("sign_in_notice.email.txt", **context).strip() + "\n",
        )
    )
