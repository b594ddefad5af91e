"""Who fills a role at a moment: the one question the code that creates messages asks.

A role is resolved when its message is created (the alert, the escalation
rung, the deadline notice), to whoever is on duty at that moment; the message
then keeps its recipient, link and reply code however often it is retried.

* A role with a rota: the contacts whose shifts cover the moment. An override
  covering it takes precedence over the shifts. Two holders at once (an
  overlap) are both returned, and both alerted.
* A gap in the rota: the role's fixed contact (the contact whose key is the
  role key) if it has an active one, else nobody, and the escalation moves on
  to the next rung. Either way the timeline says so.
* A role with no rota: its fixed contact, as before rotas existed.

Work done as of one moment (a batch of timed actions firing together) asks
inside :func:`as_of`: each role is looked up once, at that moment, however
many actions ask.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from responder.clock import now_utc
from responder.extensions import db
from responder.models import Contact, Rota, RotaShift, ShiftKind


class DutySource(enum.StrEnum):
    """How a role was filled at a moment."""

    ROTA = "rota"  # a shift on the role's rota
    OVERRIDE = "override"  # an override on the role's rota
    FIXED = "fixed"  # the role has no rota: its fixed contact
    FALLBACK = "fallback"  # a gap in the rota: the role's fixed contact instead
    GAP = "gap"  # a gap in the rota and no fixed contact: nobody
    NOBODY = "nobody"  # no rota and no active fixed contact


ROTA_GAPS = (DutySource.FALLBACK, DutySource.GAP)


@dataclass(frozen=True)
class OnDuty:
    """Who fills ``role`` at ``at``, and how: through its rota, by override, its fixed contact, or nobody."""

    role: str
    at: datetime
    source: DutySource
    contacts: tuple[Contact, ...] = ()

    @property
    def contact(self) -> Contact | None:
        """The first holder (the only one, but for an overlap)."""
        return self.contacts[0] if self.contacts else None

    @property
    def has_rota(self) -> bool:
        return self.source not in (DutySource.FIXED, DutySource.NOBODY)

    @property
    def is_gap(self) -> bool:
        """Nobody was on duty on the role's rota (whether or not its fixed contact stood in)."""
        return self.source in ROTA_GAPS

    def timeline_data(self) -> dict[str, str | int]:
        """What the timeline keeps about how the role was filled: nothing for a role with no rota."""
        if not self.has_rota:
            return {}
        data: dict[str, str | int] = {"duty": self.source.value, "rota": self.role}
        if len(self.contacts) > 1:
            data["on_duty"] = len(self.contacts)
        return data

    def sharing_note(self) -> str:
        """For the sharing record's purpose: how the recipient came to hold the role."""
        if self.source == DutySource.ROTA:
            also = f", one of {len(self.contacts)} on duty" if len(self.contacts) > 1 else ""
            return f"on duty as {self.role} through its rota{also}"
        if self.source == DutySource.OVERRIDE:
            return f"covering {self.role} by an override on its rota"
        if self.source == DutySource.FALLBACK:
            return f"the fixed contact for {self.role}: nobody was on duty on its rota"
        return ""


@dataclass
class _Moment:
    at: datetime
    answers: dict[str, OnDuty]


_moment: ContextVar[_Moment | None] = ContextVar("responder_on_duty_moment", default=None)


@contextmanager
def as_of(at: datetime) -> Iterator[None]:
    """Inside: :func:`on_duty` and :func:`on_duty_for` answer for ``at`` when asked for now, each role once.

    For work that happens as of one moment and asks the same question many
    times (a batch of deadline notices for one role). Nothing inside may
    change rotas or contacts.
    """
    token = _moment.set(_Moment(at, {}))
    try:
        yield
    finally:
        _moment.reset(token)


def on_duty(role: str | None, at: datetime | None = None) -> OnDuty:
    """Who fills ``role`` at ``at`` (now): see the module's docstring."""
    if not role:
        return OnDuty("", at or now_utc(), DutySource.NOBODY)
    return on_duty_for([role], at)[role]


def on_duty_for(roles: Iterable[str | None], at: datetime | None = None) -> dict[str, OnDuty]:
    """:func:`on_duty` for several roles at once, in three queries however many (opening an incident)."""
    wanted = {role for role in roles if role}
    moment = _moment.get()
    if moment is None or at not in (None, moment.at):
        return _look_up(wanted, at or now_utc())
    missing = wanted - moment.answers.keys()
    moment.answers.update(_look_up(missing, moment.at))
    return {role: moment.answers[role] for role in wanted}


def _look_up(wanted: set[str], at: datetime) -> dict[str, OnDuty]:
    if not wanted:
        return {}
    rotas = dict(db.session.execute(select(Rota.id, Rota.role).where(Rota.role.in_(wanted))).all())
    holding: dict[str, list[RotaShift]] = {}
    if rotas:
        shifts = db.session.scalars(
            select(RotaShift)
            .join(Contact, Contact.id == RotaShift.contact_id)
            .where(
                RotaShift.rota_id.in_(rotas),
                RotaShift.starts_at <= at,
                RotaShift.ends_at > at,
                Contact.active.is_(True),
            )
            .order_by(RotaShift.starts_at, RotaShift.id)
            .options(contains_eager(RotaShift.contact))  # the holders come with the shifts
        )
        for shift in shifts:
            holding.setdefault(rotas[shift.rota_id], []).append(shift)
    fixed = {
        contact.key: contact
        for contact in db.session.scalars(
            select(Contact).where(Contact.key.in_(wanted), Contact.active.is_(True))
        )
    }
    with_rota = set(rotas.values())
    return {
        role: _resolve(role, at, role in with_rota, holding.get(role, []), fixed.get(role)) for role in wanted
    }


def _resolve(
    role: str, at: datetime, has_rota: bool, shifts: list[RotaShift], fixed: Contact | None
) -> OnDuty:
    if not has_rota:
        if fixed is None:
            return OnDuty(role, at, DutySource.NOBODY)
        return OnDuty(role, at, DutySource.FIXED, (fixed,))
    overrides = [shift for shift in shifts if shift.kind == ShiftKind.OVERRIDE]
    chosen = overrides or shifts
    if chosen:
        source = DutySource.OVERRIDE if overrides else DutySource.ROTA
        return OnDuty(role, at, source, _distinct(shift.contact for shift in chosen))
    if fixed is not None:
        return OnDuty(role, at, DutySource.FALLBACK, (fixed,))
    return OnDuty(role, at, DutySource.GAP)


def _distinct(contacts: Iterable[Contact]) -> tuple[Contact, ...]:
    return tuple({contact.id: contact for contact in contacts}.values())
