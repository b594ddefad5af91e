"""Two-factor sign-in with an authenticator app (TOTP, RFC 6238) and single-use recovery codes.

Enrolment: :func:`begin_enrolment` stores a new secret, unconfirmed; the person
scans the QR code (drawn here as SVG by segno, so the secret never leaves this
service) and types a code, which :func:`confirm_enrolment` checks before
turning two-factor on and issuing ten recovery codes. A code is accepted once:
the time step it belongs to is remembered, so an overheard code cannot be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

import pyotp
import segno
from flask import current_app
from sqlalchemy import delete, select

from responder.clock import now_utc
from responder.extensions import db
from responder.models import RecoveryCode, User

RECOVERY_CODES = 10
# 10 characters from a 32-letter alphabet without 0/O and 1/I/L: 50 bits each.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 10
# A code typed a little late or early still counts: one 30-second step either way.
VALID_WINDOW = 1
_NOT_CODE = re.compile(r"[\s-]")


class TwoFactorError(ValueError):
    """The code was not accepted; the message says what to do, for the person signing in."""


def begin_enrolment(user: User) -> str:
    """A new, unconfirmed secret for ``user`` (replacing any unconfirmed one); returns it."""
    if user.has_two_factor:
        raise TwoFactorError("Two-factor sign-in is already set up for this account")
    user.totp_secret = pyotp.random_base32()
    user.totp_last_step = None
    return user.totp_secret


def provisioning_uri(user: User) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(user.totp_secret).provisioning_uri(
        name=user.email, issuer_name=current_app.config["MFA_ISSUER_NAME"]
    )


def qr_code_svg(user: User) -> str:
    """The provisioning address as an inline SVG QR code (no image service, no script)."""
    return segno.make(provisioning_uri(user), error="m").svg_inline(
        scale=5, border=2, title="QR code for your authenticator app", dark="#0b0c0c", light="#ffffff"
    )


def grouped_secret(user: User) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    secret = user.totp_secret or ""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def confirm_enrolment(user: User, code: str) -> list[str]:
    """Turn two-factor on once ``code`` matches the new secret; returns the recovery codes (shown once)."""
    if user.totp_secret is None or user.has_two_factor:
        raise TwoFactorError("Start setting up two-factor sign-in again")
    _check_totp(user, code)
    user.totp_enabled_at = now_utc()
    return issue_recovery_codes(user)


def verify(user: User, code: str) -> bool:
    """True when ``code`` is the app's current code (not used before) or an unused recovery code."""
    if not user.has_two_factor:
        return False
    try:
        _check_totp(user, code)
        return True
    except TwoFactorError:
        return use_recovery_code(user, code)


def _check_totp(user: User, code: str) -> None:
    digits = _NOT_CODE.sub("", code or "")
    if not re.fullmatch(r"\d{6}", digits):
        raise TwoFactorError("Enter the 6-digit code from your authenticator app")
    totp = pyotp.TOTP(user.totp_secret)
    now = now_utc()
    current = totp.timecode(now)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), digits):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                raise TwoFactorError("That code has been used: wait for the next one")
            user.totp_last_step = step
            return
    raise TwoFactorError("That code is wrong or has expired: enter the code your app shows now")


def issue_recovery_codes(user: User) -> list[str]:
    """Ten new single-use codes, replacing any earlier ones; only their hashes are kept."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = ["".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH)) for _ in range(10)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_recovery_digest(code)) for code in codes)
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def use_recovery_code(user: User, code: str) -> bool:
    """Spend one recovery code; False when it is unknown or already used."""
    cleaned = _NOT_CODE.sub("", (code or "").lower())
    if len(cleaned) != _RECOVERY_LENGTH:
        return False
    row = db.session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _recovery_digest(cleaned),
            RecoveryCode.used_at.is_(None),
        )
    )
    if row is None:
        return False
    row.used_at = now_utc()
    return True


def recovery_codes_left(user: User) -> int:
    rows = db.session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    return len(rows.all())


def reset(user: User) -> None:
    """Turn two-factor off (an admin's reset): the holder enrols again at their next sign-in."""
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def _recovery_digest(code: str) -> str:
    # 50 random bits per code and one try per throttled sign-in: a plain SHA-256 is enough.
    return hashlib.sha256(code.encode("utf-8")).hexdigest()
