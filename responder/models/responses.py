"""What agency contacts said: every acknowledgement and decline, as given."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from responder.clock import now_utc
from responder.extensions import db
from responder.models.types import EnumText, UTCDateTime


class ResponseKind(enum.StrEnum):
    ACKNOWLEDGED = "acknowledged"
    DECLINED = "declined"


class ResponseChannel(enum.StrEnum):
    LINK = "link"
    SMS_REPLY = "sms_reply"
    PHONE_CALL = "phone_call"  # a key pressed during Responder's call


class AgencyResponse(db.Model):
    """One contact's answer for one activation; a contact answers each way at most once."""

    __tablename__ = "agency_responses"
    __table_args__ = (UniqueConstraint("activation_id", "contact_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activation_id: Mapped[int] = mapped_column(ForeignKey("activations.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    kind: Mapped[ResponseKind] = mapped_column(EnumText(ResponseKind, 16))
    channel: Mapped[ResponseChannel] = mapped_column(EnumText(ResponseChannel, 16))
    # Free text from the lead (arrival time, reason): shown to staff, never sent on.
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    activation = relationship("Activation")
    contact = relationship("Contact")
