"""The after-action report's chronology: the timeline condensed to what a review panel reads.

The chronology CSV keeps every event; the report folds them:

* a message and its delivery receipts are one row, and that row is the event
  that sent it: "Alert to Tom Mensah, Lead: SMS delivered 21:41, email sent
  21:41" (an alert, an escalation, a check-in request or reminder, a deadline
  reminder); a message no event sent (a stand-down, a notice) gets one row of
  its own, its SMS and email together;
* the support offers made at one moment are one row;
* what a check-in answer changed (community tension, a support offer) joins
  the answer's row, and the status change an acknowledgement caused joins it;
* the agency is said once, in its own column, and times are grouped by day.

People are named through the report's :class:`Naming`, so the redacted
report condenses the same way with role labels and withheld words.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from responder.clock import to_local
from responder.extensions import db
from responder.models import EventKind, Tension, TimelineEvent
from responder.playbooks import parse_duration
from responder.timeline.naming import Naming
from responder.timeline.render import CHANNELS, sentence

BATCH_ROWS = 1000
# What a receipt says happened to its message, most final last.
RECEIPTS = {
    EventKind.MESSAGE_SENT: "sent",
    EventKind.MESSAGE_DELIVERED: "delivered",
    EventKind.MESSAGE_FAILED: "failed",
}
NOTES = {
    EventKind.FELL_BACK_TO_EMAIL: "reached by email instead",
    EventKind.EMAILED_AS_WELL: "emailed as well",
}
CHANNEL_WORDS = {"sms": ("SMS", "SMS"), "email": ("email", "emails"), "voice": ("phone call", "phone calls")}
# Which kind of message each sending event sent (a message's own "message" field).
SENDS = {
    EventKind.ALERT_QUEUED: "alert",
    EventKind.ESCALATED: "alert",
    EventKind.ALERT_RESENT: "alert",
    EventKind.CHECK_IN_REMINDED: "check_in_reminder",
    EventKind.DEADLINE_REMINDER: "deadline",
    EventKind.DEADLINE_DUE: "deadline",
}


@dataclass(frozen=True)
class ChronologyRow:
    time: str  # "21:40", local
    who: str  # the agency, or the member of staff who acted; blank for Responder itself
    what: str


@dataclass(frozen=True)
class ChronologyDay:
    heading: str  # "Tuesday 24 November 2026 (GMT)"
    rows: tuple[ChronologyRow, ...]


@dataclass(frozen=True)
class Chronology:
    days: tuple[ChronologyDay, ...]
    rows: int  # how many rows, over every day
    events: int  # how many timeline events they condense
    complete: bool  # False when it stopped at the row limit

    @property
    def last_time(self) -> str:
        if not self.days:
            return ""
        return f"{self.days[-1].heading.rsplit(' (', 1)[0]}, {self.days[-1].rows[-1].time}"


@dataclass
class _Delivery:
    channel: str
    outcome: str = "queued"
    at: datetime | None = None
    reason: str | None = None
    note: str | None = None

    def words(self, day: str) -> str:
        channel = CHANNEL_WORDS.get(self.channel, (self.channel, self.channel))[0]
        text = f"{channel} {self.outcome}" + (f" {_clock(self.at, day)}" if self.at else "")
        if self.reason:
            text += f" ({self.reason})"
        return text + (f", {self.note}" if self.note else "")


@dataclass
class _Row:
    at: datetime
    who: str
    what: str
    kind: EventKind
    actor_contact_id: int | None = None
    extras: list[str] = field(default_factory=list)
    deliveries: dict[int, _Delivery] = field(default_factory=dict)

    def text(self, day: str) -> str:
        parts = [self.what, *self.extras]
        delivered = _deliveries_words(list(self.deliveries.values()), day)
        text = "; ".join(part for part in parts if part)
        return f"{text}: {delivered}" if delivered else text


def condensed_chronology(incident_id: int, naming: Naming, limit: int) -> Chronology:
    """The incident's timeline, condensed, oldest first; at most ``limit`` rows."""
    builder = _Builder(naming)
    events = 0
    complete = True
    for event in _events(incident_id):
        if len(builder.rows) >= limit and builder.starts_a_row(event):
            complete = False
            break
        builder.add(event)
        events += 1
    return Chronology(_days(builder.rows), len(builder.rows), events, complete)


def _events(incident_id: int) -> Iterator[TimelineEvent]:
    query = (
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id)
        .order_by(TimelineEvent.at, TimelineEvent.id)
        .execution_options(yield_per=BATCH_ROWS)
    )
    return iter(db.session.scalars(query))


