"""The incident page as the place a response is run and watched."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from freezegun import freeze_time
from sqlalchemy import delete, func, select

from responder.clock import as_utc, now_utc
from responder.extensions import db
from responder.incidents.summary import opening_tension, tension_trend
from responder.incidents.upcoming import group_actions, upcoming
from responder.models import (
    ActionKind,
    ActionState,
    AuditEvent,
    EventKind,
    Message,
    TimedAction,
    TimelineEvent,
)
from responder.models.tension import TensionReading
from responder.notify.outbox import rendered_body
from responder.scheduling.firing import fire_due_actions

# Tuesday 24 November 2026, 21:50 GMT.
OPENED = datetime(2026, 11, 24, 21, 50, tzinfo=UTC)


@pytest.fixture
def incident(make_incident):
    return make_incident()


@pytest.fixture
def officer(make_user, login):
    return login(make_user("officer"))


def ack_link(incident, agency_key):
    activation = next(a for a in incident.activations if a.agency_key == agency_key)
    sms = db.session.scalar(
        select(Message).where(
            Message.activation_id == activation.id, Message.channel == "sms", Message.kind == "alert"
        )
    )
    return re.search(r"http://responder\.test(/a/\S+)", rendered_body(sms)).group(1)


def text_of(html: str) -> str:
    """What a reader sees of some HTML: its words, one space between them."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def band(page: str, figure: str) -> str:
    """One figure of the summary band, as words: ``band(page, "coverage")`` -> "1/10 agencies covered"."""
    found = re.search(rf'id="summary-{figure}">(.*?)</dd>', page, re.S)
    assert found, f"no {figure} in the summary band"
    return text_of(found.group(1))


def board_row(page: str, agency: str) -> str:
    found = re.search(rf"{re.escape(agency)}</th>(?:(?!</tr>).)*", page, re.S)
    assert found, f"{agency} is not on the board"
    return text_of(found.group(0))


def test_the_page_opens_with_the_summary_band_then_sections_to_fold_and_jump_to(client, incident, officer):
    page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    assert incident.reference in page and "Birmingham" in page and "Stabbing" in page
    agencies = len(incident.activations)
    assert band(page, "status") == "Open"
    assert band(page, "coverage") == f"0/{agencies} agencies covered"
    assert band(page, "overdue") == "0 agencies have not answered in time"
    assert band(page, "tension") == "Medium steady"
    assert band(page, "open-for").startswith("0 min since")
    assert re.fullmatch(
        rf"\d\d:\d\d GMT escalate {agencies} agencies to their deputy if still unacknowledged",
        band(page, "next"),
    )
    # The GOV.UK accordion, agencies open; a short contents list jumps to each section.
    assert len(re.findall(r'class="govuk-accordion__section[ "]', page)) == 5
    assert 'govuk-accordion__section govuk-accordion__section--expanded">' in page
    headings = re.findall(r'class="govuk-accordion__section-button"[^>]*>\s*([^<]+?)\s*<', page)
    assert headings == ["Agencies", "Support", "Timeline", "Deadlines and check-ins", "Review and exports"]
    for anchor in ("agencies", "support", "timeline", "deadlines", "review"):
        assert f'href="#{anchor}"' in page and f'id="{anchor}"' in page
    from markupsafe import escape

    for offer in incident.offers:
        assert str(escape(offer.name)) in page
    assert "Incident opened" in page


