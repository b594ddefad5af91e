"""Timed actions: every escalation, check-in, reminder and deadline is a row.

The row is the schedule. An APScheduler job only points at a row's id, so a
lost job store or a crashed scheduler can drop a job but never an action:
the reconciliation sweep finds pending rows and fires them (see
responder.scheduling.runtime).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from responder.clock import now_utc
from responder.extensions import db
from responder.models.types import EnumText, UTCDateTime


class ActionKind(enum.StrEnum):
    ESCALATION = "escalation"  # nobody acknowledged in time: alert the next rung
    CHECK_IN = "check_in"  # ask every covering agency how the response is going
    CHECK_IN_REMINDER = "check_in_reminder"  # one reminder for an unanswered check-in
    CHECK_IN_MISSED = "check_in_missed"  # still unanswered after the reminder: flag it
    DEADLINE = "deadline"
    DEADLINE_REMINDER = "deadline_reminder"


class ActionState(enum.StrEnum):
    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"  # no longer needed (covered, answered, incident closed)
    FAILED = "failed"  # firing raised every time it was tried: see last_error


class TimedAction(db.Model):
    __tablename__ = "timed_actions"
    # The sweep's query: pending rows by due time.
    __table_args__ = (Index("ix_timed_actions_state_due_at", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    # Set for per-agency actions (escalations, check-in reminders).
    activation_id: Mapped[int | None] = mapped_column(ForeignKey("activations.id"), index=True)
    # Set for a check-in's reminder and missed flag.
    check_in_id: Mapped[int | None] = mapped_column(ForeignKey("check_ins.id"))
    # Set for a deadline's "due now" notice and its reminder: marking it done cancels them.
    deadline_id: Mapped[int | None] = mapped_column(ForeignKey("deadlines.id"), index=True)
    kind: Mapped[ActionKind] = mapped_column(EnumText(ActionKind, 24))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[ActionState] = mapped_column(EnumText(ActionState, 16), default=ActionState.PENDING)
    # What firing needs beyond the links above, e.g. {"waited": "15m"} for an
    # escalation or {"name": ..., "notify": role} for a deadline.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # fired_at - due_at: how late the scheduler was (after an outage, say).
    lateness_seconds: Mapped[float | None]
    # Why it was cancelled, or what firing did.
    outcome: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

    incident = relationship("Incident")
    activation = relationship("Activation")
    check_in = relationship("CheckIn", foreign_keys=[check_in_id])
    deadline = relationship("Deadline")

    def __repr__(self) -> str:
        return f"<TimedAction {self.id} {self.kind} {self.state} due {self.due_at:%Y-%m-%d %H:%M:%S}>"
