"""Staff sessions kept on the server, so that signing out ends a session everywhere.

The signed session cookie carries a random session id; only its SHA-256 is
stored (:class:`StaffSession`). A request is signed in only while that row is
open, used within the idle limit (``SESSION_IDLE_MINUTES``) and younger than
the absolute limit (``SESSION_ABSOLUTE_HOURS``). A cookie copied before sign-out
names a row that has ended, so it no longer works anywhere.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from responder.clock import as_utc, now_utc
from responder.extensions import db
from responder.models import SessionEnd, StaffSession, User

# last_seen_at is written at most this often, not on every request.
TOUCH_EVERY = timedelta(minutes=1)


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def start_session(user: User, method: str, browser: str = "") -> str:
    """Open a session for ``user``; returns the id for the cookie (kept only as a hash)."""
    raw = secrets.token_urlsafe(32)
    now = now_utc()
    db.session.add(
        StaffSession(
            user=user,
            token_hash=_digest(raw),
            method=method,
            browser=browser[:120],
            created_at=now,
            last_seen_at=now,
        )
    )
    return raw


def live_session(raw: str | None, user_id: int) -> StaffSession | None:
    """The open session this cookie names for this user, touched; None when it has ended or expired."""
    if not raw or len(raw) > 100:
        return None
    record = db.session.scalar(select(StaffSession).where(StaffSession.token_hash == _digest(raw)))
    if record is None or record.user_id != user_id or record.ended_at is not None:
        return None
    now = now_utc()
    if expired := _expiry(record, now):
        _end(record, expired, now)
        return None
    if now - as_utc(record.last_seen_at) >= TOUCH_EVERY:
        record.last_seen_at = now
    return record


def _expiry(record: StaffSession, now: datetime) -> SessionEnd | None:
    config = current_app.config
    if now - as_utc(record.created_at) >= config["SESSION_ABSOLUTE_LIFETIME"]:
        return SessionEnd.LIFETIME
    if now - as_utc(record.last_seen_at) >= config["PERMANENT_SESSION_LIFETIME"]:
        return SessionEnd.IDLE
    return None


def _end(record: StaffSession, reason: SessionEnd, now: datetime) -> None:
    record.ended_at, record.ended_because = now, reason


def end_session(record: StaffSession, reason: SessionEnd = SessionEnd.SIGNED_OUT) -> None:
    """End one session (signing out): its cookie stops working everywhere."""
    if record.ended_at is None:
        _end(record, reason, now_utc())


def end_sessions(user: User, reason: SessionEnd, *, keep: StaffSession | None = None) -> int:
    """End every open session of ``user`` but ``keep``; returns how many ended."""
    query = (
        update(StaffSession)
        .where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
        .values(ended_at=now_utc(), ended_because=reason)
    )
    if keep is not None:
        query = query.where(StaffSession.id != keep.id)
    return db.session.execute(query, execution_options={"synchronize_session": "fetch"}).rowcount


def open_sessions(user: User) -> list[StaffSession]:
    """The user's sessions that have not ended or expired, newest first."""
    now = now_utc()
    rows = db.session.scalars(
        select(StaffSession)
        .where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
        .order_by(StaffSession.last_seen_at.desc(), StaffSession.id.desc())
    ).all()
    return [row for row in rows if _expiry(row, now) is None]