def test_the_summary_band_answers_coverage_overdue_deadlines_and_what_is_next(
    client, make_incident, make_user, login
):
    with freeze_time(OPENED):
        incident = make_incident()
        login(make_user("officer"))
    agencies = len(incident.activations)
    with freeze_time(OPENED + timedelta(minutes=5)):
        client.post(ack_link(incident, "bham-youth-service"), data={"action": "acknowledge"})
    deadlines = db.session.scalar(
        select(func.count()).where(
            TimedAction.incident_id == incident.id,
            TimedAction.kind == ActionKind.DEADLINE,
            TimedAction.state == ActionState.PENDING,
        )
    )
    assert deadlines > 0
    with freeze_time(OPENED + timedelta(minutes=12)):  # inside the 15-minute target: nobody overdue yet
        page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    assert band(page, "status") == "Active"
    assert band(page, "coverage") == f"1/{agencies} agencies covered"
    assert band(page, "overdue") == "0 agencies have not answered in time"
    assert band(page, "next") == (
        f"22:05 GMT escalate {agencies - 1} agencies to their deputy if still unacknowledged"
    )
    assert band(page, "deadlines") == f"{deadlines} still to meet"
    assert band(page, "open-for") == "12 min since 21:50 24 Nov GMT"
    with freeze_time(OPENED + timedelta(minutes=16)):  # past the target; the scheduler has not run
        page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    assert band(page, "overdue") == f"{agencies - 1} agencies have not answered in time"
    assert band(page, "next").endswith("escalate 9 agencies to their deputy if still unacknowledged late")


def test_coming_up_says_alike_actions_once(client, incident, officer):
    agencies = len(incident.activations)
    pending = db.session.scalars(
        select(TimedAction)
        .where(TimedAction.incident_id == incident.id, TimedAction.state == ActionState.PENDING)
        .order_by(TimedAction.due_at, TimedAction.id)
    ).all()
    escalations = [a for a in pending if a.kind == ActionKind.ESCALATION]
    assert len(escalations) == agencies
    groups = group_actions(pending)
    first = groups[0]
    assert first.kind == ActionKind.ESCALATION and len(first.actions) == agencies
    assert first.text == f"escalate {agencies} agencies to their deputy if still unacknowledged"
    assert len(first.agencies) == agencies
    # Every other line is a single check-in, deadline or reminder: each said as before.
    assert all(len(group.actions) == 1 for group in groups[1:])
    assert any(group.text.startswith("Deadline: ") for group in groups)

    page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    coming_up = page[page.index('id="upcoming-panel"') :]
    assert f"escalate {agencies} agencies to their deputy if still unacknowledged" in coming_up
    assert "alert the deputy if nobody has acknowledged" not in coming_up
    assert f"Which {agencies} agencies" in coming_up

    # One agency left waiting: its own line, naming it.
    for activation in incident.activations[1:]:
        client.post(ack_link(incident, activation.agency_key), data={"action": "acknowledge"})
    only = upcoming(incident).next
    assert only.text == f"{incident.activations[0].agency_name}: alert the deputy if nobody has acknowledged"
    assert only.agencies == []


def test_the_opening_tension_is_the_first_reading_whatever_changes_it(
    client, make_incident, make_user, login
):
    with freeze_time(OPENED):
        incident = make_incident(tension="medium")
        login(make_user("manager"))
    for minutes, level in ((20, "critical"), (90, "high")):
        with freeze_time(OPENED + timedelta(minutes=minutes)):
            response = client.post(
                f"/incidents/{incident.reference}/tension", data={"level": level, "reason": "Posts online"}
            )
            assert response.status_code == 303
    db.session.expire_all()
    assert [(point.at, point.level) for point in tension_trend(incident)] == [
        (OPENED, "medium"),
        (OPENED + timedelta(minutes=20), "critical"),
        (OPENED + timedelta(minutes=90), "high"),
    ]
    assert opening_tension(incident) == "medium"
    with freeze_time(OPENED + timedelta(minutes=95)):
        page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    assert band(page, "tension") == "High ↓ falling, was critical"  # the arrow is hidden from screen readers
    tension = text_of(page[page.index('<div id="tension-panel">') : page.index('<div id="offers-panel">')])
    assert tension == "Community tension: High Opened Medium 22:10 24 Nov GMT Critical 23:20 24 Nov GMT High"

    # An incident changed before the opening level was kept as a reading: the first change says it.
    db.session.execute(
        delete(TensionReading).where(TensionReading.incident_id == incident.id, TensionReading.at == OPENED)
    )
    db.session.commit()
    assert opening_tension(incident) == "medium"
    assert tension_trend(incident)[0] == (OPENED, "medium")


