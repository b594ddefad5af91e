"""Links for agency leads: random, scoped to one contact and one activation, expiring.

A token is ``HMAC(SECRET_KEY, purpose:nonce)``, with a random 128-bit nonce.
The database keeps the nonce and the token's SHA-256 only: a copy of the
database alone gives nobody a working link, yet a message waiting in the
outbox can still be sent after a restart because the link is derived again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from base64 import urlsafe_b64encode
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from responder.clock import as_utc, now_utc
from responder.extensions import db
from responder.links import public_url
from responder.models import AccessToken, Activation, Contact, TokenPurpose

# Path prefix per purpose (design section 5).
LINK_PATHS = {TokenPurpose.ACKNOWLEDGE: "a", TokenPurpose.CHECK_IN: "c", TokenPurpose.CALLOUT: "t"}
_TOKEN_CHARS = 32  # 192 bits of HMAC output, URL-safe


def issue_token(
    purpose: TokenPurpose,
    activation: Activation | None,
    contact: Contact,
    *,
    expires_at: datetime | None = None,
) -> AccessToken:
    """Create a token row for the caller's transaction (a call-out test's has no activation).

    The token does not depend on the row's id, so nothing is flushed here:
    an incident activating forty agencies inserts its tokens in one go.
    """
    row = AccessToken(
        purpose=purpose,
        activation=activation,
        contact=contact,
        nonce=secrets.token_hex(16),
        expires_at=expires_at or now_utc() + current_app.config["ACCESS_TOKEN_TTL"],
    )
    row.token_hash = hash_token(token_value(row))
    db.session.add(row)
    return row


def token_value(row: AccessToken) -> str:
    """The secret part of the link, derived from the stored nonce."""
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    message = f"{row.purpose}:{row.nonce}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return urlsafe_b64encode(digest).decode("ascii").rstrip("=")[:_TOKEN_CHARS]


def link_for(row: AccessToken) -> str:
    """The lead's own link, e.g. https://responder.example.org/a/<token>."""
    return public_url(f"/{LINK_PATHS[TokenPurpose(row.purpose)]}/{token_value(row)}")


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def find_token(raw: str, purpose: TokenPurpose) -> AccessToken | None:
    """The token row for ``raw``, or None if unknown, malformed or for another purpose."""
    if not raw or len(raw) > 64:
        return None
    row = db.session.scalar(select(AccessToken).where(AccessToken.token_hash == hash_token(raw)))
    if row is None or row.purpose != purpose:
        return None
    return row


def is_expired(row: AccessToken, at: datetime | None = None) -> bool:
    return as_utc(row.expires_at) <= (at or now_utc())
