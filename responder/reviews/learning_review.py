"""The learning review: practice episodes, lessons, recommendations and the action plan.

A manager writes these up after the response; the after-action report prints
them beside the facts. Each change is on the incident's timeline, without the
text itself (it may name people, and timelines travel in exports).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from responder import timeline
from responder.clock import now_utc
from responder.extensions import db
from responder.models import EventKind, Incident, User
from responder.models.reviews import RagStatus, ReviewAction, ReviewNote, ReviewNoteKind

# The timeline kind for review changes.
REVIEW_UPDATED = EventKind.REVIEW_UPDATED


@dataclass(frozen=True)
class Review:
    notes: list[ReviewNote]
    actions: list[ReviewAction]

    def notes_of(self, kind: ReviewNoteKind) -> list[ReviewNote]:
        return [note for note in self.notes if note.kind == kind]

    @property
    def last_changed_at(self):
        moments = [note.created_at for note in self.notes] + [action.updated_at for action in self.actions]
        return max(moments, default=None)


def review_for(incident: Incident) -> Review:
    notes = db.session.scalars(
        select(ReviewNote).where(ReviewNote.incident_id == incident.id).order_by(ReviewNote.id)
    ).all()
    actions = db.session.scalars(
        select(ReviewAction)
        .where(ReviewAction.incident_id == incident.id)
        .order_by(ReviewAction.due_on, ReviewAction.id)
    ).all()
    return Review(list(notes), list(actions))


def add_note(incident: Incident, user: User, kind: ReviewNoteKind, text: str) -> ReviewNote:
    note = ReviewNote(
        incident=incident, kind=ReviewNoteKind(kind), text=text.strip(), created_by=user, created_at=now_utc()
    )
    db.session.add(note)
    timeline.record(incident, EventKind.REVIEW_UPDATED, by=user, change="note", what=note.kind_label.lower())
    return note


def add_action(
    incident: Incident, user: User, action: str, owner: str, due_on: date, rag: RagStatus
) -> ReviewAction:
    now = now_utc()
    row = ReviewAction(
        incident=incident,
        action=action.strip(),
        owner=owner.strip(),
        due_on=due_on,
        rag=RagStatus(rag),
        created_by=user,
        created_at=now,
        updated_at=now,
    )
    db.session.add(row)
    timeline.record(
        incident,
        EventKind.REVIEW_UPDATED,
        by=user,
        change="action",
        due=f"{due_on:%d %b %Y}",
        rag=RagStatus(rag),
    )
    return row


def set_action_status(action: ReviewAction, user: User, rag: RagStatus) -> ReviewAction:
    """Move an action plan line to red, amber or green."""
    rag = RagStatus(rag)
    if action.rag == rag:
        return action
    before = action.rag
    action.rag = rag
    action.updated_at = now_utc()
    timeline.record(
        action.incident,
        EventKind.REVIEW_UPDATED,
        by=user,
        change="status",
        action_id=action.id,
        **{"from": RagStatus(before), "to": rag},
    )
    return action


def get_action(incident: Incident, action_id: int) -> ReviewAction | None:
    return db.session.scalar(
        select(ReviewAction).where(ReviewAction.id == action_id, ReviewAction.incident_id == incident.id)
    )
