"""Liveness for load balancers and operators."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from responder.extensions import db
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
    return jsonify({"status": "ok" if healthy else "degraded", **checks}), 200 if healthy else 503
