"""Putting timed actions on the schedule and taking them off, in the caller's transaction.

Nothing here talks to APScheduler: a row is the schedule, and the scheduler
process finds new rows itself (responder.scheduling.runtime). So these
functions work the same in a web worker with ``SCHEDULER=off``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, Unpack

from sqlalchemy import update

from responder import timeline
from responder.batched_rows import add_row
from responder.clock import local_zone, now_utc
from responder.extensions import db
from responder.models import (
    ActionKind,
    ActionState,
    Activation,
    ActivationState,
    CheckIn,
    Deadline,
    EventKind,
    Incident,
    TimedAction,
)
from responder.playbooks import Duration, ResponsePlan, parse_duration
from responder.responses.escalation import LEVEL_NAMES
from responder.scheduling.offsets import due_after, due_before

# An escalation is still needed while the alert waits for an answer.
AWAITING_ANSWER = (ActivationState.ALERTED, ActivationState.ESCALATED)


def schedule_response(incident: Incident, plan: ResponsePlan) -> None:
    """Every timed action a newly opened incident needs, counted from ``incident.opened_at``.

    * the first escalation for each alerted agency, ``ack_within`` after the alert;
    * each check-in step;
    * each deadline, and its reminder ``remind_before`` it (at once if that
      moment has already passed).

    The actions are batched rows (responder.batched_rows): nothing here reads them back.
    """
    opened = incident.opened_at
    zone = local_zone()
    for step in plan.steps:
        at = due_after(opened, step.at, zone)
        if step.do == "alert" and step.ack_within is not None:
            for activation in incident.activations:
                # Escalated already: nobody was on duty for the lead, so the deputy has it.
                if activation.state in AWAITING_ANSWER:
                    due = due_after(at, step.ack_within, zone)
                    _batched(
                        incident, ActionKind.ESCALATION, due, **_escalation_links(activation, step.ack_within)
                    )
        elif step.do == "check_in":
            _batched(incident, ActionKind.CHECK_IN, at, details={"step": str(step.at)})
        elif step.do == "deadline":
            deadline = Deadline(
                incident=incident, name=step.name, step=str(step.at), notify_role=step.notify, due_at=at
            )
            db.session.add(deadline)
            details = {"name": step.name, "notify": step.notify, "due": at.isoformat(), "step": str(step.at)}
            _batched(incident, ActionKind.DEADLINE, at, deadline=deadline, details=details)
            if step.remind_before is not None:
                remind_at = max(due_before(at, step.remind_before, zone), opened)
                details = {**details, "before": str(step.remind_before)}
                _batched(
                    incident, ActionKind.DEADLINE_REMINDER, remind_at, deadline=deadline, details=details
                )


class ActionLinks(TypedDict, total=False):
    """What a timed action may point at besides its incident, and what firing it needs."""

    activation: Activation | None
    check_in: CheckIn | None
    deadline: Deadline | None
    details: dict[str, Any] | None


def add_action(
    incident: Incident, kind: ActionKind, due_at: datetime, **links: Unpack[ActionLinks]
) -> TimedAction:
    """A pending timed action as an object, for a caller that needs it (its id, say) before the commit."""
    action = TimedAction(**_action_values(incident, kind, due_at, links))
    db.session.add(action)
    return action


def _batched(incident: Incident, kind: ActionKind, due_at: datetime, **links: Unpack[ActionLinks]) -> None:
    """A pending timed action as a batched row (responder.batched_rows)."""
    add_row(TimedAction, **_action_values(incident, kind, due_at, links))


def _action_values(
    incident: Incident, kind: ActionKind, due_at: datetime, links: ActionLinks
) -> dict[str, Any]:
    return {
        "incident": incident,
        "activation": links.get("activation"),
        "check_in": links.get("check_in"),
        "deadline": links.get("deadline"),
        "kind": kind,
        "due_at": due_at,
        "state": ActionState.PENDING,
        "details": links.get("details") or {},
        "created_at": now_utc(),
    }


def cancel_pending_escalations(activation: Activation, reason: str | None = None) -> int:
    """Stop the escalation chain (the agency answered). Returns how many were cancelled."""
    reason = reason or f"not needed: {activation.agency_name} is {activation.state.replace('_', ' ')}"
    return _cancel(
        (TimedAction.activation_id == activation.id, TimedAction.kind == ActionKind.ESCALATION), reason
    )


def reschedule_escalation(activation: Activation) -> TimedAction | None:
    """Restart the clock from the activation's current rung (after a decline handed it on).

    The rung now holding the alert gets the playbook's full escalation
    interval to answer; then the chain carries on up the ladder.
    """
    cancel_pending_escalations(activation, reason="superseded: the alert was handed on")
    if activation.state not in AWAITING_ANSWER:
        return None
    return schedule_next_escalation(activation)


def schedule_next_escalation(activation: Activation, after: datetime | None = None) -> TimedAction | None:
    """The next rung's escalation, one escalation interval after ``after`` (now)."""
    interval = escalation_interval(activation.incident)
    if interval is None:
        return None
    due = due_after(after or now_utc(), interval)
    return _escalation(activation.incident, activation, due, interval)


