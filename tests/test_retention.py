"""Retention: once closed long enough, an incident keeps its reference, times, states and figures,
and loses everything that identifies people. Checked by searching a dump of the whole database."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from freezegun import freeze_time

from responder.exports.regional_csv import RollUpPeriod, incidents_in, regional_csv
from responder.extensions import db
from responder.governance.retention import MARKER, PURGED, add_months, due_for_purge, purge_due
from responder.incidents import lifecycle
from responder.models import Contact, Incident, ResponseChannel, TimelineEvent
from responder.models.reviews import RagStatus, ReviewNoteKind
from responder.responses.acknowledgements import decline
from responder.reviews import learning_review as reviews
from responder.reviews.metrics import key_figures, response_metrics
from tests.timeline_words import said

from .export_scenario import (
    ACK_NOTE,
    LOCATION,
    SUMMARY,
    T0,
    YOUTH_ANSWER,
    activation_for,
    contacts_of,
    run_script,
)

CLOSED = T0 + timedelta(days=3)
CANARIES = {
    "summary": SUMMARY,
    "location": LOCATION,
    "acknowledgement note": ACK_NOTE,
    "name in a note": "Jordan Blake",
    "number in a note": "900999",
    "check-in answer": YOUTH_ANSWER,
    "decline": "DECLINE-CANARY-3 Uncle Marcus is involved",
    "update": "UPDATE-CANARY-4 the family at 12 Wheeler Street",
    "meeting title": "MEETING-CANARY-5 strategy",
    "attendee": "ATTENDEE-CANARY-6 Beatrix Lomond",
    "meeting action": "ACTION-CANARY-7 visit the school",
    "tension reason": "TENSION-CANARY-8 rumours on Snapchat",
    "stand-down reason": "STANDDOWN-CANARY-11",
    "closing reason": "CLOSE-CANARY-12",
}
# Tables that hold the directory and staff accounts, not incident records.
DIRECTORY_TABLES = {"contacts", "users"}


def database_dump(exclude: set[str] = frozenset()) -> str:
    """Every value of every row of every table (and, on SQLite, iterdump's SQL too)."""
    db.session.commit()
    parts = []
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            if table.name in exclude:
                continue
            for row in conn.execute(table.select()):
                parts.append(json.dumps([str(value) for value in row], ensure_ascii=False))
        if db.engine.dialect.name == "sqlite" and not exclude:
            parts.extend(conn.connection.driver_connection.iterdump())
    return "\n".join(parts)


@pytest.fixture
def closed_response(make_incident, send_outbox, make_user):
    """The scripted response, plus every kind of free text, stood down and closed on CLOSED."""
    scripted = run_script(make_incident, send_outbox)
    incident = scripted.incident
    officer, manager = make_user("officer"), make_user("manager")
    with freeze_time(T0 + timedelta(days=1)):
        yos = activation_for(incident, "bham-yos")
        decline(yos, yos.lead_contact, ResponseChannel.SMS_REPLY, CANARIES["decline"])
        lifecycle.post_update(incident, officer, CANARIES["update"])
        lifecycle.record_meeting(
            incident, officer, CANARIES["meeting title"], [CANARIES["attendee"]], [CANARIES["meeting action"]]
        )
        lifecycle.change_tension(incident, officer, "critical", CANARIES["tension reason"])
    with freeze_time(T0 + timedelta(days=2)):
        lead = activation_for(incident, "bham-youth-service").lead_contact
        reviews.add_note(incident, manager, ReviewNoteKind.LESSON, f"{lead.name} was reached quickly")
        reviews.add_action(
            incident, manager, f"Thank {lead.name}", "Youth service lead", date(2027, 1, 1), RagStatus.RED
        )
        lifecycle.stand_down(incident, officer, CANARIES["stand-down reason"])
    with freeze_time(CLOSED):
        lifecycle.close(incident, manager, CANARIES["closing reason"])
    db.session.commit()
    return scripted


def figures(incident):
    db.session.expire_all()
    return response_metrics(incident), key_figures(response_metrics(incident))


def roll_up() -> bytes:
    period = RollUpPeriod(date(2026, 11, 1), date(2026, 11, 30), None, True)
    return b"".join(regional_csv(incidents_in(period, sa.select(Incident))))


def test_nothing_is_purged_before_the_retention_period_ends(app, closed_response):
    assert app.config["RETENTION_MONTHS"] == 24
    with freeze_time(add_months(CLOSED, 24) - timedelta(minutes=1)):
        assert due_for_purge(CLOSED + timedelta(days=700)) == []
        assert purge_due() == []
    assert SUMMARY in database_dump()


def test_a_dry_run_lists_what_would_change_and_changes_nothing(closed_response):
    before = database_dump()
    with freeze_time(add_months(CLOSED, 24) + timedelta(minutes=1)):
        (result,) = purge_due(dry_run=True)
    assert result.reference == closed_response.reference
    assert result.counts["incident summary and location"] == 2
    assert result.counts["message recipients"] > 0 and result.counts["check-in answers"] >= 1
    assert (
        result.counts["people's words on the timeline"] > 0
        and result.counts["acknowledgement and decline notes"] == 2
    )
    assert database_dump() == before


def test_a_purge_keeps_every_figure_and_no_personal_field_survives(closed_response, caplog):
    incident = closed_response.incident
    metrics_before, figures_before = figures(incident)
    roll_up_before = roll_up()
    contacts = contacts_of(incident)
    assert SUMMARY in database_dump() and all(c.phone in database_dump(DIRECTORY_TABLES) for c in contacts)

    with freeze_time(add_months(CLOSED, 24) + timedelta(hours=1)), caplog.at_level(logging.INFO):
        (result,) = purge_due()

    dump = database_dump()
    for what, canary in CANARIES.items():
        assert canary not in dump, f"the {what} survived the purge"
    # Contacts stay in the directory; nothing about them stays in the incident's records.
    records = database_dump(DIRECTORY_TABLES)
    for contact in contacts:
        for value in (contact.name, contact.phone, contact.email):
            assert value not in records, f"{value} survived in the incident's records"
    assert MARKER in records

    # References, times, states and every figure are as they were.
    metrics_after, figures_after = figures(incident)
    assert metrics_after == metrics_before and figures_after == figures_before
    assert roll_up() == roll_up_before
    assert incident.reference == closed_response.reference and incident.status == "closed"

    # The purge itself is recorded, on the timeline and in the log; a second run does nothing.
    (event,) = db.session.scalars(sa.select(TimelineEvent).where(TimelineEvent.kind == PURGED)).all()
    assert "retention policy (24 months after closing)" in said(event)
    assert any(f"retention purge: {result.reference}" in record.getMessage() for record in caplog.records)
    with freeze_time(add_months(CLOSED, 25)):
        assert purge_due() == []


def test_a_purged_incident_names_people_by_their_role_on_its_page(closed_response, client, login, make_user):
    incident = closed_response.incident
    contacts = contacts_of(incident)
    login(make_user("manager"))
    assert any(
        c.name in client.get(f"/incidents/{incident.reference}").get_data(as_text=True) for c in contacts
    )
    with freeze_time(add_months(CLOSED, 24) + timedelta(hours=1)):
        purge_due()
    db.session.commit()
    page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    for c in contacts:
        i = page.find(c.name)
        assert i < 0, page[i - 300 : i + 100]
    assert "Lead, " in page and MARKER in page


def test_exercises_are_purged_after_exercise_retention_days(app, make_incident, make_user):
    manager = make_user("manager")
    with freeze_time(T0):
        real = make_incident(summary="REAL-CANARY")
        exercise = make_incident(summary="EXERCISE-CANARY", exercise=True)
    with freeze_time(CLOSED):
        lifecycle.close(real, manager, "done")
        lifecycle.close(exercise, manager, "done")
    with freeze_time(CLOSED + timedelta(days=app.config["EXERCISE_RETENTION_DAYS"], minutes=1)):
        purged = purge_due()
    assert [r.reference for r in purged] == [exercise.reference]
    dump = database_dump()
    assert "EXERCISE-CANARY" not in dump and "REAL-CANARY" in dump


def test_open_incidents_are_never_purged(make_incident):
    with freeze_time(T0):
        make_incident(summary="STILL-OPEN-CANARY")
    with freeze_time(T0 + timedelta(days=3650)):
        assert purge_due() == []
    assert "STILL-OPEN-CANARY" in database_dump()


def test_the_command_line_purge_and_its_dry_run(app, runner, closed_response):
    with freeze_time(add_months(CLOSED, 24) + timedelta(days=1)):
        dry = runner.invoke(args=["retention", "purge", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert f"would purge {closed_response.reference} (incident, closed 2026-11-27)" in dry.output
        assert "1 incident(s) would be purged." in dry.output
        assert SUMMARY in database_dump()

        real = runner.invoke(args=["retention", "purge"])
        assert real.exit_code == 0, real.output
        assert f"purged {closed_response.reference}" in real.output
        assert SUMMARY not in database_dump()
        again = runner.invoke(args=["retention", "purge"])
        assert "Nothing is due for purging." in again.output


def test_months_are_calendar_months():
    assert add_months(T0, 24).date() == date(2028, 11, 24)
    assert add_months(T0.replace(month=1, day=31), 1).date() == date(2026, 2, 28)
    assert add_months(T0.replace(month=12, day=31), 2).date() == date(2027, 2, 28)


def test_contacts_stay_in_the_directory(closed_response):
    with freeze_time(add_months(CLOSED, 24) + timedelta(hours=1)):
        purge_due()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) > 0


def test_the_scheduler_purges_daily_at_the_configured_local_time(app, closed_response):
    import threading
    import time

    from responder.scheduling import jobs
    from responder.scheduling.job_store import JOBS_TABLE
    from responder.scheduling.runtime import SchedulerRuntime

    app.config.update(SCHEDULER_RECONCILE_SECONDS=1, SCHEDULER_LEASE_SECONDS=3, OUTBOX_SWEEP_SECONDS=3600)
    runtime = SchedulerRuntime(app)
    thread = threading.Thread(target=runtime.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        # Leading comes first, then the recurring jobs are added: wait for the one this is about.
        while (
            runtime.state != "leader"
            or runtime.scheduler is None
            or not runtime.scheduler.get_job("retention-purge")
        ):
            assert time.monotonic() < deadline, "the scheduler did not lead, or added no purge job"
            time.sleep(0.05)
        job = runtime.scheduler.get_job("retention-purge")
        local = job.next_run_time.astimezone(ZoneInfo(app.config["TIMEZONE"]))
        assert (local.hour, local.minute) == (3, 30)
        with freeze_time(add_months(CLOSED, 24) + timedelta(hours=1)):
            jobs.retention_purge_job()
    finally:
        runtime.stop()
        thread.join(timeout=30)
        with db.engine.begin() as conn:
            if sa.inspect(conn).has_table(JOBS_TABLE):
                conn.execute(sa.text(f"DELETE FROM {JOBS_TABLE}"))  # noqa: S608 - a constant
    assert SUMMARY not in database_dump()
