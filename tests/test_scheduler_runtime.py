"""The real scheduler in this process: restarts fire overdue actions once; the lease; embedded mode.

These run APScheduler on the real clock, so they wait - always with a bound,
never asserting how long anything took.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from freezegun import freeze_time
from sqlalchemy import select

from responder.clock import now_utc
from responder.extensions import db
from responder.models import ActionKind, ActionState, EventKind, TimedAction, TimelineEvent
from responder.scheduling import add_action
from responder.scheduling.job_store import JOBS_TABLE
from responder.scheduling.lease import Lease
from responder.scheduling.runtime import SchedulerRuntime, embedded_runtime, job_id
from tests.timeline_words import said

FAST = {"SCHEDULER_RECONCILE_SECONDS": 1, "SCHEDULER_LEASE_SECONDS": 3, "OUTBOX_SWEEP_SECONDS": 3600}


def wait_until(condition, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        db.session.expire_all()
        if result := condition():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def job_store(app):
    """APScheduler's table is not in our metadata: empty it before and after."""

    def empty():
        if sa.inspect(db.engine).has_table(JOBS_TABLE):
            with db.engine.begin() as conn:
                conn.execute(sa.text(f"DELETE FROM {JOBS_TABLE}"))  # noqa: S608 - a constant

    empty()
    yield
    empty()


@contextmanager
def running(runtime: SchedulerRuntime):
    thread = threading.Thread(target=runtime.run, daemon=True)
    thread.start()
    try:
        yield runtime
    finally:
        runtime.stop()
        thread.join(timeout=30)
        assert not thread.is_alive()


def deadline_actions(incident, dues: list[datetime]) -> list[int]:
    rows = [
        add_action(
            incident,
            ActionKind.DEADLINE,
            due,
            details={"name": f"Test deadline {n}", "notify": "bham-vru-duty", "due": due.isoformat()},
        )
        for n, due in enumerate(dues)
    ]
    db.session.commit()
    return [row.id for row in rows]


def fired_events(action_ids: list[int]) -> Counter:
    events = db.session.scalars(select(TimelineEvent).where(TimelineEvent.kind == EventKind.DEADLINE_DUE))
    return Counter(e.data["timed_action_id"] for e in events if e.data["timed_action_id"] in action_ids)


def states(action_ids: list[int]) -> dict[int, str]:
    rows = db.session.execute(select(TimedAction.id, TimedAction.state).where(TimedAction.id.in_(action_ids)))
    return dict(rows.all())


def test_a_restart_fires_every_overdue_action_once_and_records_how_late(app, make_incident, job_store):
    app.config.update(FAST)
    incident = make_incident()
    soon = now_utc() + timedelta(seconds=3)
    timed = deadline_actions(incident, [soon] * 5)

    # The first scheduler stores jobs for what is due soon, then stops before they are due.
    with running(SchedulerRuntime(app)) as first:
        wait_until(
            lambda: (
                first.scheduler
                and {j.id for j in first.scheduler.get_jobs("default")} >= {job_id(i) for i in timed}
            ),
            what="stored jobs for the actions due soon",
        )

    # While it is down, the web writes actions that fall due, and those jobs' times pass.
    now = now_utc()
    written_while_down = deadline_actions(
        incident, [now - timedelta(hours=2), now - timedelta(minutes=5)] * 5
    )
    wait_until(lambda: now_utc() > soon + timedelta(seconds=1), what="the stored jobs to fall due")

    every = timed + written_while_down
    with running(SchedulerRuntime(app)):
        wait_until(lambda: set(states(every).values()) == {ActionState.FIRED}, what="every action to fire")
        time.sleep(1.5)  # another sweep or two: nothing fires again
    db.session.expire_all()
    assert fired_events(every) == Counter({action_id: 1 for action_id in every})
    rows = db.session.scalars(select(TimedAction).where(TimedAction.id.in_(every))).all()
    lateness = {row.id: row.lateness_seconds for row in rows}
    assert all(lateness[i] >= 2 * 3600 for i in written_while_down[::2])
    assert all(lateness[i] > 0 for i in timed)
    late_event = db.session.scalars(
        select(TimelineEvent).where(TimelineEvent.kind == EventKind.DEADLINE_DUE).order_by(TimelineEvent.id)
    ).all()
    assert any("this ran 2 h 0 min late" in said(event) for event in late_event)


def test_rows_written_by_a_web_worker_get_jobs_from_the_sweep(app, make_incident, job_store):
    app.config.update(FAST)
    incident = make_incident()
    with running(SchedulerRuntime(app)) as runtime:
        wait_until(lambda: runtime.last_reconcile is not None, what="the first reconciliation")
        # Written after the scheduler started, by a process without one.
        [action_id] = deadline_actions(incident, [now_utc() + timedelta(seconds=2)])
        wait_until(lambda: states([action_id])[action_id] == ActionState.FIRED, what="the action to fire")
    assert fired_events([action_id]) == Counter({action_id: 1})


def test_a_standby_takes_the_lease_only_once_it_runs_out(app):
    first = Lease(db.engine, "first", timedelta(seconds=10))
    second = Lease(db.engine, "second", timedelta(seconds=10))
    start = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    with freeze_time(start):
        assert first.acquire()
        assert not second.acquire()
    with freeze_time(start + timedelta(seconds=9)):
        assert first.renew()  # the heartbeat: now good until +19 s
    with freeze_time(start + timedelta(seconds=18)):
        assert not second.acquire()
    with freeze_time(start + timedelta(seconds=20)):
        assert second.acquire()
        assert not first.renew()  # the old leader learns it must stand down
    with freeze_time(start + timedelta(seconds=21)):
        second.release()  # a clean shutdown hands over at once
    with freeze_time(start + timedelta(seconds=21, milliseconds=1)):
        assert first.acquire()


