"""Reading a rota from an iCalendar file, as council and police rota tools export them.

``icalendar`` parses; ``recurring-ical-events`` expands RRULE, RDATE, EXDATE
and moved occurrences into the shifts that fall in a window (no RRULE
expander of our own). Times with a TZID keep their zone; floating times and
all-day events are read in the local time zone through ``zoneinfo``. A local
time that happens twice (01:30 on the last Sunday of October) is its first
occurrence, in BST; one that does not happen (01:30 on the last Sunday of
March) moves on by the hour the clocks skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

_BEGIN_EVENT = re.compile(r"^BEGIN:VEVENT\s*$", re.IGNORECASE)


class CalendarError(ValueError):
    """The file cannot be read as a calendar at all: nothing is imported from it."""


@dataclass(frozen=True)
class Occurrence:
    """One shift as the calendar gives it, before anyone is looked up in the directory."""

    line: int  # where its event (or its moved occurrence) begins in the file
    attendees: tuple[str, ...]  # e-mail addresses
    summary: str
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC


def read_calendar(text: str) -> icalendar.Calendar:
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except (ValueError, IndexError, KeyError) as error:
        raise CalendarError(f"not an iCalendar file ({error})") from None
    if not isinstance(calendar, icalendar.Calendar) or calendar.name != "VCALENDAR":
        raise CalendarError("not an iCalendar file (no VCALENDAR)")
    if not calendar.walk("VEVENT"):
        raise CalendarError("the calendar has no events")
    return calendar


def calendar_name(calendar: icalendar.Calendar) -> str | None:
    name = calendar.get("X-WR-CALNAME")
    return str(name).strip()[:200] or None if name is not None else None


def occurrences(text: str, start: datetime, end: datetime, zone: ZoneInfo) -> list[Occurrence]:
    """Every shift of the calendar that overlaps ``start``-``end``, soonest first."""
    calendar = read_calendar(text)
    lines = _event_lines(text, calendar, zone)
    try:
        events = recurring_ical_events.of(calendar).between(start.astimezone(zone), end.astimezone(zone))
    except Exception as error:  # the library's own errors for a malformed rule or date
        raise CalendarError(f"its recurring events cannot be expanded ({error})") from None
    found = []
    for event in events:
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        uid = str(event.get("UID", ""))
        recurrence = _as_utc(event["RECURRENCE-ID"].dt, zone) if "RECURRENCE-ID" in event else None
        line = lines.get((uid, recurrence)) or lines.get((uid, None)) or 0
        found.append(
            Occurrence(
                line=line,
                attendees=tuple(_emails(event)),
                summary=str(event.get("SUMMARY", "")).strip(),
                starts_at=_as_utc(event["DTSTART"].dt, zone),
                ends_at=_as_utc(event["DTEND"].dt, zone) if "DTEND" in event else _end(event, zone),
            )
        )
    return sorted(found, key=lambda o: (o.starts_at, o.line))


def _event_lines(text: str, calendar: icalendar.Calendar, zone: ZoneInfo) -> dict:
    """(UID, RECURRENCE-ID in UTC or None) -> the line its VEVENT begins on.

    icalendar keeps no line numbers, but it walks the events in file order,
    which is the order of the BEGIN:VEVENT lines.
    """
    starts = [number for number, line in enumerate(text.splitlines(), start=1) if _BEGIN_EVENT.match(line)]
    lines: dict = {}
    for number, event in zip(starts, calendar.walk("VEVENT"), strict=False):
        uid = str(event.get("UID", ""))
        recurrence = _as_utc(event["RECURRENCE-ID"].dt, zone) if "RECURRENCE-ID" in event else None
        lines.setdefault((uid, recurrence), number)
    return lines


def _emails(event) -> list[str]:
    attendees = event.get("ATTENDEE")
    if attendees is None:
        return []
    if not isinstance(attendees, list):
        attendees = [attendees]
    emails = []
    for attendee in attendees:
        value = str(attendee).strip()
        if value.lower().startswith("mailto:"):
            value = value[7:]
        if value:
            emails.append(value)
    return emails


def _end(event, zone: ZoneInfo) -> datetime:
    start = event["DTSTART"].dt
    duration = event["DURATION"].dt if "DURATION" in event else None
    if duration is None:
        duration = timedelta(days=1) if not isinstance(start, datetime) else timedelta(0)
    return _as_utc(start, zone) + duration


def _as_utc(value: date | datetime, zone: ZoneInfo) -> datetime:
    """A calendar time in UTC: all-day dates from local midnight, floating times in the local zone.

    fold=0 takes the first of a time that happens twice, and moves one that
    does not happen on by the skipped hour.
    """
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone, fold=0)
    return value.astimezone(UTC)
