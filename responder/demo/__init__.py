"""Demo data for development: the contact directory, three users and rotas. Idempotent."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

from responder.accounts.users import create_user, find_user
from responder.clock import local_zone, now_utc
from responder.directory.contacts import ImportResult, import_contacts
from responder.playbooks import PlaybookError
from responder.playbooks.registry import current_playbooks
from responder.rotas.importing import import_calendar, import_csv
from responder.rotas.roles import playbook_roles

DEMO_CONTACTS = Path(__file__).parent / "contacts.csv"
# The VRU regional on-call rota, as a rota tool would export it: two people, a week each in turn.
DEMO_ON_CALL_CALENDAR = Path(__file__).parent / "wm-vru-on-call.ics"
ON_CALL_ROLE = "wm-vru-on-call"
# Every local authority's duty manager: two people each, 08:00-20:00 and 20:00-08:00, changing
# over each week. Sandwell's has one deliberate gap, so the rota checks have something to find.
DUTY_MANAGERS = ("bham", "cov", "dud", "sand", "sol", "wal", "wolv")
GAP_ROLE = "sand-vru-duty"
ROTA_DAYS = 21

# Development only: `demo seed` refuses to run in production.
DEMO_USERS = (
    ("officer@example.org", "officer", "Olivia Officer", "officer-demo-password"),
    ("manager@example.org", "manager", "Marcus Manager", "manager-demo-password"),
    ("admin@example.org", "admin", "Ada Admin", "admin-demo-password"),
)


def seed_demo() -> tuple[ImportResult, list[str]]:
    """Load the demo directory and create missing demo users; returns what was done."""
    result = import_contacts(DEMO_CONTACTS.read_text(encoding="utf-8"), str(DEMO_CONTACTS.name))
    created = []
    for email, role, name, password in DEMO_USERS:
        if find_user(email) is None:
            create_user(email, role, password, name=name)
            created.append(email)
    return result, created


def seed_demo_rotas() -> list[str]:
    """A rota for every duty manager (from CSV) and the regional on-call (from a calendar); what was done.

    Only for the roles the playbooks in use name: another set of playbooks (the fault drills') gets none.
    """
    try:
        roles = playbook_roles(current_playbooks())
    except PlaybookError:
        return ["none: the playbooks are invalid (see `playbooks check`)"]
    done: dict[str, int] = {}
    problems: list[str] = []
    if ON_CALL_ROLE in roles:
        calendar = import_calendar(
            DEMO_ON_CALL_CALENDAR.read_text(encoding="utf-8"), DEMO_ON_CALL_CALENDAR.name, ON_CALL_ROLE
        )
        done.update(calendar.shifts)
        problems += calendar.problems
    today = now_utc().astimezone(local_zone()).date()
    prefixes = tuple(prefix for prefix in DUTY_MANAGERS if f"{prefix}-vru-duty" in roles)
    if prefixes:
        duty = import_csv(duty_manager_rota_csv(today, prefixes), "demo duty managers")
        done.update(duty.shifts)
        problems += duty.problems
    return [f"{role}: {count} shift(s)" for role, count in done.items()] + problems or ["none"]


def duty_manager_rota_csv(today: date, prefixes: tuple[str, ...] = DUTY_MANAGERS) -> str:
    """From yesterday for ROTA_DAYS days: day and night shifts, the two people swapping each week.

    Sandwell's night shift starting tomorrow evening stops at 02:00 and its
    next day shift starts at 08:00: nobody is on duty from 02:00 to 08:00
    (within 72 hours, so the dashboard shows it too).
    """
    lines = ["role,contact,start,end"]
    for prefix in prefixes:
        role = f"{prefix}-vru-duty"
        for offset in range(-1, ROTA_DAYS):
            day = today + timedelta(days=offset)
            first, second = (1, 2) if day.isocalendar().week % 2 else (2, 1)
            day_start = datetime.combine(day, time(8))
            night_start = datetime.combine(day, time(20))
            night_end = datetime.combine(day + timedelta(days=1), time(8))
            if role == GAP_ROLE and offset == 1:
                night_end = datetime.combine(day + timedelta(days=1), time(2))
            lines.append(
                f"{role},{prefix}-duty-manager-{first},{day_start:%Y-%m-%dT%H:%M},{night_start:%Y-%m-%dT%H:%M}"
            )
            lines.append(
                f"{role},{prefix}-duty-manager-{second},{night_start:%Y-%m-%dT%H:%M},{night_end:%Y-%m-%dT%H:%M}"
            )
    return "\n".join(lines) + "\n"