class _Builder:
    def __init__(self, naming: Naming) -> None:
        self.naming = naming
        self.rows: list[_Row] = []
        # (agency key, contact id, message kind) -> the row whose event sent that message.
        self.senders: dict[tuple[str | None, int | None, str], _Row] = {}
        self.by_message: dict[int, _Row] = {}

    def starts_a_row(self, event: TimelineEvent) -> bool:
        return self._fold_into(event) is None and not self._is_message_event(event)

    def add(self, event: TimelineEvent) -> None:
        if self._is_message_event(event):
            self._add_receipt(event)
            return
        host = self._fold_into(event)
        if host is not None:
            host.extras.append(self._extra(event))
            return
        row = _Row(event.at, self._who(event), self._what(event), event.kind, event.actor_contact_id)
        self.rows.append(row)
        self._remember_sender(event, row)

    # --- messages -------------------------------------------------------------------

    @staticmethod
    def _is_message_event(event: TimelineEvent) -> bool:
        return event.kind in RECEIPTS or event.kind in NOTES

    def _add_receipt(self, event: TimelineEvent) -> None:
        data = event.data or {}
        message_id = data.get("message_id")
        row = self.by_message.get(message_id) if message_id is not None else None
        if row is None:
            row = self.senders.get((event.agency_key, event.contact_id, str(data.get("message", ""))))
        if row is None:
            row = self._message_row(event, data)
        if message_id is None:
            row.extras.append(sentence(event, self.naming))
            return
        self.by_message[message_id] = row
        if event.kind in NOTES:
            delivery = row.deliveries.setdefault(message_id, _Delivery("sms"))
            delivery.note = NOTES[event.kind]
            return
        delivery = row.deliveries.setdefault(message_id, _Delivery(event.channel or ""))
        delivery.outcome, delivery.at = RECEIPTS[event.kind], event.at
        if event.kind == EventKind.MESSAGE_FAILED:
            delivery.reason = self.naming.own_words(event.text) or "no reason given"

    def _message_row(self, event: TimelineEvent, data: dict) -> _Row:
        """A message that no event of its own sent (a stand-down, a notice): a row for it and its twin."""
        words = str(data.get("message", "message")).replace("_", " ").capitalize()
        whom = (
            self._person(event.contact_id, data.get("role"), event.agency_key)
            if event.contact_id is not None
            else ("the officer who opened the incident" if data.get("to") == "officer" else "staff")
        )
        row = _Row(event.at, self.naming.agency(event.agency_key), f"{words} to {whom}", event.kind)
        self.rows.append(row)
        self.senders[(event.agency_key, event.contact_id, str(data.get("message", "")))] = row
        return row

    def _remember_sender(self, event: TimelineEvent, row: _Row) -> None:
        data = event.data or {}
        if event.kind == EventKind.CHECK_IN_REQUESTED:
            for agency_key, contact_id in data.get("asked") or []:
                self.senders[(agency_key, contact_id, "check_in")] = row
        elif event.kind in SENDS:
            self.senders[(event.agency_key, event.contact_id, SENDS[event.kind])] = row

    # --- folding into the row before ------------------------------------------------

    def _fold_into(self, event: TimelineEvent) -> _Row | None:
        last = self.rows[-1] if self.rows else None
        if last is None or last.at != event.at:
            return None
        if event.kind == EventKind.OFFERED and last.kind == EventKind.OFFERED:
            return last
        answered = (
            last.kind == EventKind.CHECK_IN_RECEIVED and last.actor_contact_id == event.actor_contact_id
        )
        if answered and event.kind in (EventKind.TENSION_CHANGED, EventKind.OFFER_UPDATED):
            return last
        covering = event.kind == EventKind.STATUS_CHANGED and (event.data or {}).get("covering")
        if covering and last.kind == EventKind.ACKNOWLEDGED:
            return last
        return None

    def _extra(self, event: TimelineEvent) -> str:
        data = event.data or {}
        if event.kind == EventKind.OFFERED:
            return self.naming.offer(data.get("offer", ""), data.get("by_hand", False))
        if event.kind == EventKind.STATUS_CHANGED:
            return "the incident is now active"
        if event.kind == EventKind.TENSION_CHANGED and "from" in data and "to" in data:
            return f"community tension now {_level(data['to'])} (was {_level(data['from'])})"
        if event.kind == EventKind.OFFER_UPDATED and "offer" in data:
            offer = self.naming.offer(data["offer"], data.get("by_hand", False))
            return f"support offer {data.get('state')}: {offer}"
        return sentence(event, self.naming)

    # --- words ------------------------------------------------------------------------

    def _who(self, event: TimelineEvent) -> str:
        if event.agency_key and event.kind != EventKind.OFFERED:
            return self.naming.agency(event.agency_key)
        return self.naming.staff(event.actor_user_id)

    def _what(self, event: TimelineEvent) -> str:
        data = event.data or {}
        try:
            return self._short(event, data) or sentence(event, self.naming)
        except (KeyError, ValueError, TypeError):
            # A row from before its kind had these fields: as the timeline says it.
            return sentence(event, self.naming)

    def _short(self, event: TimelineEvent, data: dict) -> str | None:
        """The kinds most rows are, said without repeating the agency of the row; None for the rest."""
        naming = self.naming
        if data.get("legacy") or data.get("late_seconds"):
            return None  # a finished sentence; or a late action, which the timeline explains
        if event.kind == EventKind.ALERT_QUEUED:
            return f"Alert to {self._person(event.contact_id, data.get('role'), event.agency_key)}"
        if event.kind == EventKind.ESCALATED:
            name = naming.name(event.contact_id)
            return f"Escalated to the {data.get('rung')}{', ' + name if name else ''}: {data.get('because')}"
        if event.kind == EventKind.ACKNOWLEDGED:
            by = self._person(event.actor_contact_id, data.get("role"), event.agency_key)
            how = CHANNELS.get(event.channel or "", "")
            text = f"Acknowledged by {by}" + (f", {how}" if how else "")
            return text + (f"; note: {naming.own_words(event.text)}" if event.text else "")
        if event.kind == EventKind.OFFERED:
            return "Support offered: " + naming.offer(data.get("offer", ""), data.get("by_hand", False))
        if event.kind == EventKind.CHECK_IN_REQUESTED and data.get("asked"):
            whom = "; ".join(
                f"{naming.agency(key)} ({self._person(contact_id, None, key)})"
                for key, contact_id in data["asked"]
            )
            count = len(data["asked"])
            agencies = "1 covering agency" if count == 1 else f"{count} covering agencies"
            return f"Check-in ({_step(data)} on) sent to {agencies}: {whom}"
        if event.kind == EventKind.CHECK_IN_RECEIVED:
            by = self._person(event.actor_contact_id, data.get("role"), event.agency_key)
            said = naming.own_words(event.text) or "no answer given"
            return f"{by} answered the {_step(data)} check-in (tension {_level(data['tension'])}): {said}"
        if event.kind == EventKind.CHECK_IN_REMINDED:
            whom = self._person(event.contact_id, None, event.agency_key)
            return f"No answer to the {_step(data)} check-in yet; reminder sent to {whom}"
        if event.kind == EventKind.CHECK_IN_MISSED:
            whom = self._person(event.contact_id, None, event.agency_key)
            return (
                f"The {_step(data)} check-in is missed: no answer from {whom} to the request or its reminder"
            )
        return None

    def _person(self, contact_id: int | None, role: str | None, agency_key: str | None) -> str:
        """A contact with their role, less the agency the row already names: "Tom Mensah, Lead"."""
        person = self.naming.person(contact_id, role) or "nobody"
        agency = self.naming.agency(agency_key)
        return person.removesuffix(f", {agency}") if agency else person


