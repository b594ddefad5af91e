"""A manager reads the regional insights in a real browser, on a desktop and on a phone."""

from __future__ import annotations

import csv
import io

from playwright.sync_api import expect

from .axe import check_accessibility
from .conftest import DEMO_PASSWORDS
from .test_journeys import lead_opens_alert

DESKTOP = {"width": 1280, "height": 800}
FIGURES = 8


def test_a_manager_reads_regional_insights_from_three_incidents(
    new_context, messages, contacts, open_incident_via_api, shot
):
    references = [
        open_incident_via_api(),
        open_incident_via_api(type="shooting", tension="high"),
        open_incident_via_api(local_authority="coventry", tension="critical"),
    ]
    # Two acknowledgements, so the time-to-acknowledge charts have something to draw.
    for phone, reference in (
        (contacts["bham-youth-lead"]["phone"], references[0]),
        (contacts["cov-youth-lead"]["phone"], references[2]),
    ):
        lead = lead_opens_alert(new_context, messages, phone, reference)
        lead.get_by_role("button", name="Acknowledge: we are covering this").tap()
        expect(lead.locator(".govuk-notification-banner")).to_contain_text("covering this response")

    manager = new_context().new_page()
    manager.set_viewport_size(DESKTOP)
    sign_in(manager, "manager@example.org")
    manager.get_by_role("link", name="Regional insights").click()
    expect(manager.get_by_role("heading", level=1, name="Regional insights")).to_be_visible()
    summary = manager.locator("#insights-summary")
    expect(summary).to_contain_text("in all seven local authorities; exercises left out")
    assert int(summary.inner_text().split()[0]) >= 3
    images = manager.locator("img.app-chart__image")
    expect(images).to_have_count(FIGURES)
    for index in range(FIGURES):
        # A drawn chart: the SVG decoded and laid out at a real size.
        assert images.nth(index).evaluate("image => image.complete && image.naturalWidth > 300")
    expect(manager.locator("#acknowledgement-by-local-authority")).to_contain_text("Birmingham")
    manager.get_by_text("Table of the numbers: time to acknowledge by local authority").click()
    expect(manager.locator("#acknowledgement-by-local-authority table")).to_contain_text("All months")
    check_accessibility(manager, "insights")
    shot(manager, "insights-desktop")

    with manager.expect_download() as download:
        manager.locator("#incidents-by-local-authority").get_by_role(
            "link", name="Download these numbers"
        ).click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert rows[0][0] == "Local authority" and rows[0][-1] == "Total"
    assert int(next(row for row in rows if row[0] == "Coventry")[-1]) >= 1

    manager.locator("#first-day").fill("31")
    manager.locator("#first-month").fill("2")
    manager.get_by_label("Local authority", exact=True).select_option("coventry")
    manager.get_by_role("button", name="Show figures").click()
    error_summary = manager.locator(".govuk-error-summary")
    expect(error_summary).to_contain_text("Enter a real start date")
    check_accessibility(manager, "insights-with-errors")
    shot(manager, "insights-filter-error")
    error_summary.get_by_role("link", name="Enter a real start date").click()
    expect(manager.locator("#first-day")).to_be_focused()
    manager.locator("#first-day").fill("1")
    manager.get_by_role("button", name="Show figures").click()
    expect(summary).to_contain_text("in Coventry")
    shot(manager, "insights-coventry")

    # The after-action report of the first incident: its two acknowledgement pictures and the tension chart.
    manager.goto(f"/incidents/{references[0]}/report")
    expect(manager.get_by_role("heading", name="Acknowledgement swimlane")).to_be_visible()
    charts = manager.locator("img.app-report__chart")
    expect(charts).to_have_count(3)
    for index in range(3):
        assert charts.nth(index).evaluate("image => image.complete && image.naturalWidth > 300")
    manager.get_by_text("The swimlane as a table").click()
    expect(manager.locator("details", has_text="The swimlane as a table")).to_contain_text("Acknowledged at")
    check_accessibility(manager, "after-action-report")
    shot(manager, "after-action-report")

    phone = new_context(phone=True).new_page()
    sign_in(phone, "manager@example.org")
    phone.goto("/insights")
    expect(phone.locator("img.app-chart__image")).to_have_count(FIGURES)
    check_accessibility(phone, "insights-phone")
    shot(phone, "insights-phone")
    # Nothing wider than the phone: the charts scale and the tables scroll inside their own box.
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390


def sign_in(page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORDS[email])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)
