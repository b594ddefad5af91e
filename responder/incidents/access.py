"""What a user may see and open: one query that every list, page, export and API call goes through.

An incident belongs to the local authorities in its ``incident_areas`` rows
(where it happened, and any added across a border). Managers and admins see
every one; an officer may be limited to some local authorities, and then sees
the incidents of those, and may open incidents only there. The question is
answered in SQL, so lists are filtered before any ``LIMIT``, and an incident
outside a user's areas is as absent as one that does not exist (404, never
403: references cannot be probed).
"""

from __future__ import annotations

from sqlalchemy import Select, exists, select

from responder.extensions import db
from responder.models import Incident, IncidentArea, Role, User


class OutsideYourAreas(PermissionError):
    """Opening an incident in a local authority this user is not limited to."""

    def __init__(self, local_authority: str) -> None:
        super().__init__(
            f"You can open incidents only in your own local authorities, not in {local_authority}."
        )
        self.local_authority = local_authority


def areas_of(user: User) -> list[str] | None:
    """The local authorities a user is limited to; None for all of them."""
    if user.has_role(Role.MANAGER):
        return None
    return user.local_authorities


def visible_incidents(user: User) -> Select[tuple[Incident]]:
    """Every incident ``user`` may see, as a query to filter, order and page further."""
    query = select(Incident)
    areas = areas_of(user)
    if areas is not None:
        query = query.where(
            exists().where(IncidentArea.incident_id == Incident.id, IncidentArea.local_authority.in_(areas))
        )
    return query


def find_visible(user: User, reference: str) -> Incident | None:
    """The incident with ``reference`` if ``user`` may see it; None whether it is hidden or missing."""
    return db.session.scalar(visible_incidents(user).where(Incident.reference == reference.strip().upper()))


def require_may_open_in(user: User | None, local_authority: str) -> None:
    """Refuse (OutsideYourAreas) an incident in a local authority the user is not limited to."""
    areas = areas_of(user) if user is not None else None
    if areas is not None and local_authority not in areas:
        raise OutsideYourAreas(local_authority)
