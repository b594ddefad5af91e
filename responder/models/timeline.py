"""The append-only incident timeline: what happened, when, and who did it."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from responder.clock import now_utc
from responder.extensions import db
from responder.models.types import UTCDateTime


class EventKind(enum.StrEnum):
    OPENED = "opened"
    ACTIVATED = "activated"
    OFFERED = "offered"
    ALERT_QUEUED = "alert_queued"
    # What became of a queued message (responder.notify.delivery); retries stay off the timeline.
    MESSAGE_SENT = "message_sent"
    MESSAGE_DELIVERED = "message_delivered"
    MESSAGE_FAILED = "message_failed"
    FELL_BACK_TO_EMAIL = "fell_back_to_email"
    EMAILED_AS_WELL = "emailed_as_well"  # a text that would not go was copied by email
    CONTACT_MISSING = "contact_missing"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    DECLINED = "declined"
    LATE_RESPONSE = "late_response"
    NOT_REACHED = "not_reached"
    # Timed actions (responder.scheduling) and check-ins (responder.check_ins.service).
    CHECK_IN_REQUESTED = "check_in_requested"
    CHECK_IN_REMINDED = "check_in_reminded"
    CHECK_IN_MISSED = "check_in_missed"
    CHECK_IN_RECEIVED = "check_in_received"
    TENSION_CHANGED = "tension_changed"
    OFFER_UPDATED = "offer_updated"
    DEADLINE_REMINDER = "deadline_reminder"
    DEADLINE_DUE = "deadline_due"
    ACTIONS_CANCELLED = "actions_cancelled"
    TIMED_ACTION_FAILED = "timed_action_failed"
    # Running the response (responder.incidents.lifecycle, responder.cross_border).
    STATUS_CHANGED = "status_changed"
    UPDATE_POSTED = "update_posted"
    MEETING_RECORDED = "meeting_recorded"
    AGENCY_ADDED = "agency_added"
    OFFER_ADDED = "offer_added"
    ALERT_RESENT = "alert_resent"
    NOT_APPLICABLE = "not_applicable"
    AREA_ADDED = "area_added"
    MESSAGES_CANCELLED = "messages_cancelled"


class TimelineEvent(db.Model):
    """Never updated or deleted: corrections are new events."""

    __tablename__ = "timeline_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, index=True)
    # "user:<email>", "contact:<role key>" or "system".
    actor: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    channel: Mapped[str | None] = mapped_column(String(16))
    agency_key: Mapped[str | None] = mapped_column(String(80))
    detail: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    incident = relationship("Incident")
