"""Redacted exports, for sharing beyond the core partnership: roles and pseudonyms, no free text.

A canary goes into every free-text field of every form (through the forms
themselves) and into a contact's name before a rename; every redacted format
is then searched, as raw bytes and (the PDF) as extracted text, and must hold
none of them, while the full formats hold them all.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from pypdf import PdfReader
from sqlalchemy import select

from responder.directory.contacts import import_contacts
from responder.extensions import db
from responder.models import Contact, Incident, Message
from responder.notify.outbox import rendered_body
from responder.scheduling.firing import fire_due_actions
from responder.timeline.naming import naming_for

from .test_acknowledgements import link_for
from .test_web_incidents import form_data

T0 = datetime(2026, 11, 24, 21, 40, tzinfo=UTC)
REVIEWED = T0 + timedelta(days=2)
FORMATS = ["export.csv", "export.json", "export.pdf", "report"]

# One word per field, letters only (every form accepts them), unlike anything else in a document.
CANARY = {
    "summary": "Quokkasummary",
    "location": "Quokkalocation",
    "update": "Quokkaupdate",
    "tension reason": "Quokkatension",
    "meeting title": "Quokkameeting",
    "meeting attendees": "Quokkaattendee",
    "meeting actions": "Quokkaagreed",
    "ad hoc agency name": "Quokkaagency",
    "ad hoc agency reason": "Quokkawhyagency",
    "area reason": "Quokkawhyarea",
    "not applicable reason": "Quokkanotneeded",
    "acknowledgement note": "Quokkaacknote",
    "decline detail": "Quokkadecline",
    "check-in answer": "Quokkaanswer",
    "check-in needs": "Quokkaneeds",
    "practice episode": "Quokkaepisode",
    "lesson": "Quokkalesson",
    "recommendation": "Quokkarecommend",
    "action": "Quokkaaction",
    "owner": "Quokkaowner",
    "stand-down reason": "Quokkastanddown",
    "renamed contact's old name": "Quokkaoldname",
}
# What the chronology (CSV) holds: the timeline. The other formats hold the whole incident.
NOT_IN_THE_CHRONOLOGY = {
    "summary",
    "location",
    "practice episode",
    "lesson",
    "recommendation",
    "action",
    "owner",
}
NEW_NAME = "Rebecca Quokkanewname"
OLD_NAME = "Rebecca " + CANARY["renamed contact's old name"]


def _import_contact(key: str, name: str) -> None:
    contact = db.session.scalar(select(Contact).where(Contact.key == key))
    text = (
        "key,name,phone,email,local_authority\n"
        f"{key},{name},{contact.phone},{contact.email},{contact.local_authority}\n"
    )
    result = import_contacts(text, "directory.csv")
    assert not result.problems, result.problems
    db.session.commit()


def _post(client, path: str, data: dict, expect: int = 303) -> None:
    response = client.post(path, data=data)
    assert response.status_code == expect, (path, response.get_data(as_text=True)[:2000])


@pytest.fixture
def canaried(client, directory, make_user, login, send_outbox) -> Incident:
    """An incident where every form has been used, each with its canary, by a manager."""
    manager = make_user("manager")
    _import_contact("bham-youth-lead", OLD_NAME)
    with freeze_time(T0) as clock:
        login(manager)
        occurred = T0 - timedelta(minutes=20)
        _post(
            client,
            "/incidents/new",
            form_data(
                summary=f"Two injured {CANARY['summary']}",
                location=f"Near {CANARY['location']}",
                youngest_age="15",
                occurred_date=[str(occurred.day), str(occurred.month), str(occurred.year)],
                occurred_time="21:20",
            ),
        )
        incident = db.session.scalar(select(Incident))
        base = f"/incidents/{incident.reference}"
        send_outbox()
        _post(client, f"{base}/updates", {"text": f"Vigil {CANARY['update']}"})
        _post(client, f"{base}/tension", {"level": "critical", "reason": f"Posts {CANARY['tension reason']}"})
        _post(
            client,
            f"{base}/meetings",
            {
                "title": f"Strategy {CANARY['meeting title']}",
                "attendees": f"WMP\n{CANARY['meeting attendees']}",
                "actions": f"Patrols {CANARY['meeting actions']}",
            },
        )
        _post(
            client,
            f"{base}/agencies/ad-hoc",
            {
                "name": f"{CANARY['ad hoc agency name']} Community Trust",
                "lead_role": "bham-networks-lead",
                "sharing_basis": "consent",
                "reason": f"Mentors {CANARY['ad hoc agency reason']}",
            },
        )
        _post(
            client,
            f"{base}/areas",
            {"local_authority": "sandwell", "reason": f"Lives {CANARY['area reason']}"},
        )
        db.session.expire_all()
        other = next(
            a
            for a in incident.activations
            if a.agency_key not in ("bham-youth-service", "wmp-birmingham") and a.state == "alerted"
        )
        _post(
            client,
            f"{base}/activations/{other.id}/not-applicable",
            {"reason": f"No tenancy {CANARY['not applicable reason']}"},
        )
        send_outbox()
        clock.move_to(T0 + timedelta(minutes=5))
        _post(
            client,
            link_for(incident, "bham-youth-service"),
            {"action": "acknowledge", "ack-note": f"On my way {CANARY['acknowledgement note']}"},
        )
        _post(
            client,
            link_for(incident, "wmp-birmingham"),
            {
                "action": "decline",
                "decline-reason": "not_our_area",
                "decline-detail": f"Wrong team {CANARY['decline detail']}",
            },
        )
        # The youth service lead changes their name in the directory after they were alerted.
        _import_contact("bham-youth-lead", NEW_NAME)

        clock.move_to(T0 + timedelta(hours=4))
        fire_due_actions()
        send_outbox()
        youth = next(a for a in incident.activations if a.agency_key == "bham-youth-service")
        sms = db.session.scalar(
            select(Message).where(
                Message.activation_id == youth.id, Message.kind == "check_in", Message.channel == "sms"
            )
        )
        check_in_path = re.search(r"http://responder\.test(/c/\S+)", rendered_body(sms)).group(1)
        clock.move_to(T0 + timedelta(hours=4, minutes=30))
        _post(
            client,
            check_in_path,
            {
                "status_update": f"Out tonight {CANARY['check-in answer']}",
                "tension": "high",
                "needs": f"Patrols {CANARY['check-in needs']}",
            },
        )
        login(manager)  # a new shift, a new sign-in
        _post(client, f"{base}/stand-down", {"reason": f"Calm {CANARY['stand-down reason']}"})

        clock.move_to(REVIEWED)
        login(manager)
        for kind, canary in (
            ("practice_episode", "practice episode"),
            ("lesson", "lesson"),
            ("recommendation", "recommendation"),
        ):
            _post(
                client,
                f"{base}/review",
                {"note-kind": kind, "note-text": f"Noted {CANARY[canary]}", "note-submit": "Add"},
            )
        _post(
            client,
            f"{base}/review",
            {
                "action-action": f"Drill {CANARY['action']}",
                "action-owner": f"Team {CANARY['owner']}",
                "action-due_on": ["31", "1", "2027"],
                "action-rag": "amber",
                "action-submit": "Add",
            },
        )
    db.session.expire_all()
    return db.session.get(Incident, incident.id)


def document(client, incident: Incident, export: str, *, redacted: bool) -> str:
    """An export as the text anyone could read out of it: the raw bytes, and a PDF's extracted text."""
    with freeze_time(REVIEWED + timedelta(hours=1)):
        response = client.get(
            f"/incidents/{incident.reference}/{export}" + ("?redacted=1" if redacted else "")
        )
        data = response.get_data()
    assert response.status_code == 200, export
    if export == "export.pdf":
        reader = PdfReader(io.BytesIO(data))
        text = "\n".join(page.extract_text() for page in reader.pages) + str(reader.metadata)
        # Table cells wrap: a word may be broken across lines.
        return data.decode("latin-1") + "\n" + text + "\n" + re.sub(r"\s+", "", text)
    text = data.decode("utf-8-sig")
    return text + "\n" + html.unescape(text) + "\n" + json.dumps(text)