def test_covered_by_and_the_rung_name_who_holds_the_alert_after_an_escalation(
    client, make_incident, make_user, login
):
    with freeze_time(OPENED):
        incident = make_incident()
        login(make_user("officer"))
        page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    youth = next(a for a in incident.activations if a.agency_key == "bham-youth-service")
    lead, deputy = youth.lead_contact.name, youth.deputy_contact.name
    assert f"Waiting for the lead: {lead}" in board_row(page, "Birmingham Youth Service")

    with freeze_time(OPENED + timedelta(minutes=16)):
        fire_due_actions()  # nobody acknowledged within 15 minutes: the deputies are alerted
    db.session.expire_all()
    with freeze_time(OPENED + timedelta(minutes=17)):
        page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    row = board_row(page, "Birmingham Youth Service")
    assert "Escalated" in row and "now with the deputy" in row
    assert f"Waiting for the deputy: {deputy}" in row and lead not in row.split("Messages")[0]
    assert f"Alert to {deputy} by SMS and email" in row


def test_the_live_poll_answers_only_the_panels_that_changed(client, incident, officer):
    # Frozen: "due in ..." moves on each minute, and a poll across a minute would see that change too.
    with freeze_time(now_utc()):
        page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
        poll = unescape(re.search(r'id="live-poll" hx-get="([^"]+)"', page).group(1))
        assert 'hx-trigger="every 5s"' in page and "after=" in poll and "seen=" in poll

        assert client.get(poll).status_code == 204  # nothing changed: htmx swaps nothing

        client.post(ack_link(incident, "bham-youth-service"), data={"action": "acknowledge"})
        change = client.get(poll)
        assert change.status_code == 200
        html = change.get_data(as_text=True)
        swapped = dict(re.findall(r'<div id="([\w-]+)" hx-swap-oob="(innerHTML)">', html))
        assert {"summary-band", "board", "incident-status-panel"} <= set(swapped)
        assert "offers-panel" not in swapped  # the offers did not change
        assert f"1/{len(incident.activations)}</span> agencies covered" in html
        events = html[html.index('hx-swap-oob="afterbegin:#timeline-events"') :]
        assert "Birmingham Youth Service covered" in events
        # A fresh poller carries the new cursor and fingerprints; asked again, nothing has changed.
        next_poll = unescape(
            re.search(r'id="live-poll" hx-get="([^"]+)"[^>]*hx-swap-oob="true"', html).group(1)
        )
        assert next_poll != poll and client.get(next_poll).status_code == 204
        assert client.get(f"/incidents/{incident.reference}/live?after=abc").status_code == 400


def test_the_timeline_hides_delivery_receipts_unless_asked_and_names_people_and_channels(
    client, incident, officer, send_outbox
):
    send_outbox()  # every alert handed to the outbox: "sent" receipts
    client.post(ack_link(incident, "bham-youth-service"), data={"action": "acknowledge"})
    receipts = db.session.scalar(
        select(func.count()).where(
            TimelineEvent.incident_id == incident.id, TimelineEvent.kind == EventKind.MESSAGE_SENT
        )
    )
    assert receipts > 0
    page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    timeline = page[page.index('id="timeline-events"') :]
    assert "app-timeline__item--message_sent" not in timeline
    assert 'Delivery receipts ("sent", "delivered") are hidden' in page
    youth = next(a for a in incident.activations if a.agency_key == "bham-youth-service")
    assert f"{youth.lead_contact.name}, Lead, Birmingham Youth Service by link" in text_of(timeline)
    with_receipts = client.get(f"/incidents/{incident.reference}?receipts=1").get_data(as_text=True)
    shown = with_receipts[with_receipts.index('id="timeline-events"') :]
    assert shown.count("app-timeline__item--message_sent") == receipts
    for words in (timeline, shown):
        assert "contact:" not in words and "user:" not in words
        assert " Sms " not in text_of(words) and incident.playbook_hash[:12] not in words


