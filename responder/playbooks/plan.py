"""What a playbook activates for an incident, worked out without opening anything."""

from __future__ import annotations

from dataclasses import dataclass

from responder.playbooks.loader import Problem
from responder.playbooks.model import Agency, IncidentFacts, Offer, Playbook, PlaybookSet, Step


@dataclass(frozen=True)
class ResponsePlan:
    playbook: Playbook
    agencies: tuple[Agency, ...]
    offers: tuple[Offer, ...]
    steps: tuple[Step, ...]

    @property
    def alert_step(self) -> Step:
        return next(step for step in self.steps if step.do == "alert")


def plan_response(playbooks: PlaybookSet, local_authority: str, facts: IncidentFacts) -> ResponsePlan:
    """Every matching rule adds to the set; order follows the playbook, without repeats."""
    playbook = playbooks.for_local_authority(local_authority)
    agency_keys: dict[str, None] = {}
    offer_keys: dict[str, None] = {}
    for rule in playbook.rules:
        if rule.when.matches(facts):
            agency_keys.update(dict.fromkeys(rule.agencies))
            offer_keys.update(dict.fromkeys(rule.offers))
    return ResponsePlan(
        playbook=playbook,
        agencies=tuple(playbooks.agency(key, playbook) for key in agency_keys),
        offers=tuple(playbooks.offer(key, playbook) for key in offer_keys),
        steps=playbook.steps,
    )


def roles_without_contacts(playbooks: PlaybookSet, active_keys: set[str]) -> list[Problem]:
    """Role keys named in playbooks that have no active contact in the directory."""
    problems = []

    def check(source, path: tuple[str, ...], role: str | None) -> None:
        if role and role not in active_keys:
            problems.append(
                Problem(
                    source.file,
                    source.lines.get(path, 0),
                    ".".join(path),
                    f"no active contact for role {role!r} in the contact directory",
                )
            )

    region = playbooks.region
    check(region, ("on_call",), region.on_call)
    for source in (region, *playbooks.playbooks.values()):
        if source is not region:
            check(source, ("duty_manager",), source.duty_manager)
        for key, agency in source.agencies.items():
            check(source, ("agencies", key, "lead"), agency.lead)
            check(source, ("agencies", key, "deputy"), agency.deputy)
        for index, step in enumerate(getattr(source, "steps", ())):
            check(source, ("steps", str(index), "notify"), step.notify)
    return problems
