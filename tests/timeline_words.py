"""Timeline events as a reader sees them: the sentence the renderer writes, in full or redacted."""

from __future__ import annotations

from sqlalchemy import select

from responder.extensions import db
from responder.models import TimelineEvent
from responder.timeline.naming import naming_for
from responder.timeline.render import sentence, who


def said(event: TimelineEvent, *, redacted: bool = False) -> str:
    """The event's sentence, as the incident page (or a redacted export) writes it."""
    return sentence(event, naming_for(event.incident, redacted=redacted))


def said_by(event: TimelineEvent, *, redacted: bool = False) -> str:
    """Who the incident page (or a redacted export) says did it."""
    return who(event, naming_for(event.incident, redacted=redacted))


def sentences(kind: str) -> list[str]:
    """Every event of one kind, oldest first, in full words."""
    query = select(TimelineEvent).where(TimelineEvent.kind == kind).order_by(TimelineEvent.id)
    return [said(event) for event in db.session.scalars(query)]
