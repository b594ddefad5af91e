"""Rotas: who fills a duty role when, behind the role keys that playbooks name.

A role (the local authority duty manager, the VRU regional on-call, a police
duty inspector) can be filled by a rota instead of, or as well as, the
contact whose key is the role key. A rota is a list of shifts, each naming a
contact, plus overrides (cover for a period, one half of a swap) that take
precedence over the shifts they overlap. Times are stored in UTC; they were
written in the local time zone (responder.rotas.importing).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from responder.clock import now_utc
from responder.extensions import db
from responder.models.types import EnumText, UTCDateTime


class ShiftKind(enum.StrEnum):
    SHIFT = "shift"  # the rota as imported
    OVERRIDE = "override"  # cover added by an admin: replaces whoever the shifts name for its period


class ShiftOrigin(enum.StrEnum):
    CALENDAR = "ical"  # expanded from the rota's iCalendar file (and re-expanded nightly)
    CSV = "csv"
    WEB = "web"  # an override added on /admin/rotas


class Rota(db.Model):
    __tablename__ = "rotas"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The role key it fills, e.g. "bham-vru-duty": one rota per role.
    role: Mapped[str] = mapped_column(String(80), unique=True, index=True)
    # Where it came from, for people: the file name it was imported from.
    name: Mapped[str] = mapped_column(String(200))
    # The iCalendar text of a rota imported from a calendar: its recurring events are
    # expanded again every night, so the rota always reaches ROTA_WINDOW_DAYS ahead.
    calendar: Mapped[str | None] = mapped_column(Text)
    expanded_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)

    shifts: Mapped[list[RotaShift]] = relationship(
        back_populates="rota", order_by="RotaShift.starts_at", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Rota {self.role}>"


class RotaShift(db.Model):
    """One contact on duty for one rota from ``starts_at`` until ``ends_at`` (exclusive)."""

    __tablename__ = "rota_shifts"
    # "Who is on duty at t": shifts of a rota that end after t, then those that started by t.
    __table_args__ = (Index("ix_rota_shifts_rota_id_ends_at", "rota_id", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rota_id: Mapped[int] = mapped_column(ForeignKey("rotas.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[ShiftKind] = mapped_column(EnumText(ShiftKind, 16), default=ShiftKind.SHIFT)
    origin: Mapped[ShiftOrigin] = mapped_column(EnumText(ShiftOrigin, 8))
    # An override's reason, as the admin gave it ("covering annual leave", "swap with ...").
    reason: Mapped[str | None] = mapped_column(String(300))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    rota: Mapped[Rota] = relationship(back_populates="shifts")
    contact = relationship("Contact")
    created_by = relationship("User")

    def __repr__(self) -> str:
        return f"<RotaShift {self.rota_id} {self.kind} {self.starts_at:%Y-%m-%d %H:%M}>"
