"""Timeline events in words: one sentence per kind, written from the row when it is read.

The same function serves the incident page, the live updates, the API and
every export; only the :class:`~responder.timeline.naming.Naming` differs
(full, or redacted), so a redacted sentence can only contain what the naming
lets through: role labels, pseudonyms, and "[withheld]" for anyone's words.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from responder.clock import format_local
from responder.models import LOCAL_AUTHORITIES, EventKind, IncidentType, Tension, TimelineEvent
from responder.playbooks import parse_duration
from responder.playbooks.schema import SHARING_BASES
from responder.timeline.naming import Naming

# What a message went by, as a noun ("Alert by SMS and email").
MESSAGE_CHANNELS = {"sms": "SMS", "email": "email", "voice": "phone call"}
# How someone answered, as the timeline says it after who answered.
ANSWER_CHANNELS = {
    "link": "by link",
    "sms_reply": "by SMS reply",
    "phone_call": "by pressing a key during Responder's phone call",
}
CHANNELS = {**ANSWER_CHANNELS, **MESSAGE_CHANNELS}
# Beside an entry on the page: how it was done or sent.
CHANNEL_WORDS = {
    **{channel: f"by {name}" for channel, name in MESSAGE_CHANNELS.items()},
    **ANSWER_CHANNELS,
    "phone_call": "by phone call",
}
EXPORT_FORMATS = {
    "csv": "chronology (CSV)",
    "json": "incident data (JSON)",
    "pdf": "after-action report (PDF)",
    "html": "after-action report (web page)",
}
STATUS_WORDS = {"open": "open", "active": "active", "standing_down": "standing down", "closed": "closed"}
# Lateness beyond this is worth telling people about (an outage, not jitter).
LATE_AFTER_SECONDS = 60


def sentence(event: TimelineEvent, naming: Naming) -> str:
    """What happened, in words, for this naming's variant."""
    data = event.data or {}
    if data.get("legacy"):
        # Written before the timeline was structured: a finished sentence that may name people.
        return naming.own_words(event.text) or EventKind(event.kind).label
    try:
        return _SENTENCES[EventKind(event.kind)](event, data, naming)
    except (KeyError, ValueError, TypeError):
        # A row from before its kind had these fields: its words, if any, as someone's own.
        return naming.own_words(event.text) or EventKind(event.kind).label


def who(event: TimelineEvent, naming: Naming) -> str:
    """Who did it: a staff member, an agency contact (with their role), or Responder."""
    role = (event.data or {}).get("role") if event.actor_contact_id == event.contact_id else None
    return naming.actor(event.actor_user_id, event.actor_contact_id, role)


# --- pieces -----------------------------------------------------------------------------------


def _said(naming: Naming, text: str | None, none: str = "none given") -> str:
    return naming.own_words(text) or none


def _recipient(event: TimelineEvent, data: dict, naming: Naming) -> str:
    if event.contact_id is None:
        return "the officer who opened the incident" if data.get("to") == "officer" else "staff"
    person = naming.person(event.contact_id, data.get("role"))
    agency = naming.agency(event.agency_key)
    # A role label already names the agency; a name alone does not.
    return person if not agency or agency in person else f"{person} ({agency})"


def _named(naming: Naming, contact_id: int | None) -> str:
    """ ", Bilal Kowalski" after a rung already named ("the deputy"); nothing more when redacted."""
    name = naming.name(contact_id)
    return f", {name}," if name else ""


def _message(event: TimelineEvent, data: dict, naming: Naming) -> str:
    words = str(data.get("message", "message")).replace("_", " ").capitalize()
    return f"{words} {CHANNELS.get(event.channel or '', event.channel or '')} to {_recipient(event, data, naming)}"


def _delivered(event: TimelineEvent) -> str:
    if event.channel == "voice":
        return "answered"
    return "delivered to the phone" if event.channel == "sms" else "delivered to the mail server"


# Why a call counts as unanswered (responder.models.CallOutcome), in words.
_CALL_OUTCOMES = {
    "no_answer": "nobody answered",
    "busy": "the line was busy",
    "voicemail": "voicemail answered, and Responder hung up without leaving a message",
    "no_key": "answered, but no key was pressed",
}


