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

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from responder.clock import now_utc, to_local

from .conftest import LIVE_UPDATE_MS
from .server import ARTIFACTS

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
    shot(page, "sign-in")
    page.get_by_label("Email address").fill("officer@example.org")
    page.get_by_label("Password", exact=True).fill("officer-demo-password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Open an incident")).to_be_visible()
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
    expect(page.locator("#board")).to_be_visible()  # the agencies section is open at opening
    expect(page.locator("#board")).to_contain_text("Birmingham Youth Service")
    expect(page.locator("#incident-status")).to_have_text("Open")
    expect(page.locator("#summary-coverage")).to_contain_text(re.compile(r"^0/\d+ agencies covered$"))
    expect(page.locator("#summary-next")).to_contain_text("escalate")
    expect(page.locator("#timeline-events")).to_be_hidden()  # folded away until asked for
    shot(page, "incident-page")
    height = page.evaluate("() => document.documentElement.scrollHeight")
    print(f"\nincident page height at opening, 1280x800: {height} px")
    (ARTIFACTS / "incident-page-height.txt").write_text(f"{height}\n", encoding="utf-8")
    assert height < 2500, f"the incident page is {height} px tall at opening (target: under 2,500)"

    # The contents list opens the section it jumps to.
    page.get_by_role("link", name="Timeline", exact=True).click()
    expect(page.locator("#timeline-events")).to_be_visible()
    expect(page.locator("#timeline-events")).to_contain_text("Incident opened")
    expect(page.locator("#timeline-events")).not_to_contain_text("handed to")  # no receipts by default
    shot(page, "incident-page-timeline")


def test_the_night_shift_trap_suggests_yesterday_with_its_date_filled_in(sign_in, shot):
    """An officer types the time it happened, later than now, leaving today's date: "Did you mean yesterday?"."""
    now = to_local(now_utc())
    later = now + timedelta(minutes=60)
    if later.date() != now.date():
        if now.hour == 23 and now.minute >= 50:
            pytest.skip("too close to midnight for a time later today")
        later = now.replace(hour=23, minute=59)
    page = sign_in("officer@example.org")
    page.goto("/incidents/new")
    # A new form starts at the time of the report.
    expect(page.get_by_label("Time it happened")).to_have_value(re.compile(r"^\d\d:\d\d$"))
    expect(page.locator("#occurred_date-day")).to_have_value(re.compile(rf"^0?{now.day}$"))
    page.get_by_label("Local authority where it happened").select_option("birmingham")
    page.get_by_label("Stabbing").check()
    page.get_by_label("Time it happened").fill(later.strftime("%H:%M"))
    page.locator("#location").fill("Soho Road E2E-LOCATION-CANARY")
    page.get_by_label("Medium").check()
    shot(page, "a-time-later-than-now-for-today")
    page.get_by_role("button", name="Open incident and alert agencies").click()

    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Did you mean yesterday?")
    yesterday = now.date() - timedelta(days=1)
    expect(page.locator("#occurred_date-day")).to_have_value(str(yesterday.day))
    expect(page.locator("#occurred_date-month")).to_have_value(str(yesterday.month))
    expect(page.locator("#occurred_date-year")).to_have_value(str(yesterday.year))
    expect(page.get_by_label("Time it happened")).to_have_value(later.strftime("%H:%M"))
    shot(page, "did-you-mean-yesterday")
    summary.get_by_role("link").first.click()
    expect(page.get_by_label("Time it happened")).to_be_focused()

    page.get_by_role("button", name="Open incident and alert agencies").click()
    page.wait_for_url(REFERENCE)
    page.get_by_text("Incident details (sensitive)").click()
    expect(page.locator(".govuk-details .govuk-summary-list")).to_contain_text(
        f"{yesterday.day:02d} {yesterday:%b %Y}, {later:%H:%M}"
    )
    shot(page, "opened-for-yesterday")


