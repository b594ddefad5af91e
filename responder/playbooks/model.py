"""Playbooks as plain, immutable values once validated."""

from __future__ import annotations

from dataclasses import dataclass, field

from responder.playbooks.durations import Duration


@dataclass(frozen=True)
class Agency:
    key: str
    name: str
    sector: str
    sharing_basis: str
    lead: str
    deputy: str | None
    source: str  # local authority slug, or "regional"


@dataclass(frozen=True)
class Offer:
    key: str
    name: str
    provider: str
    source: str


@dataclass(frozen=True)
class Condition:
    types: frozenset[str] | None = None
    school_link: bool | None = None
    age_min: int | None = None
    age_max: int | None = None
    tensions: frozenset[str] | None = None

    def matches(self, facts: IncidentFacts) -> bool:
        if self.types is not None and facts.type not in self.types:
            return False
        if self.school_link is not None and facts.school_link != self.school_link:
            return False
        if self.age_min is not None or self.age_max is not None:
            # An unknown age matches no age rule: nobody is activated on a guess.
            if facts.youngest_age is None:
                return False
            if self.age_min is not None and facts.youngest_age < self.age_min:
                return False
            if self.age_max is not None and facts.youngest_age > self.age_max:
                return False
        return not (self.tensions is not None and facts.tension not in self.tensions)


@dataclass(frozen=True)
class Rule:
    when: Condition
    agencies: tuple[str, ...]
    offers: tuple[str, ...]


@dataclass(frozen=True)
class Step:
    at: Duration
    do: str  # alert | check_in | deadline
    ack_within: Duration | None = None
    escalate_every: Duration | None = None
    call: tuple[str, ...] = ()  # rungs phoned as well as texted (an alert step's ``call``)
    name: str | None = None
    notify: str | None = None
    remind_before: Duration | None = None


@dataclass(frozen=True)
class IncidentFacts:
    """What activation rules look at."""

    type: str
    school_link: bool = False
    youngest_age: int | None = None
    tension: str = "medium"


@dataclass(frozen=True)
class Playbook:
    local_authority: str
    name: str
    code: str
    duty_manager: str
    agencies: dict[str, Agency]
    offers: dict[str, Offer]
    rules: tuple[Rule, ...]
    steps: tuple[Step, ...]
    raw: dict = field(repr=False, compare=False, default_factory=dict)
    file: str = ""
    lines: dict = field(repr=False, compare=False, default_factory=dict)


@dataclass(frozen=True)
class Region:
    name: str
    on_call: str
    agencies: dict[str, Agency]
    offers: dict[str, Offer]
    raw: dict = field(repr=False, compare=False, default_factory=dict)
    file: str = ""
    lines: dict = field(repr=False, compare=False, default_factory=dict)


@dataclass(frozen=True)
class PlaybookSet:
    region: Region
    playbooks: dict[str, Playbook]  # by local authority slug
    directory: str = ""

    def for_local_authority(self, slug: str) -> Playbook:
        return self.playbooks[slug]

    def agency(self, key: str, playbook: Playbook) -> Agency:
        return playbook.agencies.get(key) or self.region.agencies[key]

    def offer(self, key: str, playbook: Playbook) -> Offer:
        return playbook.offers.get(key) or self.region.offers[key]
