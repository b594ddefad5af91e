"""The after-action report, as a PDF and as a printable page, with the same content."""

from __future__ import annotations

import base64
import io
import re
from datetime import date

import pytest
from freezegun import freeze_time
from pypdf import PdfReader

from responder.exports.report import build_report
from responder.models.reviews import RagStatus, ReviewNoteKind
from responder.reviews import learning_review as reviews
from responder.timeline.naming import naming_for

from .export_scenario import LOCATION, REVIEWED, SUMMARY, download, run_script, sign_in

LESSON = "The deputy was not on the reply-code list, so the SMS reply was refused"
ACTION = "Add every deputy to the quarterly SMS drill"


@pytest.fixture
def scripted(make_incident, send_outbox):
    return run_script(make_incident, send_outbox)


@pytest.fixture
def manager(make_user, login):
    return sign_in(login, make_user("manager"))


@pytest.fixture
def reviewed(scripted, manager):
    with freeze_time(REVIEWED):
        reviews.add_note(
            scripted.incident, manager, ReviewNoteKind.PRACTICE_EPISODE, "Youth service on scene in 40 min"
        )
        reviews.add_note(scripted.incident, manager, ReviewNoteKind.LESSON, LESSON)
        reviews.add_note(
            scripted.incident, manager, ReviewNoteKind.RECOMMENDATION, "Test deputies' phones monthly"
        )
        reviews.add_action(
            scripted.incident, manager, ACTION, "VRU localities team", date(2027, 1, 31), RagStatus.AMBER
        )
    return scripted


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def squash(text: str) -> str:
    """Table cells wrap; compare text with its line breaks and spacing flattened."""
    return re.sub(r"\s+", " ", text)


def expected_lines(incident) -> list[str]:
    alerted = sum(1 for a in incident.activations if a.state not in ("no_contact", "not_applicable"))
    return [
        f"After-action report: {incident.reference}",
        "Reference",
        "Local authority Birmingham",
        "Type Stabbing",
        "Exercise or live Live incident",
        "Opened Tue 24 Nov 2026, 21:40 GMT by Test Officer",
        "Time from opening to first alert sent 1 min 30 s (sent Tue 24 Nov 2026, 21:41 GMT)",
        f"Agencies alerted {alerted}, of which 3 acknowledged",
        "Median time to acknowledge 12 min",
        "Slowest to acknowledge Birmingham Children's Trust",
        f"Acknowledged within the playbook's target (15 minutes) 2 of {alerted} ({2 / alerted:.0%})",
        "Escalations 1 across 1 agency",
        "Messages failed 1",
        "Fallbacks used (reached by email after a failed SMS) 1",
        "Check-ins 3 sent, 2 answered, 1 missed",
        "Support offers 6 offered, 1 accepted, 1 delivered",
        "deputy at 21:56 GMT Deputy",
        "Community tension over time",
        "Key practice episodes Youth service on scene in 40 min",
        f"Lessons identified {LESSON}",
        "Recommendations Test deputies' phones monthly",
        "Action plan",
        ACTION,
        "VRU localities team 31 Jan 2027 Amber",
        "Chronology",
        "Escalated to the deputy, Patrick Bains: nobody acknowledged within 15 minutes",
        "Alert to Comfort Okafor, Lead: SMS failed 21:43",
        "Playbook version used",
        incident.playbook_hash,
    ]


def test_the_pdf_has_every_section_of_the_report(client, reviewed, manager):
    response = download(client, f"/incidents/{reviewed.reference}/export.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].endswith(f'{reviewed.reference}-after-action-report.pdf"')
    text = squash(pdf_text(response.get_data()))
    for line in expected_lines(reviewed.incident):
        assert line in text
    assert LOCATION in text and SUMMARY in text
    assert "OFFICIAL-SENSITIVE" in text


def test_the_pdf_chart_is_drawn_from_the_readings(client, reviewed, manager):
    reader = PdfReader(io.BytesIO(download(client, f"/incidents/{reviewed.reference}/export.pdf").get_data()))
    page = next(page for page in reader.pages if "Community tension over time" in page.extract_text())
    text = page.extract_text()
    for label in ("Low", "Medium", "High", "Critical", "Time since the incident was opened (hours)"):
        assert label in text
    # Vector lines (axes, gridlines, the step line): real graphics, not text art.
    assert page.get_contents().get_data().count(b" l") > 10


def test_the_printable_page_has_the_same_content_and_a_chart_image(client, reviewed, manager):
    response = download(client, f"/incidents/{reviewed.reference}/report")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    text = squash(re.sub(r"<[^>]+>", " ", page)).replace("&#39;", "'")
    for line in expected_lines(reviewed.incident):
        assert squash(line) in text
    chart = re.search(
        r'<img class="app-report__chart" src="data:image/svg\+xml;base64,([^"]+)" alt="(Community tension[^"]+)"',
        page,
    )
    svg = base64.b64decode(chart.group(1)).decode()
    assert svg.startswith("<svg") and svg.count("<path") > 10 and "Critical" in svg
    assert "medium from Tue 24 Nov 2026, 21:40 GMT" in chart.group(2)


def test_both_renderers_share_one_report(app, reviewed):
    report = build_report(reviewed.incident, naming_for(reviewed.incident, redacted=False))
    assert dict(report.summary)["Reference"] == reviewed.reference
    assert [title for title, _ in report.review_sections] == [
        "Key practice episodes",
        "Lessons identified",
        "Recommendations",
    ]
    assert report.actions[0].rag == "amber" and not report.chronology_truncated


def test_an_exercise_says_so(client, make_incident, send_outbox, manager):
    scripted = run_script(make_incident, send_outbox, exercise=True)
    text = pdf_text(download(client, f"/incidents/{scripted.reference}/export.pdf").get_data())
    assert "EXERCISE – this was not a real incident." in text
    assert "Exercise or live\nExercise" in text


def test_unknown_incident_is_not_found(client, manager):
    assert download(client, "/incidents/BHM-2026-9999/export.pdf").status_code == 404
