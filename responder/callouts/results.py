"""What a call-out test found, role by role, and who has not confirmed their number since.

Per role: confirmed (and how long after the text went), waiting (the test is
still running), not confirmed within 24 hours, failed (the provider's reason:
a wrong or unreachable number), or nobody to test. Worked out from the rows
when read, so a report is never stale.

:func:`contacts_not_confirmed` is what other pages build on (the readiness
page, the directory's flags, ``playbooks check --strict``): per local
authority, the people who failed or never confirmed its last test and have
not confirmed in any test since.
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from responder.callouts.recipients import roles_named_in
from responder.clock import as_utc, format_local, local_zone, now_utc
from responder.extensions import db
from responder.models import CalloutRecipient, CalloutTest, MessageState
from responder.playbooks.loader import Problem
from responder.playbooks.model import PlaybookSet


class Status(enum.StrEnum):
    label: str

    def __new__(cls, value: str, label: str) -> Status:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    CONFIRMED = ("confirmed", "Confirmed")
    WAITING = ("waiting", "Waiting for an answer")
    NOT_CONFIRMED = ("not_confirmed", "Not confirmed within 24 hours")
    FAILED = ("failed", "Failed")
    NO_CONTACT = ("no_contact", "Nobody to test")


# What flags a contact: their number did not reach them, or nobody said it did.
UNCONFIRMED = (Status.NOT_CONFIRMED, Status.FAILED)


@dataclass(frozen=True)
class RoleResult:
    """One role in one test."""

    role: str
    label: str
    status: Status
    contact_key: str | None = None
    name: str = ""
    phone: str = ""
    confirmed_at: datetime | None = None
    took: timedelta | None = None  # from the text being sent to the confirmation
    reason: str = ""  # why it failed, in the provider's words
    source: str = ""  # where the holder came from: the directory, a rota


@dataclass(frozen=True)
class Report:
    test: CalloutTest
    rows: list[RoleResult]
    finished: bool  # the 24 hours are over: nothing will change

    def count(self, status: Status) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def median_to_confirm(self) -> timedelta | None:
        taken = [row.took.total_seconds() for row in self.rows if row.took is not None]
        return timedelta(seconds=statistics.median(taken)) if taken else None


@dataclass(frozen=True)
class UnconfirmedContact:
    """A person whose number was not confirmed in a local authority's last call-out test, nor since."""

    local_authority: str
    contact_id: int
    contact_key: str
    name: str
    roles: tuple[str, ...]  # role keys they were tested for
    role_labels: tuple[str, ...]
    status: Status  # FAILED or NOT_CONFIRMED
    reason: str  # the provider's reason for a failure
    test_id: int
    tested_at: datetime


def report(test: CalloutTest, now: datetime | None = None) -> Report:
    """Every role the test covered (and those it could not), as it stands now."""
    now = now or now_utc()
    rows: list[RoleResult] = []
    for recipient in test.recipients:
        status, took, reason = _outcome(recipient, now)
        for held in recipient.roles:
            rows.append(
                RoleResult(
                    role=held["role"],
                    label=held["label"],
                    status=status,
                    contact_key=recipient.contact.key,
                    name=recipient.contact.name,
                    phone=recipient.phone,
                    confirmed_at=recipient.confirmed_at,
                    took=took,
                    reason=reason,
                    source=held.get("source", "directory"),
                )
            )
    rows += [RoleResult(role["role"], role["label"], Status.NO_CONTACT) for role in test.untested_roles]
    return Report(test, rows, as_utc(test.ends_at) <= now)


def find_test(test_id: int) -> CalloutTest | None:
    return db.session.scalar(_with_recipients(select(CalloutTest).where(CalloutTest.id == test_id)))


def latest_tests(local_authority: str | None = None) -> dict[str, CalloutTest]:
    """Each local authority's most recent test (or just the one asked for)."""
    newest = select(CalloutTest.local_authority, func.max(CalloutTest.id).label("id")).group_by(
        CalloutTest.local_authority
    )
    if local_authority is not None:
        newest = newest.where(CalloutTest.local_authority == local_authority)
    ids = select(newest.subquery().c.id)
    tests = db.session.scalars(_with_recipients(select(CalloutTest).where(CalloutTest.id.in_(ids))))
    return {test.local_authority: test for test in tests}


