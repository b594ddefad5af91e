"""Deadlines that can be done: marked done with a note (its reminders stop), missed ones red and counted,
and the after-action report saying which were met and which missed, by how long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from responder.deadlines import DeadlineError, mark_deadline_done
from responder.exports.report import build_report
from responder.extensions import db
from responder.incidents import lifecycle
from responder.incidents.guard import LifecycleError
from responder.models import Deadline, EventKind, Message, TimedAction, TimelineEvent
from responder.scheduling.firing import fire_due_actions
from responder.timeline.naming import naming_for
from tests.timeline_words import said

# Tuesday 24 November 2026, 21:50 GMT.
OPENED = datetime(2026, 11, 24, 21, 50, tzinfo=UTC)
PANEL = "Notify the Child Safeguarding Practice Review Panel"  # 5 working days, reminded 1 before
MEETING = "Hold the critical incident meeting"  # 24 hours, reminded 4 hours before
DEBRIEF = "Hold the internal debrief"  # 14 days


@pytest.fixture
def incident(make_incident):
    with freeze_time(OPENED):
        return make_incident()


def deadline(incident, name: str) -> Deadline:
    return db.session.scalar(
        select(Deadline).where(Deadline.incident_id == incident.id, Deadline.name.startswith(name))
    )


def deadline_messages(name_start: str) -> list[Message]:
    return [
        message
        for message in db.session.scalars(select(Message).where(Message.kind == "deadline"))
        if name_start in message.body
    ]


def sign_in(client, user):
    response = client.post("/login", data={"email": user.email, "password": "correct-horse-battery"})
    assert response.status_code == 302


def test_a_deadline_marked_done_stops_its_reminder(app, incident, make_user):
    panel = deadline(incident, PANEL)
    assert panel.due_at == datetime(2026, 12, 1, 21, 50, tzinfo=UTC)  # five working days on
    client = app.test_client()
    with freeze_time(OPENED + timedelta(days=2)):
        sign_in(client, make_user("officer"))
        page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
        assert f"/deadlines/{panel.id}/done" in page and "Mark done" in page
        response = client.post(
            f"/incidents/{incident.reference}/deadlines/{panel.id}/done",
            data={"note": "Panel notified by phone"},
        )
        assert response.status_code == 303
        page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
        again = client.post(
            f"/incidents/{incident.reference}/deadlines/{panel.id}/done",
            data={"note": "Again"},
            follow_redirects=True,
        )
        assert "is already marked done" in again.get_data(as_text=True)
    db.session.expire_all()
    assert "Panel notified by phone" in page and 'govuk-tag--green">Done' in page
    notices = db.session.scalars(select(TimedAction).where(TimedAction.deadline_id == panel.id)).all()
    assert {(n.kind, n.state) for n in notices} == {
        ("deadline", "cancelled"),
        ("deadline_reminder", "cancelled"),
    }

    with freeze_time(panel.due_at + timedelta(minutes=1)):
        fire_due_actions()
    db.session.expire_all()
    assert deadline_messages("Child Safeguarding") == []  # neither the reminder nor "due now"
    assert deadline_messages("critical incident meeting")  # the deadline nobody marked done still went
    (done,) = db.session.scalars(select(TimelineEvent).where(TimelineEvent.kind == EventKind.DEADLINE_DONE))
    assert said(done).startswith(f"Deadline done on time: {PANEL}")
    assert said(done).endswith("; note: Panel notified by phone")
    assert "[withheld]" in said(done, redacted=True)


def test_marking_done_needs_a_note_and_an_open_incident(app, incident, make_user):
    officer = make_user("officer")
    meeting = deadline(incident, MEETING)
    with pytest.raises(DeadlineError, match="Write a note"):
        mark_deadline_done(incident, officer, meeting.id, "  ")
    lifecycle.close(incident, make_user("manager"), "Finished")
    with pytest.raises(LifecycleError, match="closed"):
        mark_deadline_done(incident, officer, meeting.id, "Held")


def test_missed_deadlines_are_red_on_the_incident_page_and_counted_on_the_dashboard(app, incident, make_user):
    client = app.test_client()
    with freeze_time(OPENED + timedelta(hours=25)):
        sign_in(client, make_user("officer"))
        page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
        dashboard = client.get("/").get_data(as_text=True)
    assert "1 deadline missed and not yet done" in page
    assert 'app-deadline--missed"' in page and 'govuk-tag--red">Missed</strong> 1 h 00 min overdue' in page
    assert "1 deadline missed" in dashboard

    with freeze_time(OPENED + timedelta(hours=26)):
        mark_deadline_done(
            incident, make_user("manager"), deadline(incident, MEETING).id, "Held late: SIRM at 23:50"
        )
        db.session.commit()
        sign_in(client, make_user("officer"))
        page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
        dashboard = client.get("/").get_data(as_text=True)
    assert "Done late" in page and "2 h 00 min after it was due" in page
    assert "deadline missed" not in dashboard


def test_the_after_action_report_lists_each_deadline_as_met_or_missed(app, incident, make_user):
    officer = make_user("officer")
    with freeze_time(OPENED + timedelta(hours=23)):
        mark_deadline_done(incident, officer, deadline(incident, MEETING).id, "Gold group met at 20:00")
    panel = deadline(incident, PANEL)
    with freeze_time(panel.due_at + timedelta(hours=2)):
        mark_deadline_done(incident, officer, panel.id, "Panel notified")
    db.session.commit()
    with freeze_time(OPENED + timedelta(days=15)):
        report = build_report(incident, naming_for(incident, redacted=False))
        redacted = build_report(incident, naming_for(incident, redacted=True))
    outcomes = {entry.name.split(" (")[0][:30]: entry.outcome for entry in report.deadlines}
    assert outcomes[MEETING[:30]] == "Met: done Wed 25 Nov 2026, 20:50 GMT by Test Officer"
    assert outcomes[PANEL[:30]] == "Missed by 2 h 00 min: done Tue 01 Dec 2026, 23:50 GMT by Test Officer"
    assert outcomes[DEBRIEF[:30]] == "Missed by 1 d 0 h: not done yet"
    assert "Not yet due" in outcomes.values()  # the rapid review, 15 working days on
    assert [entry.note for entry in report.deadlines][:2] == ["Gold group met at 20:00", "Panel notified"]
    assert redacted.deadlines[0].note == "[withheld]" and "Test Officer" not in redacted.deadlines[0].outcome

    manager = make_user("manager")
    client = app.test_client()
    with freeze_time(OPENED + timedelta(days=15)):
        sign_in(client, manager)
        page = client.get(f"/incidents/{incident.reference}/report").get_data(as_text=True)
        pdf = client.get(f"/incidents/{incident.reference}/export.pdf")
    assert "Deadlines" in page and "Missed by 1 d 0 h: not done yet" in page
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_another_areas_deadline_or_another_incidents_cannot_be_marked_done(app, incident, make_incident):
    from responder.accounts.users import create_user

    with freeze_time(OPENED):
        other = make_incident(local_authority="coventry")
    coventry_only = create_user(
        "coventry-officer@example.org", "officer", "correct-horse-battery", local_authorities=["coventry"]
    )
    db.session.commit()
    panel = deadline(incident, PANEL)
    client = app.test_client()
    with freeze_time(OPENED + timedelta(days=1)):
        sign_in(client, coventry_only)
        # Birmingham's incident is not theirs: not found, as if it did not exist.
        refused = client.post(
            f"/incidents/{incident.reference}/deadlines/{panel.id}/done", data={"note": "Not mine"}
        )
        assert refused.status_code == 404
        # Their own incident's URL with Birmingham's deadline id: no such deadline there.
        crossed = client.post(
            f"/incidents/{other.reference}/deadlines/{panel.id}/done",
            data={"note": "Crossed wires"},
            follow_redirects=True,
        )
        assert "There is no such deadline for this incident." in crossed.get_data(as_text=True)
    db.session.expire_all()
    assert panel.done_at is None and panel.note is None


def test_two_people_marking_a_deadline_done_at_once_record_it_once(app, incident, make_user):
    from sqlalchemy.orm.attributes import set_committed_value

    meeting = deadline(incident, MEETING)
    first, second = make_user("officer"), make_user("officer")
    with freeze_time(OPENED + timedelta(hours=2)):
        mark_deadline_done(incident, first, meeting.id, "Held at 22:00")
        db.session.commit()
        # The second request read the deadline before the first committed: it still looks open to it.
        set_committed_value(meeting, "done_at", None)
        with pytest.raises(DeadlineError, match="already marked done"):
            mark_deadline_done(incident, second, meeting.id, "Held, and I wrote it up")
    db.session.rollback()
    db.session.refresh(meeting)
    assert (meeting.done_by_id, meeting.note) == (first.id, "Held at 22:00")
    done = db.session.scalars(
        select(TimelineEvent).where(TimelineEvent.kind == EventKind.DEADLINE_DONE)
    ).all()
    assert len(done) == 1
