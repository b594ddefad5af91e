"""The incident page's panels, rendered once for the page and again for each live poll.

Each panel (the summary band, the status, the agencies board, tension, the
support offers, "Coming up", the deadlines) is its own partial. The page
embeds them; the page's poller sends back a short fingerprint of each, so a
poll of /incidents/<ref>/live answers with only the panels whose HTML has
changed (htmx swaps them in place, out of band), the timeline's new events,
and a poller carrying the new fingerprints; or 204 when nothing changed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from flask import render_template, url_for
from markupsafe import Markup
from sqlalchemy import select

from responder.check_ins.service import overdue_check_ins
from responder.clock import now_utc
from responder.deadlines import deadline_statuses
from responder.extensions import db
from responder.incidents import view as incident_view
from responder.incidents.summary import summary_band, tension_trend
from responder.incidents.upcoming import upcoming
from responder.models import CheckIn, Incident
from responder.timeline.naming import Naming

# Panel name -> (template, id of the element on the page whose content it is).
PANELS = {
    "status": ("incidents/_status.html", "incident-status-panel"),
    "summary": ("incidents/_summary.html", "summary-band"),
    "board": ("incidents/_board.html", "board"),
    "tension": ("incidents/_tension.html", "tension-panel"),
    "offers": ("incidents/_offers.html", "offers-panel"),
    "upcoming": ("incidents/_upcoming.html", "upcoming-panel"),
    "deadlines": ("incidents/_deadlines.html", "deadlines-panel"),
}
CSRF_VALUE = re.compile(r'(name="csrf_token"[^>]*?value=")[^"]*')
# Seconds between polls while the page is open and visible.
POLL_SECONDS = 5


@dataclass(frozen=True)
class TimelineView:
    """How this page shows its timeline, carried by the poller so new events land alike."""

    kind: str | None = None
    oldest_first: bool = False
    receipts: bool = False
    where: str = ""  # "prepend", "append", or "" when the page shows neither end (a later page)

    def query(self) -> dict[str, str]:
        shown = {"kind": self.kind, "order": "oldest" if self.oldest_first else None}
        return {k: v for k, v in {**shown, "receipts": "1" if self.receipts else None}.items() if v}


@dataclass
class Panels:
    html: dict[str, Markup]
    ids: dict[str, str] = field(default_factory=lambda: {name: id_ for name, (_, id_) in PANELS.items()})

    @property
    def fingerprints(self) -> dict[str, str]:
        return {name: fingerprint(html) for name, html in self.html.items()}

    def changed_since(self, seen: dict[str, str]) -> dict[str, Markup]:
        return {name: html for name, html in self.html.items() if seen.get(name) != fingerprint(html)}


def panel_context(incident: Incident, naming: Naming) -> dict[str, Any]:
    """Everything the panels show, worked out once per page or poll."""
    covered, expected = incident_view.coverage(incident)
    now = now_utc()
    overdue = sum(1 for activation in incident.activations if incident_view.is_overdue(activation, now))
    coming = upcoming(incident)
    trend = tension_trend(incident)
    deadlines = deadline_statuses(incident, now)
    # Open deadlines: not yet marked done (a missed one stays open until it is).
    still_open = sum(1 for status in deadlines if status.deadline.done_at is None)
    return {
        "incident": incident,
        "groups": incident_view.board(incident, naming),
        "covered": covered,
        "expected": expected,
        "summary": summary_band(incident, covered, expected, overdue, coming, trend, still_open),
        "trend": trend,
        "offer_groups": incident_view.support_offers(incident),
        "coming": coming,
        "missed_check_ins": _missed_check_ins(incident),
        "overdue_check_ins": overdue_check_ins(incident),
        "message_states": incident_view.MESSAGE_STATES,
        "deadlines": deadlines,
        "now": now,
    }


def render_panels(context: dict[str, Any]) -> Panels:
    return Panels(
        {
            name: Markup(render_template(template, **context))  # noqa: S704 - escaped by Jinja
            for name, (template, _) in PANELS.items()
        }
    )


def fingerprint(html: str) -> str:
    """Short and stable: a form's CSRF token differs on every render, so it is left out."""
    stable = CSRF_VALUE.sub(r"\1", html)
    return hashlib.blake2s(stable.encode("utf-8"), digest_size=6).hexdigest()


def encode_seen(fingerprints: dict[str, str]) -> str:
    return ",".join(f"{name}.{value}" for name, value in fingerprints.items())


def decode_seen(raw: str) -> dict[str, str]:
    pairs = (item.partition(".") for item in raw.split(",") if "." in item)
    return {name: value for name, _, value in pairs if name in PANELS}


def poll_url(incident: Incident, cursor: int, shown: TimelineView, fingerprints: dict[str, str]) -> str:
    return url_for(
        "incidents.live",
        reference=incident.reference,
        after=cursor,
        events=shown.where or None,
        seen=encode_seen(fingerprints),
        **shown.query(),
    )


def _missed_check_ins(incident: Incident) -> list[CheckIn]:
    return list(
        db.session.scalars(
            select(CheckIn).where(
                CheckIn.incident_id == incident.id,
                CheckIn.missed_at.is_not(None),
                CheckIn.responded_at.is_(None),
            )
        )
    )
