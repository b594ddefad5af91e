"""How an identity provider's role or group claim becomes a Responder role and local authorities.

Decided afresh at every single sign-on, from ``OIDC_ROLE_MAP`` and
``OIDC_AREA_MAP`` (``VALUE=TARGET,VALUE=TARGET``). With Microsoft Entra ID the
values are app role values (the ``roles`` claim), e.g. ``Responder.Officer``;
with ``OIDC_ROLE_CLAIM=groups`` they are group object ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from responder.models import LOCAL_AUTHORITIES, Role
from responder.models.users import ROLE_RANK

# Without OIDC_AREA_MAP: an app role per local authority, e.g. Responder.Area.Birmingham.
DEFAULT_AREA_PREFIX = "Responder.Area."


class ClaimMappingError(ValueError):
    """A mapping setting cannot be read; the message names it."""


@dataclass(frozen=True)
class Grant:
    """What the claims give: a role, and the local authorities an officer is limited to (None: all)."""

    role: Role
    local_authorities: list[str] | None


@dataclass(frozen=True)
class ClaimMapping:
    roles: dict[str, Role]
    areas: dict[str, str]

    def grant(self, values: list[str]) -> Grant | None:
        """The most senior role any value maps to, and the areas the values name; None when no role."""
        roles = [self.roles[value] for value in values if value in self.roles]
        if not roles:
            return None
        role = max(roles, key=lambda r: ROLE_RANK[r])
        areas = sorted({self.areas[value] for value in values if value in self.areas})
        # Managers and admins see every area; an officer with no area value is not limited.
        limited = role is Role.OFFICER and bool(areas)
        return Grant(role=role, local_authorities=areas if limited else None)


def claim_mapping_from_config(config: Mapping[str, Any]) -> ClaimMapping:
    """Read OIDC_ROLE_MAP and OIDC_AREA_MAP; raise ClaimMappingError naming the bad one."""
    roles = {
        value: _role(target) for value, target in _pairs("OIDC_ROLE_MAP", config.get("OIDC_ROLE_MAP") or "")
    }
    area_setting = config.get("OIDC_AREA_MAP") or ""
    if area_setting.strip():
        areas = dict(_pairs("OIDC_AREA_MAP", area_setting))
    else:
        areas = {DEFAULT_AREA_PREFIX + name: slug for slug, name in LOCAL_AUTHORITIES.items()}
    unknown = sorted(set(areas.values()) - set(LOCAL_AUTHORITIES))
    if unknown:
        raise ClaimMappingError(
            f"OIDC_AREA_MAP names {', '.join(unknown)}; local authorities are {', '.join(LOCAL_AUTHORITIES)}"
        )
    return ClaimMapping(roles=roles, areas=areas)


def _pairs(name: str, setting: str) -> list[tuple[str, str]]:
    pairs = []
    for item in filter(None, (part.strip() for part in setting.split(","))):
        value, sep, target = item.rpartition("=")
        if not sep or not value.strip() or not target.strip():
            raise ClaimMappingError(f"{name} must read VALUE=TARGET,VALUE=TARGET (not {item!r})")
        pairs.append((value.strip(), target.strip()))
    return pairs


def _role(target: str) -> Role:
    try:
        return Role(target)
    except ValueError:
        raise ClaimMappingError(
            f"OIDC_ROLE_MAP maps to {target!r}; roles are {', '.join(r.value for r in Role)}"
        ) from None
