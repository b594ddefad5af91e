"""The after-action report's acknowledgement pictures, its condensed chronology and its typeface."""

from __future__ import annotations

import base64
import io
import re
from datetime import timedelta

import pytest
from freezegun import freeze_time
from pypdf import PdfReader
from reportlab.platypus import Paragraph, Table
from sqlalchemy import select

from responder.exports.chronology_csv import chronology_rows
from responder.exports.report import build_report
from responder.exports.report_pdf import PAGE_WIDTH, _ruled, _styles, chronology_table
from responder.extensions import db
from responder.models import Contact, ResponseChannel
from responder.responses.acknowledgements import decline
from responder.timeline.naming import naming_for

from .export_scenario import REVIEWED, T0, activation_for, download, run_script, sign_in
from .test_exports_report import pdf_text, squash

# Names of people in the region that Bitstream Vera could not print (ś, ș) or printed only by luck.
LATIN_EXTENDED = {
    "bham-youth-lead": "Łukasz Wiśniewski",
    "wmp-bham-duty-inspector": "Ştefan Dumitrașcu",
    "bham-childrens-deputy": "Đorđe Petrović",
}


@pytest.fixture
def manager(make_user, login):
    return sign_in(login, make_user("manager"))


@pytest.fixture
def scripted(make_incident, send_outbox):
    return run_script(make_incident, send_outbox)


def pdf_of(client, reference: str, redacted: bool = False) -> str:
    suffix = "?redacted=1" if redacted else ""
    response = download(client, f"/incidents/{reference}/export.pdf{suffix}")
    assert response.status_code == 200
    return squash(pdf_text(response.get_data()))


def test_the_pdf_draws_the_swimlane_and_the_target_chart_with_captions_and_axes(client, scripted, manager):
    text = pdf_of(client, scripted.reference)
    for words in (
        "Acknowledgement swimlane",
        "Figure 1. Acknowledgement swimlane: one row per agency, on one time axis",
        "Time since the incident was opened (minutes)",
        "Alerted Escalated (rung above) Acknowledged Declined",
        "Time to acknowledge against the playbook's target",
        "Figure 2. Time to acknowledge: one bar per agency, from its alert to its acknowledgement",
        "Minutes from alert to acknowledgement",
        "Target: 15 min",
        "Figure 3. Community tension",
    ):
        assert words in text, words
    # The bars' own labels: police 12 min, children's trust 25 min, youth service 5 min.
    chart = text[text.index("Time to acknowledge against the playbook's target") : text.index("Figure 2.")]
    assert re.search(r"West Midlands Police .{0,60}12 min", chart)
    assert re.search(r"Children's Advice and Support .{0,20}25 min", chart)
    assert re.search(r"Birmingham Youth Service 5 min", chart)
    assert chart.count("not acknowledged") == 7


def test_the_web_report_shows_the_same_pictures_with_their_numbers(client, scripted, manager):
    page = download(client, f"/incidents/{scripted.reference}/report").get_data(as_text=True)
    images = dict(
        (alt.split(" ")[0], base64.b64decode(data).decode())
        for data, alt in re.findall(
            r'<img class="app-report__chart" src="data:image/svg\+xml;base64,([^"]+)" alt="([^"]+)"', page
        )
    )
    assert set(images) == {"Swimlane", "Bar", "Community"}
    assert "Time since the incident was opened (minutes)" in images["Swimlane"]
    assert "Minutes from alert to acknowledgement" in images["Bar"] and "Target: 15 min" in images["Bar"]
    # No inline style escapes into the page: the pictures are images.
    assert "<svg" not in page
    text = squash(re.sub(r"<[^>]+>", " ", page)).replace("&#39;", "'")
    assert "The swimlane as a table" in text and "The bar chart as a table" in text
    assert "deputy at 21:56 GMT Acknowledged at 22:05 GMT" in text
    assert "Birmingham Youth Service 5 min 15 min" in text


def test_a_decline_is_marked_on_the_lead_s_row_by_role(app, make_incident):
    with freeze_time(T0) as clock:
        incident = make_incident()
        clock.move_to(T0 + timedelta(minutes=4))
        csp = activation_for(incident, "bham-csp")
        decline(csp, csp.lead_contact, ResponseChannel.LINK, "On leave")
        db.session.commit()
        report = build_report(incident, naming_for(incident, redacted=True))
    lane = next(lane for lane in report.lanes if lane.agency == "Birmingham Community Safety Partnership")
    assert [(mark.kind, mark.label) for mark in lane.marks] == [
        ("alerted", ""),
        ("declined", "lead"),
        ("escalated", "deputy"),  # the decline handed the alert on
    ]
    assert lane.marks[1].at - lane.alerted_at == timedelta(minutes=4)


