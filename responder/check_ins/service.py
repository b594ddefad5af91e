"""Check-ins: asking covering agencies how the response is going, and recording their answers.

A check-in step asks every covering agency's contact (whoever acknowledged,
else the lead) by SMS and email with a /c/<token> link. Unanswered after
CHECK_IN_REMINDER_AFTER, it gets one reminder; still unanswered
CHECK_IN_FLAG_AFTER later, it is flagged as missed on the incident page.
An answer lands on the timeline and updates the incident's community
tension (with a reading for the trend) and its support offers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import select, update

from responder import timeline
from responder.clock import as_utc, now_utc
from responder.extensions import db
from responder.incidents.guard import Change, guarded
from responder.incidents.lifecycle import record_opening_tension
from responder.models import (
    AccessToken,
    ActionKind,
    ActionState,
    ActivationState,
    CheckIn,
    EventKind,
    Incident,
    OfferActivation,
    OfferState,
    Tension,
    TensionReading,
    TimedAction,
    TokenPurpose,
)
from responder.playbooks import parse_duration
from responder.responses.access_tokens import issue_token
from responder.scheduling import add_action, cancel_check_in_follow_ups
from responder.scheduling.firing import Result
from responder.scheduling.notices import queue_check_in_request

# What a check-in may say about a support offer; anything else leaves it as it was.
OFFER_OUTCOMES = (OfferState.DELIVERED, OfferState.DECLINED)


@dataclass(frozen=True)
class CheckInAnswer:
    """A lead's answer, validated by the form."""

    status_update: str
    tension: str
    needs: str = ""
    offers: dict[str, str] = field(default_factory=dict)  # offer_key -> delivered | declined


# --- firing (called by responder.scheduling.firing) ------------------------------


def send_check_in_round(action: TimedAction, now: datetime) -> Result:
    """Ask every covering agency; schedule each request's reminder."""
    incident = action.incident
    step = action.details["step"]
    if _later_round_due(action, now):
        # After an outage, ask once (the latest round), not once per missed round.
        return Result.cancel("superseded: a later check-in is also due")
    asked, follow_ups = [], []
    for activation in incident.activations:
        if activation.state != ActivationState.COVERED:
            continue
        contact = activation.acknowledged_by or activation.lead_contact
        if contact is None or not contact.active:
            continue
        token = issue_token(TokenPurpose.CHECK_IN, activation, contact)
        check_in = CheckIn(
            incident=incident, activation=activation, contact=contact, access_token=token, step=step
        )
        check_in.requested_at = now
        db.session.add(check_in)
        queue_check_in_request(check_in, token, reminder=False)
        due = now + current_app.config["CHECK_IN_REMINDER_AFTER"]
        follow_ups.append(
            add_action(incident, ActionKind.CHECK_IN_REMINDER, due, activation=activation, check_in=check_in)
        )
        asked.append([activation.agency_key, contact.id])
    timeline.record(
        incident, EventKind.CHECK_IN_REQUESTED, step=step, asked=asked, late_seconds=action.lateness_seconds
    )
    db.session.flush()
    return Result(f"asked {len(asked)} agencies", follow_ups=follow_ups)


def _later_round_due(action: TimedAction, now: datetime) -> bool:
    return (
        db.session.scalar(
            select(TimedAction.id).where(
                TimedAction.incident_id == action.incident_id,
                TimedAction.kind == ActionKind.CHECK_IN,
                TimedAction.state == ActionState.PENDING,
                TimedAction.due_at > action.due_at,
                TimedAction.due_at <= now,
            )
        )
        is not None
    )


def remind_check_in(action: TimedAction, now: datetime) -> Result:
    """One reminder, with a fresh link; then the missed flag is scheduled."""
    check_in = action.check_in
    if check_in.answered:
        return Result.cancel("not needed: answered")
    token = issue_token(TokenPurpose.CHECK_IN, check_in.activation, check_in.contact)
    check_in.reminder_token = token
    check_in.reminded_at = now
    queue_check_in_request(check_in, token, reminder=True)
    timeline.record(
        check_in.incident,
        EventKind.CHECK_IN_REMINDED,
        contact=check_in.contact,
        agency_key=check_in.activation.agency_key,
        step=check_in.step,
        late_seconds=action.lateness_seconds,
    )
    due = now + current_app.config["CHECK_IN_FLAG_AFTER"]
    flag = add_action(
        check_in.incident, ActionKind.CHECK_IN_MISSED, due, activation=check_in.activation, check_in=check_in
    )
    db.session.flush()
    return Result("reminder sent", follow_ups=[flag])