def _late(data: dict) -> str:
    seconds = data.get("late_seconds") or 0
    if seconds < LATE_AFTER_SECONDS:
        return ""
    return f" (this ran {_duration_words(seconds)} late: the scheduler was not running when it was due)"


def _on_duty(data: dict, naming: Naming) -> str:
    """How a role was filled when its message was created (responder.rotas), when it has a rota."""
    duty = data.get("duty")
    if not duty:
        return ""
    rota = f"the rota for {naming.role_labels.get(data['rota']) or data['rota']}"
    if duty == "fallback":
        return f"; nobody was on duty on {rota}, so its fixed contact was alerted"
    if duty == "override":
        return f"; on duty by an override on {rota}"
    count = data.get("on_duty") or 1
    return f"; on duty through {rota}" + (f", one of {count} on duty, all alerted" if count > 1 else "")


def _step(data: dict) -> str:
    return parse_duration(data["step"]).describe()


def _time(value: str | None) -> str:
    return format_local(datetime.fromisoformat(value)) if value else "an unknown time"


def _tension(value: str) -> str:
    return Tension(value).label.lower()


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _duration_words(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days {hours % 24} h"


# --- one sentence per kind --------------------------------------------------------------------


def _opened(event, data, naming):
    what = "Exercise incident" if data.get("exercise") else "Incident"
    return (
        f"{what} opened: {IncidentType(data['type']).label.lower()} in "
        f"{LOCAL_AUTHORITIES.get(data['local_authority'], data['local_authority'])}; "
        f"{_plural(data['agencies'], 'agency', 'agencies')} and {_plural(data['offers'], 'support offer')} "
        "from the playbook"
    )


def _check_in_requested(event, data, naming):
    asked = data.get("asked") or []
    if not asked:
        return f"Check-in {_step(data)} on: no agency is covering yet, so nobody was asked{_late(data)}"
    whom = "; ".join(f"{naming.agency(key)} ({naming.person(contact_id)})" for key, contact_id in asked)
    agencies = _plural(len(asked), "covering agency", "covering agencies")
    return f"Check-in {_step(data)} on sent to {agencies}: {whom}{_late(data)}"


def _check_in_received(event, data, naming):
    return (
        f"{naming.agency(event.agency_key)} answered the {_step(data)} check-in "
        f"({naming.person(event.actor_contact_id, data.get('role'))}): {_said(naming, event.text, 'no answer given')} "
        f"Community tension: {_tension(data['tension'])}."
    )


def _tension_changed(event, data, naming):
    if data.get("reported_by"):
        return (
            f"Community tension now {_tension(data['to'])} (was {_tension(data['from'])}), "
            f"as reported by {naming.agency(data['reported_by'])}"
        )
    return f"Community tension changed from {_tension(data['from'])} to {_tension(data['to'])}: {_said(naming, event.text)}"


def _deadline(event, data, naming, *, reminder: bool):
    if event.contact_id is not None:
        told = f"{naming.person(event.contact_id, data.get('role'))} told by SMS and email{_on_duty(data, naming)}"
    elif data.get("duty") == "gap":
        told = f"nobody told: nobody was on duty on the rota for {data.get('role')}"
    else:
        told = f"nobody told: no active contact for role {data.get('role')}"
    if reminder:
        before = parse_duration(data["before"]).describe()
        return (
            f"Reminder ({before} before): {data['name']}, due {_time(data.get('due'))}; {told}{_late(data)}"
        )
    return f"Deadline reached: {data['name']}; {told}{_late(data)}"


def _deadline_done(event, data, naming):
    late = data.get("late_seconds") or 0
    when = f"{_duration_words(late)} after it was due" if late > 0 else "on time"
    note = naming.own_words(event.text)
    return f"Deadline done {when}: {data['name']} (due {_time(data.get('due'))})" + (
        f"; note: {note}" if note else ""
    )


def _meeting(event, data, naming):
    if naming.redacted:
        return (
            f"Meeting recorded ({_plural(data.get('attendees', 0), 'attendee')}, "
            f"{_plural(data.get('actions', 0), 'action')}); notes withheld"
        )
    return event.text or "Meeting recorded"


def _area_added(event, data, naming):
    shared = data.get("shared") or 0
    name = LOCAL_AUTHORITIES.get(data["local_authority"], data["local_authority"])
    return (
        f"{name} added to the incident ({_said(naming, event.text)}): "
        f"{_plural(data.get('alerted', 0), 'more agency', 'more agencies')} alerted"
        + (f"; {shared} already active were not alerted again" if shared else "")
    )


def _review_updated(event, data, naming):
    change = data.get("change")
    if change == "note":
        return f"Learning review: {data.get('what', 'note')} added"
    if change == "action":
        return f"Learning review: action added, due {data.get('due')}, {data.get('rag')}"
    return f"Learning review: action {data.get('action_id')} status changed from {data.get('from')} to {data.get('to')}"


_SENTENCES: dict[EventKind, Callable[[TimelineEvent, dict[str, Any], Naming], str]] = {
    EventKind.OPENED: _opened,
    EventKind.OFFERED: lambda e, d, n: f"Support offer: {n.offer(d['offer'], d.get('by_hand', False))}",
    EventKind.ALERT_QUEUED: lambda e, d, n: (
        f"{n.agency(e.agency_key)} activated; alert queued to {n.person(e.contact_id, d.get('role'))} "
        + ("by SMS, email and a phone call" if d.get("called") else "by SMS and email")
        + _on_duty(d, n)
    ),
    EventKind.CONTACT_MISSING: lambda e, d, n: (
        f"{n.agency(e.agency_key)} not alerted: no active contact for role {d['role']} in the directory"
    ),
    EventKind.MESSAGE_SENT: lambda e, d, n: (
        f"{_message(e, d, n)}: sent, {'found at' if d.get('found') else 'handed to'} {d.get('provider', 'the provider')}"
    ),
    EventKind.MESSAGE_DELIVERED: lambda e, d, n: f"{_message(e, d, n)}: {_delivered(e)}",
    EventKind.CALL_UNANSWERED: lambda e, d, n: (
        f"{_message(e, d, n)} not answered: {_CALL_OUTCOMES.get(d.get('outcome'), 'no key was pressed')}; "
        "the escalation carries on"
    ),
    EventKind.MESSAGE_FAILED: lambda e, d, n: (
        f"{_message(e, d, n)} failed: {_said(n, e.text, 'no reason given')}"
    ),
    EventKind.FELL_BACK_TO_EMAIL: lambda e, d, n: (
        f"{_recipient(e, d, n)} reached by email instead: the SMS failed ({_said(n, e.text, 'no reason given')})"
    ),
    EventKind.EMAILED_AS_WELL: lambda e, d, n: (
        f"{_recipient(e, d, n)}: emailed as well because {_said(n, e.text, 'the text did not go')}"
    ),
    EventKind.MESSAGES_CANCELLED: lambda e, d, n: (
        f"{_plural(d['count'], 'phone call')} not yet placed cancelled because {d['because']}"
        if d.get("calls")
        else f"{_plural(d['count'], 'message')} not yet sent cancelled because {d['because']}"
    ),
    EventKind.ALERT_RESENT: lambda e, d, n: (
        f"{n.agency(e.agency_key)}: alert re-sent to the {d['rung']}{_named(n, e.contact_id)}{_on_duty(d, n)}"
    ),
    EventKind.ESCALATED: lambda e, d, n: (
        f"{n.agency(e.agency_key)}: alerted the {d['rung']}{_named(n, e.contact_id)}"
        f"{' by text and a phone call' if d.get('called') else ''} because {d['because']}"
        f"{_on_duty(d, n)}"
    ),
    EventKind.ROTA_GAP: lambda e, d, n: (
        f"{n.agency(e.agency_key)}: nobody was on duty on the rota for the {d['rung']} "
        f"({n.role_labels.get(d['role']) or d['role']}) and it has no fixed contact, so the alert moved on"
    ),
    EventKind.NOT_REACHED: lambda e, d, n: f"{n.agency(e.agency_key)}: nobody left to alert ({d['because']})",
    EventKind.ACTIONS_CANCELLED: lambda e, d, n: (
        f"{_plural(d['count'], 'scheduled action')} cancelled: {d['because']}"
    ),
    EventKind.TIMED_ACTION_FAILED: lambda e, d, n: (
        f"A scheduled {d['action'].replace('_', ' ')} could not be carried out after {d['attempts']} attempts "
        f"({d['error']}); it needs doing by hand"
    ),
    EventKind.ACKNOWLEDGED: lambda e, d, n: (
        f"{n.agency(e.agency_key)} covered: acknowledged by {n.person(e.actor_contact_id, d.get('role'))} "
        f"{CHANNELS.get(e.channel or '', '')}" + (f"; note: {n.own_words(e.text)}" if e.text else "")
    ),
    EventKind.DECLINED: lambda e, d, n: (
        f"{n.agency(e.agency_key)}: declined by {n.person(e.actor_contact_id, d.get('role'))} "
        f"{CHANNELS.get(e.channel or '', '')}; reason: {_said(n, e.text)}"
    ),
    EventKind.LATE_RESPONSE: lambda e, d, n: (
        f"{n.agency(e.agency_key)}: {d['what']} from {n.person(e.actor_contact_id)} {CHANNELS.get(e.channel or '', '')} "
        f"recorded as a late response because {d['because']}"
        + (f"; they said: {n.own_words(e.text)}" if e.text else "")
    ),
    EventKind.CHECK_IN_REQUESTED: _check_in_requested,
    EventKind.CHECK_IN_REMINDED: lambda e, d, n: (
        f"{n.agency(e.agency_key)}: no answer to the {_step(d)} check-in yet; reminder sent to "
        f"{n.person(e.contact_id)}{_late(d)}"
    ),
    EventKind.CHECK_IN_MISSED: lambda e, d, n: (
        f"{n.agency(e.agency_key)}: the {_step(d)} check-in is missed - {n.person(e.contact_id)} has not "
        f"answered the request of {_time(d.get('requested_at'))} or its reminder"
    ),
    EventKind.CHECK_IN_RECEIVED: _check_in_received,
    EventKind.OFFER_UPDATED: lambda e, d, n: (
        f"Support offer {d['state']}: {n.offer(d['offer'], d.get('by_hand', False))} "
        f"(reported by {n.agency(d['reported_by'])})"
    ),
    EventKind.DEADLINE_REMINDER: lambda e, d, n: _deadline(e, d, n, reminder=True),
    EventKind.DEADLINE_DUE: lambda e, d, n: _deadline(e, d, n, reminder=False),
    EventKind.DEADLINE_DONE: _deadline_done,
    EventKind.STATUS_CHANGED: lambda e, d, n: (
        f"Status changed from {STATUS_WORDS[d['from']]} to {STATUS_WORDS[d['to']]}: "
        + (f"{n.agency(e.agency_key)} is covering" if d.get("covering") else _said(n, e.text))
    ),
    EventKind.UPDATE_POSTED: lambda e, d, n: _said(n, e.text, ""),
    EventKind.MEETING_RECORDED: _meeting,
    EventKind.TENSION_CHANGED: _tension_changed,
    EventKind.AGENCY_ADDED: lambda e, d, n: (
        f"{n.agency(e.agency_key)} added: {_said(n, e.text)} "
        f"(sharing basis: {SHARING_BASES.get(d.get('basis', ''), d.get('basis', 'unknown'))})"
    ),
    EventKind.NOT_APPLICABLE: lambda e, d, n: (
        f"{n.agency(e.agency_key)} marked not applicable: {_said(n, e.text)}"
    ),
    EventKind.AREA_ADDED: _area_added,
    EventKind.EXPORTED: lambda e, d, n: f"Exported the {EXPORT_FORMATS[d['format']]}, {d['variant']} version",
    EventKind.REVIEW_UPDATED: _review_updated,
    EventKind.PERSONAL_DATA_PURGED: lambda e, d, n: (
        f"Personal data removed under the retention policy ({d['period']} after closing): "
        f"{_plural(sum((d.get('fields') or {}).values()), 'field')} replaced; references, times, states and figures kept"
    ),
}
