"""Reply codes: four digits that let a lead answer an alert by text ("YES 4821").

A code is unique among the activations that hold one (a database constraint),
so a reply can never reach the wrong incident. Codes are released when the
incident closes or the alert's links expire, and then reused. Call-out tests
(responder.callouts) draw from the same pool: a code held by an alert is never
given to a test, nor one held by a running test to an alert.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select, update

from responder.clock import now_utc
from responder.extensions import db
from responder.models import Activation, CalloutRecipient, CalloutTest

CODE_RANGE = range(1000, 10000)

_REPLY = re.compile(
    r"^\s*(?P<verb>[a-z]+)[\s.,:;!-]*(?P<code>\d{4})?(?!\d)[\s.,:;!-]*(?P<rest>.*)$", re.I | re.S
)
ACKNOWLEDGE_WORDS = {"yes", "y", "ack", "ok", "confirm", "confirmed"}
DECLINE_WORDS = {"no", "n", "decline", "declined"}


class CodesExhausted(RuntimeError):
    pass


def release_stale_codes() -> None:
    """Free the codes of alerts whose links have expired, and of call-out tests that have ended."""
    now = now_utc()
    cutoff = now - current_app.config["ACCESS_TOKEN_TTL"]
    db.session.execute(
        update(Activation)
        .where(Activation.reply_code.is_not(None), Activation.activated_at < cutoff)
        .values(reply_code=None)
        .execution_options(synchronize_session=False)
    )
    ended = select(CalloutTest.id).where(CalloutTest.ends_at <= now)
    db.session.execute(
        update(CalloutRecipient)
        .where(CalloutRecipient.reply_code.is_not(None), CalloutRecipient.test_id.in_(ended))
        .values(reply_code=None)
        .execution_options(synchronize_session=False)
    )


def held_codes() -> set[str]:
    """Every code an alert or a running call-out test holds."""
    alerts = select(Activation.reply_code).where(Activation.reply_code.is_not(None))
    tests = select(CalloutRecipient.reply_code).where(CalloutRecipient.reply_code.is_not(None))
    return set(db.session.scalars(alerts.union(tests)))


def allocate(count: int) -> list[str]:
    """``count`` free codes, at random, for the caller's transaction."""
    release_stale_codes()
    held = held_codes()
    free = [str(code) for code in CODE_RANGE if str(code) not in held]
    if len(free) < count:
        raise CodesExhausted("no reply codes left: close finished incidents to release theirs")
    chosen: list[str] = []
    while len(chosen) < count:
        code = free.pop(secrets.randbelow(len(free)))
        chosen.append(code)
    return chosen


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
