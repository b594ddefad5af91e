"""Single sign-on: who an identity provider's validated ID token says someone is, and what they may do.

The ID token is validated by Authlib (signature against the provider's keys,
issuer, audience, expiry, nonce) before it reaches :func:`user_for_claims`,
which decides the role and areas afresh from the role claim at every sign-in.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from responder.accounts.claim_mapping import claim_mapping_from_config
from responder.accounts.users import find_user
from responder.directory.contacts import ContactError, normalise_email
from responder.extensions import db
from responder.models import NO_PASSWORD, User


class Refusal(enum.StrEnum):
    NO_ROLE = "no_role"  # the provider gives this person no role that maps to Responder's
    NO_SECOND_FACTOR = "no_second_factor"  # OIDC_REQUIRE_MFA and the token's amr lacks "mfa"
    DEACTIVATED = "deactivated"  # an administrator deactivated the Responder account
    NO_EMAIL = "no_email"  # the token carries no usable email address


class SingleSignOnRefused(Exception):
    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


def user_for_claims(claims: Mapping[str, Any], config: Mapping[str, Any]) -> User:
    """The Responder user for these validated claims, created or updated; raises SingleSignOnRefused."""
    if config.get("OIDC_REQUIRE_MFA") and "mfa" not in _values(claims.get("amr")):
        raise SingleSignOnRefused(Refusal.NO_SECOND_FACTOR)
    grant = claim_mapping_from_config(config).grant(
        _values(claims.get(config.get("OIDC_ROLE_CLAIM", "roles")))
    )
    if grant is None:
        raise SingleSignOnRefused(Refusal.NO_ROLE)
    subject = f"{claims['iss']}|{claims['sub']}"
    user = db.session.scalar(select(User).where(User.sso_subject == subject))
    if user is None:
        user = _adopt_or_create(subject, claims)
    if not user.active:
        raise SingleSignOnRefused(Refusal.DEACTIVATED)
    user.role, user.local_authorities, user.sso_managed = grant.role, grant.local_authorities, True
    if name := str(claims.get("name") or "").strip()[:120]:
        user.name = name
    db.session.flush()
    return user


def _adopt_or_create(subject: str, claims: Mapping[str, Any]) -> User:
    """A first single sign-on: take over the local account with the same email, or create one.

    Safe only because OIDC_ISSUER names one organisation's tenant, whose
    administrators control the email addresses in its tokens.
    """
    email = _email(claims)
    user = find_user(email)
    if user is not None and user.sso_subject is None:
        user.sso_subject = subject
        return user
    if user is not None:
        # The address belongs to another identity at the provider: never merge the two.
        raise SingleSignOnRefused(Refusal.NO_EMAIL)
    user = User(email=email, name=email.split("@")[0], role="officer", password_hash=NO_PASSWORD, active=True)
    user.sso_subject = subject
    db.session.add(user)
    return user


def _email(claims: Mapping[str, Any]) -> str:
    for name in ("email", "preferred_username", "upn"):
        value = claims.get(name)
        if isinstance(value, str) and "@" in value:
            try:
                return normalise_email(value).lower()
            except ContactError:
                continue
    raise SingleSignOnRefused(Refusal.NO_EMAIL)


def _values(claim: Any) -> list[str]:
    if isinstance(claim, str):
        return [claim]
    if isinstance(claim, list | tuple):
        return [str(value) for value in claim]
    return []
