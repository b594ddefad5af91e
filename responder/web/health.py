"""Liveness for load balancers and operators.

Degraded (503) when the database is unreachable, the playbooks are invalid,
the oldest unsent message has waited longer than HEALTH_OUTBOX_MAX_AGE_SECONDS,
or - where a scheduler is expected (HEALTH_EXPECT_SCHEDULER, on in production)
- its heartbeat is older than HEALTH_SCHEDULER_STALE_SECONDS: alerts would
then go out late or escalations never fire, and somebody must look now.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from responder.clock import now_utc
from responder.extensions import db
from responder.operations import service_state
from responder.playbooks import PlaybookError
from responder.playbooks.registry import current_playbooks

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    checks = {"database": "ok", "playbooks": "ok", "scheduler": current_app.config["SCHEDULER"]}
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        checks["database"] = "unreachable"
    try:
        current_playbooks()
    except PlaybookError:
        checks["playbooks"] = "invalid"
    healthy = checks["database"] == "ok" and checks["playbooks"] == "ok"
    if checks["database"] == "ok":
        try:
            healthy = _check_flow(checks) and healthy
        except SQLAlchemyError:
            db.session.rollback()
            checks["database"] = "unreachable"
            healthy = False
    return jsonify({"status": "ok" if healthy else "degraded", **checks}), 200 if healthy else 503


def _check_flow(checks: dict) -> bool:
    """The outbox and (where one is expected) the scheduler; True when both are keeping up."""
    config = current_app.config
    now = now_utc()
    healthy = True
    age = service_state.outbox_backlog().oldest_pending_age(now)
    checks["oldest_pending_message_age_seconds"] = round(age.total_seconds()) if age is not None else None
    checks["outbox"] = "ok"
    if age is not None and age > timedelta(seconds=config["HEALTH_OUTBOX_MAX_AGE_SECONDS"]):
        checks["outbox"] = "backlog"
        healthy = False
    if config["HEALTH_EXPECT_SCHEDULER"]:
        heartbeat = service_state.scheduler_heartbeat()
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
    return healthy
