"""Which role keys the playbooks name, and which of them an escalation climbs through."""

from __future__ import annotations

from dataclasses import dataclass

from responder.playbooks.model import Playbook, PlaybookSet


@dataclass(frozen=True)
class LocalRoles:
    """The roles one local authority's responses use."""

    escalation: tuple[str, ...]  # leads, deputies, its duty manager, the regional on-call
    deadline_owners: tuple[tuple[str, str], ...]  # (deadline name, role told)


def playbook_roles(playbooks: PlaybookSet) -> set[str]:
    """Every role key any playbook names (a rota can be imported for these only)."""
    roles = escalation_roles(playbooks)
    for playbook in playbooks.playbooks.values():
        roles.update(step.notify for step in playbook.steps if step.notify)
    return roles


def escalation_roles(playbooks: PlaybookSet) -> set[str]:
    """Every role an alert or an escalation can go to."""
    roles = {playbooks.region.on_call} if playbooks.region.on_call else set()
    for source in (playbooks.region, *playbooks.playbooks.values()):
        for agency in source.agencies.values():
            roles.update(role for role in (agency.lead, agency.deputy) if role)
    roles.update(playbook.duty_manager for playbook in playbooks.playbooks.values() if playbook.duty_manager)
    return roles


def local_roles(playbooks: PlaybookSet, local_authority: str) -> LocalRoles:
    """The roles an incident in ``local_authority`` can reach: its own agencies, the regional agencies
    its rules activate, its duty manager and the regional on-call; and who its deadlines tell."""
    playbook = playbooks.playbooks[local_authority]
    roles: dict[str, None] = {}
    for key in _agencies_used(playbook):
        agency = playbook.agencies.get(key) or playbooks.region.agencies.get(key)
        if agency is not None:
            roles.update(dict.fromkeys(role for role in (agency.lead, agency.deputy) if role))
    for agency in playbook.agencies.values():
        roles.update(dict.fromkeys(role for role in (agency.lead, agency.deputy) if role))
    roles.update(dict.fromkeys(role for role in (playbook.duty_manager, playbooks.region.on_call) if role))
    owners = tuple((step.name or "", step.notify) for step in playbook.steps if step.notify)
    return LocalRoles(tuple(roles), owners)


def _agencies_used(playbook: Playbook) -> list[str]:
    return list(dict.fromkeys(key for rule in playbook.rules for key in rule.agencies))


def role_labels(playbooks: PlaybookSet) -> dict[str, str]:
    """What each role is, for people: "Duty manager, Birmingham", "Lead, Birmingham Youth Service"."""
    labels: dict[str, str] = {}
    for playbook in playbooks.playbooks.values():
        if playbook.duty_manager:
            labels.setdefault(playbook.duty_manager, f"Duty manager, {playbook.name}")
    if playbooks.region.on_call:
        labels.setdefault(playbooks.region.on_call, "VRU regional on-call")
    for source in (playbooks.region, *playbooks.playbooks.values()):
        for agency in source.agencies.values():
            labels.setdefault(agency.lead, f"Lead, {agency.name}")
            if agency.deputy:
                labels.setdefault(agency.deputy, f"Deputy, {agency.name}")
    for playbook in playbooks.playbooks.values():
        for step in playbook.steps:
            if step.notify:
                labels.setdefault(step.notify, f"Told of deadlines, {playbook.name}")
    return labels
