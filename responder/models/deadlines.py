"""Deadlines a playbook sets for an incident ("notify the Panel within 5 working days"), and their outcome.

The reminders and the "due now" notice are timed actions pointing at the
deadline; marking it done cancels those still pending.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from responder.extensions import db
from responder.models.types import UTCDateTime


class Deadline(db.Model):
    __tablename__ = "deadlines"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    # The playbook step's offset, e.g. "5wd", and the role it tells.
    step: Mapped[str] = mapped_column(String(16))
    notify_role: Mapped[str | None] = mapped_column(String(80))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # What the officer or manager wrote when marking it done: someone's own words.
    note: Mapped[str | None] = mapped_column(Text)

    incident = relationship("Incident")
    done_by = relationship("User")

    def __repr__(self) -> str:
        return f"<Deadline {self.id} {self.name[:30]!r}>"
