"""The whole incident as JSON, through the versioned export schema."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from responder.exports.schemas import SCHEMA_VERSION, ExportDocumentSchema
from responder.extensions import db
from responder.models import TimelineEvent
from responder.models.reviews import RagStatus, ReviewNoteKind
from responder.reviews import learning_review as reviews

from .export_scenario import (
    ACK_NOTE,
    LOCATION,
    REVIEWED,
    SUMMARY,
    T0,
    YOUTH_ANSWER,
    download,
    run_script,
    sign_in,
)


@pytest.fixture
def scripted(make_incident, send_outbox):
    return run_script(make_incident, send_outbox)


@pytest.fixture
def manager(make_user, login):
    return sign_in(login, make_user("manager"))


@pytest.fixture
def document(client, scripted, manager):
    with freeze_time(REVIEWED):
        reviews.add_note(
            scripted.incident, manager, ReviewNoteKind.LESSON, "Deputies need the reply code too"
        )
        reviews.add_action(
            scripted.incident,
            manager,
            "Add deputies to the SMS drill",
            "VRU localities",
            date(2027, 1, 31),
            RagStatus.AMBER,
        )
    response = download(client, f"/incidents/{scripted.reference}/export.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].endswith(f'{scripted.reference}-incident.json"')
    return json.loads(response.get_data())


def test_the_document_matches_its_versioned_schema(document):
    assert document["schema_version"] == SCHEMA_VERSION == "2.1"
    assert document["variant"] == "full"
    ExportDocumentSchema().load(document)  # raises on any missing, unknown or mistyped field


def test_incident_and_playbook_snapshot_with_its_hash(document, scripted):
    incident = scripted.incident
    assert document["incident"] | {"opened_at": None} == {
        "reference": incident.reference,
        "local_authority": "birmingham",
        "local_authorities": ["birmingham"],
        "type": "stabbing",
        "status": incident.status,
        "exercise": False,
        "occurred_at": (T0 - timedelta(minutes=20)).isoformat(),
        "opened_at": None,
        "opened_by": "Test Officer",
        "location": LOCATION,
        "summary": SUMMARY,
        "youngest_age": 16,
        "school_link": True,
        "tension": "low",
    }
    assert document["playbook"] == {"hash": incident.playbook_hash, "snapshot": incident.playbook_snapshot}


def test_activations_responses_and_offers(document, scripted):
    assert len(document["activations"]) == len(scripted.incident.activations)
    childrens = next(a for a in document["activations"] if a["agency_key"] == "bham-childrens-trust")
    assert childrens["state"] == "covered" and childrens["escalation_level"] == 1
    assert childrens["acknowledged_by"] == childrens["deputy"]
    assert childrens["acknowledged_at"] == (T0 + timedelta(minutes=25)).isoformat()
    youth = next(r for r in document["responses"] if r["agency_key"] == "bham-youth-service")
    assert (
        youth["kind"] == "acknowledged"
        and youth["note"] == ACK_NOTE
        and youth["role"] == "Lead, Birmingham Youth Service"
    )
    states = {offer["offer_key"]: offer["state"] for offer in document["offers"]}
    assert (
        states["bham-detached-youth-work"] == "delivered"
        and states["bham-practitioner-debrief"] == "declined"
    )


def test_messages_with_their_delivery_states(document):
    failed = [m for m in document["messages"] if m["state"] == "failed"]
    assert len(failed) == 1
    assert failed[0]["channel"] == "sms" and failed[0]["agency_key"] == "bham-yos"
    assert failed[0]["address"].startswith("+447700900") and "30003" in failed[0]["last_error"]
    assert failed[0]["failed_at"] == (T0 + timedelta(minutes=3)).isoformat()
    alerts = [m for m in document["messages"] if m["kind"] == "alert"]
    assert {m["state"] for m in alerts} >= {"sent", "failed"}
    # The first round went at T0+90s; the escalation to the deputy was still in the outbox.
    assert {m["sent_at"] for m in alerts} == {(T0 + timedelta(seconds=90)).isoformat(), None}
    assert [m["state"] for m in alerts if m["sent_at"] is None] == ["pending", "pending"]


def test_timed_actions_and_check_ins(document):
    kinds = {action["kind"] for action in document["timed_actions"]}
    assert {"escalation", "check_in", "check_in_reminder", "check_in_missed", "deadline"} <= kinds
    fired = next(
        a for a in document["timed_actions"] if a["kind"] == "check_in" and a["details"]["step"] == "4h"
    )
    assert fired["state"] == "fired" and fired["fired_at"] == (T0 + timedelta(hours=4)).isoformat()
    check_ins = {c["agency_key"]: c for c in document["check_ins"]}
    assert set(check_ins) == {"bham-youth-service", "wmp-birmingham", "bham-childrens-trust"}
    assert check_ins["bham-youth-service"]["status_update"] == YOUTH_ANSWER
    assert check_ins["bham-youth-service"]["tension"] == "high"
    assert check_ins["bham-childrens-trust"]["missed_at"] == (T0 + timedelta(hours=8)).isoformat()
    assert [r["level"] for r in document["tension_readings"]] == ["medium", "high", "low"]


def test_review_and_metrics(document):
    assert document["review"]["notes"][0]["text"] == "Deputies need the reply code too"
    assert document["review"]["actions"][0] | {"updated_at": None} == {
        "action": "Add deputies to the SMS drill",
        "owner": "VRU localities",
        "due_on": "2027-01-31",
        "rag": "amber",
        "updated_at": None,
    }
    assert document["metrics"]["minutes_to_first_alert"] == 1.5
    assert document["metrics"]["check_ins_missed"] == 1


def test_the_whole_timeline_in_order(document, scripted):
    events = db.session.scalar(
        select(func.count())
        .select_from(TimelineEvent)
        .where(TimelineEvent.incident_id == scripted.incident.id)
    )
    timeline = document["timeline"]
    assert len(timeline) == events
    assert [(e["at"], e["id"]) for e in timeline] == sorted((e["at"], e["id"]) for e in timeline)
    escalated = next(e for e in timeline if e["kind"] == "escalated")
    assert escalated["data"]["level"] == 1
    assert timeline[-1]["kind"] == "exported" and timeline[-1]["data"] == {
        "format": "json",
        "variant": "full",
    }
