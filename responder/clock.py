"""The one place Responder reads the clock, so freezegun controls every read."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context


def now_utc() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Treat a naive datetime (as SQLite returns them) as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def local_zone() -> ZoneInfo:
    name = current_app.config["TIMEZONE"] if has_app_context() else "Europe/London"
    return ZoneInfo(name)


def to_local(value: datetime) -> datetime:
    """Convert a stored (UTC) time to the configured local time zone."""
    return as_utc(value).astimezone(local_zone())


def format_local(value: datetime | None, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    """Human local time with its zone abbreviation, e.g. 'Tue 24 Nov 2026, 21:40 GMT'."""
    if value is None:
        return ""
    local = to_local(value)
    return f"{local.strftime(fmt)} {local.tzname()}"
