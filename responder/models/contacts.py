"""The contact directory: the people behind the role keys that playbooks name."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from responder.clock import now_utc
from responder.extensions import db
from responder.models.types import UTCDateTime


class Contact(db.Model):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The role key a playbook refers to, e.g. "bham-youth-lead".
    key: Mapped[str] = mapped_column(String(80), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(20), comment="E.164, e.g. +447700900123")
    email: Mapped[str] = mapped_column(String(254))
    # A local authority slug, or "regional" for shared agencies.
    local_authority: Mapped[str] = mapped_column(String(32), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)

    def __repr__(self) -> str:
        return f"<Contact {self.key}>"