def test_without_javascript_the_incident_page_shows_everything_and_a_reload_brings_it_up_to_date(
    sign_in, messages, contacts, open_incident_via_api, shot
):
    reference = open_incident_via_api()
    officer = sign_in("officer@example.org", javascript=False)
    officer.goto(f"/incidents/{reference}")
    # Every section is open without the accordion's script; nothing polls.
    for panel in ("#summary-band", "#board", "#tension", "#offers-panel", "#timeline-events", "#upcoming"):
        expect(officer.locator(panel)).to_be_visible()
    expect(officer.get_by_role("link", name="reload")).to_be_visible()
    expected = int(re.search(r"/(\d+)", officer.locator("#summary-coverage").inner_text()).group(1))
    # axe runs as JavaScript in the page, so it cannot look here: the same page with it on is checked.
    shot(officer, "incident-page-without-javascript", axe=False)

    lead_contact = contacts["bham-youth-lead"]
    text = messages.wait_for_text(lead_contact["phone"], "Responder alert", reference)
    lead = officer.context.browser.new_context(base_url=officer.url.split("/incidents")[0]).new_page()
    lead.goto(messages.link_in(text, "a"))
    lead.get_by_role("button", name="Acknowledge: we are covering this").click()
    expect(lead.locator(".govuk-notification-banner")).to_contain_text("covering this response")
    lead.context.close()

    officer.get_by_role("link", name="reload").click()
    expect(officer.locator("#summary-coverage")).to_have_text(f"1/{expected} agencies covered")
    expect(officer.locator("#board tr", has_text="Birmingham Youth Service")).to_contain_text("Covered")
    shot(officer, "after-a-reload", axe=False)


def lead_opens_alert(new_context, messages, phone: str, reference: str) -> Page:
    """A lead's phone: the alert SMS arrives and its link opens the confirm page."""
    text = messages.wait_for_text(phone, "Responder alert", reference)
    assert "Responder alert" in text and "E2E-" not in text  # no personal data in an SMS
    page = new_context(phone=True).new_page()
    page.goto(messages.link_in(text, "a"))
    return page


def test_a_lead_acknowledges_on_a_phone_and_the_officers_page_updates_itself(
    new_context, sign_in, messages, contacts, live_server, open_incident_via_api, shot
):
    reference = open_incident_via_api()
    backdate_alerts(live_server, reference, minutes=20)  # past the 15-minute target: all overdue
    officer = sign_in("officer@example.org")
    refused = []  # anything the content security policy blocked (htmx's inline style, say)
    officer.on(
        "console",
        lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None,
    )
    expect(
        officer.get_by_role("heading", name="Incidents", exact=True)
    ).to_be_visible()  # where sign-in lands
    expect(officer.locator("main")).to_contain_text(reference)
    shot(officer, "incidents")
    officer.get_by_role("link", name="Dashboard").click()
    expect(officer.get_by_role("heading", name="Regional dashboard")).to_be_visible()
    expect(officer.locator("main")).to_contain_text(reference)
    shot(officer, "dashboard")
    officer.goto(f"/incidents/{reference}")
    youth_service = officer.locator("#board tr", has_text="Birmingham Youth Service")
    expect(youth_service).to_contain_text("Alerted")
    expected = int(re.search(r"/(\d+)", officer.locator("#summary-coverage").inner_text()).group(1))
    expect(officer.locator("#summary-coverage")).to_have_text(f"0/{expected} agencies covered")
    expect(officer.locator("#summary-overdue")).to_contain_text(f"{expected} agencies have not answered")
    officer.evaluate("() => { window.e2eNotReloaded = true; }")
    shot(officer, "officer-watching")

    lead_contact = contacts["bham-youth-lead"]
    lead = lead_opens_alert(new_context, messages, lead_contact["phone"], reference)
    expect(lead.get_by_role("heading", name="Birmingham Youth Service")).to_be_visible()
    expect(lead.get_by_text(lead_contact["name"])).to_be_visible()
    shot(lead, "lead-confirm-page")
    lead.get_by_role("button", name="Acknowledge: we are covering this").tap()
    expect(lead.locator(".govuk-notification-banner")).to_contain_text(
        "Birmingham Youth Service is recorded as covering this response"
    )
    shot(lead, "lead-acknowledged")

    # Without a reload, the summary band answers "is this working?" with the new figures.
    expect(officer.locator("#summary-coverage")).to_have_text(
        f"1/{expected} agencies covered", timeout=LIVE_UPDATE_MS
    )
    expect(officer.locator("#summary-overdue")).to_contain_text(f"{expected - 1} agencies have not answered")
    expect(officer.locator("#incident-status")).to_have_text("Active")
    expect(youth_service).to_contain_text("Covered", timeout=LIVE_UPDATE_MS)
    expect(youth_service).to_contain_text(re.compile(rf"{lead_contact['name']}, \d\d:\d\d"))
    officer.get_by_role("button", name=re.compile("^Timeline")).click()
    expect(officer.locator("#timeline-events")).to_contain_text(
        f"covered: acknowledged by {lead_contact['name']}", timeout=LIVE_UPDATE_MS
    )
    expect(officer.locator("#timeline-events")).to_contain_text(
        f"{lead_contact['name']}, Lead, Birmingham Youth Service by link"
    )
    assert officer.evaluate("() => window.e2eNotReloaded === true"), "the officer's page was reloaded"
    assert officer.evaluate("() => typeof window.htmx === 'object'"), "htmx did not load"
    assert not refused, refused
    shot(officer, "officer-sees-covered")


