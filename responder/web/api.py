"""JSON API, version 1: bearer-token access for other systems."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps

from flask import Blueprint, abort, g, jsonify, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from responder.clock import now_utc
from responder.extensions import csrf, db
from responder.incidents import lifecycle
from responder.incidents import view as incident_view
from responder.incidents.access import OutsideYourAreas, find_visible
from responder.incidents.lifecycle import LifecycleError
from responder.incidents.opening import SubmissionConflict, open_incident
from responder.models import ApiToken, Incident, Role, User
from responder.timeline.naming import naming_for
from responder.unit_of_work import retried_on_conflict
from responder.web.api_schemas import (
    CloseInputSchema,
    IncidentDetailSchema,
    IncidentInputSchema,
    TimelineEventSchema,
)
from responder.web.openapi import build_spec

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # bearer tokens, not cookies: no cross-site request can carry one


def _bearer_user() -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    digest = hashlib.sha256(raw.strip().encode("utf-8")).hexdigest()
    token = db.session.scalar(
        select(ApiToken).options(joinedload(ApiToken.user)).where(ApiToken.token_hash == digest)
    )
    now = now_utc()
    if token is None or not token.usable_at(now) or not token.user.active:
        return None
    token.note_use(now)
    return token.user


def token_required(role: Role = Role.OFFICER) -> Callable:
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = _bearer_user()
            if user is None:
                return _error(401, "Send a valid API token: Authorization: Bearer <token>")
            if not user.has_role(role):
                return _error(403, f"This needs the {role} role")
            g.api_user = user
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _error(status: int, message: str):
    response = jsonify({"error": message})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="responder"'
    return response


@bp.post("/incidents")
@token_required()
@retried_on_conflict
def create_incident():
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return jsonify({"errors": {"_body": ["Send a JSON object"]}}), 422
    try:
        report = IncidentInputSchema().load(payload)
    except ValidationError as error:
        return jsonify({"errors": error.messages}), 422
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 8 <= len(key) <= 64:
        return jsonify({"errors": {"Idempotency-Key": ["Must be 8 to 64 characters"]}}), 422
    try:
        incident = open_incident(report, g.api_user, submission_key=f"api:{key}" if key else None)
    except OutsideYourAreas as refused:
        return _error(403, str(refused))
    except SubmissionConflict as conflict:
        return jsonify({"errors": {"Idempotency-Key": [str(conflict)]}}), 422
    response = jsonify(incident_body(incident))
    response.status_code = 201
    response.headers["Location"] = url_for("api.incident_detail", reference=incident.reference)
    return response


@bp.get("/incidents/<reference>")
@token_required()
def incident_detail(reference: str):
    return jsonify(incident_body(_visible_incident(reference)))


@bp.post("/incidents/<reference>/close")
@token_required(Role.MANAGER)
def close_incident(reference: str):
    """Close an incident (managers): everything still scheduled is cancelled."""
    incident = _visible_incident(reference)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return jsonify({"errors": {"_body": ["Send a JSON object"]}}), 422
    try:
        reason = CloseInputSchema().load(payload)["reason"]
    except ValidationError as error:
        return jsonify({"errors": error.messages}), 422
    try:
        lifecycle.close(incident, g.api_user, reason)
    except LifecycleError as error:
        return _error(409, str(error))
    return jsonify(incident_body(incident))


def incident_body(incident: Incident) -> dict:
    """The incident as the API gives it, with its whole timeline in words, oldest first."""
    body = IncidentDetailSchema(exclude=("timeline",)).dump(incident)
    naming = naming_for(incident, redacted=False)
    body["timeline"] = TimelineEventSchema(many=True).dump(
        incident_view.timeline(incident, naming, oldest_first=True, limit=None).entries
    )
    return body


def _visible_incident(reference: str):
    """The incident if the caller may see it; 404 otherwise, as for one that does not exist."""
    incident = find_visible(g.api_user, reference)
    if incident is None:
        abort(404)
    return incident


@bp.get("/openapi.json")
def openapi_description():
    """The OpenAPI description of this API (public: it holds no data)."""
    return jsonify(build_spec())
