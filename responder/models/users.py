"""Staff accounts and their API tokens."""

from __future__ import annotations

import contextlib
import enum
import functools
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import JSON, BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from responder.clock import as_utc, now_utc
from responder.extensions import db
from responder.models.types import EnumText, UTCDateTime

# Argon2id: memory-hard, so a stolen table is expensive to crack. Under TESTING
# only, the cheapest parameters Argon2 allows: a test suite that creates a user in
# most tests would otherwise spend minutes hashing. Verifying reads the parameters
# from the stored hash, so either hasher checks either kind of hash.
_STRONG = PasswordHasher()
_CHEAP_FOR_TESTS = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _hasher() -> PasswordHasher:
    return _CHEAP_FOR_TESTS if has_app_context() and current_app.config.get("TESTING") else _STRONG


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified against when the email is unknown, so both paths cost the same."""
    return hasher.hash("responder-dummy-password")


# Stored as the password hash of someone with no password: no hash ever verifies against it.
NO_PASSWORD = "!no-password"  # noqa: S105 - a marker no hash matches


class Role(enum.StrEnum):
    OFFICER = "officer"
    MANAGER = "manager"
    ADMIN = "admin"


# What each role may do, from least to most.
ROLE_RANK = {Role.OFFICER: 1, Role.MANAGER: 2, Role.ADMIN: 3}


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(EnumText(Role, 16))
    # An Argon2id hash; NO_PASSWORD for someone who signs in only through single sign-on.
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # Consecutive failed sign-ins from anywhere since the last success: the holder is
    # e-mailed when it reaches responder.accounts.throttling.NOTICE_AFTER. Throttling
    # itself is by address (SignInThrottle), so strangers cannot lock anyone out.
    failed_logins: Mapped[int] = mapped_column(default=0)
    # Officers may be limited to some local authorities; None means all of them.
    local_authorities: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    # Two-factor (TOTP, RFC 6238): the base32 secret; when enrolment was confirmed
    # (None: not enrolled, or enrolment not finished); the last time step accepted,
    # so a code cannot be used twice.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # Single sign-on: "issuer|subject" of the identity provider's account. A user
    # managed by single sign-on gets role and areas from its claims at each sign-in.
    sso_subject: Mapped[str | None] = mapped_column(String(400), unique=True)
    sso_managed: Mapped[bool] = mapped_column(default=False)

    api_tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")

    def set_password(self, password: str) -> None:
        self.password_hash = _hasher().hash(password)

    def check_password(self, password: str) -> bool:
        try:
            return _hasher().verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def has_password(self) -> bool:
        return self.password_hash != NO_PASSWORD

    @property
    def has_two_factor(self) -> bool:
        return self.totp_enabled_at is not None

    def has_role(self, role: Role | str) -> bool:
        """True when this user's role is ``role`` or a more senior one."""
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(role)]

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


def burn_password_check(password: str) -> None:
    """Spend the same time as a real check, for unknown emails."""
    with contextlib.suppress(VerificationError):
        hasher = _hasher()
        hasher.verify(_dummy_hash(hasher), password)


# How precisely an API token's last use is kept (ApiToken.note_use).
LAST_USE_NOTED_EVERY = timedelta(minutes=1)


class ApiToken(db.Model):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Every token expires (`users token --expires-days N`).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="api_tokens")

    def usable_at(self, moment: datetime) -> bool:
        """Not revoked, and not expired at ``moment``."""
        return self.revoked_at is None and (self.expires_at is None or as_utc(self.expires_at) > moment)

    def note_use(self, moment: datetime) -> None:
        """Keep when the token was last used, to the minute.

        Written at most once a minute: a write on every request would make
        requests with the same token queue on its row until each commits.
        """
        if self.last_used_at is None or as_utc(self.last_used_at) <= moment - LAST_USE_NOTED_EVERY:
            self.last_used_at = moment
