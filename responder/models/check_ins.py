"""Check-ins: one request to one agency contact, and the answer they gave."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from responder.clock import now_utc
from responder.extensions import db
from responder.models.incidents import Tension
from responder.models.types import EnumText, UTCDateTime


class CheckIn(db.Model):
    __tablename__ = "check_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    activation_id: Mapped[int] = mapped_column(ForeignKey("activations.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    # The /c/<token> link the request was sent with, and the reminder's own link
    # (each message pair has its own token, so delivery reports pair up).
    access_token_id: Mapped[int] = mapped_column(ForeignKey("access_tokens.id"), unique=True)
    reminder_token_id: Mapped[int | None] = mapped_column(ForeignKey("access_tokens.id"), unique=True)
    # The playbook step that asked, as written there, e.g. "24h".
    step: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when it was still unanswered after the reminder: the incident page flags it.
    missed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The answer. Free text stays in Responder: it is never sent by SMS or email.
    status_update: Mapped[str | None] = mapped_column(Text)
    tension: Mapped[Tension | None] = mapped_column(EnumText(Tension, 16))
    needs: Mapped[str | None] = mapped_column(Text)
    # {offer_key: "delivered" | "declined"} for the offers this answer changed.
    offer_updates: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    incident = relationship("Incident")
    activation = relationship("Activation")
    contact = relationship("Contact")
    access_token = relationship("AccessToken", foreign_keys=[access_token_id])
    reminder_token = relationship("AccessToken", foreign_keys=[reminder_token_id])

    @property
    def answered(self) -> bool:
        return self.responded_at is not None