def test_no_canary_survives_in_any_redacted_format(client, canaried):
    found = {}
    for export in FORMATS:
        text = document(client, canaried, export, redacted=True).lower()
        # The contact's current name may not appear either: people are roles here.
        leaked = [
            field
            for field, canary in {**CANARY, "current name": "Quokkanewname"}.items()
            if canary.lower() in text
        ]
        if leaked:
            found[export] = leaked
    assert found == {}, f"redacted formats holding canaries: {found}"


def test_the_full_formats_still_hold_every_canary(client, canaried):
    """The search above can fail: it finds every canary in the full version."""
    missing = {}
    for export in FORMATS:
        text = document(client, canaried, export, redacted=False)
        expected = [
            field
            for field in CANARY
            if field != "renamed contact's old name"
            and not (export == "export.csv" and field in NOT_IN_THE_CHRONOLOGY)
        ]
        absent = [field for field in expected if CANARY[field] not in text]
        if absent:
            missing[export] = absent
        # People are named as the directory names them now, never by a name they no longer have.
        assert NEW_NAME in text and CANARY["renamed contact's old name"] not in text, export
    assert missing == {}, f"full formats lacking canaries: {missing}"


def test_people_have_one_label_throughout_a_document_and_another_in_the_next(client, canaried):
    first = json.loads(document(client, canaried, "export.json", redacted=True).split("\n")[0])
    second = json.loads(document(client, canaried, "export.json", redacted=True).split("\n")[0])
    opened = next(event for event in first["timeline"] if event["kind"] == "opened")
    assert first["incident"]["opened_by"] == opened["actor"]
    assert re.fullmatch(r"Person [0-9A-F]{4}", opened["actor"])
    assert {note["created_by"] for note in first["review"]["notes"]} == {
        opened["actor"]
    }  # one manager did both
    # Two exports cannot be joined by their pseudonyms.
    assert second["incident"]["opened_by"] != first["incident"]["opened_by"]

    label = "Lead, Birmingham Youth Service"
    youth = next(a for a in first["activations"] if a["agency_key"] == "bham-youth-service")
    assert youth["lead"] == youth["acknowledged_by"] == label
    ack = next(e for e in first["timeline"] if e["kind"] == "acknowledged")
    assert ack["actor"] == label and ack["detail"].startswith(
        f"Birmingham Youth Service covered: acknowledged by {label}"
    )
    assert ack["detail"].endswith("note: [withheld]")


