"""The sharing record: what incident information went to whom, when, why and on what lawful basis."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from responder.clock import now_utc
from responder.extensions import db
from responder.models.types import UTCDateTime


class SharingRecord(db.Model):
    """One share, written in the transaction that makes it. Append-only.

    Holds no names, numbers or addresses: recipients are named by role key
    (or, for a download, by the staff account), so the record can be kept
    for as long as the partnership must account for its sharing.
    """

    __tablename__ = "sharing_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    # What category of information, e.g. "alert: reference, type, time, link".
    category: Mapped[str] = mapped_column(String(120))
    # To whom: the agency (None for a download) and the role key or "user:<email>".
    agency_key: Mapped[str | None] = mapped_column(String(80))
    agency_name: Mapped[str | None] = mapped_column(String(200))
    recipient: Mapped[str] = mapped_column(String(120))
    # "sms and email", "download", ...
    channel: Mapped[str] = mapped_column(String(24))
    # A key of responder.playbooks.schema.SHARING_BASES.
    lawful_basis: Mapped[str] = mapped_column(String(40))
    # Why: the playbook rule, an escalation, a manager's stated purpose.
    purpose: Mapped[str] = mapped_column(String(300), default="")
    # "user:<email>" or "system", as on the timeline.
    shared_by: Mapped[str] = mapped_column(String(120))

    incident = relationship("Incident")

    def __repr__(self) -> str:
        return f"<SharingRecord {self.id} {self.category!r} to {self.recipient}>"
