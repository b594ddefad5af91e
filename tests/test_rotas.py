"""Rotas behind role keys: imports from calendars and CSV, overrides, gaps, and who an alert reaches.

No test waits for a shift boundary: freezegun moves the clock, and the
scheduler's sweep is called at the moment a test names.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from freezegun import freeze_time
from sqlalchemy import func, select

from responder.demo import DUTY_MANAGERS
from responder.extensions import db
from responder.models import (
    Activation,
    Contact,
    EventKind,
    Message,
    Rota,
    RotaShift,
    SharingRecord,
    ShiftKind,
    TimelineEvent,
)
from responder.responses.acknowledgements import acknowledge, decline
from responder.rotas import DutySource, on_duty, on_duty_for
from responder.rotas.coverage import roles_with_rotas
from responder.rotas.importing import import_csv
from responder.rotas.overrides import add_override, find_rota
from responder.scheduling.firing import fire_due_actions
from tests.timeline_words import said

from .conftest import PASSWORD

ROLE = "bham-vru-duty"  # Birmingham's duty manager: the third rung of every Birmingham escalation
FIRST, SECOND, THIRD = "bham-duty-manager-1", "bham-duty-manager-2", "cov-duty-manager-1"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def rota_csv(*rows: tuple[str, str, str], role: str = ROLE) -> str:
    """A rota CSV: (contact, start, end) per row, local times."""
    return "role,contact,start,end\n" + "".join(f"{role},{c},{s},{e}\n" for c, s, e in rows)


def shifts(role: str = ROLE) -> list[RotaShift]:
    rota = find_rota(role)
    return sorted(rota.shifts, key=lambda s: s.starts_at) if rota else []


def sms_to(activation: Activation) -> list[str]:
    """Whose phones the alerts for this agency went to, in order (contact keys)."""
    messages = db.session.scalars(
        select(Message)
        .where(Message.activation_id == activation.id, Message.channel == "sms", Message.kind == "alert")
        .order_by(Message.id)
    )
    return [message.contact.key for message in messages]


def events(kind: EventKind, activation: Activation | None = None) -> list[TimelineEvent]:
    query = select(TimelineEvent).where(TimelineEvent.kind == kind).order_by(TimelineEvent.id)
    if activation is not None:
        query = query.where(TimelineEvent.agency_key == activation.agency_key)
    return list(db.session.scalars(query))


def youth_service(incident) -> Activation:
    return next(a for a in incident.activations if a.agency_key == "bham-youth-service")


def fire_at(moment: datetime):
    with freeze_time(moment):
        fired = fire_due_actions()
    db.session.expire_all()
    return fired


# --- calendars ------------------------------------------------------------------------------

NIGHTS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Council rota tool//EN
X-WR-CALNAME:Birmingham duty managers
BEGIN:VEVENT
UID:nights@rota.example.org
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/London:20260301T200000
DTEND;TZID=Europe/London:20260302T080000
RRULE:FREQ=DAILY
SUMMARY:Night duty
ATTENDEE;CN=Yusuf Hargreaves:mailto:BHAM-DUTY-MANAGER-1@example.org
END:VEVENT
BEGIN:VEVENT
UID:cover@rota.example.org
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/London:20261025T013000
DTEND;TZID=Europe/London:20261025T040000
SUMMARY:Early cover: bham-duty-manager-2
END:VEVENT
BEGIN:VEVENT
UID:stranger@rota.example.org
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/London:20260301T080000
DTEND;TZID=Europe/London:20260301T200000
RRULE:FREQ=WEEKLY
SUMMARY:Day duty
ATTENDEE:mailto:somebody-else@example.org
END:VEVENT
END:VCALENDAR
"""


