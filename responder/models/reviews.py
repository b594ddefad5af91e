"""The learning (after-action) review a manager writes up for an incident.

Responder holds the facts of a response; the review panel's judgement (key
practice episodes, lessons, recommendations, the action plan) is entered here
and printed with those facts in the after-action report.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from responder.clock import now_utc
from responder.extensions import db
from responder.models.types import EnumText, UTCDateTime


class ReviewNoteKind(enum.StrEnum):
    PRACTICE_EPISODE = "practice_episode"
    LESSON = "lesson"
    RECOMMENDATION = "recommendation"

    @property
    def label(self) -> str:
        return {
            ReviewNoteKind.PRACTICE_EPISODE: "Key practice episode",
            ReviewNoteKind.LESSON: "Lesson identified",
            ReviewNoteKind.RECOMMENDATION: "Recommendation",
        }[self]


class RagStatus(enum.StrEnum):
    """Action plan status as review panels report it: red, amber, green."""

    RED = "red"
    AMBER = "amber"
    GREEN = "green"

    @property
    def label(self) -> str:
        return {
            RagStatus.RED: "Red – not started or off track",
            RagStatus.AMBER: "Amber – under way",
            RagStatus.GREEN: "Green – complete",
        }[self]


class ReviewNote(db.Model):
    """One practice episode, lesson or recommendation, in the reviewer's words."""

    __tablename__ = "review_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[ReviewNoteKind] = mapped_column(EnumText(ReviewNoteKind, 24))
    # Free text, no-blame. May name people: redacted exports scrub known names from it.
    text: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    incident = relationship("Incident")
    created_by = relationship("User")

    @property
    def kind_label(self) -> str:
        return ReviewNoteKind(self.kind).label


class ReviewAction(db.Model):
    """One line of the action plan: what, who owns it, by when, and how it is going."""

    __tablename__ = "review_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    action: Mapped[str] = mapped_column(Text)
    # An agency or role ("Birmingham Youth Service lead") rather than a person, ideally.
    owner: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[date] = mapped_column(Date)
    rag: Mapped[RagStatus] = mapped_column(EnumText(RagStatus, 8), default=RagStatus.RED)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)

    incident = relationship("Incident")
    created_by = relationship("User")

    @property
    def rag_label(self) -> str:
        return RagStatus(self.rag).label
