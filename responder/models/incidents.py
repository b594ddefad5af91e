"""Incidents and what they activate: agencies and support offers."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from responder.clock import now_utc
from responder.extensions import db
from responder.models.types import EnumText, UTCDateTime
from responder.playbooks.frozen import FrozenPlaybooks

LOCAL_AUTHORITIES = {
    "birmingham": "Birmingham",
    "coventry": "Coventry",
    "dudley": "Dudley",
    "sandwell": "Sandwell",
    "solihull": "Solihull",
    "walsall": "Walsall",
    "wolverhampton": "Wolverhampton",
}


class IncidentType(enum.StrEnum):
    STABBING = "stabbing"
    SHOOTING = "shooting"
    HOMICIDE = "homicide"
    SERIOUS_ASSAULT = "serious_assault"
    OTHER = "other"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class Tension(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class IncidentStatus(enum.StrEnum):
    OPEN = "open"
    ACTIVE = "active"
    STANDING_DOWN = "standing_down"
    CLOSED = "closed"


class ActivationState(enum.StrEnum):
    ALERTED = "alerted"  # alert queued or sent, nobody has answered yet
    NO_CONTACT = "no_contact"  # the playbook role has no active contact
    COVERED = "covered"
    DECLINED = "declined"
    ESCALATED = "escalated"  # the alert has climbed past the lead
    NOT_REACHED = "not_reached"  # every rung was tried and nobody answered
    NOT_APPLICABLE = "not_applicable"


class OfferState(enum.StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    DELIVERED = "delivered"


class ReferenceCounter(db.Model):
    """The last reference number used per local authority and year."""

    __tablename__ = "reference_counters"

    local_authority: Mapped[str] = mapped_column(String(32), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column(default=0)


class Incident(db.Model):
    __tablename__ = "incidents"
    __table_args__ = (UniqueConstraint("opened_by_id", "submission_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True, index=True)
    local_authority: Mapped[str] = mapped_column(String(32), index=True)
    type: Mapped[IncidentType] = mapped_column(EnumText(IncidentType, 24))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Personal and sensitive: never leaves in an SMS or email.
    location: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    youngest_age: Mapped[int | None]
    school_link: Mapped[bool] = mapped_column(default=False)
    tension: Mapped[Tension] = mapped_column(EnumText(Tension, 16))
    exercise: Mapped[bool] = mapped_column(default=False)
    status: Mapped[IncidentStatus] = mapped_column(
        EnumText(IncidentStatus, 16), default=IncidentStatus.OPEN, index=True
    )
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, index=True)
    # The playbook exactly as it was when the incident opened, and its SHA-256.
    playbook_snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    playbook_hash: Mapped[str] = mapped_column(String(64))
    # A double-submitted form (or retried API call) carries the same key: unique per
    # person opening (someone else's key is someone else's request), with a digest
    # of what was sent, so the same key with different details is refused.
    submission_key: Mapped[str | None] = mapped_column(String(80))
    submission_digest: Mapped[str | None] = mapped_column(String(64))

    opened_by = relationship("User")
    activations: Mapped[list[Activation]] = relationship(back_populates="incident", order_by="Activation.id")
    offers: Mapped[list[OfferActivation]] = relationship(
        back_populates="incident", order_by="OfferActivation.id"
    )
    events = relationship("TimelineEvent", order_by="TimelineEvent.id", viewonly=True)
    areas: Mapped[list[IncidentArea]] = relationship(
        back_populates="incident", order_by="IncidentArea.position", cascade="all, delete-orphan"
    )

    @property
    def type_label(self) -> str:
        return IncidentType(self.type).label

    @property
    def local_authority_name(self) -> str:
        return LOCAL_AUTHORITIES.get(self.local_authority, self.local_authority)

    @property
    def frozen_playbooks(self) -> FrozenPlaybooks:
        """The playbooks this incident was opened with (and any added since), as typed values."""
        snapshot = self.playbook_snapshot
        cached = self.__dict__.get("_frozen_playbooks")
        if cached is None or cached[0] is not snapshot:
            cached = (snapshot, FrozenPlaybooks.from_snapshot(snapshot))
            self.__dict__["_frozen_playbooks"] = cached
        return cached[1]

    @frozen_playbooks.setter
    def frozen_playbooks(self, frozen: FrozenPlaybooks) -> None:
        self.playbook_snapshot = frozen.to_snapshot()

    @property
    def local_authorities(self) -> list[str]:
        """Where it happened first, then any added across a border."""
        return self.frozen_playbooks.local_authorities

    def __repr__(self) -> str:
        return f"<Incident {self.reference}>"


class IncidentArea(db.Model):
    """A local authority an incident belongs to: where it happened, and any added across a border.

    Who may see an incident is decided by these rows, in SQL
    (responder.incidents.access.visible_incidents).
    """

    __tablename__ = "incident_areas"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    local_authority: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    # 0 where it happened, then 1, 2... in the order added.
    position: Mapped[int] = mapped_column(default=0)

    incident: Mapped[Incident] = relationship(back_populates="areas")


class Activation(db.Model):
    """One agency activated for one incident."""

    __tablename__ = "activations"
    __table_args__ = (UniqueConstraint("incident_id", "agency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    agency_key: Mapped[str] = mapped_column(String(80))
    agency_name: Mapped[str] = mapped_column(String(200))
    # Which playbook the agency came from: a local authority slug or "regional".
    source: Mapped[str] = mapped_column(String(32))
    lead_role: Mapped[str] = mapped_column(String(80))
    deputy_role: Mapped[str | None] = mapped_column(String(80))
    lead_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    deputy_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    state: Mapped[ActivationState] = mapped_column(
        EnumText(ActivationState, 16), default=ActivationState.ALERTED
    )
    # Who the alert has reached so far: 0 lead, 1 deputy, 2 duty manager, 3 regional on-call.
    escalation_level: Mapped[int] = mapped_column(default=0)
    activated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Seconds from the alert to the acknowledgement, written with it: /metrics sums these in SQL.
    acknowledged_after_seconds: Mapped[float | None] = mapped_column(Float)
    # Four digits a lead can text back ("YES 4821"). Unique while held; released
    # when links expire or the incident closes, so a reply never hits the wrong incident.
    reply_code: Mapped[str | None] = mapped_column(String(4), unique=True)

    incident: Mapped[Incident] = relationship(back_populates="activations")
    lead_contact = relationship("Contact", foreign_keys=[lead_contact_id])
    deputy_contact = relationship("Contact", foreign_keys=[deputy_contact_id])
    acknowledged_by = relationship("Contact", foreign_keys=[acknowledged_by_id])


class OfferActivation(db.Model):
    """A support offer made for one incident, and how it went."""

    __tablename__ = "offer_activations"
    __table_args__ = (UniqueConstraint("incident_id", "offer_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    offer_key: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200))
    provider_agency_key: Mapped[str] = mapped_column(String(80))
    state: Mapped[OfferState] = mapped_column(EnumText(OfferState, 16), default=OfferState.OFFERED)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)

    incident: Mapped[Incident] = relationship(back_populates="offers")
