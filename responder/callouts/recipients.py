"""Whom a call-out test asks: every role a playbook names, and whoever holds each role.

A playbook names roles (keys) in five places: its duty manager, the region's
on-call, its own agencies' leads and deputies, the regional agencies its
activation rules bring in, and the people its deadlines tell. Each is kept
with where the playbook names it, so ``playbooks check --strict`` can point
at the line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from responder.extensions import db
from responder.models import Contact
from responder.playbooks.model import Agency, Playbook, PlaybookSet, Region


@dataclass(frozen=True)
class NamedRole:
    """A role key a playbook names, in words, and where (file, line, field path)."""

    role: str
    label: str
    file: str
    line: int
    path: str


# Rota holders on duty within this long from the test are tested too.
ROTA_AHEAD = timedelta(days=7)


@dataclass(frozen=True)
class RoleHolder:
    """Someone to test for a role: from the directory (the contact whose key is the role) or a rota."""

    role: NamedRole
    contact: Contact
    source: str = "directory"


def roles_named_in(playbooks: PlaybookSet, local_authority: str) -> list[NamedRole]:
    """Every role the local authority's playbook relies on, once each, in the order a reader meets them."""
    playbook = playbooks.for_local_authority(local_authority)
    region = playbooks.region
    found: dict[str, NamedRole] = {}

    def name(source: Playbook | Region, path: tuple[str, ...], role: str | None, label: str) -> None:
        if role and role not in found:
            found[role] = NamedRole(role, label, source.file, source.lines.get(path, 0), ".".join(path))

    name(playbook, ("duty_manager",), playbook.duty_manager, f"Duty manager, {playbook.name}")
    name(region, ("on_call",), region.on_call, f"Regional on-call, {region.name}")
    for key, agency in playbook.agencies.items():
        _agency_roles(name, playbook, key, agency)
    for key in _regional_agencies_activated(playbook, region):
        _agency_roles(name, region, key, region.agencies[key])
    for index, step in enumerate(playbook.steps):
        if step.notify:
            name(playbook, ("steps", str(index), "notify"), step.notify, f"Told of: {step.name}")
    return list(found.values())


def holders_to_test(playbooks: PlaybookSet, local_authority: str, now: datetime) -> list[RoleHolder]:
    """The people a call-out test of this playbook sends a test message to, role by role.

    A role is held by the active contact whose key is the role key, and by
    everyone on duty on its rota between ``now`` and ``now`` + 7 days
    (responder.rotas). Recipients are grouped by contact, so a person holding
    several roles, or on several shifts, gets one message.
    """
    from responder.rotas.coverage import rota_stretches

    roles = roles_named_in(playbooks, local_authority)
    contacts = _active_contacts(role.role for role in roles)
    holders = [RoleHolder(role, contacts[role.role]) for role in roles if role.role in contacts]
    by_key = {role.role: role for role in roles}
    seen = {(holder.role.role, holder.contact.id) for holder in holders}
    stretches = rota_stretches(now, now + ROTA_AHEAD, by_key)
    for role_key, role_stretches in stretches.items():
        for stretch in role_stretches:
            for contact in stretch.contacts:
                if (role_key, contact.id) not in seen:
                    seen.add((role_key, contact.id))
                    holders.append(RoleHolder(by_key[role_key], contact, source="rota"))
    return holders


def _agency_roles(name, source: Playbook | Region, key: str, agency: Agency) -> None:
    name(source, ("agencies", key, "lead"), agency.lead, f"Lead, {agency.name}")
    name(source, ("agencies", key, "deputy"), agency.deputy, f"Deputy, {agency.name}")


def _regional_agencies_activated(playbook: Playbook, region: Region) -> list[str]:
    keys: list[str] = []
    for rule in playbook.rules:
        keys += [key for key in rule.agencies if key in region.agencies and key not in keys]
    return keys


def _active_contacts(keys: Iterable[str]) -> dict[str, Contact]:
    rows = db.session.scalars(select(Contact).where(Contact.key.in_(list(keys)), Contact.active.is_(True)))
    return {row.key: row for row in rows}
