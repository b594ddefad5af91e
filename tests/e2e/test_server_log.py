"""The real server's own output (gunicorn access and error logs, the app's logs, the scheduler's)
searched for every secret it was given and every link token and personal detail it handled.

It runs a response of its own, in the browser, so it holds when run alone;
after the journeys it also covers every link they opened.
"""

from __future__ import annotations

import time

from playwright.sync_api import expect

from .test_journeys import lead_opens_alert, make_first_check_in_due

CANARIES = {
    "summary": "E2E-LOG-CANARY-SUMMARY a 14-year-old from Handsworth Wood",
    "location": "E2E-LOG-CANARY-LOCATION 3 Church Lane",
    "acknowledgement note": "E2E-LOG-CANARY-NOTE on my way",
    "check-in update": "E2E-LOG-CANARY-UPDATE youth workers on site",
    "check-in needs": "E2E-LOG-CANARY-NEEDS a room for a vigil",
    "a query string": "E2E-LOG-CANARY-QUERY",
}
LOG_WAIT_SECONDS = 10


def test_the_server_log_holds_no_secret_token_password_or_personal_field(
    live_server, new_context, sign_in, messages, contacts, open_incident_via_api
):
    reference = open_incident_via_api(summary=CANARIES["summary"], location=CANARIES["location"])
    phone = contacts["bham-youth-lead"]["phone"]
    lead = lead_opens_alert(new_context, messages, phone, reference)
    lead.get_by_label("Note (optional)").fill(CANARIES["acknowledgement note"])
    lead.get_by_role("button", name="Acknowledge: we are covering this").tap()
    expect(lead.locator(".govuk-notification-banner")).to_contain_text("covering this response")
    make_first_check_in_due(live_server, reference)
    check_in = new_context(phone=True).new_page()
    check_in.goto(
        messages.link_in(messages.wait_for_text(phone, f"check-in for Birmingham {reference}"), "c")
    )
    check_in.get_by_label("How is the response going?").fill(CANARIES["check-in update"])
    check_in.get_by_label("Low").check()
    check_in.get_by_label("Needs or concerns (optional)").fill(CANARIES["check-in needs"])
    check_in.get_by_role("button", name="Send check-in").tap()
    expect(check_in.locator(".govuk-panel")).to_contain_text("Check-in sent")
    officer = sign_in("officer@example.org")
    officer.goto(f"/incidents/{reference}")
    expect(officer.locator("#timeline-events")).to_contain_text(CANARIES["check-in update"])
    officer.goto(f"/incidents/{reference}?order=oldest&q={CANARIES['a query string']}")

    log = wait_for_log_line(live_server, f"GET /incidents/{reference}?[redacted]")
    assert "/a/[redacted]" in log and "/c/[redacted]" in log, "link requests were not logged at all"
    lead_contact = contacts["bham-youth-lead"]
    personal = {f"the lead's {field}": lead_contact[field] for field in ("name", "phone", "email")}
    secrets = {**live_server.secrets, **CANARIES, **personal}
    leaked = [name for name, secret in secrets.items() if secret and secret in log]
    assert not leaked, f"{live_server.log_path} holds: {', '.join(leaked)}"


def wait_for_log_line(live_server, line: str) -> str:
    """The whole log, once it shows ``line`` (the server writes as it goes); a bounded wait."""
    deadline = time.monotonic() + LOG_WAIT_SECONDS
    while True:
        log = live_server.read_log()
        if line in log or time.monotonic() > deadline:
            return log
        time.sleep(0.2)
