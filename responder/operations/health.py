"""Is the service working? The checks behind ``GET /healthz``, answered within a bound.

The database checks run in a thread of their own, and the answer waits for
them at most ``HEALTH_TIMEOUT_SECONDS``: a database that hangs (frozen,
partitioned, or past its connection limit) makes ``/healthz`` say
"degraded" at once instead of hanging the load balancer's probe with it.
While one check is still waiting for the database, no second one starts;
the next probe reports how long the database has not answered.

Degraded means somebody must look now:

* the database is unreachable or does not answer;
* the playbooks are invalid;
* the oldest unsent message has waited longer than HEALTH_OUTBOX_MAX_AGE_SECONDS;
* a provider has refused or timed out every attempt for PROVIDER_DOWN_AFTER_SECONDS
  (one lead's wrong number is not the service's health: /metrics counts those);
* where a scheduler is expected (HEALTH_EXPECT_SCHEDULER), its heartbeat is
  older than HEALTH_SCHEDULER_STALE_SECONDS.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from responder.clock import now_utc
from responder.extensions import db
from responder.operations import service_state
from responder.playbooks import PlaybookError
from responder.playbooks.registry import current_playbooks
from responder.unit_of_work import unit_of_work

_PROBE_KEY = "responder.health_probe"


@dataclass
class Health:
    healthy: bool
    checks: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"status": "ok" if self.healthy else "degraded", **self.checks}


def check_health(app: Flask) -> Health:
    """Every check, the database ones bounded by HEALTH_TIMEOUT_SECONDS. Needs an app context."""
    checks: dict[str, Any] = {"database": "ok", "playbooks": "ok", "scheduler": app.config["SCHEDULER"]}
    try:
        current_playbooks()
    except PlaybookError:
        checks["playbooks"] = "invalid"
    flow = _probe_for(app).result(app, app.config["HEALTH_TIMEOUT_SECONDS"])
    checks.update(flow.checks)
    return Health(flow.healthy and checks["playbooks"] == "ok", checks)


class _Probe:
    """One database check at a time per process; a caller waits for it only so long."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: Future[Health] | None = None
        self._started = 0.0

    def result(self, app: Flask, timeout: float) -> Health:
        with self._lock:
            if self._running is None or self._running.done():
                self._running = Future()
                self._started = time.monotonic()
                threading.Thread(
                    target=self._run, args=(app, self._running), name="responder-health", daemon=True
                ).start()
            running, started = self._running, self._started
        try:
            return running.result(timeout=max(timeout - (time.monotonic() - started), 0.05))
        except TimeoutError:
            waited = round(time.monotonic() - started, 1)
            return Health(False, {"database": "not answering", "database_wait_seconds": waited})

    @staticmethod
    def _run(app: Flask, future: Future[Health]) -> None:
        try:
            with app.app_context():
                future.set_result(_flow(app))
        except Exception as error:
            future.set_result(Health(False, {"database": "unreachable", "error": type(error).__name__}))


def _probe_for(app: Flask) -> _Probe:
    return app.extensions.setdefault(_PROBE_KEY, _Probe())


def _flow(app: Flask) -> Health:
    """The database, the outbox, the providers and (where expected) the scheduler."""
    config = app.config
    checks: dict[str, Any] = {"database": "ok"}
    now = now_utc()
    try:
        with unit_of_work():
            db.session.execute(text("SELECT 1"))
            backlog = service_state.outbox_backlog()
            providers = service_state.failing_providers(
                now - timedelta(seconds=config["PROVIDER_DOWN_AFTER_SECONDS"])
            )
            heartbeat = service_state.scheduler_heartbeat() if config["HEALTH_EXPECT_SCHEDULER"] else None
    except SQLAlchemyError as error:
        return Health(False, {"database": "unreachable", "error": type(error).__name__})
    healthy = True
    age = backlog.oldest_pending_age(now)
    checks["oldest_pending_message_age_seconds"] = round(age.total_seconds()) if age is not None else None
    checks["outbox"] = "ok"
    if age is not None and age > timedelta(seconds=config["HEALTH_OUTBOX_MAX_AGE_SECONDS"]):
        checks["outbox"], healthy = "backlog", False
    checks["providers"] = {channel: "failing" for channel in providers} or "ok"
    healthy = healthy and not providers
    if config["HEALTH_EXPECT_SCHEDULER"]:
        heartbeat_age = heartbeat.age(now) if heartbeat is not None else None
        checks["scheduler_heartbeat_age_seconds"] = (
            round(heartbeat_age.total_seconds()) if heartbeat_age is not None else None
        )
        if heartbeat_age is None:
            checks["scheduler"] = "missing"
        elif heartbeat_age > timedelta(seconds=config["HEALTH_SCHEDULER_STALE_SECONDS"]):
            checks["scheduler"] = "stale"
        else:
            checks["scheduler"] = "ok"
        healthy = healthy and checks["scheduler"] == "ok"
    return Health(healthy, checks)
