"""How people and free text appear in one export document.

A full export shows people as themselves. A redacted export, for sharing
beyond the core partnership, shows agency contacts by their role ("Lead,
Birmingham Youth Service"), staff and anyone without a role by pseudonym
("Person A"), the same label for the same person throughout the document,
and withholds free text: the incident summary and location, updates, notes,
reasons and check-in answers. Text that Responder wrote itself (timeline
details) is kept, with every known name, phone number and email address
replaced by that person's label; any other phone number or email address
left in it is withheld too.

Timeline kinds are sorted into those Responder words itself, those that carry
someone's own words (rebuilt from their structured parts), and anything else,
whose detail is withheld: a kind added later cannot leak by default.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select

from responder.extensions import db
from responder.models import (
    LOCAL_AUTHORITIES,
    Activation,
    AgencyResponse,
    CheckIn,
    Contact,
    Incident,
    Message,
    TimelineEvent,
    User,
)
from responder.models.reviews import ReviewAction, ReviewNote
from responder.responses.escalation import ladder

WITHHELD = "[withheld]"
SYSTEM_ACTOR = "Responder (automatic)"

# Timeline details Responder writes itself, with no one's own words in them.
GENERATED_KINDS = frozenset(
    {
        "opened",
        "activated",
        "offered",
        "alert_queued",
        "alert_resent",
        "message_sent",
        "message_delivered",
        "message_failed",
        "messages_cancelled",
        "fell_back_to_email",
        "emailed_as_well",
        "contact_missing",
        "escalated",
        "late_response",
        "not_reached",
        "check_in_requested",
        "check_in_reminded",
        "check_in_missed",
        "offer_updated",
        "deadline_reminder",
        "deadline_due",
        "actions_cancelled",
        "exported",
        "review_updated",
    }
)
# Kinds whose detail carries someone's own words, rebuilt without them.
REBUILT_DETAILS = {
    "acknowledged": "{agency} covered: acknowledged by {who}",
    "declined": "{agency}: declined by {who}; reason withheld",
    "check_in_received": "{agency} answered a check-in ({who}); the answer is withheld",
    "update_posted": "Update posted by {who}; text withheld",
    "meeting_recorded": "Meeting recorded by {who}; title, attendees and actions withheld",
    "status_changed": "Status changed from {from} to {to} by {who}; reason withheld",
    "tension_changed": "Community tension changed to {level} by {who}; reason withheld",
    "not_applicable": "{agency} marked not applicable by {who}; reason withheld",
    "agency_added": "{agency} added by {who}; reason withheld",
    "offer_added": "Support offer added by {who}; reason withheld",
    "area_added": "Another local authority added to the incident by {who}; reason withheld",
    "timed_action_failed": "A timed action failed; the error is withheld",
}

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# International or UK-style numbers of 10+ digits, as a whole token (not inside a hash or reference).
_PHONE = re.compile(r"(?<![\w+])(?:\+\d[\d ()-]{8,16}\d|0\d[\d ()-]{8,12}\d)(?!\w)")


@dataclass
class Redaction:
    """Labels for the people in one incident's export, and the text rules for its variant."""

    redacted: bool
    # The incident's own free text, scrubbed wherever it is quoted.
    location: str = ""
    summary: str = ""
    role_labels: dict[str, str] = field(default_factory=dict)  # contact key -> role label
    contacts: dict[str, Person] = field(default_factory=dict)  # contact key -> contact
    users: dict[str, Person] = field(default_factory=dict)  # email -> staff member
    agency_names: dict[str, str] = field(default_factory=dict)
    _pseudonyms: dict[str, str] = field(default_factory=dict)
    _patterns: list[tuple[re.Pattern | None, dict[str, str]]] | None = None

    @property
    def variant(self) -> str:
        return "redacted" if self.redacted else "full"

    # --- people -------------------------------------------------------------------

    def contact(self, contact: Contact | Person | None) -> str:
        """A contact: their name (full) or their role or pseudonym (redacted)."""
        if contact is None:
            return ""
        if not self.redacted:
            return contact.name
        return self._contact_label(contact.key)

    def contact_by_id(self, contact_id: int | None) -> str:
        contact = next((c for c in self.contacts.values() if c.id == contact_id), None)
        return self.contact(contact)

    def role_of(self, contact: Contact | Person | None) -> str:
        """The role a contact holds in this incident, whichever the variant."""
        if contact is None:
            return ""
        return self.role_labels.get(contact.key, "")

    def address(self, value: str | None) -> str | None:
        """A phone number or email address: shown in full, absent when redacted."""
        return None if self.redacted else value

    def user(self, user: User | Person | None) -> str:
        if user is None:
            return ""
        if not self.redacted:
            return user.name
        return self._pseudonym(f"user:{user.email.lower()}")

    def actor(self, actor: str) -> str:
        """Who did something, from a timeline actor ("user:<email>", "contact:<key>", "system")."""
        kind, _, who = actor.partition(":")
        if kind == "user":
            user = self.users.get(who.lower())
            if not self.redacted:
                return f"{user.name} ({who})" if user is not None else who
            return self._pseudonym(f"user:{who.lower()}")
        if kind == "contact":
            if not self.redacted:
                contact = self.contacts.get(who)
                role = self.role_labels.get(who, who)
                return f"{contact.name} – {role}" if contact is not None else role
            return self._contact_label(who)
        return SYSTEM_ACTOR if actor == "system" else self.scrub(actor)

    # --- text ---------------------------------------------------------------------

    def free_text(self, text: str | None) -> str | None:
        """Someone's own words: as written (full), withheld (redacted)."""
        if text is None or not self.redacted:
            return text
        return WITHHELD if text.strip() else text

    def scrub(self, text: str | None) -> str | None:
        """Text that may mention people: known names, numbers and addresses become labels."""
        if text is None or not self.redacted:
            return text
        for pattern, labels in self._known_patterns():
            if pattern is None:
                continue
            fold = bool(pattern.flags & re.IGNORECASE)
            text = pattern.sub(
                lambda match, labels=labels, fold=fold: labels.get(
                    match.group(0).lower() if fold else match.group(0), WITHHELD
                ),
                text,
            )
        if "@" in text:  # the address pattern is slow to rule out; most text has no @
            text = _EMAIL.sub("[email withheld]", text)
        return _PHONE.sub("[phone withheld]", text)

    def event_detail(
        self, kind: str, detail: str, actor: str, agency_key: str | None, data: dict | None
    ) -> str:
        """A timeline event's detail for this variant."""
        if not self.redacted:
            return detail
        # A check-in's own tension reading gives no reason, so there is nothing to withhold.
        check_in_reading = kind == "tension_changed" and not (data or {}).get("level")
        if kind in GENERATED_KINDS or check_in_reading:
            return self.scrub(detail)
        template = REBUILT_DETAILS.get(kind)
        if template is None:
            label = kind.replace("_", " ").capitalize()
            return f"{label}: details withheld in the redacted export"
        values = _Defaults(
            {key: str(value) for key, value in (data or {}).items() if isinstance(value, str | int)}
        )
        values["agency"] = self.agency_names.get(agency_key or "", agency_key or "An agency")
        values["who"] = self.actor(actor)
        return string.Formatter().vformat(template, (), values)

    def agency(self, agency_key: str | None) -> str:
        if not agency_key:
            return ""
        return self.agency_names.get(agency_key, agency_key)

    # --- labels -------------------------------------------------------------------

    def _contact_label(self, key: str) -> str:
        return self.role_labels.get(key) or self._pseudonym(f"contact:{key}")

    def _pseudonym(self, identity: str) -> str:
        """Person A, B, ... Z, AA, AB ...: the order people were first met in the document."""
        if identity not in self._pseudonyms:
            self._pseudonyms[identity] = f"Person {_letters(len(self._pseudonyms))}"
        return self._pseudonyms[identity]

    def _known_patterns(self) -> list[tuple[re.Pattern | None, dict[str, str]]]:
        """Regular expressions for every known name, number and address (longest first).

        Whole names, numbers and addresses match in any case; a first name or
        surname on its own only as capitalised in the name, so that "Mark" the
        person is caught but "mark" the verb is not.
        """
        if self._patterns is None:
            whole = {needle.lower(): label for needle, label in self._needles() if needle}
            parts = {
                part: self._contact_label(contact.key)
                for contact in self.contacts.values()
                for part in contact.name.split()
                if len(part) >= 3
            }
            for user in self.users.values():
                label = self._pseudonym(f"user:{user.email.lower()}")
                parts.update((part, label) for part in user.name.split() if len(part) >= 3)
            self._patterns = [
                (_alternation(whole, re.IGNORECASE), whole),
                (_alternation(parts, 0), parts),
            ]
        return self._patterns

    def _needles(self) -> Iterable[tuple[str, str]]:
        for contact in self.contacts.values():
            label = self._contact_label(contact.key)
            yield contact.name, label
            yield contact.email, label
            yield from ((number, label) for number in _phone_forms(contact.phone))
        for email, user in self.users.items():
            label = self._pseudonym(f"user:{email}")
            yield user.name, label
            yield user.email, label
        if self.location.strip():
            yield self.location.strip(), "[location withheld]"
        if len(self.summary.strip()) >= 3:
            yield self.summary.strip(), "[summary withheld]"


