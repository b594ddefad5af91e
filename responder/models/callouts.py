"""Call-out tests: every role holder in a playbook is asked to confirm "this number reaches me".

Nothing here belongs to an incident: a test opens none, shares no incident
data and is never counted in an incident's or the region's figures.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from responder.clock import now_utc
from responder.extensions import db
from responder.models.types import EnumText, UTCDateTime


class ConfirmedBy(enum.StrEnum):
    LINK = "link"
    SMS_REPLY = "sms_reply"


class CalloutTest(db.Model):
    """One call-out test of one local authority's playbook; it runs for 24 hours."""

    __tablename__ = "callout_tests"

    id: Mapped[int] = mapped_column(primary_key=True)
    local_authority: Mapped[str] = mapped_column(String(32), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, index=True)
    # Confirmations count until then; afterwards links and reply codes no longer work.
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Staff who started it (None: the command line).
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Roles the playbook names that had nobody to test: [{"role": key, "label": ...}].
    untested_roles: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    started_by = relationship("User")
    recipients = relationship("CalloutRecipient", back_populates="test", order_by="CalloutRecipient.id")


class CalloutRecipient(db.Model):
    """One contact asked in one test, for every role they hold in that playbook."""

    __tablename__ = "callout_recipients"

    id: Mapped[int] = mapped_column(primary_key=True)
    test_id: Mapped[int] = mapped_column(ForeignKey("callout_tests.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    # The number tested, as it was then (the directory may change afterwards).
    phone: Mapped[str] = mapped_column(String(20))
    # [{"role": key, "label": "Lead, Birmingham Youth Service", "source": "directory"}]
    roles: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    access_token_id: Mapped[int | None] = mapped_column(ForeignKey("access_tokens.id"))
    # Four digits from the same pool as incidents' reply codes, never one an alert holds;
    # cleared once the test ends, so the code can be used again.
    reply_code: Mapped[str | None] = mapped_column(String(4), unique=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_by: Mapped[ConfirmedBy | None] = mapped_column(EnumText(ConfirmedBy, 16))

    test = relationship("CalloutTest", back_populates="recipients")
    contact = relationship("Contact")
    message = relationship("Message")
    access_token = relationship("AccessToken")