def test_the_timeline_filters_by_kind_and_orders_both_ways(client, incident, officer):
    client.post(ack_link(incident, "bham-youth-service"), data={"action": "acknowledge"})
    only_acks = client.get(f"/incidents/{incident.reference}?kind=acknowledgements").get_data(as_text=True)
    assert (
        "app-timeline__item--acknowledged" in only_acks
        and "app-timeline__item--alert_queued" not in only_acks
    )
    newest = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    oldest = client.get(f"/incidents/{incident.reference}?order=oldest").get_data(as_text=True)
    first_new = re.search(r'data-event-id="(\d+)"', newest).group(1)
    first_old = re.search(r'data-event-id="(\d+)"', oldest).group(1)
    assert int(first_new) > int(first_old)


def test_cross_border_offers_show_provider_and_local_authority_once_each(client, incident, officer):
    client.post(
        f"/incidents/{incident.reference}/areas", data={"local_authority": "sandwell", "reason": "home"}
    )
    page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    offers = page[page.index('id="offers-panel"') : page.index('id="timeline"')]
    words = text_of(offers)
    name = "Additional detached youth work in the affected area"
    assert words.count(name) == 1
    assert "Birmingham Youth Service (Birmingham)" in words and "(Sandwell)" in words
    assert offers.count("app-offers__item") == len({offer.name for offer in incident.offers})


def test_every_view_is_audited_and_managers_can_see_who_looked(client, incident, make_user, login):
    manager = login(make_user("manager"))
    client.get(f"/incidents/{incident.reference}")
    client.get(f"/incidents/{incident.reference}")
    entries = db.session.scalars(select(AuditEvent).where(AuditEvent.incident_id == incident.id)).all()
    assert [e.action for e in entries] == ["viewed", "viewed"] and entries[0].user_id == manager.id
    page = client.get(f"/incidents/{incident.reference}/audit").get_data(as_text=True)
    assert manager.email in page and "Viewed" in page


def test_free_text_is_escaped_everywhere(client, incident, officer):
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    response = client.post(f"/incidents/{incident.reference}/updates", data={"text": payload})
    assert response.status_code == 303
    page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    assert payload not in page and "&lt;script&gt;" in page
    live = client.get(f"/incidents/{incident.reference}/live?after=0&events=prepend").get_data(as_text=True)
    assert "<script>" not in live and "&lt;script&gt;" in live


def test_actions_come_back_to_run_this_response_with_a_success_banner(client, incident, officer):
    manage = f"/incidents/{incident.reference}/manage"
    assert client.get(manage).status_code == 200
    bad = client.post(f"/incidents/{incident.reference}/tension", data={"level": "volcanic", "reason": ""})
    assert bad.status_code == 422 and "Select a level" in bad.get_data(as_text=True)
    good = client.post(
        f"/incidents/{incident.reference}/tension", data={"level": "high", "reason": "Posts online"}
    )
    assert good.status_code == 303 and good.headers["Location"] == manage
    banner = client.get(manage).get_data(as_text=True)
    assert "govuk-notification-banner--success" in banner and "Community tension updated" in banner
    meeting = client.post(
        f"/incidents/{incident.reference}/meetings",
        data={"title": "24-hour strategy meeting", "attendees": "WMP\nYouth Service", "actions": "Patrols"},
    )
    assert meeting.status_code == 303 and meeting.headers["Location"] == manage
    area = client.post(
        f"/incidents/{incident.reference}/areas", data={"local_authority": "sandwell", "reason": "home"}
    )
    assert area.status_code == 303 and area.headers["Location"] == manage
    page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    assert "Sandwell" in page and "24-hour strategy meeting" in page


def test_an_officer_cannot_close_and_a_closed_incident_refuses_actions(client, incident, make_user, login):
    login(make_user("officer"))
    assert client.post(f"/incidents/{incident.reference}/close", data={"reason": "done"}).status_code == 403
    client.post("/logout")
    login(make_user("manager"))
    closed = client.post(f"/incidents/{incident.reference}/close", data={"reason": "done"})
    assert closed.status_code == 303 and closed.headers["Location"] == f"/incidents/{incident.reference}"
    refused = client.post(f"/incidents/{incident.reference}/updates", data={"text": "late"})
    assert refused.status_code == 409 and "is closed" in refused.get_data(as_text=True)