def test_a_lead_declines_with_a_reason_and_the_deputy_is_texted(
    new_context, sign_in, messages, contacts, open_incident_via_api, shot
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
    # The page now says where the alert went, and does not offer a second decline.
    deputy_name = contacts["bham-csp-deputy"]["name"]
    expect(lead.get_by_text(f"Now with the deputy: {deputy_name}")).to_be_visible()
    expect(lead.locator(".govuk-summary-list")).to_contain_text("Escalated")
    expect(lead.locator(".govuk-summary-list")).to_contain_text("Passing to my deputy: On leave until Monday")
    expect(lead.get_by_text("I cannot cover this")).to_have_count(0)
    expect(lead.get_by_role("button", name="Decline")).to_have_count(0)
    expect(lead.get_by_role("heading", name="Changed your mind?")).to_be_visible()
    shot(lead, "lead-declined")

    deputy = lead_opens_alert(new_context, messages, deputy_phone, reference)
    expect(deputy.get_by_role("heading", name="Birmingham Community Safety Partnership")).to_be_visible()
    expect(deputy.get_by_text(deputy_name).first).to_be_visible()
    shot(deputy, "deputy-confirm-page")

    # The officer's board names who holds the alert now: the deputy, not the lead.
    officer = sign_in("officer@example.org")
    officer.goto(f"/incidents/{reference}")
    partnership = officer.locator("#board tr", has_text="Birmingham Community Safety Partnership")
    expect(partnership).to_contain_text(f"Waiting for the deputy: {deputy_name}")
    expect(partnership).to_contain_text("now with the deputy")
    shot(officer, "officer-sees-the-deputy")


def backdate_alerts(live_server, reference: str, minutes: int) -> None:
    """Make every agency's alert ``minutes`` older, in its row: past the target, each is overdue.

    Only the page's reading of the rows changes: the escalations stay due when they were.
    """
    from responder import create_app
    from responder.extensions import db

    from ..conftest import incident_by_reference

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": live_server.database_url})
    with app.app_context():
        for activation in incident_by_reference(reference).activations:
            activation.activated_at = activation.activated_at - timedelta(minutes=minutes)
        db.session.commit()
        db.engine.dispose()


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
    officer.get_by_role("button", name=re.compile("^Support")).click()
    expect(officer.locator("#tension")).to_have_text("Community tension: Medium")
    officer.evaluate("() => { window.e2eNotReloaded = true; }")

    make_first_check_in_due(live_server, reference)
    text = messages.wait_for_text(phone, f"check-in for Birmingham {reference}")
    check_in = new_context(phone=True).new_page()
    check_in.goto(messages.link_in(text, "c"))
    expect(check_in.get_by_role("heading", name="Check-in: Birmingham Youth Service")).to_be_visible()
    # Its own agency's offers first; the others folded away.
    expect(check_in.get_by_text("Provided by Birmingham Youth Service").first).to_be_visible()
    expect(check_in.get_by_text("Offers other agencies provide")).to_be_visible()
    shot(check_in, "check-in-form")
    check_in.get_by_role("button", name="Send check-in").tap()
    expect(check_in.locator(".govuk-error-summary")).to_contain_text("Enter a short update")
    shot(check_in, "check-in-errors")
    check_in.get_by_label("How is the response going?").fill("Detached team out on Soho Road tonight.")
    check_in.get_by_label("High").check()
    check_in.get_by_label("Needs or concerns (optional)").fill("Rumours of a retaliation on social media.")
    shot(check_in, "check-in-filled")
    check_in.get_by_role("button", name="Send check-in").tap()
    expect(check_in.locator(".govuk-panel")).to_contain_text("Check-in sent")
    shot(check_in, "check-in-sent")

    # Without a reload: the tension heading, the summary band and the timeline all say it.
    expect(officer.locator("#tension")).to_have_text("Community tension: High", timeout=LIVE_UPDATE_MS)
    expect(officer.locator("#summary-tension")).to_contain_text("rising, was medium")
    expect(officer.locator(".app-tension-trend li").first).to_contain_text("Opened Medium")
    expect(officer.locator(".app-tension-trend")).to_contain_text("High")
    assert officer.evaluate("() => window.e2eNotReloaded === true"), "the officer's page was reloaded"
    shot(officer, "officer-sees-tension")
    officer.get_by_role("button", name=re.compile("^Timeline")).click()
    timeline = officer.locator("#timeline-events")
    expect(timeline).to_contain_text("Community tension now high", timeout=LIVE_UPDATE_MS)
    expect(timeline).to_contain_text("Detached team out on Soho Road tonight.")
    shot(officer, "officer-sees-the-check-in")


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
    manager.get_by_role("button", name="Run this response").click()
    expect(manager.get_by_role("heading", name="Run this response")).to_be_visible()
    shot(manager, "manage-page")
    manager.get_by_label("Post an update").fill("Patrols doubled around Soho Road tonight.")
    manager.get_by_role("button", name="Post update").click()
    # Back on "Run this response", with a banner saying it was done: ready for the next action.
    expect(manager.get_by_role("heading", name="Run this response")).to_be_visible()
    expect(manager.locator(".govuk-notification-banner--success")).to_contain_text("Update posted")
    shot(manager, "update-posted")
    manager.get_by_label("Why stand down now?").fill("Suspects arrested; community calm.")
    manager.get_by_role("button", name="Stand down").click()
    expect(manager.locator(".govuk-notification-banner--success")).to_contain_text("Standing down")
    expect(manager.locator("#incident-status")).to_have_text("Standing down")
    shot(manager, "standing-down")
    stand_down = messages.wait_for_text(phone, f"{reference} is standing down")
    assert "Birmingham Youth Service can stand down" in stand_down

    manager.get_by_label("Why close it?").fill("Response complete; review to follow.")
    manager.get_by_role("button", name="Close incident").click()
    expect(manager.locator("#incident-status")).to_have_text("Closed")
    expect(manager.locator(".govuk-notification-banner--success")).to_contain_text("Incident closed")
    shot(manager, "closed")

    manager.get_by_role("button", name=re.compile("^Review and exports")).click()
    manager.get_by_role("link", name="Learning review, after-action report and exports").click()
    expect(manager.get_by_role("heading", level=1)).to_contain_text("Learning review")
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