@dataclass(frozen=True)
class Person:
    """A contact or staff member as the export names them: plain values, read before the response.

    A streamed export is read after the request's unit of work has committed
    and its session has closed, when database rows can no longer be loaded.
    """

    id: int
    key: str  # a contact's role key; a staff member's email
    name: str
    email: str
    phone: str | None = None

    @classmethod
    def of_contact(cls, contact: Contact) -> Person:
        return cls(contact.id, contact.key, contact.name, contact.email, contact.phone)

    @classmethod
    def of_user(cls, user: User) -> Person:
        return cls(user.id, user.email, user.name, user.email)


class _Defaults(dict):
    """Template values; a missing one reads as 'unknown' rather than failing."""

    def __missing__(self, key: str) -> str:
        return "unknown"


def for_incident(incident: Incident, *, redacted: bool) -> Redaction:
    """Everyone this incident's export may mention, labelled for the variant asked for."""
    activations = list(incident.activations)
    redaction = Redaction(
        redacted=redacted,
        location=incident.location,
        summary=incident.summary,
        role_labels=_role_labels(incident, activations),
        agency_names={activation.agency_key: activation.agency_name for activation in activations},
    )
    redaction.contacts = _contacts(incident, activations, redaction.role_labels)
    redaction.users = _users(incident)
    # Settle pseudonyms in a fixed order (staff by id, then contacts without a role),
    # so the same database gives the same labels in every format.
    if redacted:
        for user in sorted(redaction.users.values(), key=lambda user: user.id):
            redaction.user(user)
        for contact in sorted(redaction.contacts.values(), key=lambda contact: contact.id):
            redaction.contact(contact)
    return redaction


