"""Writing to the incident timeline. Every state change adds an event in its own transaction."""

from __future__ import annotations

from typing import Any

from responder.clock import now_utc
from responder.extensions import db
from responder.models import Incident, TimelineEvent, User

SYSTEM = "system"


def actor_for_user(user: User | None) -> str:
    return f"user:{user.email}" if user is not None else SYSTEM


def record(
    incident: Incident,
    kind: str,
    detail: str,
    *,
    actor: str = SYSTEM,
    channel: str | None = None,
    agency_key: str | None = None,
    data: dict[str, Any] | None = None,
) -> TimelineEvent:
    """Add an event to the session; the caller's transaction commits it."""
    event = TimelineEvent(
        incident=incident,
        at=now_utc(),
        actor=actor,
        kind=kind,
        channel=channel,
        agency_key=agency_key,
        detail=detail,
        data=data,
    )
    db.session.add(event)
    return event
