"""Checking a password or a second-factor code, with throttling by address (responder.accounts.throttling)."""

from __future__ import annotations

from dataclasses import dataclass

from responder.accounts import throttling, two_factor
from responder.accounts.users import find_user
from responder.models import User
from responder.models.users import burn_password_check


@dataclass(frozen=True)
class Attempt:
    """What a sign-in step came to: the user (None: refused) or, when throttled, how long to wait."""

    user: User | None = None
    wait_seconds: int = 0


def attempt_password(email: str, password: str, address: str) -> Attempt:
    """The user for these credentials, or a refusal that takes the same time whether or not the email exists.

    Accounts managed by single sign-on and deactivated ones never pass here.
    """
    email = (email or "").strip()
    if wait := throttling.seconds_to_wait(email, address):
        return Attempt(wait_seconds=wait)
    user = find_user(email)
    if user is None:
        burn_password_check(password)
        throttling.record_failure(email, address, None)
        return Attempt()
    if not user.check_password(password) or not user.active or user.sso_managed:
        throttling.record_failure(email, address, user)
        return Attempt()
    return Attempt(user=user)


def attempt_code(user: User, code: str, address: str) -> Attempt:
    """``user`` when ``code`` is their authenticator's current code or an unused recovery code."""
    if wait := throttling.seconds_to_wait(user.email, address):
        return Attempt(wait_seconds=wait)
    if two_factor.verify(user, code):
        return Attempt(user=user)
    throttling.record_failure(user.email, address, user)
    return Attempt()