def contacts_not_confirmed(local_authority: str | None = None) -> dict[str, list[UnconfirmedContact]]:
    """Per local authority with a call-out test: who failed or never confirmed its last test, and not since.

    A person confirmed by any later test (of any playbook) is left out: their
    number has been shown to reach them since. A test still running lists
    only failures so far; the unanswered are not counted until its 24 hours end.
    """
    now = now_utc()
    found: dict[str, list[UnconfirmedContact]] = {}
    for area, test in latest_tests(local_authority).items():
        unconfirmed = [
            (recipient, status, reason)
            for recipient in test.recipients
            for status, _took, reason in [_outcome(recipient, now)]
            if status in UNCONFIRMED
        ]
        since = _confirmed_since([r.contact_id for r, _s, _w in unconfirmed], test.started_at)
        found[area] = [
            UnconfirmedContact(
                local_authority=area,
                contact_id=recipient.contact_id,
                contact_key=recipient.contact.key,
                name=recipient.contact.name,
                roles=tuple(held["role"] for held in recipient.roles),
                role_labels=tuple(held["label"] for held in recipient.roles),
                status=status,
                reason=reason,
                test_id=test.id,
                tested_at=as_utc(test.started_at),
            )
            for recipient, status, reason in unconfirmed
            if recipient.contact_id not in since
        ]
    return found


def flagged_contacts() -> dict[int, UnconfirmedContact]:
    """Contacts to flag in the directory, by id: unconfirmed in some local authority's last test."""
    flagged: dict[int, UnconfirmedContact] = {}
    for people in contacts_not_confirmed().values():
        for person in people:
            flagged.setdefault(person.contact_id, person)
    return flagged


def unconfirmed_roles(playbooks: PlaybookSet) -> list[Problem]:
    """``playbooks check --strict``: each playbook role held by someone flagged, at the line naming it."""
    problems: list[Problem] = []
    for area, people in contacts_not_confirmed().items():
        if area not in playbooks.playbooks:
            continue
        named = {role.role: role for role in roles_named_in(playbooks, area)}
        for person in people:
            when = format_local(person.tested_at, "%d %b %Y")
            what = (
                f"the call-out test text to {person.contact_key} failed ({person.reason})"
                if person.status == Status.FAILED
                else f"{person.contact_key} did not confirm"
            )
            for role in filter(None, (named.get(key) for key in person.roles)):
                problem = Problem(role.file, role.line, role.path, f"{what} in the call-out test of {when}")
                if problem not in problems:
                    problems.append(problem)
    return problems


CSV_HEADER = (
    "Role",
    "Role key",
    "Result",
    "Name",
    "Phone",
    "Confirmed (local time)",
    "Minutes to confirm",
    "Reason",
)


def csv_rows(result: Report) -> Iterator[tuple[str, ...]]:
    zone = local_zone()
    for row in result.rows:
        confirmed = row.confirmed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if row.confirmed_at else ""
        minutes = f"{row.took.total_seconds() / 60:.1f}" if row.took is not None else ""
        yield (row.label, row.role, row.status.label, row.name, row.phone, confirmed, minutes, row.reason)


def _outcome(recipient: CalloutRecipient, now: datetime) -> tuple[Status, timedelta | None, str]:
    message = recipient.message
    if recipient.confirmed_at is not None:
        sent = message.sent_at if message is not None and message.sent_at else recipient.test.started_at
        return Status.CONFIRMED, max(as_utc(recipient.confirmed_at) - as_utc(sent), timedelta(0)), ""
    if message is not None and message.state == MessageState.FAILED:
        return Status.FAILED, None, message.last_error or "the provider gave no reason"
    if as_utc(recipient.test.ends_at) <= now:
        return Status.NOT_CONFIRMED, None, ""
    return Status.WAITING, None, ""


def _confirmed_since(contact_ids: list[int], since: datetime) -> set[int]:
    if not contact_ids:
        return set()
    return set(
        db.session.scalars(
            select(CalloutRecipient.contact_id).where(
                CalloutRecipient.contact_id.in_(contact_ids),
                CalloutRecipient.confirmed_at > as_utc(since).astimezone(UTC),
            )
        )
    )


def _with_recipients(query):
    return query.options(
        selectinload(CalloutTest.recipients).selectinload(CalloutRecipient.message),
        selectinload(CalloutTest.recipients).selectinload(CalloutRecipient.contact),
    )
