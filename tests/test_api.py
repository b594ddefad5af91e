"""JSON API v1: bearer tokens, 201 on open, 422 naming each bad field, nothing half-written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from responder.clock import now_utc
from responder.extensions import db
from responder.models import ApiToken, Incident, Message

from .conftest import new_api_token

BODY = {
    "local_authority": "birmingham",
    "type": "stabbing",
    "occurred_at": (now_utc() - timedelta(hours=2)).isoformat(),
    "location": "Lozells Road",
    "summary": "free text, sensitive",
    "youngest_age": 16,
    "school_link": True,
    "tension": "high",
    "exercise": False,
}


@pytest.fixture
def token(make_user, directory):
    return new_api_token(make_user("officer"))


def post(client, body, token, **headers):
    return client.post(
        "/api/v1/incidents", json=body, headers={"Authorization": f"Bearer {token}", **headers}
    )


def incidents() -> int:
    return db.session.scalar(select(func.count()).select_from(Incident))


def test_open_an_incident_returns_201_with_its_activations(client, token):
    response = post(client, BODY, token)
    assert response.status_code == 201, response.json
    data = response.json
    assert data["reference"].startswith("BHM-")
    assert response.headers["Location"] == f"/api/v1/incidents/{data['reference']}"
    assert data["activations"] and all(a["state"] == "alerted" for a in data["activations"])
    assert data["timeline"][0]["kind"] == "opened"
    fetched = client.get(response.headers["Location"], headers={"Authorization": f"Bearer {token}"})
    assert fetched.status_code == 200 and fetched.json["reference"] == data["reference"]


def test_tokens_are_stored_hashed(token):
    stored = db.session.scalar(select(ApiToken))
    assert token not in stored.token_hash and len(stored.token_hash) == 64


def test_a_tokens_last_use_is_kept_to_the_minute_without_a_write_on_every_request(client, token):
    start = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)

    def last_used_after_a_request_at(moment: datetime) -> datetime:
        with freeze_time(moment):
            assert (
                post(
                    client, {**BODY, "occurred_at": (moment - timedelta(minutes=5)).isoformat()}, token
                ).status_code
                == 201
            )
        db.session.expire_all()
        return db.session.scalar(select(ApiToken.last_used_at))

    assert last_used_after_a_request_at(start) == start
    assert last_used_after_a_request_at(start + timedelta(seconds=59)) == start
    assert last_used_after_a_request_at(start + timedelta(seconds=61)) == start + timedelta(seconds=61)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"local_authority": "gotham"}, "local_authority"),
        ({"type": "mugging"}, "type"),
        ({"tension": "extreme"}, "tension"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": "2026-11-24T19:40:00"}, "occurred_at"),  # no time zone: ambiguous
        ({"occurred_at": "2999-01-01T00:00:00+00:00"}, "occurred_at"),
        ({"occurred_at": "0001-01-01T00:00:00+05:00"}, "occurred_at"),  # before the first UTC instant
        ({"occurred_at": "2016-11-24T19:40:00+00:00"}, "occurred_at"),  # 2016 for 2026: a typo
        ({"location": ""}, "location"),
        ({"location": "   "}, "location"),
        ({"youngest_age": -1}, "youngest_age"),
        ({"youngest_age": "16"}, "youngest_age"),
        ({"school_link": "perhaps"}, "school_link"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_invalid_input_is_a_422_naming_the_field(client, token, change, field):
    response = post(client, {**BODY, **change}, token)
    assert response.status_code == 422
    assert field in response.json["errors"]
    assert incidents() == 0
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0


@pytest.mark.parametrize("missing", ["local_authority", "type", "occurred_at", "location", "tension"])
def test_each_required_field_is_named_when_missing(client, token, missing):
    body = {key: value for key, value in BODY.items() if key != missing}
    response = post(client, body, token)
    assert response.status_code == 422
    assert missing in response.json["errors"]


@pytest.mark.parametrize("payload", ["not json", "[1, 2]", "null"])
def test_a_body_that_is_not_an_object_is_a_422(client, token, payload):
    response = client.post(
        "/api/v1/incidents",
        data=payload,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 422


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer wrong-token", "Basic abc"])
def test_no_valid_token_is_a_401(client, header):
    headers = {"Authorization": header} if header else {}
    response = client.post("/api/v1/incidents", json=BODY, headers=headers)
    assert response.status_code == 401
    assert incidents() == 0


def test_a_retry_with_the_same_idempotency_key_opens_one_incident(client, token):
    first = post(client, BODY, token, **{"Idempotency-Key": "retry-0001"})
    second = post(client, BODY, token, **{"Idempotency-Key": "retry-0001"})
    assert first.json["reference"] == second.json["reference"]
    assert incidents() == 1


def test_unknown_incident_is_a_json_404(client, token):
    response = client.get("/api/v1/incidents/BHM-2026-9999", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404
    assert response.is_json


@pytest.fixture
def manager_token(make_user, directory):
    return new_api_token(make_user("manager"))


def close(client, reference, token, body):
    return client.post(
        f"/api/v1/incidents/{reference}/close", json=body, headers={"Authorization": f"Bearer {token}"}
    )


def test_a_manager_closes_an_incident_through_the_api(client, token, manager_token):
    reference = post(client, BODY, token).json["reference"]
    response = close(client, reference, manager_token, {"reason": "Review complete"})
    assert response.status_code == 200, response.json
    assert response.json["status"] == "closed"
    assert any(
        "Status changed from open to closed: Review complete" in e["detail"]
        for e in response.json["timeline"]
    )
    again = close(client, reference, manager_token, {"reason": "again"})
    assert again.status_code == 409 and "is closed" in again.json["error"]


def test_an_officer_token_cannot_close(client, token):
    reference = post(client, BODY, token).json["reference"]
    assert close(client, reference, token, {"reason": "done"}).status_code == 403
    assert db.session.scalar(select(Incident)).status == "open"


@pytest.mark.parametrize("body", [{}, {"reason": "  "}, {"reason": 5}, {"reason": "ok", "extra": 1}])
def test_closing_needs_a_reason(client, token, manager_token, body):
    reference = post(client, BODY, token).json["reference"]
    response = close(client, reference, manager_token, body)
    assert response.status_code == 422
    assert db.session.scalar(select(Incident)).status == "open"


def test_closing_an_unknown_incident_is_404(client, manager_token):
    assert close(client, "BHM-2026-9999", manager_token, {"reason": "x"}).status_code == 404
