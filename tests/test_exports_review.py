"""The learning review page: a manager records episodes, lessons, recommendations and an action plan."""

from __future__ import annotations

import re
from datetime import date

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from responder.extensions import db
from responder.models import TimelineEvent
from responder.models.reviews import ReviewAction, ReviewNote
from tests.timeline_words import said

from .conftest import PASSWORD
from .export_scenario import REVIEWED, T0, sign_in

NOTE = {"note-kind": "lesson", "note-text": "The deputy was not on the reply-code list", "note-submit": "Add"}
ACTION = {
    "action-action": "Add every deputy to the quarterly SMS drill",
    "action-owner": "VRU localities team",
    "action-due_on": ["31", "1", "2027"],  # day, month, year: one name, as GOV.UK date inputs post them
    "action-rag": "amber",
    "action-submit": "Add",
}


@pytest.fixture
def incident(make_incident):
    with freeze_time(T0):
        return make_incident()


@pytest.fixture
def manager(make_user, login):
    return sign_in(login, make_user("manager"))


def post(client, path: str, data: dict):
    with freeze_time(REVIEWED):
        return client.post(path, data=data)


def test_the_page_offers_both_forms_and_every_export(client, incident, manager):
    with freeze_time(REVIEWED):
        page = client.get(f"/incidents/{incident.reference}/review").get_data(as_text=True)
    assert "Learning review for " + incident.reference in page
    assert 'name="note-text"' in page and 'id="action-due_on-day"' in page
    for export in ("export.csv", "export.json", "export.pdf", "report"):
        assert f"/incidents/{incident.reference}/{export}?redacted=1" in page
        assert f'/incidents/{incident.reference}/{export}"' in page


def test_adding_a_lesson(client, incident, manager):
    response = post(client, f"/incidents/{incident.reference}/review", NOTE)
    assert response.status_code == 303 and response.headers["Location"].endswith("/review#notes")
    note = db.session.scalar(select(ReviewNote))
    assert (note.kind, note.text, note.created_by_id, note.created_at) == (
        "lesson",
        NOTE["note-text"],
        manager.id,
        REVIEWED,
    )
    event = db.session.scalar(select(TimelineEvent).where(TimelineEvent.kind == "review_updated"))
    assert said(event) == "Learning review: lesson identified added"  # the text itself stays off the timeline
    with freeze_time(REVIEWED):
        assert NOTE["note-text"] in client.get(f"/incidents/{incident.reference}/review").get_data(
            as_text=True
        )


def test_adding_an_action_and_moving_it_to_green(client, incident, manager):
    assert post(client, f"/incidents/{incident.reference}/review", ACTION).status_code == 303
    action = db.session.scalar(select(ReviewAction))
    assert (action.action, action.owner, action.due_on, action.rag) == (
        ACTION["action-action"],
        "VRU localities team",
        date(2027, 1, 31),
        "amber",
    )
    path = f"/incidents/{incident.reference}/review/actions/{action.id}"
    response = post(
        client, path, {f"status-{action.id}-rag": "green", f"status-{action.id}-submit": "Update"}
    )
    assert response.status_code == 303
    db.session.refresh(action)
    assert action.rag == "green"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**NOTE, "note-text": "  "}, "Enter the practice episode, lesson or recommendation"),
        ({**NOTE, "note-kind": "gossip"}, "Select a practice episode, lesson or recommendation"),
        ({**ACTION, "action-due_on": ["31", "13", "2027"]}, "Enter a real due date"),
        ({**ACTION, "action-due_on": ["31", "1", ""]}, "Enter the due date with day, month and year"),
        ({**ACTION, "action-owner": ""}, "Enter who owns the action"),
        ({**ACTION, "action-rag": "purple"}, "Select red, amber or green"),
    ],
)
def test_mistakes_are_explained_and_nothing_is_saved(client, incident, manager, data, message):
    response = post(client, f"/incidents/{incident.reference}/review", data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "There is a problem" in page and message in page
    assert db.session.scalar(select(ReviewNote)) is None and db.session.scalar(select(ReviewAction)) is None


def test_a_status_change_for_another_incidents_action_is_not_found(client, make_incident, incident, manager):
    post(client, f"/incidents/{incident.reference}/review", ACTION)
    action = db.session.scalar(select(ReviewAction))
    with freeze_time(T0):
        other = make_incident()
    path = f"/incidents/{other.reference}/review/actions/{action.id}"
    assert post(client, path, {f"status-{action.id}-rag": "green"}).status_code == 404


def test_the_forms_need_their_csrf_token(make_app, incident, make_user):
    app = make_app(WTF_CSRF_ENABLED=True)
    manager = make_user("manager")
    client = app.test_client()
    with freeze_time(REVIEWED):
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        client.post("/login", data={"email": manager.email, "password": PASSWORD, "csrf_token": token})
        path = f"/incidents/{incident.reference}/review"
        assert client.post(path, data=NOTE).status_code == 400
        page = client.get(path).get_data(as_text=True)
        note_token = re.search(
            r'id="note-csrf_token" name="note-csrf_token" type="hidden" value="([^"]+)"', page
        )
        assert client.post(path, data={**NOTE, "note-csrf_token": note_token.group(1)}).status_code == 303
    assert db.session.scalar(select(ReviewNote)).text == NOTE["note-text"]


@pytest.mark.parametrize(("role", "shown"), [("manager", True), ("officer", False)])
def test_the_incident_page_links_managers_to_the_review(client, incident, make_user, login, role, shown):
    sign_in(login, make_user(role))
    with freeze_time(REVIEWED):
        page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    assert (f'href="/incidents/{incident.reference}/review"' in page) is shown
