"""The OpenAPI description of /api/v1, built from the marshmallow schemas the API itself uses.

Served at ``GET /api/v1/openapi.json`` so other systems (and schemathesis in CI,
tests/e2e/test_api_schema.py) can check requests and responses against it.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from responder.playbooks.registry import current_playbooks
from responder.web.api_schemas import CloseInputSchema, IncidentDetailSchema, IncidentInputSchema

OPENAPI_VERSION = "3.0.3"
# Every field of these is always present in a response (null where allowed).
RESPONSE_SCHEMAS = ("IncidentDetail", "Activation", "Offer", "TimelineEvent", "Error", "ValidationErrors")


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "What went wrong, in plain words"})


class ValidationErrorsSchema(Schema):
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        metadata={"description": "Messages per field; nothing was written"},
    )


def _error(description: str, schema: str = "Error") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


MALFORMED = _error("The request itself is malformed (for example, a NUL character in the address)")
UNAUTHORISED = _error("No valid API token: send Authorization: Bearer <token>")
TOO_LARGE = _error("The request body is over the size limit (1 MiB)")
REFERENCE = {
    "name": "reference",
    "in": "path",
    "required": True,
    "description": "Incident reference, for example BHM-2026-0042",
    "schema": {"type": "string"},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Send the same key with the same details again (for example after a timeout) and no second"
        " incident opens; the same key with other details is refused (422). Keys belong to their sender"
    ),
    "schema": {"type": "string", "minLength": 8, "maxLength": 64},
}


def build_spec() -> dict[str, Any]:
    """The description as a dict, with the local authorities that have a playbook right now."""
    spec = APISpec(
        title="Responder API",
        version="1",
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Open and read incidents for the multi-agency response to serious youth "
            "violence in the West Midlands. Every operation needs a bearer token "
            "(`flask --app wsgi users token EMAIL`)."
        },
        security=[{"bearerAuth": []}],
    )
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    spec.components.schema("IncidentInput", schema=IncidentInputSchema)
    spec.components.schema("IncidentDetail", schema=IncidentDetailSchema)
    spec.components.schema("CloseInput", schema=CloseInputSchema)
    spec.components.schema("Error", schema=ErrorSchema)
    spec.components.schema("ValidationErrors", schema=ValidationErrorsSchema)
    spec.path(path="/api/v1/incidents", operations={"post": _open_incident()})
    spec.path(path="/api/v1/incidents/{reference}", operations={"get": _incident_detail()})
    spec.path(path="/api/v1/incidents/{reference}/close", operations={"post": _close_incident()})
    document = spec.to_dict()
    _refine(document["components"]["schemas"])
    return document


def _open_incident() -> dict[str, Any]:
    return {
        "summary": "Open an incident: its playbook activates agencies and alerts their leads",
        "operationId": "openIncident",
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": {"required": True, "content": {"application/json": {"schema": "IncidentInput"}}},
        "responses": {
            "201": {
                "description": "Opened; leads are being alerted",
                "headers": {"Location": {"description": "The incident", "schema": {"type": "string"}}},
                "content": {"application/json": {"schema": "IncidentDetail"}},
                "links": {
                    "GetIncident": {
                        "operationId": "getIncident",
                        "parameters": {"reference": "$response.body#/reference"},
                    }
                },
            },
            "400": MALFORMED,
            "401": UNAUTHORISED,
            "403": _error("The local authority is outside the areas you work in", "Error"),
            "413": TOO_LARGE,
            "422": _error("Invalid input: messages per field, and nothing was written", "ValidationErrors"),
        },
    }


def _incident_detail() -> dict[str, Any]:
    return {
        "summary": "An incident with its activations, support offers and timeline",
        "operationId": "getIncident",
        "parameters": [REFERENCE],
        "responses": {
            "200": {
                "description": "The incident",
                "content": {"application/json": {"schema": "IncidentDetail"}},
            },
            "400": MALFORMED,
            "401": UNAUTHORISED,
            "403": _error("The incident is in a local authority this account may not see"),
            "404": _error("No incident has that reference"),
        },
    }


def _close_incident() -> dict[str, Any]:
    return {
        "summary": "Close an incident (managers): everything still scheduled is cancelled",
        "operationId": "closeIncident",
        "parameters": [REFERENCE],
        "requestBody": {"required": True, "content": {"application/json": {"schema": "CloseInput"}}},
        "responses": {
            "200": {"description": "Closed", "content": {"application/json": {"schema": "IncidentDetail"}}},
            "400": MALFORMED,
            "401": UNAUTHORISED,
            "403": _error("Only a manager can close an incident, or the incident is in another area"),
            "404": _error("No incident has that reference"),
            "409": _error("The incident is already closed"),
            "413": TOO_LARGE,
            "422": _error("Invalid input: messages per field, and nothing was written", "ValidationErrors"),
        },
    }


def _refine(schemas: dict[str, Any]) -> None:
    """What the marshmallow schemas say in code rather than in fields."""
    for name in RESPONSE_SCHEMAS:
        schemas[name]["required"] = sorted(schemas[name]["properties"])
    incoming = schemas["IncidentInput"]["properties"]
    incoming["local_authority"]["enum"] = sorted(current_playbooks().playbooks)
    incoming["location"]["pattern"] = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"  # not blank, no NUL
    incoming["summary"]["pattern"] = r"^[^\u0000]*$"
    incoming["occurred_at"]["description"] = "With a time zone offset; in the last year, not in the future"
    schemas["CloseInput"]["properties"]["reason"]["pattern"] = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
