"""Staff accounts: creating users and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import func, select

from responder.clock import now_utc
from responder.directory.contacts import ContactError, normalise_email
from responder.extensions import db
from responder.models import LOCAL_AUTHORITIES, ApiToken, Role, User

MIN_PASSWORD_LENGTH = 12
DEFAULT_TOKEN_LIFETIME = timedelta(days=90)


class UserError(ValueError):
    pass


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def create_user(
    email: str,
    role: str,
    password: str,
    name: str | None = None,
    local_authorities: list[str] | None = None,
) -> User:
    """Create a user (or raise UserError); passwords are hashed with Argon2id.

    ``local_authorities`` limits an officer to those areas (None: all of them).
    """
    try:
        email = normalise_email(email).lower()
    except ContactError as error:
        raise UserError(str(error)) from None
    if role not in {r.value for r in Role}:
        raise UserError(f"role: must be one of {', '.join(r.value for r in Role)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password: must be at least {MIN_PASSWORD_LENGTH} characters")
    if find_user(email) is not None:
        raise UserError(f"email: a user with {email} already exists")
    if local_authorities is not None:
        unknown = sorted(set(local_authorities) - set(LOCAL_AUTHORITIES))
        if unknown:
            raise UserError(
                f"local authority: {', '.join(unknown)} is not one of {', '.join(LOCAL_AUTHORITIES)}"
            )
        if role != Role.OFFICER:
            raise UserError("local authority: only officers are limited to areas; managers see every one")
        local_authorities = sorted(set(local_authorities))
    user = User(email=email, role=role, name=name or email.split("@")[0], local_authorities=local_authorities)
    user.set_password(password)
    db.session.add(user)
    return user


def issue_api_token(user: User, lifetime: timedelta = DEFAULT_TOKEN_LIFETIME) -> str:
    """A new bearer token that expires after ``lifetime``; only its hash is kept, so it is shown once."""
    raw = "rsp_" + secrets.token_urlsafe(32)
    db.session.add(
        ApiToken(
            user=user,
            token_hash=hashlib.sha256(raw.encode("utf-8")).hexdigest(),
            expires_at=now_utc() + lifetime,
        )
    )
    return raw
