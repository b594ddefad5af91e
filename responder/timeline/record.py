"""Writing an event: structured data and, apart, any words a person typed."""

from __future__ import annotations

from typing import Any

from responder.batched_rows import add_row
from responder.clock import now_utc
from responder.models import Contact, EventKind, Incident, TimelineEvent, User
from responder.timeline.actors import SYSTEM, Actor


def record(
    incident: Incident,
    kind: EventKind,
    *,
    by: Actor | User | Contact | None = SYSTEM,
    contact: Contact | None = None,
    agency_key: str | None = None,
    channel: str | None = None,
    text: str | None = None,
    **data: Any,
) -> None:
    """Add an event to the caller's unit of work, which commits it (written at the next flush).

    ``by`` did it (a staff member, an agency contact, or nobody: Responder);
    ``contact`` is whom it concerns; ``text`` is a person's own words (shown
    in full, withheld when redacted); ``data`` holds what the sentence is made
    of: role keys, counts, states, durations. Never put a name, number,
    address or anyone's words in ``data``.
    """
    actor = by if isinstance(by, Actor) else Actor.of(by)
    add_row(
        TimelineEvent,
        incident=incident,
        at=now_utc(),
        kind=EventKind(kind),
        actor_user=actor.user,
        actor_contact=actor.contact,
        contact=contact,
        agency_key=agency_key,
        channel=str(channel) if channel is not None else None,
        text=text.strip() if text and text.strip() else None,
        data={key: value for key, value in data.items() if value is not None},
    )
