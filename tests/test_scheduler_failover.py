"""Two real `flask scheduler run` processes on PostgreSQL: one leads, one waits; SIGKILL the leader
mid-run and every one of 200 actions still fires exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from responder.clock import now_utc
from responder.extensions import db
from responder.models import ActionState, SchedulerLease, TimedAction

from .conftest import ROOT, is_postgres
from .test_scheduler_runtime import deadline_actions, fired_events, job_store, wait_until

__all__ = ["job_store"]  # the fixture, imported for use here

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(not is_postgres(os.environ.get("TEST_DATABASE_URL", "")), reason="PostgreSQL only"),
]

ACTIONS = 200
FLASK = Path(sys.executable).parent / "flask"


def start_scheduler(database_url: str, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "RESPONDER_ENV": "testing",
        "TEST_DATABASE_URL": database_url,
        "DATABASE_URL": database_url,
        "SCHEDULER_LEASE_SECONDS": "2",
        "SCHEDULER_RECONCILE_SECONDS": "1",
        "OUTBOX_SWEEP_SECONDS": "3600",
    }
    with log.open("w") as out:
        return subprocess.Popen(
            [str(FLASK), "--app", "wsgi", "scheduler", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def leader_pid() -> int | None:
    lease = db.session.scalar(select(SchedulerLease).where(SchedulerLease.expires_at > now_utc()))
    return int(lease.holder.split(":")[1]) if lease is not None else None


def fired_count(action_ids: list[int]) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(TimedAction)
        .where(TimedAction.id.in_(action_ids), TimedAction.state == ActionState.FIRED)
    )


def test_a_killed_leader_is_replaced_and_every_action_fires_exactly_once(
    app, database_url, make_incident, job_store, tmp_path
):
    incident = make_incident()
    start = now_utc() + timedelta(seconds=6)
    action_ids = deadline_actions(incident, [start + timedelta(milliseconds=50 * n) for n in range(ACTIONS)])

    processes = {}
    try:
        for name in ("a", "b"):
            process = start_scheduler(database_url, tmp_path / f"scheduler-{name}.log")
            processes[process.pid] = process
        first = wait_until(lambda: leader_pid() in processes and leader_pid(), timeout=60, what="a leader")

        wait_until(lambda: fired_count(action_ids) >= 20, timeout=60, what="the first actions to fire")
        processes[first].send_signal(signal.SIGKILL)
        processes[first].wait(timeout=10)
        fired_when_killed = fired_count(action_ids)

        wait_until(lambda: leader_pid() not in (None, first), timeout=60, what="the standby to take over")
        wait_until(lambda: fired_count(action_ids) == ACTIONS, timeout=120, what="every action to fire")
        time.sleep(2)  # a couple more sweeps by the new leader: nothing fires twice
        db.session.rollback()
    except AssertionError:
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in tmp_path.glob("scheduler-*.log"))
        raise AssertionError(f"scheduler logs:\n{logs}") from None
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    assert 0 < fired_when_killed < ACTIONS, "the leader was killed mid-run"
    db.session.expire_all()
    assert fired_events(action_ids) == Counter({action_id: 1 for action_id in action_ids})
    survivor = next(pid for pid in processes if pid != first)
    assert processes[survivor].returncode == 0  # SIGTERM: a clean stop
