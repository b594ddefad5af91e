"""Template filters: local time, elapsed time and labels."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask

from responder.clock import as_utc, format_local, now_utc
from responder.models import LOCAL_AUTHORITIES
from responder.playbooks import parse_duration
from responder.playbooks.schema import SHARING_BASES
from responder.timeline.render import MESSAGE_CHANNELS


def duration(value: timedelta) -> str:
    """'4 min', '2 h 05 min', '3 days 4 h': short enough for a phone."""
    minutes = max(int(value.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"


def step_words(step: str) -> str:
    """A playbook step such as "4h" as words: "4 hours"."""
    try:
        return parse_duration(step).describe()
    except ValueError:
        return step


def in_words(items) -> str:
    """["SMS", "email", "phone call"] -> "SMS, email and phone call"."""
    items = [str(item) for item in items]
    return " and ".join(filter(None, [", ".join(items[:-1]), *items[-1:]]))


def since(value: datetime) -> str:
    return duration(now_utc() - as_utc(value))


def register(app: Flask) -> None:
    app.add_template_filter(format_local, "localtime")
    app.add_template_filter(duration, "duration")
    app.add_template_filter(since, "since")
    app.add_template_filter(lambda slug: LOCAL_AUTHORITIES.get(slug, slug), "la_name")
    app.add_template_filter(lambda basis: SHARING_BASES.get(basis, basis), "basis_name")
    app.add_template_filter(lambda channel: MESSAGE_CHANNELS.get(channel, channel), "channel_name")
    app.add_template_filter(step_words, "step_words")
    app.add_template_filter(in_words, "in_words")
    app.add_template_filter(lambda value: value.replace("_", " ").capitalize() if value else "", "label")
