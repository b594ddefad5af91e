"""How people, agencies and words appear in one page or export: in full, or redacted.

The same rows are written out either way; only the naming differs:

* **full**: people by their current name in the contact directory, with the
  role they held ("Tom Mensah, Lead, West Midlands Police"); staff by name;
  everyone's own words as written;
* **redacted** (for sharing beyond the core partnership): agency contacts by
  the role they held ("Lead, West Midlands Police"); staff, and anyone without
  a role here, by a pseudonym that is the same throughout one document and
  different in the next, so two exports cannot be joined; every free-text
  field withheld wholesale (summary, location, updates, meeting notes,
  reasons, notes, answers, review notes, actions and owners, names typed by
  hand); ages as bands.

An incident whose personal data was purged under the retention policy is
always named as in the redacted variant: its people are role labels.

No regular expression looks for names in text: text that a person typed is
shown or withheld as a whole, and everything else is built from ids when read.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import CompoundSelect, exists, or_, select, union

from responder.extensions import db
from responder.models import (
    LOCAL_AUTHORITIES,
    Activation,
    AgencyResponse,
    CheckIn,
    Contact,
    EventKind,
    Incident,
    Message,
    TimelineEvent,
    User,
)
from responder.models.reviews import ReviewAction, ReviewNote

WITHHELD = "[withheld]"
RESPONDER = "Responder (automatic)"
AGENCY_ADDED_BY_HAND = "An agency added by hand"
OFFER_ADDED_BY_HAND = "A support offer added by hand"
AGE_BANDS = ((18, "under 18"), (25, "18-24"))
# Keys of agencies and offers added by hand start so (responder.responses.activations.AD_HOC),
# and are made from the typed name.
BY_HAND = "adhoc-"


@dataclass(frozen=True)
class Person:
    """Someone as a page or export names them: plain values, read before any response streams."""

    id: int
    key: str  # a contact's key; a staff member's email
    name: str
    email: str
    phone: str | None = None

    @classmethod
    def of_contact(cls, contact: Contact) -> Person:
        return cls(contact.id, contact.key, contact.name, contact.email, contact.phone)

    @classmethod
    def of_user(cls, user: User) -> Person:
        return cls(user.id, user.email, user.name, user.email)


@dataclass
class Naming:
    """Names for everyone one incident's page or export may mention, in one variant."""

    redacted: bool
    role_labels: dict[str, str] = field(default_factory=dict)  # role key -> "Lead, Birmingham Youth Service"
    agency_names: dict[str, str] = field(default_factory=dict)  # agency key -> name
    agencies_by_hand: set[str] = field(default_factory=set)
    contacts: dict[int, Person] = field(default_factory=dict)
    users: dict[int, Person] = field(default_factory=dict)
    _pseudonyms: dict[str, str] = field(default_factory=dict)
    _keys: dict[str, str] = field(default_factory=dict)
    # Fresh for each document, so the pseudonyms of two exports cannot be matched.
    _salt: str = field(default_factory=lambda: secrets.token_hex(8))

    @property
    def variant(self) -> str:
        return "redacted" if self.redacted else "full"

    # --- people -----------------------------------------------------------------------

    def staff(self, user_id: int | None) -> str:
        if user_id is None:
            return ""
        person = self.users.get(user_id)
        if not self.redacted:
            return person.name if person is not None else "a former member of staff"
        return self._pseudonym(f"user:{user_id}")

    def person(self, contact_id: int | None, role: str | None = None) -> str:
        """An agency contact, with the role they held (``role``: the role key they were reached as)."""
        if contact_id is None:
            return ""
        person = self.contacts.get(contact_id)
        label = self.role_labels.get(role or "") or (self.role_labels.get(person.key) if person else None)
        if self.redacted:
            return label or self._pseudonym(f"contact:{contact_id}")
        if person is None:
            return label or "a former contact"
        return f"{person.name}, {label}" if label else person.name

    def name(self, contact_id: int | None) -> str:
        """A contact's name alone (full); nothing (redacted), where their role is already said."""
        person = self.contacts.get(contact_id) if contact_id is not None else None
        return person.name if person is not None and not self.redacted else ""

    def contact(self, contact: Contact | None) -> str:
        """A contact row (an activation's lead, a check-in's contact)."""
        return self.person(contact.id, contact.key) if contact is not None else ""

    def user(self, user: User | None) -> str:
        return self.staff(user.id) if user is not None else ""

    def role_of(self, contact: Contact | None) -> str:
        """The role a contact holds in this incident, whichever the variant."""
        return self.role_labels.get(contact.key, "") if contact is not None else ""

    def actor(self, user_id: int | None, contact_id: int | None, role: str | None = None) -> str:
        """Who did something: a staff member, an agency contact, or Responder itself."""
        if user_id is not None:
            return self.staff(user_id)
        if contact_id is not None:
            return self.person(contact_id, role)
        return RESPONDER

    # --- things -----------------------------------------------------------------------

    def agency(self, agency_key: str | None) -> str:
        if not agency_key:
            return ""
        if self.redacted and agency_key in self.agencies_by_hand:
            return AGENCY_ADDED_BY_HAND  # its name was typed by hand
        return self.agency_names.get(agency_key, agency_key)

    def offer(self, name: str, by_hand: bool) -> str:
        return OFFER_ADDED_BY_HAND if self.redacted and by_hand else name

    def key(self, key: str | None) -> str | None:
        """An agency's or offer's key. One added by hand is made from its typed name, so a redacted
        document numbers it instead ("adhoc-1"), the same throughout the document."""
        if key is None or not self.redacted or not key.startswith(BY_HAND):
            return key
        return self._keys.setdefault(key, f"{BY_HAND}{len(self._keys) + 1}")

    def offer_updates(self, updates: dict | None) -> dict | None:
        """A check-in's offer updates (offer key -> state), keys as :meth:`key` gives them."""
        return {self.key(key): state for key, state in updates.items()} if updates else updates

    def outcome(self, text: str | None, agency_key: str | None) -> str | None:
        """What Responder wrote about a timed action: its own words, which name the agency it
        concerns; withheld in a redacted document when that agency's name was typed by hand."""
        if self.redacted and agency_key and agency_key in self.agencies_by_hand:
            return WITHHELD if text else text
        return text

    def snapshot(self, snapshot: dict) -> dict:
        """The frozen playbooks as stored; a redacted document leaves out the agencies added by hand
        (their names and leads were typed), keeping how many there were under numbered keys."""
        if not self.redacted or not snapshot.get("added_agencies"):
            return snapshot
        added = {
            self.key(key): {"name": AGENCY_ADDED_BY_HAND, "sharing_basis": agency.get("sharing_basis")}
            for key, agency in snapshot["added_agencies"].items()
        }
        return {**snapshot, "added_agencies": added}

    # --- words ------------------------------------------------------------------------

    def own_words(self, text: str | None) -> str | None:
        """Someone's own words: as written (full), withheld (redacted)."""
        if text is None or not self.redacted:
            return text
        return WITHHELD if text.strip() else text

    def address(self, value: str | None) -> str | None:
        """A phone number or email address: shown in full, absent when redacted."""
        return None if self.redacted else value

    def age(self, years: int | None) -> int | str | None:
        """An age: exact (full), a band (redacted)."""
        if years is None or not self.redacted:
            return years
        return next((band for limit, band in AGE_BANDS if years < limit), "25+")

    def _pseudonym(self, identity: str) -> str:
        if identity not in self._pseudonyms:
            token = secrets.token_hex(2).upper()
            while f"Person {token}" in self._pseudonyms.values():
                token = secrets.token_hex(2).upper()
            self._pseudonyms[identity] = f"Person {token}"
        return self._pseudonyms[identity]


