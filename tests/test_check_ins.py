"""Check-ins: covering agencies are asked by link, answer on a phone form, are reminded once, then flagged."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from responder.extensions import db
from responder.models import (
    AccessToken,
    ActionState,
    Activation,
    CheckIn,
    EventKind,
    Incident,
    Message,
    OfferActivation,
    TensionReading,
    TimedAction,
    TimelineEvent,
)
from responder.notify.outbox import rendered_body
from responder.scheduling import cancel_pending_escalations
from responder.scheduling.firing import fire_due_actions
from tests.timeline_words import said

OPENED = datetime(2026, 11, 24, 21, 50, tzinfo=UTC)
FIRST_CHECK_IN = OPENED + timedelta(hours=4)
# The default settings: one reminder 2 hours after asking, flagged 2 hours after that.
REMINDER = FIRST_CHECK_IN + timedelta(hours=2)
FLAG = REMINDER + timedelta(hours=2)


def agency(incident: Incident, key: str) -> Activation:
    return next(a for a in incident.activations if a.agency_key == key)


@pytest.fixture
def incident(make_incident):
    """Opened at OPENED; the youth service covered by its deputy, the police by their lead."""
    with freeze_time(OPENED):
        incident = make_incident()
    with freeze_time(OPENED + timedelta(minutes=5)):
        for key, who in (("bham-youth-service", "deputy_contact"), ("wmp-birmingham", "lead_contact")):
            activation = agency(incident, key)
            activation.state = "covered"
            activation.acknowledged_by = getattr(activation, who)
            cancel_pending_escalations(activation)
        db.session.commit()
    return incident


def fire_at(moment: datetime) -> None:
    with freeze_time(moment):
        fire_due_actions()
    db.session.expire_all()


def check_in_messages(kind: str = "check_in") -> list[Message]:
    return list(db.session.scalars(select(Message).where(Message.kind == kind).order_by(Message.id)))


def link(activation: Activation, kind: str = "check_in") -> str:
    sms = next(m for m in check_in_messages(kind) if m.activation_id == activation.id and m.channel == "sms")
    return re.search(r"http://responder\.test(/c/\S+)", rendered_body(sms)).group(1)


def state_of_the_world() -> dict:
    """Everything a check-in answer could change."""

    def count(model) -> int:
        return db.session.scalar(select(func.count()).select_from(model))

    db.session.expire_all()
    return {
        "events": count(TimelineEvent),
        "readings": count(TensionReading),
        "messages": count(Message),
        "answered": db.session.scalar(
            select(func.count()).select_from(CheckIn).where(CheckIn.responded_at.is_not(None))
        ),
        "offers": sorted((o.offer_key, o.state) for o in db.session.scalars(select(OfferActivation))),
        "tension": [i.tension for i in db.session.scalars(select(Incident))],
        "pending": count(TimedAction.__table__.select().where(TimedAction.state == "pending").subquery()),
    }


ANSWER = {
    "status_update": "Detached team out on Lozells Road tonight; two young people engaged",
    "tension": "high",
    "needs": "Police presence near the school at home time",
    "offer_bham-detached-youth-work": "delivered",
}


def answer_form(incident: Incident, **changes) -> dict:
    """The form fields, with offer fields named by their row ids as the page names them."""
    data = {**ANSWER, **changes}
    offers = {o.offer_key: o.id for o in incident.offers}
    return {
        (f"offer_{offers[key.removeprefix('offer_')]}" if key.startswith("offer_") else key): value
        for key, value in data.items()
    }


def test_each_covering_agency_is_asked_by_sms_and_email_without_personal_data(incident):
    fire_at(FIRST_CHECK_IN - timedelta(seconds=1))
    assert check_in_messages() == []
    fire_at(FIRST_CHECK_IN)
    messages = check_in_messages()
    youth, police = agency(incident, "bham-youth-service"), agency(incident, "wmp-birmingham")
    # Whoever acknowledged is asked: the youth service's deputy, the police lead.
    assert sorted((m.channel, m.contact.key) for m in messages) == sorted(
        [(c, youth.deputy_contact.key) for c in ("sms", "email")]
        + [(c, police.lead_contact.key) for c in ("sms", "email")]
    )
    for message in messages:
        text = rendered_body(message)
        assert incident.reference in text and "Birmingham" in text and "stabbing" in text
        assert re.search(r"http://responder\.test/c/[A-Za-z0-9_-]{20,}", text)
        for secret in ("SUMMARY-CANARY-7731", "Lozells", "16"):
            assert secret not in text and secret not in (message.subject or "")
    event = db.session.scalars(
        select(TimelineEvent).where(TimelineEvent.kind == EventKind.CHECK_IN_REQUESTED)
    ).one()
    assert said(event).startswith("Check-in 4 hours on sent to 2 covering agencies")


def test_opening_the_link_shows_the_form_and_changes_nothing(client, incident):
    fire_at(FIRST_CHECK_IN)
    path = link(agency(incident, "bham-youth-service"))
    before = state_of_the_world()
    with freeze_time(FIRST_CHECK_IN + timedelta(minutes=10)):
        page = client.get(path)
        client.head(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Check-in: Birmingham Youth Service" in html
    assert "Community tension now" in html and "Additional detached youth work in the affected area" in html
    assert 'name="viewport"' in html
    assert "SUMMARY-CANARY-7731" not in html and "Lozells" not in html
    assert state_of_the_world() == before


def test_the_answer_lands_on_the_timeline_and_updates_tension_and_offers(client, incident):
    fire_at(FIRST_CHECK_IN)
    youth = agency(incident, "bham-youth-service")
    with freeze_time(FIRST_CHECK_IN + timedelta(minutes=30)):
        response = client.post(link(youth), data=answer_form(incident))
        assert response.status_code == 303
        thanks = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Check-in sent" in thanks
    db.session.expire_all()
    check_in = db.session.scalars(select(CheckIn).where(CheckIn.activation_id == youth.id)).one()
    assert check_in.answered and check_in.tension == "high"
    assert check_in.offer_updates == {"bham-detached-youth-work": "delivered"}
    assert incident.tension == "high"
    assert [
        (r.level, r.agency_key)
        for r in db.session.scalars(select(TensionReading).order_by(TensionReading.at))
    ] == [
        ("medium", None),
        ("high", "bham-youth-service"),
    ]
    offer = next(o for o in incident.offers if o.offer_key == "bham-detached-youth-work")
    assert offer.state == "delivered"
    kinds = [e.kind for e in db.session.scalars(select(TimelineEvent).order_by(TimelineEvent.id))]
    assert {EventKind.CHECK_IN_RECEIVED, EventKind.TENSION_CHANGED, EventKind.OFFER_UPDATED} <= set(kinds)
    received = db.session.scalars(
        select(TimelineEvent).where(TimelineEvent.kind == EventKind.CHECK_IN_RECEIVED)
    ).one()
    assert "two young people engaged" in said(received) and "Police presence near the school" in said(
        received
    )
    # Answered: its reminder will not go.
    reminder = db.session.scalars(select(TimedAction).where(TimedAction.check_in_id == check_in.id)).one()
    assert reminder.state == ActionState.CANCELLED


def test_sending_the_form_twice_records_it_once(client, incident):
    fire_at(FIRST_CHECK_IN)
    path = link(agency(incident, "bham-youth-service"))
    with freeze_time(FIRST_CHECK_IN + timedelta(minutes=30)):
        client.post(path, data=answer_form(incident))
        after_first = state_of_the_world()
        second = client.post(path, data=answer_form(incident, tension="low"))
    assert second.status_code == 200 and "Check-in sent" in second.get_data(as_text=True)
    assert state_of_the_world() == after_first


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"status_update": "  "}, "Enter a short update on how the response is going"),
        ({"tension": "volcanic"}, "Select the level of community tension"),
        ({"offer_bham-detached-youth-work": "lost"}, "Select what happened"),
    ],
)
def test_an_incomplete_answer_is_explained_and_nothing_is_written(client, incident, changes, error):
    fire_at(FIRST_CHECK_IN)
    path = link(agency(incident, "bham-youth-service"))
    before = state_of_the_world()
    with freeze_time(FIRST_CHECK_IN + timedelta(minutes=30)):
        response = client.post(path, data=answer_form(incident, **changes))
    assert response.status_code == 422
    assert error in response.get_data(as_text=True)
    assert state_of_the_world() == before


def test_the_form_needs_its_csrf_token(make_app, incident):
    fire_at(FIRST_CHECK_IN)
    path = link(agency(incident, "bham-youth-service"))
    before = state_of_the_world()
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context(), freeze_time(FIRST_CHECK_IN + timedelta(minutes=30)):
        client = app.test_client()
        refused = client.post(path, data=answer_form(incident))
        page = client.get(path).get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        accepted = client.post(path, data={**answer_form(incident), "csrf_token": token})
    assert refused.status_code == 400
    assert accepted.status_code == 303
    assert state_of_the_world()["answered"] == before["answered"] + 1


@pytest.mark.parametrize("path", ["/c/not-a-real-token-at-all-000000", "/c/" + "x" * 300])
def test_unknown_or_malformed_links_say_what_to_do_and_write_nothing(client, incident, path):
    fire_at(FIRST_CHECK_IN)
    before = state_of_the_world()
    for response in (client.get(path), client.post(path, data=answer_form(incident))):
        assert response.status_code == 404
        page = response.get_data(as_text=True)
        assert "This check-in link is not recognised" in page and "0121 496 0000" in page
    assert state_of_the_world() == before


def test_a_garbled_link_is_refused_and_writes_nothing(client, incident):
    fire_at(FIRST_CHECK_IN)
    before = state_of_the_world()
    for response in (client.get("/c/%00%ff"), client.post("/c/%00%ff", data=answer_form(incident))):
        assert response.status_code in (400, 404)
    assert state_of_the_world() == before


def test_an_acknowledgement_link_is_not_a_check_in_link(client, incident):
    alert = db.session.scalars(
        select(Message).where(Message.kind == "alert", Message.channel == "sms")
    ).first()
    ack_path = re.search(r"http://responder\.test/a/(\S+)", rendered_body(alert)).group(1)
    with freeze_time(OPENED + timedelta(minutes=1)):
        assert client.get(f"/c/{ack_path}").status_code == 404


def test_an_expired_link_is_refused_with_410(client, incident):
    fire_at(FIRST_CHECK_IN)
    path = link(agency(incident, "bham-youth-service"))
    before = state_of_the_world()
    with freeze_time(FIRST_CHECK_IN + timedelta(days=7, minutes=1)):
        get, post = client.get(path), client.post(path, data=answer_form(incident))
    assert get.status_code == post.status_code == 410
    assert "This check-in link has expired" in get.get_data(as_text=True)
    assert state_of_the_world() == before


def test_no_answer_gets_one_reminder_then_is_flagged_for_the_manager(client, incident, make_user, login):
    fire_at(FIRST_CHECK_IN)
    youth = agency(incident, "bham-youth-service")
    fire_at(REMINDER - timedelta(seconds=1))
    assert check_in_messages("check_in_reminder") == []

    fire_at(REMINDER)
    reminders = check_in_messages("check_in_reminder")
    assert sorted(m.channel for m in reminders if m.activation_id == youth.id) == ["email", "sms"]
    assert "reminder" in rendered_body(reminders[0]).lower()
    fire_at(REMINDER + timedelta(minutes=30))
    assert len(check_in_messages("check_in_reminder")) == len(reminders)  # one reminder only
    with freeze_time(REMINDER + timedelta(minutes=31)):
        login(make_user("manager"))
        page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    assert (
        "Reminded, still no answer:" in page and "Birmingham Youth Service (4 hours, reminded 03:50" in page
    )

    fire_at(FLAG)
    check_in = db.session.scalars(select(CheckIn).where(CheckIn.activation_id == youth.id)).one()
    assert check_in.missed_at == FLAG and not check_in.answered
    missed = db.session.scalars(
        select(TimelineEvent).where(TimelineEvent.kind == EventKind.CHECK_IN_MISSED)
    ).all()
    assert any("Birmingham Youth Service: the 4 hours check-in is missed" in said(e) for e in missed)

    with freeze_time(FLAG + timedelta(minutes=1)):
        page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    assert "Missed check-ins" in page and "Birmingham Youth Service (4 hours)" in page

    # The reminder's own link still records a (late) answer.
    with freeze_time(FLAG + timedelta(minutes=5)):
        assert client.post(link(youth, "check_in_reminder"), data=answer_form(incident)).status_code == 303
    db.session.expire_all()
    assert db.session.get(CheckIn, check_in.id).answered


def test_an_answer_before_the_reminder_means_no_reminder(client, incident):
    fire_at(FIRST_CHECK_IN)
    youth = agency(incident, "bham-youth-service")
    with freeze_time(FIRST_CHECK_IN + timedelta(minutes=30)):
        client.post(link(youth), data=answer_form(incident))
    fire_at(FLAG + timedelta(hours=1))
    reminded = [m for m in check_in_messages("check_in_reminder") if m.activation_id == youth.id]
    assert reminded == []
    assert (
        db.session.scalars(select(CheckIn).where(CheckIn.activation_id == youth.id)).one().missed_at is None
    )


def test_agencies_not_covering_are_not_asked(incident):
    fire_at(FIRST_CHECK_IN)
    asked = {c.activation.agency_key for c in db.session.scalars(select(CheckIn))}
    assert asked == {"bham-youth-service", "wmp-birmingham"}
    tokens = db.session.scalars(select(AccessToken).where(AccessToken.purpose == "check_in")).all()
    assert len(tokens) == 2


def test_a_closed_incident_takes_no_answers(client, incident):
    fire_at(FIRST_CHECK_IN)
    path = link(agency(incident, "bham-youth-service"))
    incident.status = "closed"
    db.session.commit()
    before = state_of_the_world()
    with freeze_time(FIRST_CHECK_IN + timedelta(minutes=30)):
        response = client.post(path, data=answer_form(incident))
    assert "This incident is closed, so nothing was recorded" in response.get_data(as_text=True)
    assert state_of_the_world() == before


def test_a_lead_sees_their_own_agencys_offers_first_and_the_rest_folded_away(client, incident):
    fire_at(FIRST_CHECK_IN)
    with freeze_time(FIRST_CHECK_IN + timedelta(minutes=10)):
        youth = client.get(link(agency(incident, "bham-youth-service"))).get_data(as_text=True)
        police = client.get(link(agency(incident, "wmp-birmingham"))).get_data(as_text=True)
    others = len(incident.offers) - 1
    folded = youth.index(f"Offers other agencies provide ({others})")
    assert youth.index("Additional detached youth work in the affected area") < folded
    assert "Provided by Birmingham Youth Service" in youth
    assert "West Midlands Police – Birmingham local policing area provides none" in police
    details = re.search(
        r'<details class="govuk-details"\s*>', police[police.index("Offers other agencies") - 400 :]
    )
    assert details is not None  # folded: not open
    assert f"Offers other agencies provide ({len(incident.offers)})" in police
