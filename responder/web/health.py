"""Liveness for load balancers and operators: ``GET /healthz`` (responder.operations.health)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from responder.operations.health import check_health

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    health = check_health(current_app._get_current_object())
    return jsonify(health.as_json()), 200 if health.healthy else 503
