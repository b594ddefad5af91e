"""Who looked at what: incident views and exports, for managers to review."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from responder.clock import now_utc
from responder.extensions import db
from responder.models.types import UTCDateTime


class AuditEvent(db.Model):
    """Append-only. Kept apart from the timeline so that reading never crowds the response record."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    # The staff account an administrator changed (responder.accounts.administration).
    target_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # "viewed", "exported", "user_created", "role_changed", ...
    action: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str] = mapped_column(String(200), default="")

    user = relationship("User", foreign_keys=[user_id])
    target_user = relationship("User", foreign_keys=[target_user_id])
    incident = relationship("Incident")
