"""Who may see and open what: one query for every list, page and API call; keys that belong to their sender."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from responder.clock import now_utc
from responder.extensions import db
from responder.incidents import view as incident_view
from responder.models import Incident, IncidentArea, User

from .conftest import PASSWORD, counting_statements, new_api_token
from .test_web_incidents import form_data


def body(local_authority: str = "birmingham", **overrides) -> dict:
    values = {
        "local_authority": local_authority,
        "type": "stabbing",
        "occurred_at": (now_utc() - timedelta(minutes=30)).isoformat(),
        "location": "Lozells Road",
        "summary": "sensitive",
        "youngest_age": 16,
        "school_link": True,
        "tension": "high",
        "exercise": False,
    }
    return {**values, **overrides}


def officer_of(make_user, *areas: str) -> User:
    officer = make_user("officer")
    officer.local_authorities = list(areas) or None
    db.session.commit()
    return officer


def post_incident(client, token: str, payload: dict, key: str | None = None):
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    return client.post("/api/v1/incidents", json=payload, headers=headers)


# --- idempotency keys belong to whoever sent them ---------------------------------------------


def test_someone_elses_idempotency_key_opens_a_new_incident_not_theirs(client, directory, make_user):
    birmingham = new_api_token(officer_of(make_user, "birmingham"))
    coventry = new_api_token(officer_of(make_user, "coventry"))
    first = post_incident(client, birmingham, body("birmingham"), key="shared-key-0001")
    second = post_incident(
        client, coventry, body("coventry", location="Foleshill Road"), key="shared-key-0001"
    )
    assert first.status_code == second.status_code == 201
    assert second.json["reference"].startswith("COV-")
    assert "Lozells" not in second.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 2


def test_the_same_key_with_different_details_from_the_same_person_is_refused(client, directory, make_user):
    token = new_api_token(officer_of(make_user))
    sent = body()
    assert post_incident(client, token, sent, key="retry-key-0001").status_code == 201
    again = post_incident(client, token, sent, key="retry-key-0001")
    assert again.status_code == 201  # a retry: the same incident
    changed = post_incident(client, token, {**sent, "location": "Soho Road"}, key="retry-key-0001")
    assert changed.status_code == 422
    assert "different details" in changed.json["errors"]["Idempotency-Key"][0]
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 1


def test_a_form_submission_key_from_someone_else_is_a_new_form(client, directory, make_user, login):
    first, second = make_user("officer"), make_user("officer")
    form = form_data(submission_key="form-key-shared-0001")
    login(first)
    client.post("/incidents/new", data=form)
    client.post("/logout")
    login(second)
    client.post("/incidents/new", data={**form, "location": "Soho Road"})
    opened = db.session.scalars(select(Incident).order_by(Incident.id)).all()
    assert [incident.location for incident in opened] == ["Lozells Road", "Soho Road"]


# --- areas ------------------------------------------------------------------------------------


def test_an_officer_cannot_open_an_incident_outside_their_areas_through_the_api(client, directory, make_user):
    token = new_api_token(officer_of(make_user, "coventry"))
    refused = post_incident(client, token, body("birmingham"))
    assert refused.status_code == 403 and "birmingham" in refused.json["error"]
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0
    assert post_incident(client, token, body("coventry")).status_code == 201


@pytest.mark.parametrize("path", ["/incidents/{ref}", "/incidents/{ref}/live", "/incidents/{ref}/manage"])
def test_another_areas_incident_is_404_like_one_that_does_not_exist(
    path, client, make_incident, make_user, login
):
    birmingham = make_incident(local_authority="birmingham")
    login(officer_of(make_user, "coventry"))
    assert client.get(path.format(ref=birmingham.reference)).status_code == 404
    assert client.get(path.format(ref="BHM-2026-9999")).status_code == 404


def test_the_api_answers_404_for_another_areas_incident(client, make_incident, make_user):
    birmingham = make_incident(local_authority="birmingham")
    token = new_api_token(officer_of(make_user, "coventry"))
    headers = {"Authorization": f"Bearer {token}"}
    hidden = client.get(f"/api/v1/incidents/{birmingham.reference}", headers=headers)
    missing = client.get("/api/v1/incidents/BHM-2026-9999", headers=headers)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json == missing.json


def test_an_area_added_across_a_border_shows_the_incident_to_that_areas_officers(
    client, make_incident, make_user, login
):
    from responder.responses.activations import add_local_authority

    incident = make_incident(local_authority="birmingham")
    add_local_authority(incident, make_user("manager"), "sandwell", "The young person lives in Sandwell")
    db.session.commit()
    assert [area.local_authority for area in incident.areas] == ["birmingham", "sandwell"]
    login(officer_of(make_user, "sandwell"))
    assert client.get(f"/incidents/{incident.reference}").status_code == 200


def test_lists_filter_by_area_before_they_stop(client, make_incident, make_user, login, monkeypatch):
    coventry = make_incident(local_authority="coventry")
    for _ in range(3):  # newer, and not the officer's
        make_incident(local_authority="birmingham")
    monkeypatch.setattr(incident_view, "DASHBOARD_LIMIT", 2)
    login(officer_of(make_user, "coventry"))
    assert coventry.reference in client.get("/").get_data(as_text=True)
    assert coventry.reference in client.get("/incidents").get_data(as_text=True)


# --- a fixed number of statements ------------------------------------------------------------


@pytest.mark.parametrize("page", ["/", "/incidents"])
def test_the_dashboard_and_list_run_the_same_statements_for_5_and_50_incidents(
    page, client, make_incident, make_user, login
):
    login(make_user("manager"))
    counts = {}
    for total in (5, 50):
        while db.session.scalar(select(func.count()).select_from(Incident)) < total:
            make_incident(local_authority="coventry" if total % 2 else "birmingham")
        with counting_statements() as statements:
            assert client.get(page).status_code == 200
        counts[total] = len(statements)
    assert counts[5] == counts[50], counts


def test_every_incident_has_its_areas(make_incident):
    incident = make_incident(local_authority="walsall")
    assert db.session.scalars(select(IncidentArea.local_authority)).all() == ["walsall"]
    assert incident.local_authorities == ["walsall"]


# --- the command line --------------------------------------------------------------------------


def test_users_create_can_limit_an_officer_to_some_local_authorities(runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "limited@example.org",
            "--role",
            "officer",
            "--local-authority",
            "birmingham",
            "--local-authority",
            "sandwell",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "birmingham, sandwell" in result.output
    user = db.session.scalar(select(User).where(User.email == "limited@example.org"))
    assert user.local_authorities == ["birmingham", "sandwell"]


def test_users_create_refuses_an_unknown_local_authority(runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "x@example.org",
            "--role",
            "officer",
            "--local-authority",
            "gotham",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
    )
    assert result.exit_code != 0 and "gotham" in result.output


def test_a_form_used_again_with_different_details_says_so(client, directory, make_user, login):
    login(make_user("officer"))
    assert client.post("/incidents/new", data=form_data()).status_code == 303
    again = client.post("/incidents/new", data=form_data(location="Soho Road"))
    assert again.status_code == 422
    assert "This form already opened BHM-" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 1
