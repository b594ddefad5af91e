"""When a playbook offset falls: elapsed time, calendar days or England and Wales working days.

* ``s``, ``m``, ``h`` are elapsed time: "24h" is exactly 24 hours later, so
  across a clock change it reads 23:00 or 01:00 on the wall clock.
* ``d`` and ``wd`` are calendar steps that keep the local wall-clock time:
  "7d" after 21:40 on the Saturday before the clocks change is 21:40 the next
  Saturday, in BST or GMT as the date requires (167 or 169 elapsed hours).
* ``wd`` skips Saturdays, Sundays and England and Wales bank holidays (the
  ``holidays`` package, which works offline and includes substitute days).
  Counting starts the next working day: 1wd after a Friday afternoon is the
  Monday afternoon; from a Saturday it is also the Monday.

A wall-clock time that does not exist that day (01:30 when the clocks go
forward) moves forward by the hour that was skipped; one that happens twice
(01:30 when they go back) is the first, in BST.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

from responder.clock import as_utc, local_zone
from responder.playbooks import Duration

UTC = ZoneInfo("UTC")


def due_after(start: datetime, offset: Duration, zone: ZoneInfo | None = None) -> datetime:
    """``start`` plus ``offset``, in UTC."""
    return _shift(start, offset, +1, zone)


def due_before(end: datetime, offset: Duration, zone: ZoneInfo | None = None) -> datetime:
    """``end`` minus ``offset`` (for reminders before a deadline), in UTC."""
    return _shift(end, offset, -1, zone)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays()


def add_working_days(day: date, count: int) -> date:
    """The ``count``-th working day after (or, for a negative count, before) ``day``."""
    step = 1 if count >= 0 else -1
    remaining = abs(count)
    while remaining:
        day += timedelta(days=step)
        if is_working_day(day):
            remaining -= 1
    return day


def _shift(moment: datetime, offset: Duration, sign: int, zone: ZoneInfo | None) -> datetime:
    moment = as_utc(moment)
    if offset.unit not in ("d", "wd"):
        return moment + sign * offset.as_timedelta()
    zone = zone or local_zone()
    local = moment.astimezone(zone)
    if offset.unit == "d":
        day = local.date() + timedelta(days=sign * offset.amount)
    else:
        day = add_working_days(local.date(), sign * offset.amount)
    return _wall_clock(datetime.combine(day, local.time()), zone)


def _wall_clock(naive: datetime, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as UTC. fold=0 reads a skipped time with the winter
    offset (landing it after the gap) and a repeated time as its first, BST, reading."""
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


@cache
def _bank_holidays() -> holidays.HolidayBase:
    # England and Wales share their bank holidays; Responder serves the West Midlands.
    return holidays.country_holidays("GB", subdiv="ENG")
