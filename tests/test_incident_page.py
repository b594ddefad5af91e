"""The incident page as the place a response is run and watched."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from responder.extensions import db
from responder.models import AuditEvent, TimelineEvent
from responder.notify.outbox import rendered_body


@pytest.fixture
def incident(make_incident):
    return make_incident()


@pytest.fixture
def officer(make_user, login):
    return login(make_user("officer"))


def ack_link(incident, agency_key):
    from responder.models import Message

    activation = next(a for a in incident.activations if a.agency_key == agency_key)
    sms = db.session.scalar(
        select(Message).where(
            Message.activation_id == activation.id, Message.channel == "sms", Message.kind == "alert"
        )
    )
    return re.search(r"http://responder\.test(/a/\S+)", rendered_body(sms)).group(1)


def test_the_page_shows_header_board_offers_upcoming_actions_and_timeline(client, incident, officer):
    page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    assert incident.reference in page and "Birmingham" in page and "Stabbing" in page
    assert f"Agencies (0 of {len(incident.activations)} covered)" in page
    from markupsafe import escape

    for offer in incident.offers:
        assert str(escape(offer.name)) in page
    assert "Coming up" in page and "alert the deputy if nobody has acknowledged" in page
    assert "Incident opened" in page


def test_the_live_endpoint_returns_only_what_changed_since_the_cursor(client, incident, officer):
    cursor = db.session.scalar(select(TimelineEvent.id).order_by(TimelineEvent.id.desc()))
    quiet = client.get(f"/incidents/{incident.reference}/live?after={cursor}").json
    assert quiet == {"cursor": cursor, "events": [], "board": None, "status": "open"}
    client.post(ack_link(incident, "bham-youth-service"), data={"action": "acknowledge"})
    change = client.get(f"/incidents/{incident.reference}/live?after={cursor}").json
    assert change["cursor"] > cursor and change["status"] == "active"
    assert any("Birmingham Youth Service covered" in html for html in change["events"])
    assert all(f'data-event-id="{cursor}"' not in html for html in change["events"])
    assert f"Agencies (1 of {len(incident.activations)} covered)" in change["board"]
    assert client.get(f"/incidents/{incident.reference}/live?after=abc").status_code == 400


def test_the_timeline_filters_by_kind_and_orders_both_ways(client, incident, officer):
    client.post(ack_link(incident, "bham-youth-service"), data={"action": "acknowledge"})
    only_acks = client.get(f"/incidents/{incident.reference}?kind=acknowledgements").get_data(as_text=True)
    assert (
        "app-timeline__item--acknowledged" in only_acks
        and "app-timeline__item--alert_queued" not in only_acks
    )
    newest = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    oldest = client.get(f"/incidents/{incident.reference}?order=oldest").get_data(as_text=True)
    first_new = re.search(r'data-event-id="(\d+)"', newest).group(1)
    first_old = re.search(r'data-event-id="(\d+)"', oldest).group(1)
    assert int(first_new) > int(first_old)


def test_every_view_is_audited_and_managers_can_see_who_looked(client, incident, make_user, login):
    manager = login(make_user("manager"))
    client.get(f"/incidents/{incident.reference}")
    client.get(f"/incidents/{incident.reference}")
    entries = db.session.scalars(select(AuditEvent).where(AuditEvent.incident_id == incident.id)).all()
    assert [e.action for e in entries] == ["viewed", "viewed"] and entries[0].user_id == manager.id
    page = client.get(f"/incidents/{incident.reference}/audit").get_data(as_text=True)
    assert manager.email in page and "Viewed" in page


def test_free_text_is_escaped_everywhere(client, incident, officer):
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    response = client.post(f"/incidents/{incident.reference}/updates", data={"text": payload})
    assert response.status_code == 303
    page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    assert payload not in page and "&lt;script&gt;" in page
    live = client.get(f"/incidents/{incident.reference}/live?after=0").json
    assert all("<script>" not in html for html in live["events"])


def test_actions_round_trip_through_the_manage_page(client, incident, officer):
    assert client.get(f"/incidents/{incident.reference}/manage").status_code == 200
    bad = client.post(f"/incidents/{incident.reference}/tension", data={"level": "volcanic", "reason": ""})
    assert bad.status_code == 422 and "Select a level" in bad.get_data(as_text=True)
    good = client.post(
        f"/incidents/{incident.reference}/tension", data={"level": "high", "reason": "Posts online"}
    )
    assert good.status_code == 303
    meeting = client.post(
        f"/incidents/{incident.reference}/meetings",
        data={"title": "24-hour strategy meeting", "attendees": "WMP\nYouth Service", "actions": "Patrols"},
    )
    assert meeting.status_code == 303
    area = client.post(
        f"/incidents/{incident.reference}/areas", data={"local_authority": "sandwell", "reason": "home"}
    )
    assert area.status_code == 303
    page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    assert "Sandwell" in page and "24-hour strategy meeting" in page


def test_an_officer_cannot_close_and_a_closed_incident_refuses_actions(client, incident, make_user, login):
    login(make_user("officer"))
    assert client.post(f"/incidents/{incident.reference}/close", data={"reason": "done"}).status_code == 403
    client.post("/logout")
    login(make_user("manager"))
    assert client.post(f"/incidents/{incident.reference}/close", data={"reason": "done"}).status_code == 303
    refused = client.post(f"/incidents/{incident.reference}/updates", data={"text": "late"})
    assert refused.status_code == 409 and "is closed" in refused.get_data(as_text=True)


def test_the_dashboard_shows_coverage_overdue_and_keeps_exercises_apart(client, make_incident, officer):
    from datetime import timedelta

    from freezegun import freeze_time

    from responder.clock import now_utc

    live = make_incident()
    exercise = make_incident(exercise=True, local_authority="coventry")
    client.post(ack_link(live, "bham-youth-service"), data={"action": "acknowledge"})
    filtered = client.get("/?local_authority=coventry").get_data(as_text=True)
    assert live.reference not in filtered and exercise.reference in filtered
    assert client.get("/?status=nonsense").status_code == 400
    with freeze_time(now_utc() + timedelta(minutes=40)):
        page = client.get("/").get_data(as_text=True)
    live_part, exercise_part = page.split("Exercises")
    assert live.reference in live_part and exercise.reference in exercise_part
    assert f"1/{len(live.activations)} covered" in live_part
    assert f"{len(live.activations) - 1} overdue" in live_part
