"""Staff sign-in state kept on the server: sessions, recovery codes, throttles."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from responder.clock import now_utc
from responder.extensions import db
from responder.models.types import UTCDateTime


class SignInMethod(enum.StrEnum):
    PASSWORD = "password"  # noqa: S105 - a name, not a password
    PASSWORD_AND_CODE = "password+code"  # noqa: S105
    PASSWORD_AND_RECOVERY_CODE = "password+recovery"  # noqa: S105
    SINGLE_SIGN_ON = "sso"


class SessionEnd(enum.StrEnum):
    SIGNED_OUT = "signed_out"
    SIGNED_OUT_ELSEWHERE = "signed_out_elsewhere"  # "sign out everywhere else" from another session
    IDLE = "idle"
    LIFETIME = "lifetime"  # SESSION_ABSOLUTE_HOURS after it began
    ACCOUNT_CHANGED = "account_changed"  # deactivated, or two-factor reset, by an admin


class StaffSession(db.Model):
    """One signed-in browser. The cookie carries a random id whose SHA-256 is kept here, so
    ending this row ends the session wherever its cookie was copied."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    method: Mapped[str] = mapped_column(String(24))
    # A short description of the browser, so a person can tell their sessions apart.
    browser: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_because: Mapped[str | None] = mapped_column(String(24))

    user = relationship("User")


class RecoveryCode(db.Model):
    """A single-use code that stands in for the authenticator app; only its SHA-256 is kept."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ThrottleScope(enum.StrEnum):
    ACCOUNT_AT_ADDRESS = "account_at_address"  # one email address tried from one network address
    ADDRESS = "address"  # every email address tried from one network address


class SignInThrottle(db.Model):
    """Failed sign-ins counted per (account, address) and per address: progressive waits.

    Never per account alone, so a stranger cannot lock someone out from elsewhere.
    """

    __tablename__ = "sign_in_throttles"

    id: Mapped[int] = mapped_column(primary_key=True)
    # scope + account + address, one row each (account empty for the ADDRESS scope).
    key: Mapped[str] = mapped_column(String(400), unique=True)
    scope: Mapped[str] = mapped_column(String(24))
    account: Mapped[str] = mapped_column(String(254), default="", index=True)
    address: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    wait_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
