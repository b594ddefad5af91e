"""The append-only incident timeline: what happened, when, and who did it."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from responder.clock import now_utc
from responder.extensions import db
from responder.models.types import EnumText, UTCDateTime


class EventGroup(enum.StrEnum):
    """The timeline's filters: what a manager asks to see."""

    ALERTS = "alerts"
    ACKNOWLEDGEMENTS = "acknowledgements"
    ESCALATIONS = "escalations"
    CHECK_INS = "check-ins"
    UPDATES = "updates"
    REVIEW = "review"


class EventKind(enum.StrEnum):
    """Every kind of timeline event, the one list: its label, its filter, and whether it is a delivery receipt.

    How each is said in words is responder.timeline.render's (one sentence per
    kind, in full or redacted form).
    """

    label: str
    group: EventGroup
    receipt: bool

    def __new__(cls, value: str, label: str, group: EventGroup, receipt: bool = False) -> EventKind:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        member.group = group
        member.receipt = receipt
        return member

    OPENED = ("opened", "Opened", EventGroup.UPDATES)
    OFFERED = ("offered", "Support offered", EventGroup.UPDATES)
    ALERT_QUEUED = ("alert_queued", "Alert", EventGroup.ALERTS)
    CONTACT_MISSING = ("contact_missing", "No contact", EventGroup.ALERTS)
    # What became of a queued message (responder.notify.delivery); retries stay off the timeline.
    MESSAGE_SENT = ("message_sent", "Sent", EventGroup.ALERTS, True)
    MESSAGE_DELIVERED = ("message_delivered", "Delivered", EventGroup.ALERTS, True)
    MESSAGE_FAILED = ("message_failed", "Not delivered", EventGroup.ALERTS)
    # A phone call that no person answered with a key: no answer, busy, voicemail, no key pressed.
    CALL_UNANSWERED = ("call_unanswered", "Call not answered", EventGroup.ALERTS)
    FELL_BACK_TO_EMAIL = ("fell_back_to_email", "Reached by email", EventGroup.ALERTS)
    EMAILED_AS_WELL = ("emailed_as_well", "Emailed as well", EventGroup.ALERTS)
    MESSAGES_CANCELLED = ("messages_cancelled", "Messages cancelled", EventGroup.ALERTS)
    ALERT_RESENT = ("alert_resent", "Alert re-sent", EventGroup.ALERTS)
    ESCALATED = ("escalated", "Escalated", EventGroup.ESCALATIONS)
    NOT_REACHED = ("not_reached", "Not reached", EventGroup.ESCALATIONS)
    # A rung whose rota had nobody on duty and whose role has no fixed contact: passed over.
    ROTA_GAP = ("rota_gap", "Nobody on duty", EventGroup.ESCALATIONS)
    ACTIONS_CANCELLED = ("actions_cancelled", "Scheduled actions cancelled", EventGroup.ESCALATIONS)
    TIMED_ACTION_FAILED = ("timed_action_failed", "Scheduled action failed", EventGroup.ESCALATIONS)
    ACKNOWLEDGED = ("acknowledged", "Acknowledged", EventGroup.ACKNOWLEDGEMENTS)
    DECLINED = ("declined", "Declined", EventGroup.ACKNOWLEDGEMENTS)
    LATE_RESPONSE = ("late_response", "Late response", EventGroup.ACKNOWLEDGEMENTS)
    CHECK_IN_REQUESTED = ("check_in_requested", "Check-in", EventGroup.CHECK_INS)
    CHECK_IN_REMINDED = ("check_in_reminded", "Check-in reminder", EventGroup.CHECK_INS)
    CHECK_IN_MISSED = ("check_in_missed", "Check-in missed", EventGroup.CHECK_INS)
    CHECK_IN_RECEIVED = ("check_in_received", "Check-in answered", EventGroup.CHECK_INS)
    OFFER_UPDATED = ("offer_updated", "Support offer", EventGroup.CHECK_INS)
    DEADLINE_REMINDER = ("deadline_reminder", "Deadline reminder", EventGroup.CHECK_INS)
    DEADLINE_DUE = ("deadline_due", "Deadline", EventGroup.CHECK_INS)
    DEADLINE_DONE = ("deadline_done", "Deadline done", EventGroup.CHECK_INS)
    STATUS_CHANGED = ("status_changed", "Status", EventGroup.UPDATES)
    UPDATE_POSTED = ("update_posted", "Update", EventGroup.UPDATES)
    MEETING_RECORDED = ("meeting_recorded", "Meeting", EventGroup.UPDATES)
    TENSION_CHANGED = ("tension_changed", "Community tension", EventGroup.UPDATES)
    AGENCY_ADDED = ("agency_added", "Agency added", EventGroup.UPDATES)
    NOT_APPLICABLE = ("not_applicable", "Not applicable", EventGroup.UPDATES)
    AREA_ADDED = ("area_added", "Local authority added", EventGroup.UPDATES)
    EXPORTED = ("exported", "Exported", EventGroup.REVIEW)
    REVIEW_UPDATED = ("review_updated", "Learning review", EventGroup.REVIEW)
    PERSONAL_DATA_PURGED = ("personal_data_purged", "Retention purge", EventGroup.REVIEW)

    @classmethod
    def of_group(cls, group: EventGroup) -> tuple[EventKind, ...]:
        return tuple(kind for kind in cls if kind.group == group)


class TimelineEvent(db.Model):
    """Never updated or deleted (but by the retention purge): corrections are new events.

    A row holds what happened as data: who did it (a staff member or an
    agency contact, or nobody: Responder itself), whom it concerns, the
    agency, numbers, states and role keys in ``data``, and, apart, any words a
    person typed (``text``). The sentence is written when the row is read
    (responder.timeline.render), in full or redacted form, so a redacted
    export withholds ``text`` wholesale and names people by their role.
    """

    __tablename__ = "timeline_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, index=True)
    kind: Mapped[EventKind] = mapped_column(EnumText(EventKind, 32), index=True)
    # Who did it: a staff member, or an agency contact (neither: Responder itself).
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    # Whom it concerns: an alert's recipient, the rung escalated to, a check-in's contact.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    channel: Mapped[str | None] = mapped_column(String(16))
    agency_key: Mapped[str | None] = mapped_column(String(80))
    # Structured, never personal: role keys, counts, states, ids, durations.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Words a person typed (an update, a reason, a note, an answer): withheld when redacted.
    text: Mapped[str | None] = mapped_column(Text)

    incident = relationship("Incident")
    actor_user = relationship("User", foreign_keys=[actor_user_id])
    actor_contact = relationship("Contact", foreign_keys=[actor_contact_id])
    contact = relationship("Contact", foreign_keys=[contact_id])
