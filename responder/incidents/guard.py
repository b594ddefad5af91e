"""The one lifecycle guard: what an incident's status allows, checked by every change to it.

Every service function that changes an incident is decorated with
:func:`guarded` and the kind of change it makes, so none can forget the
check (``tests/test_lifecycle_guard.py`` fails for a change that is not):

* an open or active incident takes every change;
* a response standing down takes no new agencies, support offers or local
  authorities and no re-sent alerts, but updates, tension, meetings and
  check-in answers go on, as do its check-ins, reminders and deadlines;
* a closed incident takes no change at all.

Answers from agency leads are not refused with an error: an acknowledgement
or decline that comes after the stand-down (or the close) is thanked and
recorded as a late response (:func:`takes_cover`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from responder.models import IncidentStatus

F = TypeVar("F", bound=Callable[..., Any])


class LifecycleError(ValueError):
    """An action the incident's state (or the user's role) does not allow; says why."""


class Change(enum.StrEnum):
    RECORD = "record"  # updates, tension, meetings, check-in answers, not applicable
    ACTIVATE = "activate"  # another agency, support offer or local authority
    RESEND = "resend"  # an alert sent again


REFUSED = {
    IncidentStatus.STANDING_DOWN: {Change.ACTIVATE, Change.RESEND},
    IncidentStatus.CLOSED: set(Change),
}
WHY = {
    Change.RECORD: "nothing more can be recorded",
    Change.ACTIVATE: "no more agencies, support offers or local authorities can be added",
    Change.RESEND: "alerts are not sent again",
}
STATUS_WORDS = {
    IncidentStatus.OPEN: "open",
    IncidentStatus.ACTIVE: "active",
    IncidentStatus.STANDING_DOWN: "standing down",
    IncidentStatus.CLOSED: "closed",
}


def require_allowed(incident, change: Change) -> None:
    """Raise LifecycleError when the incident's status does not allow ``change``."""
    status = IncidentStatus(incident.status)
    if change in REFUSED.get(status, set()):
        raise LifecycleError(f"{incident.reference} is {STATUS_WORDS[status]}: {WHY[change]}.")


def takes_cover(incident) -> bool:
    """Whether an agency's acknowledgement still makes it the one covering (not after a stand-down)."""
    return IncidentStatus(incident.status) in (IncidentStatus.OPEN, IncidentStatus.ACTIVE)


def guarded(change: Change) -> Callable[[F], F]:
    """Check the lifecycle before a service function changes an incident.

    The function's first argument is the incident, or something that has one
    (an activation, a check-in).
    """

    def decorator(function: F) -> F:
        @wraps(function)
        def checked(subject, *args: Any, **kwargs: Any) -> Any:
            require_allowed(getattr(subject, "incident", subject), change)
            return function(subject, *args, **kwargs)

        checked.lifecycle_change = change  # type: ignore[attr-defined]
        return checked  # type: ignore[return-value]

    return decorator
