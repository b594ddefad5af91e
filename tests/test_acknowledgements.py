"""Agency leads acknowledge or decline by link; previews never act; everyone sees who covers."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from responder.clock import now_utc
from responder.extensions import db
from responder.models import (
    Activation,
    AgencyResponse,
    Contact,
    Incident,
    Message,
    TimelineEvent,
)
from responder.notify.outbox import rendered_body
from tests.timeline_words import said

from .conftest import is_postgres

PREVIEW_AGENTS = [
    "WhatsApp/2.23.20.0",
    "facebookexternalhit/1.1",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (compatible; Microsoft Outlook SafeLinks)",
    "Twitterbot/1.0",
]


def state_of_the_world() -> dict:
    """Everything an acknowledgement could change."""
    return {
        "activations": sorted(
            (a.id, a.state, a.acknowledged_by_id, a.escalation_level)
            for a in db.session.scalars(select(Activation))
        ),
        "responses": db.session.scalar(select(func.count()).select_from(AgencyResponse)),
        "events": db.session.scalar(select(func.count()).select_from(TimelineEvent)),
        "messages": db.session.scalar(select(func.count()).select_from(Message)),
    }


def link_for(incident: Incident, agency_key: str, role: str = "lead") -> str:
    activation = next(a for a in incident.activations if a.agency_key == agency_key)
    contact = activation.lead_contact if role == "lead" else activation.deputy_contact
    sms = db.session.scalars(
        select(Message).where(
            Message.activation_id == activation.id, Message.contact_id == contact.id, Message.channel == "sms"
        )
    ).first()
    return re.search(r"http://responder\.test(/a/\S+)", rendered_body(sms)).group(1)


@pytest.fixture
def incident(make_incident):
    return make_incident()


def test_opening_the_link_shows_the_alert_and_changes_nothing(client, incident):
    path = link_for(incident, "bham-youth-service")
    before = state_of_the_world()
    response = client.get(path)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Birmingham Youth Service" in page and incident.reference in page and "Stabbing" in page
    assert "Lozells" not in page and "SUMMARY-CANARY" not in page  # the lead sees what the SMS says, no more
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert state_of_the_world() == before


@pytest.mark.parametrize("agent", PREVIEW_AGENTS)
def test_link_previewers_and_head_requests_change_nothing(client, incident, agent):
    path = link_for(incident, "bham-youth-service")
    before = state_of_the_world()
    assert client.get(path, headers={"User-Agent": agent}).status_code == 200
    assert client.head(path, headers={"User-Agent": agent}).status_code == 200
    assert client.options(path).status_code in (200, 204)
    assert state_of_the_world() == before


def test_acknowledge_covers_the_agency_once_and_repeating_is_harmless(client, incident):
    path = link_for(incident, "bham-youth-service")
    response = client.post(path, data={"action": "acknowledge", "ack-note": "There by 23:30"})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Thank you. Birmingham Youth Service is recorded as covering this response." in page
    activation = db.session.scalar(select(Activation).where(Activation.agency_key == "bham-youth-service"))
    assert activation.state == "covered" and activation.acknowledged_by.key == "bham-youth-lead"
    events = db.session.scalars(select(TimelineEvent).where(TimelineEvent.kind == "acknowledged")).all()
    assert len(events) == 1
    assert "acknowledged by" in said(events[0]) and "by link" in said(events[0])
    assert "There by 23:30" in said(events[0]) and events[0].channel == "link"
    before = state_of_the_world()
    again = client.post(path, data={"action": "acknowledge"}, follow_redirects=True).get_data(as_text=True)
    assert "was already covered: acknowledged by" in again
    assert state_of_the_world() == before


def test_the_officer_and_duty_manager_are_told_once_without_personal_data(client, incident):
    path = link_for(incident, "bham-youth-service")
    before = db.session.scalar(select(func.count()).select_from(Message))
    client.post(path, data={"action": "acknowledge", "ack-note": "NOTE-CANARY"})
    client.post(path, data={"action": "acknowledge"})
    notices = db.session.scalars(select(Message).where(Message.kind == "response_notice")).all()
    assert db.session.scalar(select(func.count()).select_from(Message)) == before + len(notices)
    recipients = sorted(m.recipient for m in notices)
    assert recipients == sorted([incident.opened_by.email, "bham-vru-duty@example.org"])
    for notice in notices:
        assert "Birmingham Youth Service has acknowledged" in notice.body
        assert "NOTE-CANARY" not in notice.body and "Lozells" not in notice.body


def test_a_decline_by_the_lead_alerts_the_deputy_at_once(client, incident):
    path = link_for(incident, "bham-youth-service")
    response = client.post(
        path, data={"action": "decline", "decline-reason": "unavailable", "decline-detail": "on leave"}
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The deputy has been alerted." in page
    activation = db.session.scalar(select(Activation).where(Activation.agency_key == "bham-youth-service"))
    assert activation.state == "escalated" and activation.escalation_level == 1
    deputy_sms = db.session.scalars(
        select(Message).where(Message.contact_id == activation.deputy_contact_id, Message.kind == "alert")
    ).all()
    assert {m.channel for m in deputy_sms} == {"sms", "email"}
    kinds = [e.kind for e in db.session.scalars(select(TimelineEvent).order_by(TimelineEvent.id))]
    assert kinds.index("declined") < kinds.index("escalated")
    escalated = db.session.scalar(select(TimelineEvent).where(TimelineEvent.kind == "escalated"))
    deputy = activation.deputy_contact.name
    assert (
        said(escalated)
        == f"Birmingham Youth Service: alerted the deputy, {deputy}, because the lead declined"
    )
    assert (
        said(escalated, redacted=True)
        == "Birmingham Youth Service: alerted the deputy because the lead declined"
    )
    declined = db.session.scalar(select(TimelineEvent).where(TimelineEvent.kind == "declined"))
    assert "Unavailable: on leave" in said(declined)
    # The duty manager is texted about a decline.
    assert db.session.scalar(
        select(Message).where(Message.kind == "response_notice", Message.channel == "sms")
    ).recipient == db.session.scalar(select(Contact.phone).where(Contact.key == "bham-vru-duty"))


def test_the_deputy_can_then_acknowledge_for_the_agency(client, incident):
    client.post(
        link_for(incident, "bham-youth-service"), data={"action": "decline", "decline-reason": "unavailable"}
    )
    client.post(link_for(incident, "bham-youth-service", role="deputy"), data={"action": "acknowledge"})
    activation = db.session.scalar(select(Activation).where(Activation.agency_key == "bham-youth-service"))
    assert activation.state == "covered" and activation.acknowledged_by.key == "bham-youth-deputy"


def test_declining_twice_hands_on_once(client, incident):
    path = link_for(incident, "bham-youth-service")
    client.post(path, data={"action": "decline", "decline-reason": "not_our_area"})
    before = state_of_the_world()
    page = client.post(
        path, data={"action": "decline", "decline-reason": "not_our_area"}, follow_redirects=True
    )
    assert "You already declined" in page.get_data(as_text=True)
    assert state_of_the_world() == before


def test_a_decline_needs_a_reason(client, incident):
    path = link_for(incident, "bham-youth-service")
    before = state_of_the_world()
    response = client.post(path, data={"action": "decline"})
    assert response.status_code == 422
    assert "Select why you are declining" in response.get_data(as_text=True)
    assert state_of_the_world() == before


@pytest.mark.parametrize(
    ("mangle", "status"),
    [
        (lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"), 404),
        (lambda token: token[:10], 404),
        (lambda token: "x" * 200, 404),
        (lambda token: "../../etc/passwd", 404),
    ],
)
def test_tampered_tokens_are_refused_and_nothing_is_written(client, incident, mangle, status):
    token = link_for(incident, "bham-youth-service").removeprefix("/a/")
    before = state_of_the_world()
    for method in (client.get, client.post):
        response = method(f"/a/{mangle(token)}", data={"action": "acknowledge"})
        assert response.status_code == status
        assert "0121 496 0000" in response.get_data(as_text=True)
    assert state_of_the_world() == before


def test_expired_links_are_refused_with_410(client, incident):
    path = link_for(incident, "bham-youth-service")
    before = state_of_the_world()
    with freeze_time(now_utc() + timedelta(days=7, minutes=1)):
        for response in (client.get(path), client.post(path, data={"action": "acknowledge"})):
            assert response.status_code == 410
            assert "This link has expired" in response.get_data(as_text=True)
    assert state_of_the_world() == before


def test_a_check_in_link_is_not_an_acknowledgement_link(client, incident):
    from responder.models import TokenPurpose
    from responder.responses.access_tokens import issue_token, token_value

    activation = incident.activations[0]
    row = issue_token(TokenPurpose.CHECK_IN, activation, activation.lead_contact)
    db.session.commit()
    assert client.get(f"/a/{token_value(row)}").status_code == 404


def test_acknowledging_a_closed_incident_is_refused_politely_and_logged(client, incident):
    path = link_for(incident, "bham-youth-service")
    incident.status = "closed"
    db.session.commit()
    page = client.get(path).get_data(as_text=True)
    assert "This incident is closed" in page
    response = client.post(path, data={"action": "acknowledge"}, follow_redirects=True)
    assert "This incident is closed, so nothing was recorded" in response.get_data(as_text=True)
    activation = db.session.scalar(select(Activation).where(Activation.agency_key == "bham-youth-service"))
    assert activation.state == "alerted"
    assert db.session.scalar(select(TimelineEvent).where(TimelineEvent.kind == "late_response")) is not None


def test_the_page_shows_who_else_has_acknowledged(client, incident):
    client.post(link_for(incident, "wmp-birmingham"), data={"action": "acknowledge"})
    page = client.get(link_for(incident, "bham-youth-service")).get_data(as_text=True)
    police = re.search(
        r"<li>(?:(?!</li>).)*West Midlands Police – Birmingham(?:(?!</li>).)*</li>", page, re.S
    )
    assert police and "Covered" in police.group(0)


def test_the_incident_page_shows_the_agency_as_covered(client, incident, make_user, login):
    client.post(link_for(incident, "bham-youth-service"), data={"action": "acknowledge"})
    login(make_user())
    page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    assert f">1/{len(incident.activations)}</span> agencies covered" in page
    youth_service = re.search(r"Birmingham Youth Service</th>(?:(?!</tr>).)*", page, re.S).group(0)
    assert "Covered" in youth_service and "Waiting for" not in youth_service


def test_csrf_is_required_on_the_link_forms(make_app, incident):
    app = make_app(WTF_CSRF_ENABLED=True)
    path = link_for(incident, "bham-youth-service")
    with app.app_context():
        response = app.test_client().post(path, data={"action": "acknowledge"})
    assert response.status_code == 400
    assert db.session.scalar(select(AgencyResponse)) is None


def test_a_burst_of_guesses_is_rate_limited_but_real_use_is_not(make_app, incident):
    app = make_app(RATELIMIT_ENABLED=True)
    client = app.test_client()
    path = link_for(incident, "bham-youth-service")
    with app.app_context():
        real_use = [
            client.get(path).status_code,
            client.post(path, data={"action": "acknowledge"}).status_code,
        ]
        real_use.append(client.get(path).status_code)
        assert 429 not in real_use
        guesses = [client.get(f"/a/guess{n:04d}guess{n:04d}guess").status_code for n in range(60)]
    assert 429 in guesses
    assert set(guesses) <= {404, 429}


@pytest.mark.skipif(
    not is_postgres(__import__("os").environ.get("TEST_DATABASE_URL", "")), reason="PostgreSQL only"
)
def test_concurrent_acknowledgements_give_one_covered_state_and_one_event(app, incident):
    from responder.models import ResponseChannel
    from responder.responses import acknowledgements as acks
    from responder.unit_of_work import unit_of_work

    activation_id = next(a.id for a in incident.activations if a.agency_key == "bham-youth-service")
    lead_id = next(a.lead_contact_id for a in incident.activations if a.id == activation_id)
    deputy_id = next(a.deputy_contact_id for a in incident.activations if a.id == activation_id)
    barrier = threading.Barrier(8)
    outcomes = []

    def ack(contact_id):
        with app.app_context():
            activation = db.session.get(Activation, activation_id)
            contact = db.session.get(Contact, contact_id)
            barrier.wait()
            with unit_of_work():  # as the request would
                outcomes.append(acks.acknowledge(activation, contact, ResponseChannel.LINK).status)
            db.session.remove()

    threads = [threading.Thread(target=ack, args=(lead_id if n % 2 else deputy_id,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["acknowledged"] + ["already_covered"] * 7
    db.session.expire_all()
    events = db.session.scalars(select(TimelineEvent).where(TimelineEvent.kind == "acknowledged")).all()
    assert len(events) == 1
    assert db.session.scalar(select(func.count()).select_from(AgencyResponse)) == 1


def test_tokens_never_reach_the_request_log(incident, caplog):
    import logging

    from werkzeug.serving import WSGIRequestHandler

    path = link_for(incident, "bham-youth-service")
    token = path.removeprefix("/a/")
    handler = WSGIRequestHandler.__new__(WSGIRequestHandler)
    handler.requestline = f"GET {path} HTTP/1.1"
    handler.client_address = ("127.0.0.1", 50000)
    handler.command = "GET"
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        handler.log_request(200, 1234)
    assert caplog.records, "the request line was logged"
    assert token not in caplog.text and "/a/[redacted]" in caplog.text


def test_after_declining_the_page_shows_where_the_alert_went_and_offers_no_second_decline(client, incident):
    path = link_for(incident, "bham-youth-service")
    before = client.get(path).get_data(as_text=True)
    assert "I cannot cover this" in before and 'value="decline"' in before
    page = client.post(
        path,
        data={"action": "decline", "decline-reason": "passing_to_deputy", "decline-detail": "On leave"},
        follow_redirects=True,
    ).get_data(as_text=True)
    activation = next(a for a in incident.activations if a.agency_key == "bham-youth-service")
    deputy = activation.deputy_contact.name
    assert "Your decline is recorded" in page
    assert "Escalated" in page and f"Now with the deputy: {deputy}" in page
    assert "Declined at" in page and "Passing to my deputy: On leave" in page
    assert f"the deputy, {deputy}, has been asked to cover this" in page
    assert "I cannot cover this" not in page and 'value="decline"' not in page
    # Changing their mind is still possible: the acknowledgement stays on offer.
    assert "Changed your mind?" in page and 'value="acknowledge"' in page
