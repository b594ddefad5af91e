"""Starting a call-out test: one test text to each person holding a role in one playbook.

Each text says it is a test, names no incident (there is none), and carries
the person's own link and a reply code to confirm "this number reaches me".
Both work for 24 hours. A test opens no incident, writes no timeline and no
sharing record (it shares nothing about anyone), and is never counted in an
incident's or the region's figures.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from responder.callouts.recipients import RoleHolder, holders_to_test, roles_named_in
from responder.clock import as_utc, format_local, now_utc
from responder.database import wait_turn
from responder.extensions import db
from responder.models import (
    LINK_PLACEHOLDER,
    CalloutRecipient,
    CalloutTest,
    Channel,
    Contact,
    Message,
    MessageKind,
    TokenPurpose,
    User,
)
from responder.notify.sms_text import to_gsm7
from responder.playbooks.registry import current_playbooks
from responder.responses import reply_codes
from responder.responses.access_tokens import issue_token

# Confirmations count for this long; then the links and codes stop working.
CONFIRM_WITHIN = timedelta(hours=24)
# A second test of the same playbook this soon is refused: a double click must not text everyone twice.
MINIMUM_GAP = timedelta(minutes=10)


class CalloutError(ValueError):
    """A call-out test that cannot start; the message says why."""


def start_test(local_authority: str, started_by: User | None = None) -> CalloutTest:
    """Text every role holder in the playbook, in the caller's transaction (sent after the commit)."""
    playbooks = current_playbooks()
    if local_authority not in playbooks.playbooks:
        raise CalloutError(
            f"There is no playbook for {local_authority!r}; choose from {', '.join(sorted(playbooks.playbooks))}."
        )
    # Two starts at once (a double click) take turns: the second sees the first and is refused.
    wait_turn(db.session, CalloutTest.__table__, f"callout-test:{local_authority}")
    now = now_utc()
    _refuse_if_just_started(local_authority, now)
    holders = holders_to_test(playbooks, local_authority, now)
    tested = {holder.role.role for holder in holders}
    untested = [r for r in roles_named_in(playbooks, local_authority) if r.role not in tested]
    test = CalloutTest(
        local_authority=local_authority,
        started_at=now,
        ends_at=now + CONFIRM_WITHIN,
        started_by=started_by,
        untested_roles=[{"role": role.role, "label": role.label} for role in untested],
    )
    db.session.add(test)
    by_contact: dict[int, list[RoleHolder]] = {}
    for holder in holders:
        by_contact.setdefault(holder.contact.id, []).append(holder)
    codes = iter(reply_codes.allocate(len(by_contact)))
    area = playbooks.playbooks[local_authority].name
    for held in by_contact.values():
        _ask(test, held, next(codes), area)
    db.session.flush()
    return test


def _ask(test: CalloutTest, held: list[RoleHolder], code: str, area: str) -> CalloutRecipient:
    contact: Contact = held[0].contact
    token = issue_token(TokenPurpose.CALLOUT, None, contact, expires_at=test.ends_at)
    message = Message(
        channel=Channel.SMS,
        kind=MessageKind.CALLOUT_TEST,
        contact=contact,
        recipient=contact.phone,
        access_token=token,
        body=callout_text(area, code),
    )
    recipient = CalloutRecipient(
        test=test,
        contact=contact,
        phone=contact.phone,
        roles=[{"role": h.role.role, "label": h.role.label, "source": h.source} for h in held],
        message=message,
        access_token=token,
        reply_code=code,
    )
    db.session.add_all([message, recipient])
    return recipient


def callout_text(area: str, code: str) -> str:
    """The test text: plainly a test, no incident, the person's link and their code."""
    return to_gsm7(
        f"Responder TEST - no incident. {area} call-out test: please confirm this number reaches you: "
        f"{LINK_PLACEHOLDER} or reply YES {code} within 24 hours. Thank you."
    )


def _refuse_if_just_started(local_authority: str, now) -> None:
    last = db.session.scalar(
        select(CalloutTest.started_at)
        .where(CalloutTest.local_authority == local_authority)
        .order_by(CalloutTest.started_at.desc())
        .limit(1)
    )
    if last is not None and as_utc(last) + MINIMUM_GAP > now:
        raise CalloutError(
            f"A call-out test of this playbook started at {format_local(last, '%H:%M')}; "
            f"a new one can start from {format_local(as_utc(last) + MINIMUM_GAP, '%H:%M')}."
        )
