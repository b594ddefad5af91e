"""The service as its people meet it, in a real browser against a real server process.

Each test is one journey; each step leaves a screenshot in
test-artifacts/screenshots/<test>/ and the pages people rely on most are
checked with axe-core on the way.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

from playwright.sync_api import Page, expect
from pypdf import PdfReader

from responder.clock import now_utc, to_local

from .axe import check_accessibility
from .conftest import LIVE_UPDATE_MS

REFERENCE = re.compile(r"/incidents/(?P<reference>[A-Z]{3}-\d{4}-\d{4})$")
SUMMARY_CANARY = "E2E-SUMMARY-CANARY the victim is 15 and goes to Holte School"


def incident_reference(page: Page) -> str:
    match = REFERENCE.search(page.url)
    assert match, page.url
    return match["reference"]


def test_an_officer_opens_an_incident_through_the_form(new_context, shot):
    page = new_context().new_page()
    page.goto("/incidents/new")
    expect(page.get_by_role("heading", name="Sign in to Responder")).to_be_visible()
    check_accessibility(page, "login")
    shot(page, "sign-in")
    page.get_by_label("Email address").fill("officer@example.org")
    page.get_by_label("Password", exact=True).fill("officer-demo-password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Open an incident")).to_be_visible()
    check_accessibility(page, "new-incident")
    shot(page, "new-incident-form")
    happened = to_local(now_utc() - timedelta(minutes=35))
    page.get_by_label("Local authority where it happened").select_option("birmingham")
    page.get_by_label("Stabbing").check()
    page.locator("#occurred_date-day").fill(str(happened.day))
    page.locator("#occurred_date-month").fill(str(happened.month))
    page.locator("#occurred_date-year").fill(str(happened.year))
    page.get_by_label("Time it happened").fill(happened.strftime("%H:%M"))
    page.get_by_label("What happened (optional)").fill(SUMMARY_CANARY)
    page.get_by_label("Age of the youngest person involved (optional)").fill("15")
    page.get_by_label("A school is linked").check()
    page.get_by_label("High").check()
    shot(page, "filled-in-without-location")
    page.get_by_role("button", name="Open incident and alert agencies").click()

    # The error round trip: a clear summary, the field marked, everything typed kept.
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("There is a problem")
    expect(summary.get_by_role("link", name="Enter where the incident happened")).to_be_visible()
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator("#location-error")).to_contain_text("Enter where the incident happened")
    expect(page.get_by_label("What happened (optional)")).to_have_value(SUMMARY_CANARY)
    expect(page.get_by_label("Time it happened")).to_have_value(happened.strftime("%H:%M"))
    expect(page.get_by_label("Local authority where it happened")).to_have_value("birmingham")
    expect(page.get_by_label("Stabbing")).to_be_checked()
    expect(page.get_by_label("High")).to_be_checked()
    expect(page.get_by_label("A school is linked")).to_be_checked()
    check_accessibility(page, "new-incident-with-errors")
    shot(page, "error-summary")
    summary.get_by_role("link", name="Enter where the incident happened").click()
    expect(page.locator("#location")).to_be_focused()

    page.locator("#location").fill("Lozells Road E2E-LOCATION-CANARY")
    shot(page, "location-added")
    page.get_by_role("button", name="Open incident and alert agencies").click()

    page.wait_for_url(REFERENCE)
    reference = incident_reference(page)
    assert reference.startswith("BHM-")
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    expect(page.locator("#board")).to_contain_text("Birmingham Youth Service")
    expect(page.locator("#incident-status")).to_have_text("Open")
    check_accessibility(page, "incident-page")
    shot(page, "incident-page")


def lead_opens_alert(new_context, messages, phone: str, reference: str) -> Page:
    """A lead's phone: the alert SMS arrives and its link opens the confirm page."""
    text = messages.wait_for_text(phone, "Responder alert", reference)
    assert "Responder alert" in text and "E2E-" not in text  # no personal data in an SMS
    page = new_context(phone=True).new_page()
    page.goto(messages.link_in(text, "a"))
    return page


