"""A rota over a period: who holds the role in each stretch of time, and the gaps where nobody does.

Gaps are found before they matter: ``rota check`` (exit 1 on any), ``playbooks
check`` (a warning), the dashboard (the next 72 hours, for roles escalation
uses) and the readiness page (the next 14 days) all read them from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from responder.clock import format_local, now_utc
from responder.extensions import db
from responder.models import Contact, Rota, RotaShift, ShiftKind


@dataclass(frozen=True)
class Stretch:
    """A period in which the same people hold the role the same way (shifts, override, or nobody)."""

    role: str
    starts_at: datetime
    ends_at: datetime
    contacts: tuple[Contact, ...]
    override: bool = False
    reasons: tuple[str, ...] = ()

    @property
    def is_gap(self) -> bool:
        return not self.contacts


@dataclass(frozen=True)
class Gap:
    """Nobody on duty on ``role``'s rota from ``starts_at`` to ``ends_at``; ``fallback`` stands in, if anyone."""

    role: str
    starts_at: datetime
    ends_at: datetime
    fallback: Contact | None = None

    def line(self) -> str:
        """``ROLE: from - to: nobody on duty``, in local time."""
        return f"{self.role}: {when(self.starts_at)} - {when(self.ends_at)}: nobody on duty"


def when(moment: datetime) -> str:
    return format_local(moment, "%Y-%m-%d %H:%M")


def rota_stretches(
    start: datetime, end: datetime, roles: Iterable[str] | None = None
) -> dict[str, list[Stretch]]:
    """Every rota's stretches from ``start`` to ``end`` (of ``roles`` only, when given), by role."""
    query = select(Rota).order_by(Rota.role)
    if roles is not None:
        query = query.where(Rota.role.in_(set(roles)))
    rotas = list(db.session.scalars(query))
    if not rotas:
        return {}
    shifts: dict[int, list[RotaShift]] = {rota.id: [] for rota in rotas}
    for shift in db.session.scalars(
        select(RotaShift)
        .join(Contact, Contact.id == RotaShift.contact_id)
        .where(
            RotaShift.rota_id.in_(shifts),
            RotaShift.starts_at < end,
            RotaShift.ends_at > start,
            Contact.active.is_(True),
        )
        .order_by(RotaShift.starts_at, RotaShift.id)
        .options(contains_eager(RotaShift.contact))  # the holders come with the shifts
    ):
        shifts[shift.rota_id].append(shift)
    return {rota.role: _stretches(rota.role, shifts[rota.id], start, end) for rota in rotas}


def find_gaps(start: datetime, end: datetime, roles: Iterable[str] | None = None) -> list[Gap]:
    """Every stretch with nobody on duty on a rota between ``start`` and ``end``, by role then time."""
    stretches = rota_stretches(start, end, roles)
    fixed = {
        contact.key: contact
        for contact in db.session.scalars(
            select(Contact).where(Contact.key.in_(stretches), Contact.active.is_(True))
        )
    }
    return [
        Gap(role, stretch.starts_at, stretch.ends_at, fixed.get(role))
        for role, rows in stretches.items()
        for stretch in rows
        if stretch.is_gap
    ]


def roles_with_rotas() -> set[str]:
    return set(db.session.scalars(select(Rota.role)))


def _stretches(role: str, shifts: list[RotaShift], start: datetime, end: datetime) -> list[Stretch]:
    """Cut the period at every shift's start and end; in each piece an override beats the shifts."""
    cuts = sorted({start, end} | {t for s in shifts for t in (s.starts_at, s.ends_at) if start < t < end})
    stretches: list[Stretch] = []
    for piece_start, piece_end in pairwise(cuts):
        covering = [s for s in shifts if s.starts_at <= piece_start and s.ends_at > piece_start]
        overrides = [s for s in covering if s.kind == ShiftKind.OVERRIDE]
        chosen = overrides or covering
        contacts = tuple({s.contact_id: s.contact for s in chosen}.values())
        reasons = tuple(s.reason for s in overrides if s.reason)
        stretch = Stretch(role, piece_start, piece_end, contacts, bool(overrides), reasons)
        previous = stretches[-1] if stretches else None
        if previous is not None and _same_holders(previous, stretch):
            stretches[-1] = Stretch(
                role, previous.starts_at, piece_end, previous.contacts, previous.override, previous.reasons
            )
        else:
            stretches.append(stretch)
    return stretches


def _same_holders(one: Stretch, other: Stretch) -> bool:
    return (
        [c.id for c in one.contacts] == [c.id for c in other.contacts]
        and one.override == other.override
        and one.reasons == other.reasons
    )


def escalation_gaps(hours: int = 72, areas: Iterable[str] | None = None) -> list[Gap]:
    """Gaps in the next ``hours`` in the rotas of roles an alert or escalation can go to (the dashboard).

    ``areas``: only the roles responses in these local authorities can reach
    (someone limited to some areas sees their gaps, not another area's); None for all.
    """
    from responder.playbooks import PlaybookError
    from responder.playbooks.registry import current_playbooks
    from responder.rotas.roles import escalation_roles, local_roles

    now = now_utc()
    try:
        playbooks = current_playbooks()
    except PlaybookError:  # invalid playbooks: every rota counts, for those who see every area
        if areas is not None:
            return []
        return find_gaps(now, now + timedelta(hours=hours))
    if areas is None:
        roles = escalation_roles(playbooks)
    else:
        roles = {
            role
            for area in areas
            if area in playbooks.playbooks
            for role in local_roles(playbooks, area).escalation
        }
    return find_gaps(now, now + timedelta(hours=hours), roles)
