"""Rotas, readiness and deadlines, as an admin, a manager and an officer meet them in a browser."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from responder.clock import now_utc, to_local

from .axe import check_accessibility


def test_an_admin_covers_the_demo_rota_gap_and_sandwell_becomes_ready(sign_in, shot):
    manager = sign_in("manager@example.org")
    manager.goto("/readiness")
    expect(manager.get_by_role("heading", name="Readiness", exact=True)).to_be_visible()
    expect(manager.locator("#la-sandwell")).to_contain_text("sand-vru-duty")
    check_accessibility(manager, "readiness")
    shot(manager, "readiness-with-the-gap")

    admin = sign_in("admin@example.org")
    admin.goto("/admin/rotas")
    rota = admin.locator("#rota-sand-vru-duty")
    expect(rota.locator(".app-rota--gap")).to_have_count(1)
    check_accessibility(admin, "rotas")
    # The demo's deliberate gap: 02:00 to 08:00 the day after tomorrow (responder.demo).
    day = to_local(now_utc()).date() + timedelta(days=2)
    rota.get_by_text("Add an override to this rota").click()
    rota.get_by_label("Who is on duty instead").fill("sand-duty-manager-1")
    rota.get_by_label("From").fill(f"{day:%Y-%m-%d} 01:00")
    rota.get_by_label("Until").fill(f"{day:%Y-%m-%d} 09:00")
    rota.get_by_label("Reason").fill("Covering the gap before the weekend")
    shot(admin, "override-filled-in")
    rota.get_by_role("button", name="Add override").click()
    expect(admin.locator(".govuk-notification-banner--success")).to_contain_text("Override added")
    expect(admin.locator("#rota-sand-vru-duty .app-rota--gap")).to_have_count(0)
    expect(admin.locator("#rota-sand-vru-duty")).to_contain_text("Covering the gap before the weekend")
    shot(admin, "gap-covered")

    manager.goto("/readiness")
    expect(manager.locator("#la-sandwell")).to_have_count(0)
    shot(manager, "readiness-after")


def test_an_officer_marks_a_deadline_done(sign_in, open_incident_via_api, shot):
    reference = open_incident_via_api()
    officer = sign_in("officer@example.org")
    officer.goto(f"/incidents/{reference}")
    # The deadlines sit in a folded section: the page's contents list opens it.
    officer.locator(".app-contents").get_by_role("link", name="Deadlines and check-ins").click()
    deadline = officer.locator(".app-deadline").first
    deadline.get_by_text("Mark done").first.click()
    deadline.get_by_label("What was done").fill("Gold group met; minutes with the duty manager")
    check_accessibility(officer, "incident-deadlines")
    deadline.get_by_role("button", name="Mark done").click()
    expect(officer.locator(".govuk-notification-banner--success")).to_contain_text("Marked done")
    expect(officer.locator(".app-deadline").first.locator(".govuk-tag")).to_have_text("Done")
    shot(officer, "deadline-done")
