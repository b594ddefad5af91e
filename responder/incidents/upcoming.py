"""The incident page's "Coming up": timed actions still to happen, alike ones said once.

Twelve agencies alerted together fall due together: rather than twelve lines
saying "alert the deputy if nobody has acknowledged", one line says
"04:24 - escalate 12 agencies to their deputy if still unacknowledged", and
names them when asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from responder.clock import as_utc, now_utc, to_local
from responder.extensions import db
from responder.models import ActionKind, ActionState, TimedAction
from responder.playbooks import parse_duration
from responder.responses.escalation import LEVEL_NAMES
from responder.scheduling.schedule import describe

# Pending actions read at most (an incident has a few dozen); groups shown at once.
READ_LIMIT = 500
SHOWN = 8


@dataclass
class UpcomingGroup:
    """Actions of one kind due in the same minute, said in one line."""

    due_at: datetime
    kind: ActionKind
    key: tuple
    actions: list[TimedAction] = field(default_factory=list)

    @property
    def agencies(self) -> list[str]:
        """The agencies concerned, when there are several (the line counts them)."""
        names = [a.activation.agency_name for a in self.actions if a.activation is not None]
        return names if len(names) > 1 else []

    @property
    def overdue(self) -> bool:
        return as_utc(self.due_at) < now_utc()

    @property
    def text(self) -> str:
        if len(self.actions) == 1:
            return describe(self.actions[0])
        return _many(self.kind, self.key, len(self.actions))


@dataclass(frozen=True)
class Upcoming:
    groups: list[UpcomingGroup]  # the first few, soonest first
    later: int  # further groups not shown

    @property
    def next(self) -> UpcomingGroup | None:
        return self.groups[0] if self.groups else None


def upcoming(incident, shown: int = SHOWN) -> Upcoming:
    """What is still to happen for ``incident``, grouped, soonest first."""
    actions = db.session.scalars(
        select(TimedAction)
        .where(TimedAction.incident_id == incident.id, TimedAction.state == ActionState.PENDING)
        .options(selectinload(TimedAction.activation), selectinload(TimedAction.check_in))
        .order_by(TimedAction.due_at, TimedAction.id)
        .limit(READ_LIMIT)
    ).all()
    groups = group_actions(actions)
    return Upcoming(groups[:shown], max(len(groups) - shown, 0))


def group_actions(actions: list[TimedAction]) -> list[UpcomingGroup]:
    """Alike actions due in the same local minute, in the order of their first."""
    groups: dict[tuple, UpcomingGroup] = {}
    for action in actions:
        minute = to_local(action.due_at).replace(second=0, microsecond=0)
        key = (minute, action.kind, *_alike(action))
        if key not in groups:
            groups[key] = UpcomingGroup(action.due_at, ActionKind(action.kind), key[2:])
        groups[key].actions.append(action)
    return list(groups.values())


def _alike(action: TimedAction) -> tuple:
    """What else two actions must share to be said in one line."""
    if action.kind == ActionKind.ESCALATION:
        return (action.activation.escalation_level + 1 if action.activation is not None else None,)
    if action.kind in (ActionKind.CHECK_IN_REMINDER, ActionKind.CHECK_IN_MISSED):
        return (action.check_in.step if action.check_in is not None else None,)
    # Check-ins, deadlines and their reminders are one line each.
    return (action.id,)


def _many(kind: ActionKind, key: tuple, count: int) -> str:
    agencies = f"{count} agencies"
    if kind == ActionKind.ESCALATION:
        rung = LEVEL_NAMES.get(key[0])
        if rung is None:
            return f"record that nobody answered for {agencies} if still unacknowledged"
        return f"escalate {agencies} to their {rung} if still unacknowledged"
    step = parse_duration(key[0]).describe() if key[0] else ""
    if kind == ActionKind.CHECK_IN_REMINDER:
        return f"remind {agencies} to answer the {step} check-in"
    return f"flag the {step} check-in as missed for {agencies} if still unanswered"