def test_recurring_ical_shifts_keep_local_times_across_both_clock_changes(app, directory, runner, tmp_path):
    path = tmp_path / "duty.ics"
    path.write_text(NIGHTS)
    # The Friday before the clocks go forward (Sunday 29 March 2026, 01:00 GMT -> 02:00 BST).
    with freeze_time(utc(2026, 3, 27, 12)):
        result = runner.invoke(args=["rota", "import", str(path), "--role", ROLE])
    # The weekly day shift names nobody in the directory: reported by the line its event begins on, left out.
    assert result.exit_code == 1
    assert f"{path}:21: attendee: no contact with key or e-mail 'somebody-else@example.org'" in result.output
    nights = [(s.starts_at, s.ends_at) for s in shifts()]
    # 20:00 to 08:00 on the wall clock every night: 12 hours, then 11 across the change, then BST.
    assert (utc(2026, 3, 27, 20), utc(2026, 3, 28, 8)) in nights
    assert (utc(2026, 3, 28, 20), utc(2026, 3, 29, 7)) in nights
    assert (utc(2026, 3, 29, 19), utc(2026, 3, 30, 7)) in nights
    assert find_rota(ROLE).name == "Birmingham duty managers"
    # Sixty days ahead, and no further until it is expanded again.
    assert max(s.ends_at for s in shifts()) <= utc(2026, 3, 27, 12) + timedelta(days=61)
    assert on_duty(ROLE, utc(2026, 3, 29, 6, 59)).contact.key == FIRST
    assert on_duty(ROLE, utc(2026, 3, 29, 7, 0)).source == DutySource.FALLBACK  # 08:00 BST: the night is over

    # The Friday before the clocks go back (Sunday 25 October 2026, 02:00 BST -> 01:00 GMT), the
    # nightly expansion reaches the change.
    with freeze_time(utc(2026, 10, 23, 12)):
        assert runner.invoke(args=["rota", "extend"]).exit_code == 0
    nights = [(s.starts_at, s.ends_at, s.contact.key) for s in shifts()]
    assert (utc(2026, 10, 24, 19), utc(2026, 10, 25, 8), FIRST) in nights  # 13 hours
    assert (utc(2026, 10, 25, 20), utc(2026, 10, 26, 8), FIRST) in nights
    # 01:30 on the day the clocks go back happens twice: the first, in BST, is meant.
    assert (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 4), SECOND) in nights
    holders = on_duty(ROLE, utc(2026, 10, 25, 1))
    assert holders.source == DutySource.ROTA
    assert {c.key for c in holders.contacts} == {FIRST, SECOND}  # the night and the early cover overlap


def test_a_file_that_is_not_a_calendar_imports_nothing(app, directory, runner, tmp_path):
    path = tmp_path / "duty.ics"
    path.write_text("BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nDTSTART:garbage\n")
    result = runner.invoke(args=["rota", "import", str(path), "--role", ROLE])
    assert result.exit_code == 1
    assert result.output.startswith(f"{path}:1: file: not an iCalendar file")
    assert db.session.scalar(select(func.count()).select_from(Rota)) == 0
    unknown = runner.invoke(args=["rota", "import", str(path), "--role", "no-such-role"])
    assert f"{path}:1: role: 'no-such-role' is not a role any playbook names" in unknown.output


# --- CSV ------------------------------------------------------------------------------------


def test_csv_import_keeps_good_rows_and_reports_bad_ones_by_line(app, directory, runner, tmp_path):
    path = tmp_path / "rota.csv"
    path.write_text(
        "role,contact,start,end\n"
        f"{ROLE},{FIRST},2026-12-01T08:00,2026-12-01T20:00\n"
        f"{ROLE},bham-duty-manager-2@example.org,2026-12-01T20:00,2026-12-02T08:00\n"
        f"{ROLE},nobody-here,2026-12-02T08:00,2026-12-02T20:00\n"
        f"{ROLE},{FIRST},tomorrow,2026-12-02T20:00\n"
        f"{ROLE},{FIRST},2026-12-03T20:00,2026-12-03T08:00\n"
        f"not-a-role,{FIRST},2026-12-03T08:00,2026-12-03T20:00\n"
    )
    result = runner.invoke(args=["rota", "import", str(path)])
    assert result.exit_code == 1
    assert result.output.splitlines()[:4] == [
        f"{path}:4: contact: no contact with key or e-mail 'nobody-here' in the directory",
        f"{path}:5: start: 'tomorrow' is not an ISO 8601 date and time, like 2026-12-01T08:00",
        f"{path}:6: end: must be after the start",
        f"{path}:7: role: 'not-a-role' is not a role any playbook names",
    ]
    assert [(s.contact.key, s.starts_at) for s in shifts()] == [
        (FIRST, utc(2026, 12, 1, 8)),
        (SECOND, utc(2026, 12, 1, 20)),
    ]
    # Imported again, the file replaces its own period: nothing doubles.
    runner.invoke(args=["rota", "import", str(path)])
    assert len(shifts()) == 2