def test_a_lead_acknowledges_on_a_phone_and_the_officers_page_updates_itself(
    new_context, sign_in, messages, contacts, open_incident_via_api, shot
):
    reference = open_incident_via_api()
    officer = sign_in("officer@example.org")
    officer.goto(f"/incidents/{reference}")
    youth_service = officer.locator("#board tr", has_text="Birmingham Youth Service")
    expect(youth_service).to_contain_text("Alerted")
    officer.evaluate("() => { window.e2eNotReloaded = true; }")
    shot(officer, "officer-watching")

    lead_contact = contacts["bham-youth-lead"]
    lead = lead_opens_alert(new_context, messages, lead_contact["phone"], reference)
    expect(lead.get_by_role("heading", name="Birmingham Youth Service")).to_be_visible()
    expect(lead.get_by_text(lead_contact["name"])).to_be_visible()
    check_accessibility(lead, "acknowledgement-page")
    shot(lead, "lead-confirm-page")
    lead.get_by_role("button", name="Acknowledge: we are covering this").tap()
    expect(lead.locator(".govuk-notification-banner")).to_contain_text(
        "Birmingham Youth Service is recorded as covering this response"
    )
    check_accessibility(lead, "acknowledgement-page-done")
    shot(lead, "lead-acknowledged")

    expect(youth_service).to_contain_text("Covered", timeout=LIVE_UPDATE_MS)
    expect(youth_service).to_contain_text(re.compile(rf"{lead_contact['name']}, \d\d:\d\d"))
    expect(officer.locator("#timeline-events")).to_contain_text(
        f"covered: acknowledged by {lead_contact['name']}", timeout=LIVE_UPDATE_MS
    )
    assert officer.evaluate("() => window.e2eNotReloaded === true"), "the officer's page was reloaded"
    shot(officer, "officer-sees-covered")


def test_a_lead_declines_with_a_reason_and_the_deputy_is_texted(
    new_context, messages, contacts, open_incident_via_api, shot
):
    reference = open_incident_via_api()
    deputy_phone = contacts["bham-csp-deputy"]["phone"]
    lead = lead_opens_alert(new_context, messages, contacts["bham-csp-lead"]["phone"], reference)
    expect(lead.get_by_role("heading", name="Birmingham Community Safety Partnership")).to_be_visible()
    shot(lead, "lead-confirm-page")
    lead.get_by_text("I cannot cover this").tap()
    lead.get_by_label("Passing to my deputy").check()
    lead.get_by_label("More detail (optional)").fill("On leave until Monday")
    shot(lead, "lead-decline-form")
    lead.get_by_role("button", name="Decline").tap()
    expect(lead.locator(".govuk-notification-banner")).to_contain_text("Your decline is recorded")
    shot(lead, "lead-declined")

    deputy = lead_opens_alert(new_context, messages, deputy_phone, reference)
    expect(deputy.get_by_role("heading", name="Birmingham Community Safety Partnership")).to_be_visible()
    expect(deputy.get_by_text(contacts["bham-csp-deputy"]["name"])).to_be_visible()
    shot(deputy, "deputy-confirm-page")


def make_first_check_in_due(live_server, reference: str) -> None:
    """Bring the incident's first check-in forward to now, in its row: the server's scheduler fires it.

    The database row is the schedule (responder.scheduling), so this is the
    honest shortcut: nothing is sent from here, and nothing waits four hours.
    """
    from sqlalchemy import select

    from responder import create_app
    from responder.extensions import db
    from responder.models import ActionKind, ActionState, TimedAction

    from ..conftest import incident_by_reference

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": live_server.database_url})
    with app.app_context():
        incident = incident_by_reference(reference)
        action = db.session.scalars(
            select(TimedAction)
            .where(
                TimedAction.incident_id == incident.id,
                TimedAction.kind == ActionKind.CHECK_IN,
                TimedAction.state == ActionState.PENDING,
            )
            .order_by(TimedAction.due_at)
        ).first()
        assert action is not None, "the playbook has no check-in step"
        action.due_at = now_utc()
        db.session.commit()
        db.engine.dispose()


