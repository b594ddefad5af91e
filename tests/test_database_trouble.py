"""When the database is down: 503 with Retry-After on a page that needs no database, and /healthz in time."""

from __future__ import annotations

import socket
import time

import pytest
from flask import Flask

from responder.web.errors import RETRY_AFTER_SECONDS

from .conftest import PASSWORD


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def database_down(make_app) -> Flask:
    """The app pointed at a PostgreSQL server that is not there (nothing listens on the port)."""
    return make_app(
        SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/test",
        DATABASE_CONNECT_TIMEOUT_SECONDS=1,
        PROPAGATE_EXCEPTIONS=False,
    )


def signed_in_cookie(client, user) -> str:
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client.get_cookie("session").value


def test_staff_get_a_page_with_the_duty_number_not_a_bare_500(database_down, client, make_user):
    cookie = signed_in_cookie(client, make_user("officer"))
    down = database_down.test_client()
    down.set_cookie("session", cookie)
    response = down.get("/incidents")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    page = response.get_data(as_text=True)
    assert "cannot reach its database" in page and database_down.config["VRU_DUTY_NUMBER"] in page


def test_a_lead_opening_a_link_gets_the_same_page(database_down):
    response = database_down.test_client().get("/a/AbCdEfGhIjKlMnOpQrStUvWxYz012345")
    assert response.status_code == 503 and "Retry-After" in response.headers
    assert database_down.config["VRU_DUTY_NUMBER"] in response.get_data(as_text=True)


def test_the_api_answers_503_in_json(database_down):
    response = database_down.test_client().get(
        "/api/v1/incidents/BHM-2026-0001", headers={"Authorization": "Bearer rsp_not-checked"}
    )
    assert response.status_code == 503 and response.is_json
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)


def test_a_post_whose_commit_fails_is_503_and_keeps_nothing(
    app, client, make_incident, make_user, monkeypatch
):
    from sqlalchemy.exc import OperationalError

    from responder.extensions import db

    incident = make_incident()
    signed_in_cookie(client, make_user("officer"))
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def commit_fails():
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(db.session, "commit", commit_fails)
    response = client.post(f"/incidents/{incident.reference}/updates", data={"text": "Street team out"})
    assert response.status_code == 503 and "Retry-After" in response.headers
    monkeypatch.undo()
    db.session.rollback()
    assert not [e for e in incident.events if e.kind == "update_posted"]


def test_healthz_answers_degraded_within_its_bound(database_down):
    started = time.monotonic()
    response = database_down.test_client().get("/healthz")
    took = time.monotonic() - started
    assert response.status_code == 503 and response.json["status"] == "degraded"
    assert response.json["database"] in ("unreachable", "not answering")
    assert took < database_down.config["HEALTH_TIMEOUT_SECONDS"] + 0.5