def test_the_redacted_report_draws_the_same_pictures_with_role_labels_only(client, scripted, manager):
    full = pdf_of(client, scripted.reference)
    redacted = pdf_of(client, scripted.reference, redacted=True)
    figures = re.compile(r"Acknowledgement swimlane Alerted.*?Figure 2\.[^.]*\.", re.S)
    furniture = re.compile(r"OFFICIAL(-SENSITIVE)? \S+ – after-action report \((full|redacted)\) Page \d+ ")
    assert furniture.sub("", figures.search(full)[0]) == furniture.sub("", figures.search(redacted)[0])
    for contact in db.session.scalars(select(Contact)):
        assert contact.name not in redacted
    assert "Escalated to the deputy: nobody acknowledged within 15 minutes" in redacted
    assert "Alert to Lead: SMS failed 21:43 ([withheld]), reached by email instead" in redacted


def old_chronology_table(incident_id: int, naming) -> Table:
    """The report's chronology as it was until now: every timeline event a row (time, who, kind: detail)."""
    styles = _styles()
    rows = [[Paragraph(cell, styles["th"]) for cell in ("Time", "Who", "What")]]
    rows += [
        [
            Paragraph(local, styles["small"]),
            Paragraph(f"{actor}<br/>{agency}".strip(), styles["small"]),
            Paragraph(f"{kind}: {detail}", styles["small"]),
        ]
        for local, _utc, actor, agency, _channel, kind, detail in chronology_rows(incident_id, naming)
    ]
    table = Table(rows, colWidths=[PAGE_WIDTH * w for w in (0.18, 0.27, 0.55)], repeatRows=1)
    table.setStyle(_ruled(header=True))
    return table


def test_the_condensed_chronology_is_at_most_a_third_of_the_old_one(app, scripted):
    """Measured on the PDF page: the height the chronology's table takes, old against new."""
    naming = naming_for(scripted.incident, redacted=False)
    report = build_report(scripted.incident, naming)
    old = old_chronology_table(scripted.incident.id, naming)
    new = chronology_table(report, _styles())
    old_height = old.wrap(PAGE_WIDTH, 10**6)[1]
    new_height = new.wrap(PAGE_WIDTH, 10**6)[1]
    old_rows, new_rows = len(old._cellvalues) - 1, report.chronology.rows
    print(
        f"chronology: {old_rows} rows, {old_height:.0f} pt before; {new_rows} rows, {new_height:.0f} pt after"
    )
    assert report.chronology.events == old_rows == 53
    assert new_height * 3 <= old_height
    assert new_rows * 2 < old_rows


def test_names_with_latin_extended_letters_print_as_written(client, make_incident, send_outbox, manager):
    for key, name in LATIN_EXTENDED.items():
        db.session.scalar(select(Contact).where(Contact.key == key)).name = name
    db.session.commit()
    scripted = run_script(make_incident, send_outbox)
    response = download(client, f"/incidents/{scripted.reference}/export.pdf")
    text = squash(pdf_text(response.get_data()))
    assert "Alert to Łukasz Wiśniewski, Lead: SMS and email sent 21:41" in text
    assert "Acknowledged by Ştefan Dumitrașcu, Lead, by link" in text
    assert "Escalated to the deputy, Đorđe Petrović" in text
    fonts = {
        font["/BaseFont"]
        for page in PdfReader(io.BytesIO(response.get_data())).pages
        for font in page["/Resources"]["/Font"].values()
    }
    # Subsets of DejaVu Sans, embedded: no font the reader's machine must supply.
    assert fonts and all(re.fullmatch(r"/[A-Z]{6}\+DejaVuSans(-Bold)?", str(font)) for font in fonts), fonts


def test_the_report_is_generated_after_the_review(app, scripted):
    with freeze_time(REVIEWED):
        report = build_report(scripted.incident, naming_for(scripted.incident, redacted=False))
    assert report.generated_at == "Thu 26 Nov 2026, 21:40 GMT"
    assert [lane.agency for lane in report.lanes][:2] == [
        "West Midlands Police – Birmingham local policing area",
        "Birmingham Community Safety Partnership",
    ]