def test_a_check_in_is_answered_on_a_phone_and_tension_shows_on_the_incident_page(
    new_context, sign_in, messages, contacts, live_server, open_incident_via_api, shot
):
    reference = open_incident_via_api(tension="medium")
    phone = contacts["bham-youth-lead"]["phone"]
    lead = lead_opens_alert(new_context, messages, phone, reference)
    lead.get_by_role("button", name="Acknowledge: we are covering this").tap()
    expect(lead.locator(".govuk-notification-banner")).to_contain_text("covering this response")
    officer = sign_in("officer@example.org")
    officer.goto(f"/incidents/{reference}")
    expect(officer.locator("#tension")).to_contain_text("Medium")

    make_first_check_in_due(live_server, reference)
    text = messages.wait_for_text(phone, f"check-in for Birmingham {reference}")
    check_in = new_context(phone=True).new_page()
    check_in.goto(messages.link_in(text, "c"))
    expect(check_in.get_by_role("heading", name="Check-in: Birmingham Youth Service")).to_be_visible()
    check_accessibility(check_in, "check-in-page")
    shot(check_in, "check-in-form")
    check_in.get_by_role("button", name="Send check-in").tap()
    expect(check_in.locator(".govuk-error-summary")).to_contain_text("Enter a short update")
    check_accessibility(check_in, "check-in-page-with-errors")
    shot(check_in, "check-in-errors")
    check_in.get_by_label("How is the response going?").fill("Detached team out on Soho Road tonight.")
    check_in.get_by_label("High").check()
    check_in.get_by_label("Needs or concerns (optional)").fill("Rumours of a retaliation on social media.")
    shot(check_in, "check-in-filled")
    check_in.get_by_role("button", name="Send check-in").tap()
    expect(check_in.locator(".govuk-panel")).to_contain_text("Check-in sent")
    shot(check_in, "check-in-sent")

    timeline = officer.locator("#timeline-events")
    expect(timeline).to_contain_text("Community tension now high", timeout=LIVE_UPDATE_MS)
    expect(timeline).to_contain_text("Detached team out on Soho Road tonight.")
    shot(officer, "officer-sees-the-check-in")
    officer.reload()
    expect(officer.locator("#tension")).to_contain_text("High")
    expect(officer.locator(".app-tension-trend")).to_contain_text("High")
    shot(officer, "officer-sees-tension")


def test_a_manager_stands_down_closes_and_exports_the_incident(
    new_context, sign_in, messages, contacts, open_incident_via_api, shot
):
    reference = open_incident_via_api()
    phone = contacts["bham-youth-lead"]["phone"]
    lead = lead_opens_alert(new_context, messages, phone, reference)
    lead.get_by_role("button", name="Acknowledge: we are covering this").tap()
    expect(lead.locator(".govuk-notification-banner")).to_contain_text("covering this response")

    manager = sign_in("manager@example.org")
    manager.goto(f"/incidents/{reference}")
    manager.get_by_role("link", name="Run this response").click()
    expect(manager.get_by_role("heading", name="Run this response")).to_be_visible()
    check_accessibility(manager, "manage-page")
    shot(manager, "manage-page")
    manager.get_by_label("Why stand down now?").fill("Suspects arrested; community calm.")
    manager.get_by_role("button", name="Stand down").click()
    expect(manager.locator("#incident-status")).to_have_text("Standing down")
    shot(manager, "standing-down")
    stand_down = messages.wait_for_text(phone, f"{reference} is standing down")
    assert "Birmingham Youth Service can stand down" in stand_down

    manager.get_by_role("link", name="Run this response").click()
    manager.get_by_label("Why close it?").fill("Response complete; review to follow.")
    manager.get_by_role("button", name="Close incident").click()
    expect(manager.locator("#incident-status")).to_have_text("Closed")
    shot(manager, "closed")

    manager.get_by_role("link", name="Learning review, after-action report and exports").click()
    shot(manager, "exports")
    downloads = {}
    for label, extension in (
        ("Chronology (CSV)", "csv"),
        ("Whole incident (JSON)", "json"),
        ("After-action report (PDF)", "pdf"),
    ):
        with manager.expect_download() as download:
            manager.get_by_role("link", name=f"Full {label}", exact=True).click()
        assert download.value.suggested_filename.endswith(f".{extension}")
        downloads[extension] = download.value.path().read_bytes()

    rows = list(csv.reader(io.StringIO(downloads["csv"].decode("utf-8-sig"))))
    assert len(rows) > 5 and any("standing down" in " ".join(row).lower() for row in rows)
    document = json.loads(downloads["json"])
    assert document["incident"]["reference"] == reference
    assert document["incident"]["status"] == "closed"
    assert downloads["pdf"].startswith(b"%PDF-")
    pdf = PdfReader(io.BytesIO(downloads["pdf"]))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert len(pdf.pages) >= 1 and reference in text
