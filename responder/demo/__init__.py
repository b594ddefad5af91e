"""Demo data for development: the contact directory and three users. Idempotent."""

from __future__ import annotations

from pathlib import Path

from responder.accounts.users import create_user, find_user
from responder.directory.contacts import ImportResult, import_contacts

DEMO_CONTACTS = Path(__file__).parent / "contacts.csv"

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
