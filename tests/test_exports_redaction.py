"""Redacted exports, for sharing beyond the core partnership: roles and pseudonyms, no free text.

Every format is searched as raw bytes (and the PDF as extracted text too) for
every name, phone number, email address, summary and location the incident
holds: none may appear.
"""

from __future__ import annotations

import csv
import html
import io
import json
from datetime import date

import pytest
from freezegun import freeze_time
from pypdf import PdfReader

from responder.exports.redaction import for_incident
from responder.models.reviews import RagStatus, ReviewNoteKind
from responder.reviews import learning_review as reviews

from .export_scenario import (
    ACK_NOTE,
    LOCATION,
    REVIEWED,
    SUMMARY,
    YOUTH_ANSWER,
    activation_for,
    contacts_of,
    download,
    run_script,
    sign_in,
)

EXPORTS = ["export.csv", "export.json", "export.pdf", "report"]


@pytest.fixture
def manager(make_user, login):
    return sign_in(login, make_user("manager"))


@pytest.fixture
def scripted(make_incident, send_outbox, manager):
    scripted = run_script(make_incident, send_outbox)
    lead = activation_for(scripted.incident, "bham-youth-service").lead_contact
    with freeze_time(REVIEWED):
        # A reviewer who forgets to refer to people by role.
        reviews.add_note(
            scripted.incident,
            manager,
            ReviewNoteKind.PRACTICE_EPISODE,
            f"{lead.name} was on scene in 40 minutes; "
            f"{lead.name.split()[0]} rang {lead.phone} and {lead.email}.",
        )
        reviews.add_action(
            scripted.incident,
            manager,
            "Call 07700 900123 weekly",
            lead.name,
            date(2027, 1, 31),
            RagStatus.RED,
        )
    return scripted


def secrets_of(incident, users) -> list[str]:
    """Everything personal the incident holds, as it might be written."""
    found = [
        SUMMARY,
        LOCATION,
        "SUMMARY-CANARY",
        "LOCATION-CANARY",
        "Jordan",
        "Blake",
        "07700 900999",
        "Kyle",
    ]
    found += ["jordan.blake@example.net", YOUTH_ANSWER[:30], ACK_NOTE[:25], "07700 900123", "07700900123"]
    for contact in contacts_of(incident):
        national = "0" + contact.phone[3:]
        found += [contact.name, contact.email, contact.phone, national, f"{national[:5]} {national[5:]}"]
    for user in users:
        found += [user.name, user.email]
    return found


def assert_nothing_personal(data: bytes, secrets: list[str], where: str) -> None:
    for secret in secrets:
        for form in {secret, html.escape(secret), json.dumps(secret)[1:-1]}:
            assert form.encode("utf-8") not in data, f"{secret!r} found in the redacted {where}"


@pytest.mark.parametrize("export", EXPORTS)
def test_a_redacted_export_holds_nothing_personal(client, scripted, manager, export):
    response = download(client, f"/incidents/{scripted.reference}/{export}?redacted=1")
    assert response.status_code == 200
    data = response.get_data()
    secrets = secrets_of(scripted.incident, [manager, scripted.incident.opened_by])
    assert_nothing_personal(data, secrets, export)
    if export == "export.pdf":
        text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
        assert_nothing_personal(text.encode("utf-8"), secrets, "PDF text")
        assert_nothing_personal(str(PdfReader(io.BytesIO(data)).metadata).encode(), secrets, "PDF metadata")
        data = text.encode("utf-8")
    page = data.decode("utf-8")
    assert "Lead, Birmingham Youth Service" in page or "Lead, Birmingham Youth Service" in html.unescape(page)
    assert "Person A" in page


@pytest.mark.parametrize("export", EXPORTS)
def test_the_full_export_does_name_people(client, scripted, manager, export):
    """The check above can fail: the same search finds people in the full version."""
    data = download(client, f"/incidents/{scripted.reference}/{export}").get_data()
    if export == "export.pdf":
        data = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).encode()
    lead = activation_for(scripted.incident, "bham-youth-service").lead_contact
    assert lead.name.encode() in data
    if export != "export.csv":  # the chronology has no summary in it
        assert b"SUMMARY-CANARY" in data


def test_the_same_person_has_the_same_label_throughout(client, scripted, manager):
    document = json.loads(
        download(client, f"/incidents/{scripted.reference}/export.json?redacted=1").get_data()
    )
    opened = next(event for event in document["timeline"] if event["kind"] == "opened")
    assert document["incident"]["opened_by"] == opened["actor"] == "Person A"
    exported = document["timeline"][-1]
    assert exported["actor"] == document["review"]["notes"][0]["created_by"] == "Person B"
    childrens = next(a for a in document["activations"] if a["agency_key"] == "bham-childrens-trust")
    label = "Deputy, Birmingham Children's Trust – Children's Advice and Support Service (MASH)"
    assert childrens["acknowledged_by"] == childrens["deputy"] == label
    ack = next(
        e
        for e in document["timeline"]
        if e["kind"] == "acknowledged" and e["agency_key"] == "bham-childrens-trust"
    )
    assert ack["actor"] == label and ack["detail"].endswith(f"acknowledged by {label}")
    assert {r["contact"] for r in document["responses"] if r["agency_key"] == "bham-childrens-trust"} == {
        label
    }


def test_free_text_is_withheld_and_addresses_dropped(client, scripted, manager):
    document = json.loads(
        download(client, f"/incidents/{scripted.reference}/export.json?redacted=1").get_data()
    )
    assert document["variant"] == "redacted"
    assert document["incident"]["summary"] == document["incident"]["location"] == "[withheld]"
    assert {r["note"] for r in document["responses"]} <= {"[withheld]", ""}
    assert {c["status_update"] for c in document["check_ins"]} <= {"[withheld]", None}
    assert all(m["address"] is None for m in document["messages"])
    assert all(e["data"] is None for e in document["timeline"])
    note = document["review"]["notes"][0]["text"]
    assert note.startswith(
        "Lead, Birmingham Youth Service was on scene in 40 minutes; Lead, Birmingham Youth Service rang"
    )


def test_the_redacted_csv_rebuilds_details_that_carry_peoples_words(client, scripted, manager):
    data = (
        download(client, f"/incidents/{scripted.reference}/export.csv?redacted=1")
        .get_data()
        .decode("utf-8-sig")
    )
    rows = {row[5]: row for row in csv.reader(io.StringIO(data))}
    assert rows["check_in_received"][6].endswith("the answer is withheld")
    assert rows["exported"][6] == "Exported the chronology (CSV), redacted version"


def test_unknown_timeline_kinds_are_withheld_by_default(app, scripted):
    redaction = for_incident(scripted.incident, redacted=True)
    assert (
        redaction.event_detail("family_visit", "Visited Kyle at 12 Lozells Road", "system", None, None)
        == "Family visit: details withheld in the redacted export"
    )
    # Any phone number or address left in Responder's own words is withheld too.
    assert (
        redaction.scrub("call +44 7700 900555 or x@example.com")
        == "call [phone withheld] or [email withheld]"
    )
    assert redaction.scrub("playbook 6f13499aba27 BHM-2026-0001") == "playbook 6f13499aba27 BHM-2026-0001"