def _role_labels(incident: Incident, activations: list[Activation]) -> dict[str, str]:
    """Role key -> what the role is, from the activations and the frozen escalation ladder."""
    labels: dict[str, str] = {}
    for activation in activations:
        labels.setdefault(activation.lead_role, f"Lead, {activation.agency_name}")
        if activation.deputy_role:
            labels.setdefault(activation.deputy_role, f"Deputy, {activation.agency_name}")
    frozen = incident.frozen_playbooks
    for slug in frozen.local_authorities:
        duty_manager = frozen.duty_manager_for(slug)
        if duty_manager:
            name = LOCAL_AUTHORITIES.get(slug, frozen.playbook_for(slug).name)
            labels.setdefault(duty_manager, f"Duty manager, {name}")
    if frozen.on_call:
        labels.setdefault(frozen.on_call, "VRU regional on-call")
    return labels


def _contacts(
    incident: Incident, activations: list[Activation], role_labels: dict[str, str]
) -> dict[str, Person]:
    """Every contact the incident's rows refer to, by key."""
    ids: set[int] = set()
    keys = set(role_labels)
    for activation in activations:
        ids.update(
            i
            for i in (activation.lead_contact_id, activation.deputy_contact_id, activation.acknowledged_by_id)
            if i is not None
        )
        keys.update(rung.role for rung in ladder(activation) if rung.role)
    activation_ids = [activation.id for activation in activations]
    ids.update(
        db.session.scalars(select(Message.contact_id).where(Message.incident_id == incident.id).distinct())
    )
    ids.update(
        db.session.scalars(select(CheckIn.contact_id).where(CheckIn.incident_id == incident.id).distinct())
    )
    if activation_ids:
        ids.update(
            db.session.scalars(
                select(AgencyResponse.contact_id)
                .where(AgencyResponse.activation_id.in_(activation_ids))
                .distinct()
            )
        )
    keys.update(actor.partition(":")[2] for actor in _actors(incident) if actor.startswith("contact:"))
    ids.discard(None)
    rows = db.session.scalars(select(Contact).where(Contact.id.in_(ids) | Contact.key.in_(keys)))
    return {contact.key: Person.of_contact(contact) for contact in rows}