def test_the_dashboard_shows_coverage_overdue_and_keeps_exercises_apart(client, make_incident, officer):
    from responder.clock import now_utc

    live = make_incident()
    exercise = make_incident(exercise=True, local_authority="coventry")
    client.post(ack_link(live, "bham-youth-service"), data={"action": "acknowledge"})
    filtered = client.get("/?local_authority=coventry").get_data(as_text=True)
    assert live.reference not in filtered and exercise.reference in filtered
    assert client.get("/?status=nonsense").status_code == 400
    with freeze_time(now_utc() + timedelta(minutes=40)):
        page = client.get("/").get_data(as_text=True)
    live_part, exercise_part = page.split("Exercises")
    assert live.reference in live_part and exercise.reference in exercise_part
    assert f"1/{len(live.activations)} covered" in live_part
    assert f"{len(live.activations) - 1} overdue" in live_part


def test_htmx_is_a_static_file_and_the_policy_allows_nothing_inline(client, incident, officer):
    response = client.get(f"/incidents/{incident.reference}")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe" not in policy
    page = response.get_data(as_text=True)
    assert '<script src="/static/dist/htmx.min.js" defer></script>' in page
    assert '"includeIndicatorStyles": false' in page  # htmx would otherwise add an inline <style>
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)  # no inline script
    assert "<style" not in page and " style=" not in page
    assert not re.search(r"\shx-on|\shx-vals=['\"]js:", page)  # nothing htmx would need eval for


@pytest.mark.parametrize("value", ["²", "١٢", "9" * 5000, "-1", " 1"])
def test_an_event_id_that_is_not_plain_digits_is_a_clear_answer_not_a_500(client, incident, officer, value):
    live = client.get(f"/incidents/{incident.reference}/live", query_string={"after": value})
    assert live.status_code == 400
    page = client.get(f"/incidents/{incident.reference}", query_string={"past": value})
    assert page.status_code == 200  # an unreadable "older than" shows the newest events


def test_a_mark_done_note_being_typed_survives_the_minutely_change_of_the_deadlines_panel(
    client, incident, officer
):
    started = now_utc()
    with freeze_time(started):
        page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    poll = unescape(re.search(r'id="live-poll" hx-get="([^"]+)"', page).group(1))
    with freeze_time(started + timedelta(minutes=1, seconds=1)):  # "due in ..." has moved on a minute
        html = client.get(poll).get_data(as_text=True)
    deadlines = html[html.index('<div id="deadlines-panel" hx-swap-oob="innerHTML">') :]
    forms = re.findall(r'<details[^>]*id="(deadline-done-\d+)"[^>]*hx-preserve="true"', deadlines)
    assert forms and all(f'id="{form}"' in page for form in forms)  # the same ids: htmx keeps what is typed


def test_a_closed_incidents_page_stops_polling_and_its_open_for_stops_at_the_close(
    client, incident, make_user, login
):
    from responder.incidents import lifecycle

    opened = as_utc(incident.opened_at)
    manager = make_user("manager")
    with freeze_time(opened + timedelta(hours=3)):
        lifecycle.close(incident, manager, "Response complete")
        db.session.commit()
    with freeze_time(opened + timedelta(days=2)):
        login(manager)
        page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    assert "3 h 00 min" in band(page, "open-for")  # not two days: it stopped at the close
    assert 'id="live-poll"' not in page and "keeps itself up to date" not in page


def test_a_poll_reads_the_tension_readings_and_the_deadlines_once(client, incident, officer):
    import sqlalchemy as sa

    page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    poll = unescape(re.search(r'id="live-poll" hx-get="([^"]+)"', page).group(1))
    reads = []

    def count(conn, cursor, statement, *args):
        if "FROM tension_readings" in statement or "FROM deadlines" in statement:
            reads.append(statement.split("FROM ")[1].split()[0])

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        client.get(poll)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert sorted(reads) == ["deadlines", "tension_readings"]