def test_a_csv_without_its_header_imports_nothing(app, directory, runner, tmp_path):
    path = tmp_path / "rota.csv"
    path.write_text(f"{ROLE},{FIRST},2026-12-01T08:00,2026-12-01T20:00\n")
    result = runner.invoke(args=["rota", "import", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"{path}:1: header: missing column(s)")
    assert db.session.scalar(select(func.count()).select_from(RotaShift)) == 0


# --- overrides ------------------------------------------------------------------------------


def test_an_override_takes_precedence_over_the_shifts_it_covers(app, directory, make_user, client, login):
    import_csv(
        rota_csv(
            (FIRST, "2026-12-01T08:00", "2026-12-01T20:00"), (SECOND, "2026-12-01T20:00", "2026-12-02T08:00")
        ),
        "rota.csv",
    )
    db.session.commit()
    with freeze_time(utc(2026, 11, 30, 12)):
        admin = login(make_user("admin"))
        response = client.post(
            f"/admin/rotas/{ROLE}/overrides",
            data={
                "contact": THIRD,
                "starts": "2026-12-01 19:00",
                "ends": "2026-12-01 23:00",
                "reason": "Swap: Ruth's evening",
            },
        )
        assert response.status_code == 303
        page = client.get("/admin/rotas").get_data(as_text=True)
        assert "Swap: Ruth&#39;s evening" in page and "Override" in page
        override = db.session.scalar(select(RotaShift).where(RotaShift.kind == ShiftKind.OVERRIDE))
        assert override.created_by_id == admin.id
        assert on_duty(ROLE, utc(2026, 12, 1, 18)).contact.key == FIRST
        covered = on_duty(ROLE, utc(2026, 12, 1, 21))
        assert (covered.source, [c.key for c in covered.contacts]) == (DutySource.OVERRIDE, [THIRD])
        assert on_duty(ROLE, utc(2026, 12, 1, 23, 30)).contact.key == SECOND

        # Refused with the form's errors: an unknown contact, no reason or times.
        refused = client.post(
            f"/admin/rotas/{ROLE}/overrides",
            data={
                "contact": "nobody",
                "starts": "2026-12-01 19:00",
                "ends": "2026-12-01 23:00",
                "reason": "x",
            },
        )
        assert refused.status_code == 422
        assert "No contact with key or e-mail &#39;nobody&#39;" in refused.get_data(as_text=True)
        assert client.post(f"/admin/rotas/{ROLE}/overrides", data={"contact": THIRD}).status_code == 422

        removed = client.post(f"/admin/rotas/{ROLE}/overrides/{override.id}/remove")
        assert removed.status_code == 303
        assert on_duty(ROLE, utc(2026, 12, 1, 21)).contact.key == SECOND


# --- gaps -----------------------------------------------------------------------------------


def test_rota_check_reports_every_gap_and_playbooks_check_only_warns(app, directory, runner, make_user):
    with freeze_time(utc(2026, 11, 30, 12)):
        import_csv(
            rota_csv(
                (FIRST, "2026-11-30T08:00", "2026-12-01T02:00"),
                (SECOND, "2026-12-01T06:00", "2026-12-05T08:00"),
            ),
            "rota.csv",
        )
        db.session.commit()
        result = runner.invoke(args=["rota", "check", "--days", "2"])
        assert result.exit_code == 1
        assert result.output.splitlines()[0] == (
            f"{ROLE}: 2026-12-01 02:00 GMT - 2026-12-01 06:00 GMT: nobody on duty"
        )
        playbooks = runner.invoke(args=["playbooks", "check"])
        assert playbooks.exit_code == 0
        assert (
            f"warning: {ROLE}: 2026-12-01 02:00 GMT - 2026-12-01 06:00 GMT: nobody on duty"
            in playbooks.output
        )

        # The dashboard warns of it (it is within 72 hours) for a role escalation uses.
        client = app.test_client()
        client.post("/login", data={"email": make_user("officer").email, "password": PASSWORD})
        dashboard = client.get("/").get_data(as_text=True)
        assert "Nobody on duty in the next 72 hours" in dashboard and ROLE in dashboard

        add_override(
            find_rota(ROLE),
            db.session.scalar(select(Contact).where(Contact.key == THIRD)),
            utc(2026, 12, 1, 2),
            utc(2026, 12, 1, 6),
            "Covering the gap",
            make_user("admin"),
        )
        db.session.commit()
        fixed = runner.invoke(args=["rota", "check", "--days", "2"])
        assert fixed.exit_code == 0, fixed.output
        assert "Nobody on duty" not in client.get("/").get_data(as_text=True)


# --- who an escalation reaches ----------------------------------------------------------------

# Tuesday 24 November 2026: GMT. The Birmingham ladder climbs every 15 minutes.
OPENED = utc(2026, 11, 24, 2, 30)


@pytest.fixture
def duty_rota(app, directory):
    """FIRST until 03:00, SECOND from 03:00 (local time, GMT in November)."""
    import_csv(
        rota_csv(
            (FIRST, "2026-11-23T20:00", "2026-11-24T03:00"), (SECOND, "2026-11-24T03:00", "2026-11-24T15:00")
        ),
        "rota.csv",
    )
    db.session.commit()


def test_an_escalation_at_a_shift_boundary_goes_to_the_new_holder(duty_rota, make_incident):
    with freeze_time(OPENED):
        incident = make_incident()
    activation = youth_service(incident)
    fire_at(OPENED + timedelta(minutes=15))  # 02:45: the deputy
    fire_at(OPENED + timedelta(minutes=30))  # 03:00: the duty manager, as the rota has it at 03:00
    assert sms_to(activation) == ["bham-youth-lead", "bham-youth-deputy", SECOND]

    escalated = events(EventKind.ESCALATED, activation)[-1]
    assert escalated.data["duty"] == "rota" and escalated.data["rota"] == ROLE
    assert (
        "alerted the duty manager, Eleanor Mistry, by text and a phone call because nobody acknowledged"
        in said(escalated)
    )
    assert said(escalated).endswith("on duty through the rota for Duty manager, Birmingham")
    share = db.session.scalars(
        select(SharingRecord)
        .where(SharingRecord.agency_key == activation.agency_key)
        .order_by(SharingRecord.id.desc())
    ).first()
    assert share.recipient == SECOND
    assert share.purpose.endswith(f"on duty as {ROLE} through its rota")


def test_a_message_keeps_its_recipient_link_and_code_when_retried_after_the_boundary(
    duty_rota, make_incident, send_outbox
):
    with freeze_time(OPENED - timedelta(minutes=1)):
        incident = make_incident()
    activation = youth_service(incident)
    fire_at(OPENED + timedelta(minutes=14))  # 02:44: the deputy
    fire_at(OPENED + timedelta(minutes=29))  # 02:59: the duty manager is still FIRST
    alert = db.session.scalars(
        select(Message)
        .where(Message.activation_id == activation.id, Message.channel == "sms")
        .order_by(Message.id.desc())
    ).first()
    token, code = alert.access_token_id, activation.reply_code
    # The sender was down until after the boundary; the text goes now, to whom it was written for.
    with freeze_time(OPENED + timedelta(minutes=40)):
        send_outbox()
    alert = db.session.get(Message, alert.id)
    first = db.session.scalar(select(Contact).where(Contact.key == FIRST))
    assert (alert.state, alert.recipient, alert.contact.key) == ("sent", first.phone, FIRST)
    assert alert.access_token_id == token and activation.reply_code == code
    assert f"YES {code}" in alert.body


def test_an_overlap_alerts_both_holders_and_either_can_answer(app, directory, make_incident):
    import_csv(
        rota_csv(
            (FIRST, "2026-11-23T20:00", "2026-11-24T08:00"), (SECOND, "2026-11-24T02:00", "2026-11-24T10:00")
        ),
        "rota.csv",
    )
    db.session.commit()
    with freeze_time(OPENED):
        incident = make_incident()
    activation = youth_service(incident)
    fire_at(OPENED + timedelta(minutes=15))
    fire_at(OPENED + timedelta(minutes=30))
    assert sms_to(activation)[-2:] == [FIRST, SECOND]
    both = events(EventKind.ESCALATED, activation)[-2:]
    assert [e.contact.key for e in both] == [FIRST, SECOND]
    assert all("one of 2 on duty, all alerted" in said(e) for e in both)
    # Each has a link of their own; the second to answer covers the agency as well as the first could.
    with freeze_time(OPENED + timedelta(minutes=35)):
        outcome = acknowledge(activation, both[1].contact, "link")
    assert outcome.status == "acknowledged"
    ack = events(EventKind.ACKNOWLEDGED, activation)[0]
    assert "acknowledged by Eleanor Mistry, Duty manager, Birmingham" in said(ack)


def test_a_gap_falls_back_to_the_fixed_contact_and_the_timeline_says_so(app, directory, make_incident):
    import_csv(rota_csv((FIRST, "2026-11-23T20:00", "2026-11-24T02:00")), "rota.csv")
    db.session.commit()
    with freeze_time(OPENED):
        incident = make_incident()
    activation = youth_service(incident)
    fire_at(OPENED + timedelta(minutes=15))
    fire_at(OPENED + timedelta(minutes=30))
    assert sms_to(activation)[-1] == ROLE  # the contact whose key is the role key
    escalated = events(EventKind.ESCALATED, activation)[-1]
    assert said(escalated).endswith(
        "nobody was on duty on the rota for Duty manager, Birmingham, so its fixed contact was alerted"
    )


def test_a_gap_with_no_fixed_contact_moves_to_the_next_rung_and_says_so(app, directory, make_incident):
    import_csv(rota_csv((FIRST, "2026-11-23T20:00", "2026-11-24T02:00")), "rota.csv")
    db.session.scalar(select(Contact).where(Contact.key == ROLE)).active = False
    db.session.commit()
    with freeze_time(OPENED):
        incident = make_incident()
    activation = youth_service(incident)
    fire_at(OPENED + timedelta(minutes=15))
    fire_at(OPENED + timedelta(minutes=30))
    assert sms_to(activation)[-1] == "wm-vru-on-call"  # straight past the empty rung
    assert activation.escalation_level == 3
    (gap,) = events(EventKind.ROTA_GAP, activation)
    assert said(gap) == (
        "Birmingham Youth Service: nobody was on duty on the rota for the duty manager "
        "(Duty manager, Birmingham) and it has no fixed contact, so the alert moved on"
    )


def test_a_rota_holder_who_declines_hands_the_alert_on(duty_rota, make_incident):
    with freeze_time(OPENED):
        incident = make_incident()
    activation = youth_service(incident)
    fire_at(OPENED + timedelta(minutes=15))
    fire_at(OPENED + timedelta(minutes=30))
    second = db.session.scalar(select(Contact).where(Contact.key == SECOND))
    with freeze_time(OPENED + timedelta(minutes=32)):
        outcome = decline(activation, second, "link", "In another incident")
    assert outcome.handed_to == "VRU regional on-call"
    assert sms_to(activation)[-1] == "wm-vru-on-call"


def test_a_lead_role_on_a_rota_with_nobody_on_duty_goes_straight_to_the_deputy(app, directory, make_incident):
    import_csv(rota_csv((FIRST, "2026-11-23T08:00", "2026-11-23T20:00"), role="bham-youth-lead"), "rota.csv")
    db.session.scalar(select(Contact).where(Contact.key == "bham-youth-lead")).active = False
    db.session.commit()
    with freeze_time(OPENED):
        incident = make_incident()
    activation = youth_service(incident)
    assert sms_to(activation) == ["bham-youth-deputy"]
    assert activation.state == "escalated" and activation.reply_code is not None
    assert [e.kind for e in events(EventKind.ROTA_GAP, activation)] == [EventKind.ROTA_GAP]
    # Its escalation is scheduled like any other: the duty manager next.
    fire_at(OPENED + timedelta(minutes=15))
    assert sms_to(activation)[-1] == ROLE


def test_the_demo_has_a_rota_for_every_duty_manager_and_the_on_call_with_one_deliberate_gap(app, runner):
    with freeze_time(utc(2026, 11, 30, 12)):
        seeded = runner.invoke(args=["demo", "seed"])
        assert seeded.exit_code == 0, seeded.output
        assert roles_with_rotas() == {"wm-vru-on-call", *(f"{prefix}-vru-duty" for prefix in DUTY_MANAGERS)}
        assert find_rota("wm-vru-on-call").calendar is not None  # from the demo's .ics, expanded nightly
        check = runner.invoke(args=["rota", "check", "--days", "14"])
        assert check.exit_code == 1
        assert [line for line in check.output.splitlines() if "nobody on duty" in line] == [
            "sand-vru-duty: 2026-12-02 02:00 GMT - 2026-12-02 08:00 GMT: nobody on duty"
        ]
        assert runner.invoke(args=["playbooks", "check"]).exit_code == 0  # so `make run` still starts
        assert runner.invoke(args=["demo", "seed"]).exit_code == 0  # again: the same rotas, no doubles
        check_again = runner.invoke(args=["rota", "check", "--days", "14"])
        assert check_again.output == check.output


def test_work_done_as_of_one_moment_asks_each_role_once_and_for_that_moment(duty_rota):
    from responder.rotas import as_of

    boundary = utc(2026, 11, 24, 3, 0)
    lookups = []

    def count(conn, cursor, statement, *args):
        if "FROM rotas" in statement:
            lookups.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        with freeze_time(boundary + timedelta(seconds=1)), as_of(boundary - timedelta(seconds=1)):
            # Asked a second after the shift changed, the batch still answers for its own moment.
            answers = [on_duty(ROLE) for _ in range(5)]
            explicit = on_duty(ROLE, boundary)  # another moment, asked for by name: looked up afresh
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert {answer.contact.key for answer in answers} == {FIRST}
    assert explicit.contact.key == SECOND
    assert len(lookups) == 2
    with freeze_time(boundary + timedelta(seconds=1)):
        assert on_duty(ROLE).contact.key == SECOND  # outside, now is now again


def test_the_dashboard_shows_rota_gaps_only_for_the_areas_its_viewer_works_in(
    duty_rota, make_user, login, client
):
    coventry_officer = make_user("officer")
    coventry_officer.local_authorities = ["coventry"]
    db.session.commit()
    with freeze_time(utc(2026, 11, 24, 10, 0)):  # Birmingham's duty rota ends at 15:00: a gap
        login(coventry_officer)
        assert ROLE not in client.get("/").get_data(as_text=True)
        client.post("/logout")
        login(make_user("manager"))  # every area
        assert ROLE in client.get("/").get_data(as_text=True)
        assert ROLE not in client.get("/?local_authority=coventry").get_data(as_text=True)


@pytest.mark.parametrize("moment", ["0001-01-01T00:00+01:00", "9999-12-31T23:59-01:00"])
def test_a_time_at_the_calendars_ends_is_a_form_error_and_a_rejected_line_not_a_500(
    app, directory, make_user, client, login, runner, tmp_path, moment
):
    import_csv(rota_csv((FIRST, "2026-12-01T08:00", "2026-12-01T20:00")), "rota.csv")
    db.session.commit()
    login(make_user("admin"))
    response = client.post(
        f"/admin/rotas/{ROLE}/overrides",
        data={"contact": THIRD, "starts": moment, "ends": "2026-12-01 23:00", "reason": "Swap"},
    )
    assert response.status_code == 422
    path = tmp_path / "rota.csv"
    path.write_text(rota_csv((FIRST, moment, "2026-12-01T20:00")))
    result = runner.invoke(args=["rota", "import", str(path)])
    assert result.exit_code == 1
    assert result.output.splitlines()[0].startswith(f"{path}:2: start: '{moment}' is not an ISO 8601 date")


def test_who_is_on_duty_takes_three_statements_however_many_hold_the_roles(duty_rota):
    db.session.expunge_all()  # nobody already in memory
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        duty = on_duty_for([ROLE, "bham-youth-lead", "bham-youth-deputy"], utc(2026, 11, 24, 2, 0))
        names = {role: [contact.name for contact in held.contacts] for role, held in duty.items()}
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert names[ROLE] and names["bham-youth-lead"]
    assert len(statements) == 3