def _users(incident: Incident) -> dict[str, Person]:
    """Staff who opened, acted on or reviewed the incident, by lower-cased email."""
    emails = {actor.partition(":")[2].lower() for actor in _actors(incident) if actor.startswith("user:")}
    ids = {incident.opened_by_id} if incident.opened_by_id else set()
    for model in (ReviewNote, ReviewAction):
        ids.update(
            db.session.scalars(select(model.created_by_id).where(model.incident_id == incident.id).distinct())
        )
    ids.discard(None)
    rows = db.session.scalars(select(User).where(User.id.in_(ids) | User.email.in_(emails)))
    return {user.email.lower(): Person.of_user(user) for user in rows}


def _actors(incident: Incident) -> list[str]:
    return list(
        db.session.scalars(
            select(TimelineEvent.actor).where(TimelineEvent.incident_id == incident.id).distinct()
        )
    )


def _phone_forms(phone: str | None) -> list[str]:
    """The ways a stored E.164 number may be written: +447700900101, 07700900101, 07700 900101."""
    if not phone:
        return []
    forms = [phone]
    if phone.startswith("+44") and len(phone) > 6:
        national = "0" + phone[3:]
        forms += [national, f"{national[:5]} {national[5:]}", f"+44 {phone[3:7]} {phone[7:]}"]
    return forms


def _alternation(needles: dict[str, str], flags: int) -> re.Pattern | None:
    """One pattern matching any needle as a whole word.

    The needles are folded into a trie ("Amira Khan" and "Amir Shah" share
    "Amir") so the engine tries each character once, not each needle: a plain
    alternation of a few hundred names made redacting 100,000 events slow.
    """
    if not needles:
        return None
    trie: dict = {}
    for needle in needles:
        node = trie
        for character in needle:
            node = node.setdefault(character, {})
        node[""] = {}
    return re.compile(rf"(?<!\w)(?:{_trie_pattern(trie)})(?!\w)", flags)


def _trie_pattern(node: dict) -> str:
    branches = [
        re.escape(character) + _trie_pattern(child) for character, child in sorted(node.items()) if character
    ]
    if not branches:
        return ""
    ends_here = "" in node
    if len(branches) == 1 and not ends_here:
        return branches[0]
    # Longer matches first comes for free: the engine is greedy and "?" tries the branch before skipping it.
    return "(?:" + "|".join(branches) + ")" + ("?" if ends_here else "")


def _letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = string.ascii_uppercase[remainder] + letters
    return letters