def naming_for(incident: Incident, *, redacted: bool) -> Naming:
    """Everyone the incident's rows may mention, labelled for the variant asked for (a few queries)."""
    activations = list(incident.activations)
    frozen = incident.frozen_playbooks
    naming = Naming(
        redacted=redacted or _purged(incident),
        role_labels=_role_labels(incident, activations),
        agency_names={activation.agency_key: activation.agency_name for activation in activations},
        agencies_by_hand=set(frozen.added_agencies)
        | {a.agency_key for a in activations if a.agency_key.startswith(BY_HAND)},
    )
    naming.contacts = _contacts(incident, activations)
    naming.users = _users(incident)
    return naming


def _purged(incident: Incident) -> bool:
    purge = exists().where(
        TimelineEvent.incident_id == incident.id, TimelineEvent.kind == EventKind.PERSONAL_DATA_PURGED
    )
    return bool(incident.id) and bool(db.session.scalar(select(purge)))


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


def _contacts(incident: Incident, activations: list[Activation]) -> dict[int, Person]:
    """Every contact the incident's rows refer to, by id (one statement)."""
    ids: set[int | None] = set()
    for activation in activations:
        ids.update((activation.lead_contact_id, activation.deputy_contact_id, activation.acknowledged_by_id))
    mentioned = [
        select(Message.contact_id).where(Message.incident_id == incident.id),
        select(CheckIn.contact_id).where(CheckIn.incident_id == incident.id),
        select(TimelineEvent.contact_id).where(TimelineEvent.incident_id == incident.id),
        select(TimelineEvent.actor_contact_id).where(TimelineEvent.incident_id == incident.id),
    ]
    if activations:
        mentioned.append(
            select(AgencyResponse.contact_id).where(
                AgencyResponse.activation_id.in_([activation.id for activation in activations])
            )
        )
    return _people(Contact, ids, Person.of_contact, union(*mentioned))


def _users(incident: Incident) -> dict[int, Person]:
    """Staff who opened, acted on or reviewed the incident, by id (one statement)."""
    mentioned = union(
        select(TimelineEvent.actor_user_id).where(TimelineEvent.incident_id == incident.id),
        *(
            select(model.created_by_id).where(model.incident_id == incident.id)
            for model in (ReviewNote, ReviewAction)
        ),
    )
    return _people(User, {incident.opened_by_id}, Person.of_user, mentioned)


def _people(model, known: Iterable[int | None], person, mentioned: CompoundSelect) -> dict[int, Person]:
    """Rows of ``model`` whose id is among ``known`` or what ``mentioned`` selects."""
    known = {i for i in known if i is not None}
    wanted = model.id.in_(mentioned.scalar_subquery())
    if known:
        wanted = or_(model.id.in_(known), wanted)
    return {row.id: person(row) for row in db.session.scalars(select(model).where(wanted))}
