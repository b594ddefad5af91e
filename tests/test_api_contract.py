"""The API's OpenAPI description, and contract details schemathesis found (tests/e2e/test_api_schema.py)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from responder.extensions import db
from responder.models import Incident
from responder.playbooks.registry import current_playbooks

from .conftest import new_api_token
from .test_api import BODY


@pytest.fixture
def token(make_user, directory):
    return new_api_token(make_user("officer"))


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.json


def refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_the_description_is_public_and_names_bearer_auth_and_every_answer(spec):
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert spec["security"] == [{"bearerAuth": []}]
    open_incident = spec["paths"]["/api/v1/incidents"]["post"]
    assert {"201", "401", "422"} <= set(open_incident["responses"])
    assert {"200", "401", "404"} <= set(spec["paths"]["/api/v1/incidents/{reference}"]["get"]["responses"])
    for ref in refs(spec):
        name = ref.removeprefix("#/components/schemas/")
        assert name in spec["components"]["schemas"], ref


def test_the_description_offers_exactly_the_local_authorities_with_playbooks(spec):
    listed = spec["components"]["schemas"]["IncidentInput"]["properties"]["local_authority"]["enum"]
    assert listed == sorted(current_playbooks().playbooks) and "birmingham" in listed


def test_a_response_has_exactly_the_fields_the_description_promises(client, token, spec):
    schemas = spec["components"]["schemas"]
    detail = client.post("/api/v1/incidents", json=BODY, headers={"Authorization": f"Bearer {token}"}).json
    assert set(detail) == set(schemas["IncidentDetail"]["required"])
    for key, schema in (
        ("activations", "Activation"),
        ("support_offers", "Offer"),
        ("timeline", "TimelineEvent"),
    ):
        assert detail[key], key
        assert all(set(item) == set(schemas[schema]["required"]) for item in detail[key]), key


@pytest.mark.parametrize("value", [0, 1, "yes", "true", "on", None])
@pytest.mark.parametrize("field", ["school_link", "exercise"])
def test_yes_or_no_fields_take_only_json_true_or_false(client, token, field, value):
    response = client.post(
        "/api/v1/incidents", json={**BODY, field: value}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 422 and field in response.json["errors"]
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/v1/incidents", {"POST"}),
        ("DELETE", "/api/v1/incidents/BHM-2026-0001", {"GET"}),
        ("TRACE", "/login", {"GET", "POST"}),
    ],
)
def test_a_wrong_method_is_answered_405_with_the_allowed_methods(client, method, path, allowed):
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert allowed <= {name.strip() for name in response.headers["Allow"].split(",")}


@pytest.mark.parametrize("escape", ["\\u0000", "\\ud800", "\\udfff"])
@pytest.mark.parametrize("field", ["location", "summary"])
def test_text_no_database_can_hold_is_refused_with_422(client, token, field, escape):
    """JSON can spell a NUL or half a UTF-16 pair; either used to end in a 500."""
    body = json.dumps({**BODY, field: "PROBE-TEXT"}).replace("PROBE-TEXT", f"probe{escape} text")
    response = client.post(
        "/api/v1/incidents",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 422 and field in response.json["errors"]
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0
