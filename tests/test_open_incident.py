"""Opening an incident: one transaction, the playbook's plan, a frozen playbook, no personal data out."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime

import pytest
from freezegun import freeze_time
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from responder import timeline
from responder.extensions import db
from responder.incidents.opening import open_incident
from responder.incidents.references import next_reference
from responder.models import (
    AccessToken,
    Activation,
    Contact,
    Incident,
    Message,
    OfferActivation,
    TimelineEvent,
)
from responder.playbooks import IncidentFacts, plan_response
from responder.playbooks.registry import current_playbooks
from responder.unit_of_work import unit_of_work
from tests.timeline_words import said

from .conftest import PLAYBOOKS, report, two_at_once

ALL_TABLES = (Incident, Activation, OfferActivation, Message, TimelineEvent, AccessToken)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_opening_activates_exactly_what_the_plan_predicts(make_incident):
    incident = make_incident(school_link=True, youngest_age=None, type="stabbing")
    plan = plan_response(current_playbooks(), "birmingham", IncidentFacts(type="stabbing", school_link=True))
    assert [a.agency_key for a in incident.activations] == [a.key for a in plan.agencies]
    assert [o.offer_key for o in incident.offers] == [o.key for o in plan.offers]
    # One SMS and one email per activated lead.
    messages = db.session.scalars(select(Message).where(Message.incident_id == incident.id)).all()
    assert len(messages) == 2 * len(plan.agencies)
    assert {m.recipient for m in messages if m.channel == "sms"} == {
        a.lead_contact.phone for a in incident.activations
    }
    assert all(m.state == "pending" for m in messages)


def test_references_count_up_per_local_authority(make_incident):
    first = make_incident()
    second = make_incident()
    coventry = make_incident(local_authority="coventry")
    year = first.opened_at.year
    assert first.reference == f"BHM-{year}-0001"
    assert second.reference == f"BHM-{year}-0002"
    assert coventry.reference == f"COV-{year}-0001"


def test_two_openings_at_once_never_take_the_same_number(app):
    """The first transaction to take a number holds it until it ends; the second waits, then counts on."""
    taken = two_at_once(app, lambda: next_reference("birmingham", "BHM"))
    year = taken["first"].split("-")[1]
    assert taken == {"first": f"BHM-{year}-0001", "second": f"BHM-{year}-0002"}


def test_two_openings_at_once_count_on_from_an_existing_counter(app):
    """The usual case: the area has a counter this year, and the second opening waits on its row."""
    year = next_reference("birmingham", "BHM").split("-")[1]
    db.session.commit()
    taken = two_at_once(app, lambda: next_reference("birmingham", "BHM"))
    assert taken == {"first": f"BHM-{year}-0002", "second": f"BHM-{year}-0003"}


def test_a_failure_half_way_through_leaves_nothing_behind(make_incident, monkeypatch):
    make_incident()  # an earlier incident stays untouched
    before = {model.__name__: count(model) for model in ALL_TABLES}
    calls = 0
    real_record = timeline.record

    def fail_on_the_fifth_event(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 5:
            raise RuntimeError("database went away")
        return real_record(*args, **kwargs)

    monkeypatch.setattr(timeline, "record", fail_on_the_fifth_event)
    with pytest.raises(RuntimeError), unit_of_work():  # as a request or command would run it
        make_incident()
    assert {model.__name__: count(model) for model in ALL_TABLES} == before


def test_a_database_failing_as_the_emails_are_linked_to_their_texts_leaves_nothing_behind(make_incident):
    """The links are written after the inserts, in the same flush: a failure there takes the whole opening."""
    make_incident()
    before = {model.__name__: count(model) for model in ALL_TABLES}
    failed = []

    def fail_when_linking_twins(conn, cursor, statement, *args):
        if statement.lstrip().startswith("UPDATE messages SET twin_of_id") and not failed:
            failed.append(statement)
            raise OperationalError(statement, {}, Exception("canceling statement due to statement timeout"))

    event.listen(db.engine, "before_cursor_execute", fail_when_linking_twins)
    try:
        with pytest.raises(OperationalError), unit_of_work():
            make_incident()
    finally:
        event.remove(db.engine, "before_cursor_execute", fail_when_linking_twins)
    assert failed
    assert {model.__name__: count(model) for model in ALL_TABLES} == before


def test_the_same_submission_twice_opens_one_incident(app, directory, make_user):
    officer = make_user()
    submitted = report()
    first = open_incident(submitted, officer, submission_key="form-abc-123")
    again = open_incident(submitted, officer, submission_key="form-abc-123")
    assert again.id == first.id
    assert count(Incident) == 1


def test_the_incident_keeps_the_playbook_it_was_opened_with(app, directory, make_user, tmp_path):
    officer = make_user()
    incident = open_incident(report(), officer)
    snapshot, digest = incident.playbook_snapshot, incident.playbook_hash
    folder = tmp_path / "playbooks"
    shutil.copytree(PLAYBOOKS, folder)
    edited = (folder / "birmingham.yaml").read_text().replace("ack_within: 15m", "ack_within: 45m")
    (folder / "birmingham.yaml").write_text(edited)
    from responder.playbooks import load_playbooks

    app.extensions["responder.playbooks"] = load_playbooks(folder)
    later = open_incident(report(), officer)
    db.session.refresh(incident)
    assert incident.playbook_snapshot == snapshot and incident.playbook_hash == digest
    assert later.playbook_hash != digest
    assert "ack_within: 45m" not in str(incident.playbook_snapshot)


def test_a_role_with_no_contact_is_on_the_timeline_and_the_incident_still_opens(make_incident):
    contact = db.session.scalar(select(Contact).where(Contact.key == "bham-youth-lead"))
    contact.active = False
    db.session.commit()
    incident = make_incident()
    youth = next(a for a in incident.activations if a.agency_key == "bham-youth-service")
    assert youth.state == "no_contact"
    assert not db.session.scalars(select(Message).where(Message.activation_id == youth.id)).all()
    details = [said(e) for e in incident.events if e.kind == "contact_missing"]
    assert details == [
        "Birmingham Youth Service not alerted: no active contact for role bham-youth-lead in the directory"
    ]


def test_exercise_incidents_say_so_in_every_message(make_incident):
    incident = make_incident(exercise=True)
    messages = db.session.scalars(select(Message).where(Message.incident_id == incident.id)).all()
    assert messages
    for message in messages:
        assert (message.body if message.channel == "sms" else message.subject).startswith("EXERCISE")


def test_every_alert_email_is_the_twin_of_its_text_to_the_same_lead(make_incident):
    incident = make_incident()
    alerts = db.session.scalars(
        select(Message).where(Message.incident_id == incident.id, Message.kind == "alert")
    ).all()
    texts = {message.id: message for message in alerts if message.channel == "sms"}
    emails = [message for message in alerts if message.channel == "email"]
    assert texts and len(emails) == len(texts)
    twins = [email.twin_of_id for email in emails]
    assert set(twins) == set(texts) and len(set(twins)) == len(twins)  # one email to each text
    for email in emails:
        text = texts[email.twin_of_id]
        assert (email.contact_id, email.activation_id, email.access_token_id) == (
            text.contact_id,
            text.activation_id,
            text.access_token_id,
        )


@freeze_time("2026-11-24 22:10:00")
def test_no_personal_data_in_any_message(make_incident):
    # Frozen so that no time or date in the message can contain "15" by chance.
    incident = make_incident(
        occurred_at=datetime(2026, 11, 24, 21, 40, tzinfo=UTC),
        location="Flat 3, Canary Court, Lozells Road",
        summary="Jayden Smith, 15, pupil at Holte School, was stabbed",
        youngest_age=15,
        school_link=True,
    )
    from responder.notify.outbox import rendered_body

    messages = db.session.scalars(select(Message).where(Message.incident_id == incident.id)).all()
    forbidden = ["Canary Court", "Lozells", "Jayden", "Smith", "Holte", "15", "pupil", "stabbed"]
    for message in messages:
        text = " ".join(
            filter(None, [message.subject, rendered_body(message), rendered_body(message, html=True)])
        )
        leaked = [word for word in forbidden if re.search(rf"\b{re.escape(word)}\b", text)]
        assert not leaked, (leaked, text)
        assert incident.reference in text and "Birmingham" in text


def test_links_in_messages_work_and_raw_tokens_are_not_stored(make_incident):
    from responder.models import TokenPurpose
    from responder.notify.outbox import rendered_body
    from responder.responses.access_tokens import find_token, token_value

    incident = make_incident()
    sms = db.session.scalars(
        select(Message).where(Message.incident_id == incident.id, Message.channel == "sms")
    ).first()
    assert "{link}" in sms.body  # the stored body has no token in it
    link = re.search(r"http://responder\.test/a/(\S+)", rendered_body(sms))
    assert link, rendered_body(sms)
    token = link.group(1)
    row = find_token(token, TokenPurpose.ACKNOWLEDGE)
    assert row is not None and row.contact_id == sms.contact_id and row.activation_id == sms.activation_id
    assert token_value(row) == token
    assert token not in row.token_hash and len(token) >= 22
