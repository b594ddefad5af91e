"""Firing an escalation: nobody acknowledged in time, so the alert climbs one rung.

The ladder itself (lead -> deputy -> duty manager -> VRU regional on-call,
skipping rungs without a contact) is responder.responses.escalation's. Here: whether
the escalation is still needed, and when the next one falls due. After the
top rung has had its time, one last escalation finds nobody left, marks
the agency "not reached" and tells the officer who opened the incident and the
duty manager (by text as well), so somebody acts on it.
"""

from __future__ import annotations

from datetime import datetime

from responder.models import TimedAction
from responder.notify.outbox import queue_response_notice
from responder.playbooks import parse_duration
from responder.responses.escalation import LEVEL_NAMES, alert_next_level
from responder.scheduling.firing import Result, late_note
from responder.scheduling.schedule import AWAITING_ANSWER, schedule_next_escalation


def fire_escalation(action: TimedAction, now: datetime) -> Result:
    activation = action.activation
    if activation.state not in AWAITING_ANSWER:
        return Result.cancel(f"not needed: {activation.agency_name} is {activation.state.replace('_', ' ')}")
    waited = parse_duration(action.details["waited"])
    reason = f"nobody acknowledged within {waited.describe()}{late_note(action)}"
    contact = alert_next_level(activation, reason=reason)
    if contact is None:
        # The ladder is exhausted: whoever manages the response hears of it now, by text too.
        queue_response_notice(activation, f"{activation.agency_name} could not be reached", urgent=True)
        return Result(f"nobody left to alert for {activation.agency_name}")
    follow_up = schedule_next_escalation(activation, after=now)
    return Result(
        f"alerted the {LEVEL_NAMES[activation.escalation_level]} ({contact.key})",
        follow_ups=[follow_up] if follow_up is not None else [],
    )