def _deliveries_words(deliveries: list[_Delivery], day: str) -> str:
    """ "SMS delivered 21:41, email sent 21:41"; alike ones counted: "3 SMS delivered 01:41"."""
    if not deliveries:
        return ""
    if len(deliveries) == 2 and {d.channel for d in deliveries} == {"sms", "email"}:
        sms, email = sorted(deliveries, key=lambda d: d.channel != "sms")
        if sms.words(day).removeprefix("SMS") == email.words(day).removeprefix("email"):
            return "SMS and email" + sms.words(day).removeprefix("SMS")  # "SMS and email sent 21:41"
    counted = Counter(
        (delivery.channel, delivery.words(day))
        for delivery in sorted(deliveries, key=lambda d: (d.channel != "sms", d.channel))
    )
    parts = []
    for (channel, words), count in counted.items():
        if count == 1:
            parts.append(words)
        else:
            single, plural = CHANNEL_WORDS.get(channel, (channel, channel))
            parts.append(f"{count} {plural}{words[len(single) :]}")
    return ", ".join(parts)


def _days(rows: list[_Row]) -> tuple[ChronologyDay, ...]:
    days: list[tuple[str, list[ChronologyRow]]] = []
    for row in rows:
        local = to_local(row.at)
        heading = f"{local:%A %d %B %Y} ({local.tzname()})"
        if not days or days[-1][0] != heading:
            days.append((heading, []))
        days[-1][1].append(ChronologyRow(f"{local:%H:%M}", row.who, row.text(heading)))
    return tuple(ChronologyDay(heading, tuple(day_rows)) for heading, day_rows in days)


def _clock(at: datetime, day: str) -> str:
    """A time of day; with its date when it falls on another day than the row's."""
    local = to_local(at)
    same_day = day.startswith(f"{local:%A %d %B %Y}")
    return f"{local:%H:%M}" if same_day else f"{local:%H:%M} on {local:%a %d %b}"


def _step(data: dict) -> str:
    return parse_duration(data["step"]).describe()


def _level(value: str) -> str:
    return Tension(value).label.lower()
