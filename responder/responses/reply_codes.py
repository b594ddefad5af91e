"""Reply codes: four digits that let a lead answer an alert by text ("YES 4821").

A code is unique among the activations that hold one (a database constraint),
so a reply can never reach the wrong incident. A code is released when the
incident closes; it stops answering when the alert's links expire, and is
then free to be drawn again. Call-out tests
(responder.callouts) draw from the same pool: a code held by an alert is never
given to a test, nor one held by a running test to an alert.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import Select, select, union_all, update

from responder.clock import now_utc
from responder.extensions import db
from responder.models import Activation, CalloutRecipient, CalloutTest

CODE_RANGE = range(1000, 10000)
_ALL_CODES = tuple(str(code) for code in CODE_RANGE)
# Codes looked up per code wanted (allocate): enough that a draw almost never reads every held code.
CANDIDATES_PER_CODE = 4
_RANDOM = secrets.SystemRandom()

_REPLY = re.compile(
    r"^\s*(?P<verb>[a-z]+)[\s.,:;!-]*(?P<code>\d{4})?(?!\d)[\s.,:;!-]*(?P<rest>.*)$", re.I | re.S
)
ACKNOWLEDGE_WORDS = {"yes", "y", "ack", "ok", "confirm", "confirmed"}
DECLINE_WORDS = {"no", "n", "decline", "declined"}


class CodesExhausted(RuntimeError):
    pass


def allocate(count: int) -> list[str]:
    """``count`` free codes, at random, for the caller's transaction (one read, usually no write).

    The read looks at a random few codes, CANDIDATES_PER_CODE for each one
    wanted, not at every code held: the space is large and mostly free, so
    they nearly always hold enough, and an opening costs the same however
    many alerts hold codes. Only when they do not is every held code read.
    A code still set on an alert whose links have expired, or on a call-out
    test that has ended, is free: it is taken off that row only when drawn
    again, so an opening does not rewrite every stale row.
    """
    stale = _Stale(alert_code_cutoff(), select(CalloutTest.id).where(CalloutTest.ends_at <= now_utc()))
    free: list[str] = []
    if count * CANDIDATES_PER_CODE < len(_ALL_CODES):
        candidates = _RANDOM.sample(_ALL_CODES, count * CANDIDATES_PER_CODE)
        live, stale_codes = _held_codes(stale, among=candidates)
        free = [code for code in candidates if code not in live]
    if len(free) < count:
        live, stale_codes = _held_codes(stale)
        free = [code for code in _ALL_CODES if code not in live]
    if len(free) < count:
        raise CodesExhausted("no reply codes left: close finished incidents to release theirs")
    chosen = _RANDOM.sample(free, count)
    if reused := [code for code in chosen if code in stale_codes]:
        _release(reused, stale)
    return chosen


def alert_code_cutoff() -> datetime:
    """Alerts activated before this hold a code no longer: their links have expired."""
    return now_utc() - current_app.config["ACCESS_TOKEN_TTL"]


@dataclass(frozen=True)
class _Stale:
    """What makes a held code stale: an alert activated before ``cutoff``, a test among ``ended``."""

    cutoff: datetime
    ended: Select


def _held_codes(stale: _Stale, among: list[str] | None = None) -> tuple[set[str], set[str]]:
    """(codes held by a live alert or running test, codes still set on an expired alert or ended test).

    Of ``among`` only (each a unique index lookup), or of every code.
    """
    alert_codes = Activation.reply_code.is_not(None) if among is None else Activation.reply_code.in_(among)
    test_codes = (
        CalloutRecipient.reply_code.is_not(None) if among is None else CalloutRecipient.reply_code.in_(among)
    )
    alerts = select(Activation.reply_code, Activation.activated_at < stale.cutoff).where(alert_codes)
    tests = select(CalloutRecipient.reply_code, CalloutRecipient.test_id.in_(stale.ended)).where(test_codes)
    live: set[str] = set()
    expired: set[str] = set()
    for code, is_stale in db.session.execute(union_all(alerts, tests)):
        (expired if is_stale else live).add(code)
    return live, expired - live


def _release(codes: list[str], stale: _Stale) -> None:
    """Take ``codes`` off the expired alerts and ended tests that still carry them."""
    db.session.execute(
        update(Activation)
        .where(Activation.reply_code.in_(codes), Activation.activated_at < stale.cutoff)
        .values(reply_code=None)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(CalloutRecipient)
        .where(CalloutRecipient.reply_code.in_(codes), CalloutRecipient.test_id.in_(stale.ended))
        .values(reply_code=None)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class Reply:
    verb: str  # "acknowledge" or "decline"
    code: str | None
    reason: str


def parse_reply(text: str) -> Reply | None:
    """Understand "YES 4821", "ack 4821", "No 4821 not our area", "yes"; None if not understood."""
    match = _REPLY.match(text or "")
    if not match:
        return None
    word = match.group("verb").lower()
    if word in ACKNOWLEDGE_WORDS:
        verb = "acknowledge"
    elif word in DECLINE_WORDS:
        verb = "decline"
    else:
        return None
    reason = " ".join(match.group("rest").split())
    if verb == "acknowledge" and reason and match.group("code") is None:
        return None  # "yes but…" without a code is too ambiguous to act on
    return Reply(verb=verb, code=match.group("code"), reason=reason[:500])