def cancel_incident_actions(incident: Incident, reason: str = "the incident was closed") -> int:
    """Cancel everything still pending for ``incident`` (closing or standing down)."""
    count = _cancel((TimedAction.incident_id == incident.id,), reason)
    if count:
        timeline.record(incident, EventKind.ACTIONS_CANCELLED, count=count, because=reason)
    return count


def cancel_deadline_notices(deadline: Deadline, reason: str) -> int:
    """Cancel a deadline's pending reminder and "due now" notice (it was done)."""
    return _cancel((TimedAction.deadline_id == deadline.id,), reason)


def cancel_check_in_follow_ups(check_in: CheckIn, reason: str) -> int:
    """Cancel a check-in's pending reminder or missed flag (it was answered)."""
    return _cancel((TimedAction.check_in_id == check_in.id,), reason)


def escalation_interval(incident: Incident) -> Duration | None:
    """The alert step's ``escalate_every`` (else ``ack_within``) from the frozen playbook."""
    return incident.frozen_playbooks.escalation_interval()


def describe(action: TimedAction) -> str:
    """One line for the incident page."""
    details = action.details or {}
    agency = action.activation.agency_name if action.activation is not None else ""
    if action.kind == ActionKind.ESCALATION:
        level = action.activation.escalation_level + 1
        if level in LEVEL_NAMES:
            return f"{agency}: alert the {LEVEL_NAMES[level]} if nobody has acknowledged"
        return f"{agency}: record that nobody answered if still unacknowledged"
    if action.kind == ActionKind.CHECK_IN:
        return f"Check-in with every covering agency ({parse_duration(details['step']).describe()} after opening)"
    if action.kind == ActionKind.CHECK_IN_REMINDER:
        return f"{agency}: remind them to answer the {action.check_in.step} check-in"
    if action.kind == ActionKind.CHECK_IN_MISSED:
        return f"{agency}: flag the {action.check_in.step} check-in as missed if still unanswered"
    if action.kind == ActionKind.DEADLINE:
        return f"Deadline: {details.get('name')}"
    if action.kind == ActionKind.DEADLINE_REMINDER:
        before = parse_duration(details["before"]).describe()
        return f"Reminder, {before} before the deadline: {details.get('name')}"
    return action.kind.replace("_", " ").capitalize()


def _escalation(incident: Incident, activation: Activation, due: datetime, waited: Duration) -> TimedAction:
    return add_action(incident, ActionKind.ESCALATION, due, **_escalation_links(activation, waited))


def _escalation_links(activation: Activation, waited: Duration) -> ActionLinks:
    # "waited" is the time this rung had to answer: the reason the next alert gives.
    return {"activation": activation, "details": {"waited": str(waited)}}


def _cancel(conditions: tuple, reason: str) -> int:
    result = db.session.execute(
        update(TimedAction)
        .where(*conditions, TimedAction.state == ActionState.PENDING)
        .values(state=ActionState.CANCELLED, outcome=reason[:200])
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount
