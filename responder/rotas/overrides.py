"""Overrides: an admin puts someone on duty for a period (cover, or one half of a swap), with a reason.

An override takes precedence over the rota's shifts for its period: whoever
the shifts name is not alerted then. A swap is two overrides, one each way.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from responder.extensions import db
from responder.models import Contact, Rota, RotaShift, ShiftKind, ShiftOrigin, User
from responder.rotas.importing import check_period

REASON_LENGTH = 300


class OverrideError(ValueError):
    """An override that cannot be added or removed; the message says why."""


def find_rota(role: str) -> Rota | None:
    return db.session.scalar(select(Rota).where(Rota.role == role))


def add_override(
    rota: Rota, contact: Contact, starts_at: datetime, ends_at: datetime, reason: str, user: User
) -> RotaShift:
    """Put ``contact`` on duty for ``rota``'s role from ``starts_at`` to ``ends_at``, for ``reason``."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise OverrideError("Give a reason for the override")
    if len(reason) > REASON_LENGTH:
        raise OverrideError(f"Keep the reason under {REASON_LENGTH} characters")
    if not contact.active:
        raise OverrideError(f"{contact.key} is not active in the contact directory")
    try:
        check_period(starts_at, ends_at)
    except ValueError as error:
        message = str(error).split(": ", 1)[-1]
        raise OverrideError(message[:1].upper() + message[1:]) from None
    override = RotaShift(
        rota_id=rota.id,
        contact_id=contact.id,
        starts_at=starts_at,
        ends_at=ends_at,
        kind=ShiftKind.OVERRIDE,
        origin=ShiftOrigin.WEB,
        reason=reason,
        created_by_id=user.id,
    )
    db.session.add(override)
    db.session.flush()
    return override


def remove_override(rota: Rota, shift_id: int) -> RotaShift:
    """Take an override off the rota (the shifts it covered apply again)."""
    override = db.session.get(RotaShift, shift_id)
    if override is None or override.rota_id != rota.id or override.kind != ShiftKind.OVERRIDE:
        raise OverrideError("There is no such override on this rota")
    db.session.delete(override)
    db.session.flush()
    return override
