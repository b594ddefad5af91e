"""Firing a timed action: exactly once, however many processes try.

The claim is a conditional UPDATE (``... WHERE state = 'pending'``) checked by
its row count, in the same transaction as everything the action does. Two
processes racing for one row: the database lets one UPDATE through and the
other finds the row no longer pending. A process killed half way rolls back,
so the row is still pending and the next sweep fires it.

Lock order, so that firing never deadlocks with acknowledging, answering a
check-in or closing an incident on PostgreSQL: the incident (shared), then
the activation or check-in the action is about, then the action itself.
Those services lock in the same order (``acks.acknowledge`` updates the
activation before cancelling its escalations). SQLite has one writer at a
time, which gives the same order for free.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from responder import rotas, timeline
from responder.clock import now_utc
from responder.database import is_unavailable
from responder.extensions import db
from responder.models import (
    ActionKind,
    ActionState,
    Activation,
    CheckIn,
    EventKind,
    Incident,
    IncidentStatus,
    TimedAction,
)
from responder.unit_of_work import unit_of_work

log = logging.getLogger(__name__)

# Actions already due when one fires go with it, this many at most, in one transaction.
BATCH_SIZE = 100
# A firing that raises this many times is marked failed, on the timeline, and left alone.
MAX_ATTEMPTS = 5
# Lateness beyond this is worth telling people about (an outage, not jitter).
LATE_AFTER_SECONDS = 60
INCIDENT_OVER = (IncidentStatus.STANDING_DOWN, IncidentStatus.CLOSED)
# Kinds whose handler asks about other pending actions (a later check-in round): claimed one at a time.
CLAIMED_ONE_BY_ONE = frozenset({ActionKind.CHECK_IN})


@dataclass
class Result:
    """What a handler did: fired (or decided the action was no longer needed), and what it scheduled."""

    outcome: str
    cancelled: bool = False
    follow_ups: list[TimedAction] = field(default_factory=list)

    @classmethod
    def cancel(cls, why: str) -> Result:
        return cls(why, cancelled=True)


@dataclass(frozen=True)
class Fired:
    """One action the caller fired (or cancelled), and new actions it scheduled as (id, due_at)."""

    action_id: int
    state: str
    outcome: str
    lateness_seconds: float
    follow_ups: tuple[tuple[int, datetime], ...] = ()


def fire_timed_action(action_id: int) -> Fired | None:
    """Fire one action if it is still pending; None if another process had it (or it is done).

    One unit of work: the claim and everything the action does commit together.
    Needs an app context. Never raises for a failing action: the failure is
    recorded on the row, and the next sweep tries again (up to MAX_ATTEMPTS).
    A database that is down or too slow is not the action's fault: the row
    stays pending, uncounted, for the next sweep.
    """
    try:
        with unit_of_work():
            return _fire(action_id)
    except Exception as error:
        if is_unavailable(error):
            log.warning("timed action %s: the database is unavailable; the next sweep tries again", action_id)
        else:
            _record_failure(action_id, error)
        return None


def fire_due_together(action_id: int, limit: int = BATCH_SIZE) -> list[Fired]:
    """Fire ``action_id`` and every other pending action already due, in one unit of work.

    Actions fall due together (a playbook's escalations for every agency, a
    check-in round): one claim each, but one commit and one wake-up of the
    sender for the lot. Taken oldest first, in one order, so two batches never
    lock rows in opposite orders. If any action of the batch raises, the batch
    is rolled back whole and each action fired on its own, so one failure is
    recorded against its own row and holds up nothing else.
    """
    now = now_utc()
    with unit_of_work():
        # The action itself first (whatever its due time), then the oldest others already due.
        due = dict(
            db.session.execute(
                select(TimedAction.id, TimedAction.due_at)
                .where(
                    TimedAction.state == ActionState.PENDING,
                    or_(TimedAction.id == action_id, TimedAction.due_at <= now),
                )
                .order_by((TimedAction.id != action_id), TimedAction.due_at, TimedAction.id)
                .limit(limit)
            ).all()
        )
    return _fire_in_one(sorted(due, key=lambda row_id: (due[row_id], row_id)))


def fire_due_actions(now: datetime | None = None) -> list[Fired]:
    """Fire every pending action due by ``now``, oldest first, in batches as the scheduler does.

    One sweep through everything due (tests call it to move time on; the
    scheduler fires each action's batch through ``fire_due_together``). An
    action that fails is recorded on its row and not taken again by this sweep.
    """
    due_by = now or now_utc()
    fired: list[Fired] = []
    last = None  # the last action taken, to go on after it
    while True:
        query = select(TimedAction.id, TimedAction.due_at).where(
            TimedAction.state == ActionState.PENDING, TimedAction.due_at <= due_by
        )
        if last is not None:
            query = query.where(
                or_(
                    TimedAction.due_at > last.due_at,
                    and_(TimedAction.due_at == last.due_at, TimedAction.id > last.id),
                )
            )
        with unit_of_work():
            rows = db.session.execute(
                query.order_by(TimedAction.due_at, TimedAction.id).limit(BATCH_SIZE)
            ).all()
        if not rows:
            return fired
        last = rows[-1]
        fired += _fire_in_one([row.id for row in rows])


def _fire_in_one(batch: list[int]) -> list[Fired]:
    """Fire these actions (in this order) in one unit of work; each on its own if that fails."""
    if len(batch) <= 1:
        fired = fire_timed_action(batch[0]) if batch else None
        return [fired] if fired is not None else []
    try:
        with unit_of_work():
            return _fire_batch(batch, now_utc())
    except Exception as error:
        if is_unavailable(error):
            log.warning("timed actions: the database is unavailable; the next sweep fires %d", len(batch))
            return []
        log.warning(
            "a batch of %d timed actions failed together (%s); firing each on its own", len(batch), error
        )
    return [fired for row_id in batch if (fired := fire_timed_action(row_id)) is not None]


def _fire_batch(batch: list[int], now: datetime) -> list[Fired]:
    """Read the batch and what it is about in a few statements, then claim and carry out each in turn.

    Locks as one action does, a kind at a time: the incidents (shared), then the
    activations and check-ins, each in id order, then the actions. An action
    sees the batch's earlier ones as done and its later ones as still pending,
    exactly as if they had fired one by one: a check-in round (which asks
    whether a later round is pending, and is superseded by it) is claimed just
    before it runs; every other kind reads only what it is about, so those are
    claimed together, in one statement.
    """
    actions = db.session.scalars(
        select(TimedAction)
        .where(TimedAction.id.in_(batch), TimedAction.state == ActionState.PENDING)
        .execution_options(populate_existing=True)
    ).all()
    if not actions:
        return []
    postgres = db.session.get_bind().dialect.name == "postgresql"
    # Held here for the batch: the session keeps only weak references to rows nothing else holds.
    subjects = _load_all_subjects(actions) if postgres else []
    order = {row_id: position for position, row_id in enumerate(batch)}
    ordered = sorted(actions, key=lambda action: order[action.id])
    results = []
    # No autoflush: the batch's rows are written by one flush at the end (check-in handlers
    # flush their own rows early). Nothing a handler looks up is something an earlier
    # handler of the batch added: they read contacts, and the actions' own states, which the
    # claims and cancellations write straight to the database (UPDATE), so those are seen.
    # The batch fires as of one moment: who is on duty in a role is looked up once for it.
    with db.session.no_autoflush, rotas.as_of(now):
        together = _claim_together([a.id for a in ordered if a.kind not in CLAIMED_ONE_BY_ONE], now)
        for action in ordered:
            if action.kind in CLAIMED_ONE_BY_ONE:
                if not _claim_one(action.id, now):
                    continue
            elif action.id not in together:
                continue
            if not postgres and not results:
                # SQLite: read fresh, inside the write lock the first claim took.
                subjects = _load_all_subjects(actions)
            results.append((action, _carry_out(action, now)))
    db.session.flush()
    del subjects
    return [_fired(action, result) for action, result in results]


def _claim_together(action_ids: list[int], now: datetime) -> set[int]:
    """Claim these actions in one conditional UPDATE; the ids still pending, now claimed."""
    if not action_ids:
        return set()
    return set(
        db.session.scalars(
            update(TimedAction)
            .where(TimedAction.id.in_(action_ids), TimedAction.state == ActionState.PENDING)
            .values(state=ActionState.FIRED, fired_at=now, attempts=TimedAction.attempts + 1)
            .returning(TimedAction.id)
            .execution_options(synchronize_session=False)
        )
    )


def _claim_one(action_id: int, now: datetime) -> bool:
    return (
        db.session.execute(
            update(TimedAction)
            .where(TimedAction.id == action_id, TimedAction.state == ActionState.PENDING)
            .values(state=ActionState.FIRED, fired_at=now, attempts=TimedAction.attempts + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )


def _load_all_subjects(actions: list[TimedAction]) -> list[object]:
    """What the actions are about, fresh, in as many statements as there are kinds of subject."""

    def load(model, ids: set[int], **lock) -> list[object]:
        if not ids:
            return []
        return list(
            db.session.execute(
                select(model)
                .where(model.id.in_(sorted(ids)))
                .order_by(model.id)
                .with_for_update(**lock)
                .execution_options(populate_existing=True)
            ).scalars()
        )

    return [
        *load(Incident, {a.incident_id for a in actions}, read=True),
        *load(Activation, {a.activation_id for a in actions if a.activation_id is not None}),
        *load(CheckIn, {a.check_in_id for a in actions if a.check_in_id is not None}),
    ]


def _fire(action_id: int) -> Fired | None:
    action = db.session.get(TimedAction, action_id, populate_existing=True)
    if action is None or action.state != ActionState.PENDING:
        return None
    now = now_utc()
    if not _claim(action, now):
        return None
    result = _carry_out(action, now)
    db.session.flush()
    return _fired(action, result)


def late_note(action: TimedAction) -> str:
    """Words for the timeline when an action fired noticeably late (the scheduler was down)."""
    late = action.lateness_seconds or 0
    if late < LATE_AFTER_SECONDS:
        return ""
    return f" (this ran {_duration_words(late)} late: the scheduler was not running when it was due)"


def _claim(action: TimedAction, now: datetime) -> bool:
    """Take the action, with what it is about read fresh (and on PostgreSQL locked) around it.

    PostgreSQL: lock the subjects first, in the documented order, then the
    conditional UPDATE. SQLite has no row locks; its one write lock comes
    with the UPDATE, so the subjects are read after it, inside that lock.
    """
    postgres = db.session.get_bind().dialect.name == "postgresql"
    if postgres:
        _load_subjects(action)
    claimed = _claim_one(action.id, now)
    if claimed and not postgres:
        _load_subjects(action)
    return claimed


def _load_subjects(action: TimedAction) -> None:
    """The incident (shared lock), then the activation or check-in, fresh from the database."""

    def load(model, row_id: int, **lock) -> None:
        db.session.execute(
            select(model)
            .where(model.id == row_id)
            .with_for_update(**lock)
            .execution_options(populate_existing=True)
        ).scalar_one()

    load(Incident, action.incident_id, read=True)
    if action.activation_id is not None:
        load(Activation, action.activation_id)
    if action.check_in_id is not None:
        load(CheckIn, action.check_in_id)


def _carry_out(action: TimedAction, now: datetime) -> Result:
    # The claim wrote these; the ORM copy says so too, so the flush keeps them.
    action.fired_at = now
    action.attempts += 1
    action.lateness_seconds = max((now - action.due_at).total_seconds(), 0.0)
    if action.incident.status in INCIDENT_OVER:
        result = Result.cancel(f"not needed: the incident is {action.incident.status.replace('_', ' ')}")
    else:
        result = _handler(action.kind)(action, now)
    action.state = ActionState.CANCELLED if result.cancelled else ActionState.FIRED
    action.outcome = result.outcome[:200]
    action.last_error = None
    return result


def _fired(action: TimedAction, result: Result) -> Fired:
    """What the caller needs after the flush: the new actions' ids are known by then."""
    return Fired(
        action_id=action.id,
        state=action.state,
        outcome=action.outcome,
        lateness_seconds=action.lateness_seconds,
        follow_ups=tuple((follow.id, follow.due_at) for follow in result.follow_ups),
    )


def _handler(kind: str):
    # Imported here: the handlers use responder.scheduling.schedule, which this package exports.
    from responder.check_ins import service as check_ins
    from responder.scheduling import deadlines, escalations

    return {
        ActionKind.ESCALATION: escalations.fire_escalation,
        ActionKind.CHECK_IN: check_ins.send_check_in_round,
        ActionKind.CHECK_IN_REMINDER: check_ins.remind_check_in,
        ActionKind.CHECK_IN_MISSED: check_ins.flag_missed_check_in,
        ActionKind.DEADLINE: deadlines.announce_deadline,
        ActionKind.DEADLINE_REMINDER: deadlines.remind_deadline,
    }[kind]


def _record_failure(action_id: int, error: Exception) -> None:
    log.error("timed action %s failed: %s", action_id, error, exc_info=error)
    try:
        with unit_of_work():
            _count_failure(action_id, error)
    except SQLAlchemyError:
        # The database itself is the problem: the row stays pending for the next sweep.
        log.exception("could not record the failure of timed action %s", action_id)


def _count_failure(action_id: int, error: Exception) -> None:
    action = db.session.get(TimedAction, action_id, populate_existing=True)
    if action is not None and action.state == ActionState.PENDING:
        action.attempts += 1
        action.last_error = f"{type(error).__name__}: {error}"[:2000]
        if action.attempts >= MAX_ATTEMPTS:
            action.state = ActionState.FAILED
            timeline.record(
                action.incident,
                EventKind.TIMED_ACTION_FAILED,
                agency_key=action.activation.agency_key if action.activation is not None else None,
                action=action.kind,
                attempts=action.attempts,
                error=type(error).__name__,
                timed_action_id=action.id,
            )


def _duration_words(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days {hours % 24} h"
