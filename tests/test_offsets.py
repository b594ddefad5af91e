"""Playbook offsets: elapsed hours, wall-clock days and England and Wales working days, in Europe/London."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from responder.playbooks import parse_duration
from responder.scheduling.offsets import add_working_days, due_after, due_before

LONDON = ZoneInfo("Europe/London")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def after(start: datetime, offset: str) -> datetime:
    return due_after(start, parse_duration(offset), LONDON).astimezone(LONDON)


@pytest.mark.parametrize(
    ("start", "offset", "expected"),
    [
        # Clocks go forward at 01:00 GMT on Sunday 29 March 2026.
        (local(2026, 3, 28, 21, 40), "24h", local(2026, 3, 29, 22, 40)),  # 24 elapsed hours
        (local(2026, 3, 28, 21, 40), "1d", local(2026, 3, 29, 21, 40)),  # same wall-clock time
        (local(2026, 3, 28, 21, 40), "7d", local(2026, 4, 4, 21, 40)),
        # Clocks go back at 02:00 BST on Sunday 25 October 2026.
        (local(2026, 10, 24, 21, 40), "24h", local(2026, 10, 25, 20, 40)),
        (local(2026, 10, 24, 21, 40), "1d", local(2026, 10, 25, 21, 40)),
        (local(2026, 10, 21, 9, 0), "7d", local(2026, 10, 28, 9, 0)),
        (local(2026, 10, 24, 21, 40), "1wd", local(2026, 10, 26, 21, 40)),
        (local(2026, 10, 24, 23, 50), "15m", local(2026, 10, 25, 0, 5)),
    ],
)
def test_hours_are_elapsed_time_and_days_keep_the_wall_clock_across_both_clock_changes(
    start, offset, expected
):
    result = after(start, offset)
    assert result == expected
    assert (result.hour, result.minute) == (expected.hour, expected.minute)


def test_a_day_later_lands_in_the_right_zone_either_side_of_the_change():
    spring = after(local(2026, 3, 28, 21, 40), "1d")
    autumn = after(local(2026, 10, 24, 21, 40), "1d")
    assert spring.tzname() == "BST" and spring.utcoffset().total_seconds() == 3600
    assert autumn.tzname() == "GMT" and autumn.utcoffset().total_seconds() == 0
    # 23 and 25 elapsed hours respectively (same-zone subtraction would compare wall clocks).
    assert (spring.astimezone(UTC) - local(2026, 3, 28, 21, 40).astimezone(UTC)).total_seconds() == 23 * 3600
    assert (autumn.astimezone(UTC) - local(2026, 10, 24, 21, 40).astimezone(UTC)).total_seconds() == 25 * 3600


def test_a_time_the_clocks_skip_moves_forward_by_the_missing_hour():
    # 01:30 on Sunday 29 March 2026 does not exist in London.
    assert after(local(2026, 3, 28, 1, 30), "1d") == local(2026, 3, 29, 2, 30)


def test_working_days_skip_the_weekend():
    friday_afternoon = local(2026, 11, 20, 15, 0)
    assert after(friday_afternoon, "1wd") == local(2026, 11, 23, 15, 0)  # Monday
    assert after(friday_afternoon, "5wd") == local(2026, 11, 27, 15, 0)  # the next Friday
    assert after(local(2026, 11, 21, 10, 0), "1wd") == local(2026, 11, 23, 10, 0)  # from a Saturday


def test_working_days_skip_bank_holidays_including_substitute_days():
    # Thu 24 Dec 2026: Christmas Day (Fri), the weekend, Boxing Day observed (Mon 28th).
    assert after(local(2026, 12, 24, 15, 0), "1wd") == local(2026, 12, 29, 15, 0)
    # Easter 2026: Good Friday 3 April and Easter Monday 6 April.
    assert after(local(2026, 4, 2, 11, 0), "1wd") == local(2026, 4, 7, 11, 0)
    # A 5-working-day deadline opened the Wednesday before the late May bank holiday.
    assert after(local(2026, 5, 20, 9, 30), "5wd") == local(2026, 5, 28, 9, 30)


def test_a_reminder_one_working_day_before_a_deadline_skips_back_over_the_weekend():
    deadline = due_after(local(2026, 11, 24, 21, 40), parse_duration("5wd"), LONDON)
    assert deadline.astimezone(LONDON) == local(2026, 12, 1, 21, 40)  # Tuesday
    reminder = due_before(deadline, parse_duration("1wd"), LONDON).astimezone(LONDON)
    assert reminder == local(2026, 11, 30, 21, 40)  # Monday
    monday_deadline = due_after(local(2026, 11, 20, 9, 0), parse_duration("1wd"), LONDON)
    assert due_before(monday_deadline, parse_duration("1wd"), LONDON).astimezone(LONDON) == local(
        2026, 11, 20, 9, 0
    )


def test_counting_working_days_backwards_skips_bank_holidays():
    assert add_working_days(datetime(2026, 12, 29).date(), -1) == datetime(2026, 12, 24).date()
