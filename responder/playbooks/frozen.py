"""The playbooks an incident was opened with, frozen beside it, read back as typed values.

An incident keeps a copy of its local authority's playbook and the regional
file as they were when it opened (JSON, in ``Incident.playbook_snapshot``),
plus the playbook of every local authority added across a border and every
agency added by hand (with the lawful basis chosen for it). Editing a
playbook therefore never changes a running response. Everything that needs
the frozen playbooks (the escalation ladder, sharing bases, acknowledgement
targets, role labels) reads them through :class:`FrozenPlaybooks`, the same
dataclasses the loader builds, never the JSON by hand.

The stored form is unchanged since the first version::

    {"playbook": {...}, "regional": {...},
     "additional": {"sandwell": {...}},
     "added_agencies": {"adhoc-mosque-committee": {"name": ..., "sector": ..., "lead": ...,
                                                    "sharing_basis": ...}}}
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field, replace
from typing import Any

from marshmallow import EXCLUDE

from responder.playbooks.durations import Duration
from responder.playbooks.loader import build_playbook, build_region
from responder.playbooks.model import Agency, Offer, Playbook, Region, Step
from responder.playbooks.schema import LocalPlaybookSchema, RegionalSchema

REGIONAL = "regional"


@dataclass(frozen=True)
class FrozenPlaybooks:
    """One incident's frozen playbooks: where it happened, the region, areas added, agencies added by hand."""

    home: Playbook
    region: Region
    additional: dict[str, Playbook] = field(default_factory=dict)
    added_agencies: dict[str, Agency] = field(default_factory=dict)

    # --- reading the stored form ----------------------------------------------------

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> FrozenPlaybooks:
        home = _playbook(_canonical(snapshot["playbook"]))
        additional = {
            slug: _playbook(_canonical(raw)) for slug, raw in snapshot.get("additional", {}).items()
        }
        added = {
            key: Agency(
                key=key,
                name=entry["name"],
                sector=entry.get("sector", "community"),
                sharing_basis=entry.get("sharing_basis", ""),
                lead=entry["lead"],
                deputy=entry.get("deputy"),
                source=home.local_authority,
            )
            for key, entry in snapshot.get("added_agencies", {}).items()
        }
        return cls(home, _region(_canonical(snapshot.get("regional", {}))), additional, added)

    def to_snapshot(self) -> dict[str, Any]:
        """The stored form (a new dict, so a JSON column sees the change)."""
        snapshot: dict[str, Any] = {"playbook": self.home.raw, "regional": self.region.raw}
        if self.additional:
            snapshot["additional"] = {slug: playbook.raw for slug, playbook in self.additional.items()}
        if self.added_agencies:
            snapshot["added_agencies"] = {
                key: {
                    "name": agency.name,
                    "sector": agency.sector,
                    "lead": agency.lead,
                    "sharing_basis": agency.sharing_basis,
                }
                for key, agency in self.added_agencies.items()
            }
        return snapshot

    # --- changing it (a new value each time) --------------------------------------------

    def with_area(self, playbook: Playbook) -> FrozenPlaybooks:
        """Another local authority brought in across a border."""
        return replace(self, additional={**self.additional, playbook.local_authority: playbook})

    def with_added_agency(self, agency: Agency) -> FrozenPlaybooks:
        """An agency no frozen playbook names, with the lawful basis chosen for it."""
        return replace(self, added_agencies={**self.added_agencies, agency.key: agency})

    # --- questions ------------------------------------------------------------------------

    @property
    def local_authorities(self) -> list[str]:
        """Where it happened first, then any added across a border."""
        return [self.home.local_authority, *self.additional]

    @property
    def on_call(self) -> str | None:
        """The VRU regional on-call role: the last rung of every escalation."""
        return self.region.on_call or None

    def playbook_for(self, source: str) -> Playbook:
        """The playbook governing agencies from ``source``: their own area's, else the first area's."""
        return self.additional.get(source, self.home)

    def duty_manager_for(self, source: str) -> str | None:
        """An agency from another area climbs to its own authority's duty manager."""
        return self.playbook_for(source).duty_manager or None

    def alert_step(self, source: str | None = None) -> Step | None:
        playbook = self.home if source is None else self.playbook_for(source)
        return next((step for step in playbook.steps if step.do == "alert"), None)

    def ack_within(self, source: str | None = None) -> Duration | None:
        step = self.alert_step(source)
        return step.ack_within if step is not None else None

    def escalation_interval(self) -> Duration | None:
        """How long each rung has to answer: the alert step's ``escalate_every``, else ``ack_within``."""
        step = self.alert_step()
        return (step.escalate_every or step.ack_within) if step is not None else None

    def agency(self, key: str, source: str | None = None) -> Agency | None:
        """An agency by id, from the playbook of ``source`` when given, else from any frozen file."""
        if source == REGIONAL:
            found = self.region.agencies.get(key)
        elif source is not None:
            found = self.playbook_for(source).agencies.get(key) if source in self.local_authorities else None
        else:
            found = next((p.agencies[key] for p in self._every_file() if key in p.agencies), None)
        return found or self.added_agencies.get(key)

    def sharing_basis(self, agency_key: str, source: str) -> str | None:
        """The lawful basis the frozen playbooks give an agency for sharing, or None."""
        agency = self.agency(agency_key, source)
        return agency.sharing_basis if agency is not None and agency.sharing_basis else None

    def agencies(self) -> dict[str, Agency]:
        """Every agency the frozen files define (the regional file's first), by id."""
        found: dict[str, Agency] = {}
        for source in self._every_file():
            found.update(source.agencies)
        return found

    def offers(self) -> dict[str, Offer]:
        found: dict[str, Offer] = {}
        for source in self._every_file():
            found.update(source.offers)
        return found

    def _every_file(self) -> list[Playbook | Region]:
        return [self.region, self.home, *self.additional.values()]


def _canonical(raw: dict[str, Any]) -> str:
    return json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# Snapshots repeat: the same playbook version freezes into every incident opened with it.
@functools.lru_cache(maxsize=64)
def _playbook(canonical: str) -> Playbook:
    raw = json.loads(canonical)
    # Checked when it was frozen; a later format may have dropped or added keys.
    data = LocalPlaybookSchema(unknown=EXCLUDE, partial=True).load(raw)
    data.setdefault("agencies", {})
    data.setdefault("support_offers", {})
    data.setdefault("activation", [])
    data.setdefault("steps", [])
    return replace(build_playbook(data), raw=raw)


@functools.lru_cache(maxsize=16)
def _region(canonical: str) -> Region:
    raw = json.loads(canonical)
    data = RegionalSchema(unknown=EXCLUDE, partial=True).load(raw)
    data.setdefault("agencies", {})
    data.setdefault("support_offers", {})
    data.setdefault("name", "")
    data.setdefault("on_call", "")
    return replace(build_region(data), raw=raw)