def test_two_runtimes_in_one_database_only_one_leads(app, job_store):
    app.config.update(FAST)
    with running(SchedulerRuntime(app)) as first, running(SchedulerRuntime(app)) as second:
        wait_until(
            lambda: {first.state, second.state} == {"leader", "standby"}, what="a leader and a standby"
        )
        leader, standby = (first, second) if first.state == "leader" else (second, first)
        leader.stop()
        wait_until(lambda: standby.state == "leader", what="the standby to take over")


def test_the_embedded_scheduler_starts_with_the_first_request_and_not_before(make_app, job_store):
    app = make_app(SCHEDULER="embedded", **FAST)
    runner = app.test_cli_runner()
    runner.invoke(args=["playbooks", "check"])
    assert embedded_runtime(app) is None
    assert not [t for t in threading.enumerate() if t.name == "responder-scheduler"]
    with app.app_context():
        app.test_client().get("/healthz")
        runtime = embedded_runtime(app)
        assert runtime is not None
        app.test_client().get("/healthz")
        assert embedded_runtime(app) is runtime  # once per process
        try:
            wait_until(lambda: runtime.state == "leader", what="the embedded scheduler to lead")
        finally:
            runtime.stop()
            wait_until(lambda: runtime.state == "stopped", what="the embedded scheduler to stop")


def test_scheduler_off_never_starts_one(make_app):
    app = make_app(SCHEDULER="off")
    with app.app_context():
        app.test_client().get("/healthz")
    assert embedded_runtime(app) is None


def _first_rung(incident) -> list[TimedAction]:
    actions = db.session.scalars(
        select(TimedAction).where(
            TimedAction.incident_id == incident.id, TimedAction.kind == ActionKind.ESCALATION
        )
    ).all()
    first = min(action.due_at for action in actions)
    return sorted((a for a in actions if a.due_at == first), key=lambda a: a.id)


def test_actions_due_together_fire_in_one_commit(app, make_incident):
    from responder.scheduling.firing import fire_due_together

    with freeze_time(datetime(2026, 11, 24, 21, 40, tzinfo=UTC)):
        incident = make_incident()
    rung = _first_rung(incident)
    assert len(rung) > 3
    commits = []

    def count(conn):
        commits.append(1)

    sa.event.listen(db.engine, "commit", count)
    try:
        with freeze_time(rung[0].due_at + timedelta(seconds=1)):
            fired = fire_due_together(rung[-1].id)
    finally:
        sa.event.remove(db.engine, "commit", count)
    assert {f.action_id for f in fired} == {action.id for action in rung}
    # One commit to look, one for the batch: not one per action.
    assert len(commits) <= 2 < len(rung)


def test_one_failing_action_in_a_batch_holds_up_none_of_the_others(app, make_incident, break_escalation):
    from responder.scheduling.firing import fire_due_together

    with freeze_time(datetime(2026, 11, 24, 21, 40, tzinfo=UTC)):
        incident = make_incident()
    rung = _first_rung(incident)
    broken = rung[1]
    break_escalation(broken.id, "a bug in one handler")
    with freeze_time(rung[0].due_at + timedelta(seconds=1)):
        fired = fire_due_together(rung[0].id)
    assert {f.action_id for f in fired} == {action.id for action in rung} - {broken.id}
    db.session.expire_all()
    assert broken.state == ActionState.PENDING and broken.attempts == 1
    assert "a bug in one handler" in broken.last_error
    assert all(db.session.get(TimedAction, a.id).state == ActionState.FIRED for a in rung if a is not broken)


def test_deadlines_due_together_look_up_who_is_on_duty_once(app, make_incident):
    from responder.scheduling.firing import fire_due_together

    incident = make_incident()
    due = now_utc() + timedelta(minutes=1)  # before anything the opening scheduled
    names = [f"Strategy meeting {n}" for n in range(6)]
    actions = [
        add_action(
            incident,
            ActionKind.DEADLINE,
            due,
            details={"name": name, "notify": "bham-vru-duty", "due": due.isoformat()},
        )
        for name in names
    ]
    db.session.commit()
    rota_lookups = []

    def count(conn, cursor, statement, *args):
        if "FROM rotas" in statement:
            rota_lookups.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        with freeze_time(due + timedelta(seconds=1)):
            fired = fire_due_together(actions[0].id)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert {f.action_id for f in fired} == {action.id for action in actions}
    assert len(rota_lookups) == 1
    told = db.session.scalars(
        select(TimelineEvent).where(
            TimelineEvent.incident_id == incident.id, TimelineEvent.kind == EventKind.DEADLINE_DUE
        )
    ).all()
    assert sorted(event.data["name"] for event in told) == names


def test_a_batch_reads_the_incidents_it_is_about_once(app, make_incident):
    from responder.scheduling.firing import fire_due_together

    incidents = [make_incident() for _ in range(4)]
    due = now_utc() + timedelta(minutes=1)  # before anything the openings scheduled
    actions = [
        add_action(
            incident,
            ActionKind.DEADLINE,
            due,
            details={"name": "Strategy meeting", "notify": "bham-vru-duty", "due": due.isoformat()},
        )
        for incident in incidents
    ]
    db.session.commit()
    ids = [action.id for action in actions]
    del incidents, actions
    db.session.expunge_all()  # nothing of the openings held in memory, as in the scheduler process
    incident_reads = []

    def count(conn, cursor, statement, *args):
        if "FROM incidents" in statement:
            incident_reads.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        with freeze_time(due + timedelta(seconds=1)):
            fired = fire_due_together(ids[0])
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert {f.action_id for f in fired} == set(ids)
    assert len(incident_reads) == 1
