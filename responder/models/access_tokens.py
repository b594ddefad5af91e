"""Scoped links for agency leads (acknowledgement and check-in)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from responder.clock import now_utc
from responder.extensions import db
from responder.models.types import EnumText, UTCDateTime


class TokenPurpose(enum.StrEnum):
    ACKNOWLEDGE = "ack"
    CHECK_IN = "check_in"
    CALLOUT = "callout"  # a call-out test: "this number reaches me" (no activation)


class AccessToken(db.Model):
    """One contact's link to one activation (or, for a call-out test, to none). Only a hash is kept."""

    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[TokenPurpose] = mapped_column(EnumText(TokenPurpose, 16))
    activation_id: Mapped[int | None] = mapped_column(ForeignKey("activations.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    # Random, and useless without SECRET_KEY: the token is an HMAC of it.
    nonce: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    activation = relationship("Activation")
    contact = relationship("Contact")