def flag_missed_check_in(action: TimedAction, now: datetime) -> Result:
    """Still no answer after the reminder: flag it for the manager."""
    check_in = action.check_in
    if check_in.answered:
        return Result.cancel("not needed: answered")
    check_in.missed_at = now
    timeline.record(
        check_in.incident,
        EventKind.CHECK_IN_MISSED,
        contact=check_in.contact,
        agency_key=check_in.activation.agency_key,
        step=check_in.step,
        requested_at=as_utc(check_in.requested_at).isoformat(),
    )
    return Result("flagged as missed")


# --- answering (the /c/<token> form) -----------------------------------------------


def check_in_for_token(token: AccessToken) -> CheckIn | None:
    """The check-in a /c/ link belongs to (the request's link or its reminder's)."""
    return db.session.scalar(
        select(CheckIn).where((CheckIn.access_token_id == token.id) | (CheckIn.reminder_token_id == token.id))
    )


@guarded(Change.RECORD)
def record_check_in_answer(check_in: CheckIn, answer: CheckInAnswer) -> bool:
    """Record the answer in one transaction; False (nothing written) if it was already answered."""
    now = now_utc()
    offers = {key: state for key, state in answer.offers.items() if state in OFFER_OUTCOMES}
    won = db.session.execute(
        update(CheckIn)
        .where(CheckIn.id == check_in.id, CheckIn.responded_at.is_(None))
        .values(
            responded_at=now,
            status_update=answer.status_update.strip(),
            tension=answer.tension,
            needs=answer.needs.strip() or None,
            offer_updates=offers or None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        return False
    db.session.refresh(check_in)
    incident, activation, contact = check_in.incident, check_in.activation, check_in.contact
    needs = f" Needs or concerns: {_sentence(check_in.needs)}" if check_in.needs else ""
    timeline.record(
        incident,
        EventKind.CHECK_IN_RECEIVED,
        by=contact,
        contact=contact,
        agency_key=activation.agency_key,
        text=_sentence(check_in.status_update) + needs,
        step=check_in.step,
        tension=answer.tension,
        check_in_id=check_in.id,
    )
    _record_tension(incident, check_in, answer.tension, now)
    _record_offers(incident, check_in, offers)
    cancel_check_in_follow_ups(check_in, "not needed: answered")
    return True


# --- reading (the incident page) ------------------------------------------------------


def unanswered_check_ins(incident: Incident) -> list[CheckIn]:
    """Check-ins still waiting for an answer, the missed ones first."""
    rows = db.session.scalars(
        select(CheckIn)
        .where(CheckIn.incident_id == incident.id, CheckIn.responded_at.is_(None))
        .order_by(CheckIn.requested_at, CheckIn.id)
    ).all()
    return sorted(rows, key=lambda row: row.missed_at is None)


def overdue_check_ins(incident: Incident) -> list[CheckIn]:
    """Reminded and still unanswered, not yet flagged as missed."""
    return [c for c in unanswered_check_ins(incident) if c.reminded_at is not None and c.missed_at is None]


def _record_tension(incident: Incident, check_in: CheckIn, level: str, now: datetime) -> None:
    record_opening_tension(incident)
    db.session.add(
        TensionReading(
            incident_id=incident.id,
            at=now,
            level=level,
            agency_key=check_in.activation.agency_key,
            check_in_id=check_in.id,
        )
    )
    if level != incident.tension:
        before = Tension(incident.tension)
        incident.tension = level
        timeline.record(
            incident,
            EventKind.TENSION_CHANGED,
            by=check_in.contact,
            agency_key=check_in.activation.agency_key,
            reported_by=check_in.activation.agency_key,
            **{"from": before, "to": Tension(level)},
        )


def _record_offers(incident: Incident, check_in: CheckIn, offers: dict[str, str]) -> None:
    rows = db.session.scalars(select(OfferActivation).where(OfferActivation.incident_id == incident.id))
    for offer in rows:
        state = offers.get(offer.offer_key)
        if state is None or state == offer.state:
            continue
        offer.state = state
        timeline.record(
            incident,
            EventKind.OFFER_UPDATED,
            by=check_in.contact,
            agency_key=offer.provider_agency_key,
            offer=offer.name,
            by_hand=offer.offer_key.startswith("adhoc-") or None,
            state=state,
            reported_by=check_in.activation.agency_key,
        )


def _step_words(check_in: CheckIn) -> str:
    return parse_duration(check_in.step).describe()


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."
