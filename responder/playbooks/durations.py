"""Playbook durations: ``30s``, ``15m``, ``2h``, ``7d`` and working days ``5wd``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

_PATTERN = re.compile(r"^\s*(\d{1,6})\s*(s|m|h|d|wd)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
UNIT_NAMES = {"s": "second", "m": "minute", "h": "hour", "d": "day", "wd": "working day"}


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: str

    @property
    def is_working_days(self) -> bool:
        return self.unit == "wd"

    def as_timedelta(self) -> timedelta:
        """Elapsed time; working days have no fixed length, so they refuse."""
        if self.is_working_days:
            raise ValueError("working days depend on the calendar")
        return timedelta(seconds=self.amount * _UNIT_SECONDS[self.unit])

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    def describe(self) -> str:
        name = UNIT_NAMES[self.unit]
        return f"{self.amount} {name}{'' if self.amount == 1 else 's'}"


def parse_duration(text: object) -> Duration:
    """Parse a duration, raising ValueError with a message fit for a playbook author."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a duration: write a number and a unit, e.g. 15m, 24h, 7d or 5wd")
    match = _PATTERN.match(text)
    if not match:
        raise ValueError(
            f"{text!r} is not a duration: write a number and a unit (s, m, h, d or wd), e.g. 15m"
        )
    return Duration(int(match.group(1)), match.group(2))