def test_free_text_is_withheld_whole_ages_are_bands_and_hand_added_agencies_are_numbered(client, canaried):
    full = json.loads(document(client, canaried, "export.json", redacted=False).split("\n")[0])
    redacted = json.loads(document(client, canaried, "export.json", redacted=True).split("\n")[0])
    assert full["incident"]["youngest_age"] == 15 and redacted["incident"]["youngest_age"] == "under 18"
    assert redacted["incident"]["summary"] == redacted["incident"]["location"] == "[withheld]"
    assert {r["note"] for r in redacted["responses"]} <= {"[withheld]", None}
    assert all(m["address"] is None for m in redacted["messages"])
    assert all(e["data"] is None for e in redacted["timeline"])
    assert {n["text"] for n in redacted["review"]["notes"]} == {"[withheld]"}
    assert [(a["action"], a["owner"]) for a in redacted["review"]["actions"]] == [
        ("[withheld]", "[withheld]")
    ]
    by_hand = next(a for a in redacted["activations"] if a["agency_key"].startswith("adhoc-"))
    assert by_hand["agency_key"] == "adhoc-1" and by_hand["agency_name"] == "An agency added by hand"
    assert list(redacted["playbook"]["snapshot"]["added_agencies"]) == ["adhoc-1"]
    meeting = next(e for e in redacted["timeline"] if e["kind"] == "meeting_recorded")
    assert meeting["detail"] == "Meeting recorded (2 attendees, 1 action); notes withheld"


def test_the_redacted_csv_says_what_happened_without_anyones_words(client, canaried):
    text = document(client, canaried, "export.csv", redacted=True).split("\n\n")[0]
    rows = list(csv.reader(io.StringIO(text)))
    by_kind = {row[5]: row for row in rows[1:] if len(row) == 7}
    assert by_kind["Check-in answered"][6].startswith(
        "Birmingham Youth Service answered the 4 hours check-in"
    )
    assert "[withheld]" in by_kind["Check-in answered"][6]
    assert by_kind["Update"][6] == "[withheld]"


def test_a_page_and_a_redacted_export_say_the_same_thing_differently(app, canaried):
    """One renderer: the incident page's sentence and the export's, from the same row."""
    from responder.incidents.view import timeline

    full = timeline(canaried, naming_for(canaried, redacted=False), limit=None).entries
    redacted = timeline(canaried, naming_for(canaried, redacted=True), limit=None).entries
    assert [entry.kind for entry in full] == [entry.kind for entry in redacted]
    declined = [entry.sentence for entry in (*full, *redacted) if entry.kind == "declined"]
    assert CANARY["decline detail"] in declined[0] and CANARY["decline detail"] not in declined[1]
