"""Community tension over time: the level at opening, then each check-in's reading."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from responder.clock import now_utc
from responder.extensions import db
from responder.models.incidents import Tension
from responder.models.types import EnumText, UTCDateTime


class TensionReading(db.Model):
    __tablename__ = "tension_readings"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    level: Mapped[Tension] = mapped_column(EnumText(Tension, 16))
    # Which agency reported it; None for the level the incident was opened with.
    agency_key: Mapped[str | None] = mapped_column(String(80))
    check_in_id: Mapped[int | None] = mapped_column(ForeignKey("check_ins.id"))

    incident = relationship("Incident")
    check_in = relationship("CheckIn")
