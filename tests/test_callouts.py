"""Call-out tests: every role holder in a playbook confirms "this number reaches me", by link or reply code.

The report counts, per role, who confirmed (and how fast), who did not within
24 hours, and whose text failed (with the provider's reason). A test opens no
incident, shares nothing and is counted nowhere else; the people it could not
confirm are flagged in the directory and by ``playbooks check --strict``.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from responder import callouts
from responder.callouts.recipients import roles_named_in
from responder.extensions import db
from responder.models import (
    Activation,
    CalloutRecipient,
    CalloutTest,
    ConfirmedBy,
    Contact,
    Incident,
    Message,
    MessageKind,
    SharingRecord,
    TimelineEvent,
)
from responder.playbooks.registry import current_playbooks
from responder.responses import reply_codes

from .conftest import two_at_once

STARTED = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
URL = "http://responder.test/webhooks/twilio/inbound"
AUTH_TOKEN = "test-auth-token-for-callouts"


@pytest.fixture
def signed_app(app):
    app.config["TWILIO_AUTH_TOKEN"] = AUTH_TOKEN
    return app


def reply(client, phone: str, body: str) -> str:
    params = {"From": phone, "Body": body}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(URL, params)
    response = client.post("/webhooks/twilio/inbound", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    db.session.expire_all()
    return re.sub(r"<[^>]+>", "", response.get_data(as_text=True))


def start(local_authority: str = "birmingham", at: datetime = STARTED):
    with freeze_time(at):
        test = callouts.start_test(local_authority)
        db.session.commit()
    return test


def send_at(send_outbox, moment: datetime = STARTED + timedelta(minutes=1)) -> None:
    with freeze_time(moment):
        send_outbox()


def recipient(test, key: str) -> CalloutRecipient:
    return next(r for r in test.recipients if r.contact.key == key)


def link_of(message: Message) -> str:
    from responder.notify.outbox import rendered_body

    return re.search(r"http://responder.test(/t/\S+)", rendered_body(message)).group(1)


def code_of(message: Message) -> str:
    return re.search(r"reply YES (\d{4})", message.body).group(1)


def test_every_role_holder_in_the_playbook_is_texted_a_test(directory, send_outbox):
    test = start()
    roles = roles_named_in(current_playbooks(), "birmingham")
    keys = {role.role for role in roles}
    # The duty manager, the regional on-call, every lead and deputy, regional agencies the rules bring in,
    # and those deadlines tell.
    assert {
        "bham-vru-duty",
        "wm-vru-on-call",
        "bham-youth-lead",
        "bham-youth-deputy",
        "wmp-bham-duty-inspector",
    } <= keys
    texted = {r.contact.key for r in test.recipients}
    untested = {role["role"] for role in test.untested_roles}
    assert texted | untested == keys and not texted & untested
    for held in test.recipients:
        message = held.message
        assert message.kind == MessageKind.CALLOUT_TEST and message.channel == "sms"
        assert message.recipient == held.contact.phone
        assert message.body.startswith("Responder TEST - no incident. Birmingham call-out test")
        assert "reply YES " in message.body and "{link}" in message.body
    send_outbox()
    assert all(r.message.state == "sent" for r in test.recipients)


def test_a_test_opens_no_incident_shares_nothing_and_is_counted_nowhere(directory, client, send_outbox):
    start()
    send_outbox()
    for model in (Incident, Activation, SharingRecord, TimelineEvent):
        assert db.session.scalar(select(func.count()).select_from(model)) == 0
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "responder_incidents_open{" not in metrics
    assert re.search(r'responder_acknowledgement_latency_seconds_count\{exercise="false"\} 0\.0', metrics)


def test_confirmations_by_link_and_by_reply_code_and_the_report(
    directory, client, signed_app, send_outbox, fake_twilio, make_user, login
):
    test = start()
    send_at(send_outbox)
    youth, deputy, duty = (
        recipient(test, k) for k in ("bham-youth-lead", "bham-youth-deputy", "bham-vru-duty")
    )
    sent_at = youth.message.sent_at

    # By link: GET shows and changes nothing; POST confirms.
    path = link_of(youth.message)
    with freeze_time(sent_at + timedelta(minutes=2)):
        page = client.get(path)
    assert page.status_code == 200 and "Does this number reach you?" in page.get_data(as_text=True)
    assert db.session.get(CalloutRecipient, youth.id).confirmed_at is None
    with freeze_time(sent_at + timedelta(minutes=4)):
        assert client.post(path).status_code == 303
    db.session.expire_all()
    assert youth.confirmed_by == ConfirmedBy.LINK

    # By reply code, from the number tested.
    with freeze_time(sent_at + timedelta(minutes=10)):
        answer = reply(client, deputy.phone, f"YES {code_of(deputy.message)}")
    assert "This number is confirmed for the Birmingham call-out test" in answer
    assert deputy.confirmed_by == ConfirmedBy.SMS_REPLY

    # A failed text: the provider's reason.
    from responder.notify.delivery import record_sms_status

    duty.message.provider_id = "SM-duty"
    db.session.commit()
    record_sms_status("SM-duty", "undelivered", "30005")
    db.session.commit()

    # After 24 hours the rest are "not confirmed".
    with freeze_time(STARTED + timedelta(hours=24, minutes=1)):
        result = callouts.report(test)
        login(make_user("admin"))
        page = client.get(f"/admin/callouts/{test.id}").get_data(as_text=True)
        download = client.get(f"/admin/callouts/{test.id}/report.csv")
    rows = {row.role: row for row in result.rows}
    assert rows["bham-youth-lead"].status == callouts.Status.CONFIRMED
    assert rows["bham-youth-lead"].took == timedelta(minutes=4)
    assert rows["bham-youth-deputy"].took == timedelta(minutes=10)
    assert rows["bham-vru-duty"].status == callouts.Status.FAILED
    assert (
        rows["bham-vru-duty"].reason == "the number is unknown or no longer in service (Twilio error 30005)"
    )
    confirmed, failed = result.count("confirmed"), result.count("failed")
    not_confirmed = result.count("not_confirmed")
    nobody = result.count("no_contact")
    assert (confirmed, failed) == (2, 1)
    assert not_confirmed == len(result.rows) - 3 - nobody and result.count("waiting") == 0
    assert result.median_to_confirm == timedelta(minutes=7)
    assert result.finished
    assert f"{confirmed} confirmed (median 7 min), 1 failed, {not_confirmed} not confirmed" in page
    assert "Not confirmed within 24 hours" in page and "Twilio error 30005" in page

    table = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert table[0][:3] == ["Role", "Role key", "Result"]
    by_role = {row[1]: row for row in table[1:]}
    assert by_role["bham-youth-lead"][2] == "Confirmed" and by_role["bham-youth-lead"][6] == "4.0"
    assert by_role["bham-vru-duty"][2] == "Failed" and "30005" in by_role["bham-vru-duty"][7]
    assert len(table) - 1 == len(result.rows)


def test_a_link_used_twice_or_after_24_hours(directory, client, send_outbox):
    test = start()
    send_at(send_outbox)
    youth, deputy = recipient(test, "bham-youth-lead"), recipient(test, "bham-youth-deputy")
    first = link_of(youth.message)
    with freeze_time(STARTED + timedelta(hours=1)):
        client.post(first)
    with freeze_time(STARTED + timedelta(hours=2)):
        again = client.post(first, follow_redirects=True)
    assert "this number reaches you" in again.get_data(as_text=True)
    db.session.expire_all()
    assert youth.confirmed_at == STARTED + timedelta(hours=1)  # the first use stands

    late = link_of(deputy.message)
    with freeze_time(STARTED + timedelta(hours=24)):
        assert client.get(late).status_code == 410
        response = client.post(late)
    assert response.status_code == 410 and "This call-out test has ended" in response.get_data(as_text=True)
    db.session.expire_all()
    assert deputy.confirmed_at is None
    assert client.get("/t/not-a-real-token").status_code == 404


def test_a_call_out_link_never_reaches_the_request_log(directory, client, caplog):
    import logging

    test = start(at=datetime.now(UTC))
    path = link_of(recipient(test, "bham-youth-lead").message)
    with caplog.at_level(logging.INFO):
        assert client.get(path).status_code == 200
    assert "/t/[redacted]" in caplog.text and path.removeprefix("/t/") not in caplog.text


def test_a_reply_after_24_hours_or_with_another_code_changes_nothing(directory, client, signed_app):
    test = start()
    youth = recipient(test, "bham-youth-lead")
    code = code_of(youth.message)
    with freeze_time(STARTED + timedelta(hours=25)):
        answer = reply(client, youth.phone, f"YES {code}")
    assert "does not match" in answer and youth.confirmed_at is None
    other = recipient(test, "bham-youth-deputy")
    answer = reply(client, youth.phone, f"YES {code_of(other.message)}")  # someone else's code
    assert "does not match" in answer
    db.session.expire_all()
    assert other.confirmed_at is None and youth.confirmed_at is None


def test_call_out_codes_never_collide_with_an_incidents_reply_codes(
    directory, client, signed_app, make_incident, monkeypatch
):
    incident = make_incident()
    held = {a.reply_code for a in incident.activations if a.reply_code}
    test = start(at=datetime.now(UTC))
    tested = {r.reply_code for r in test.recipients}
    assert tested and not tested & held
    # ...and an alert opened during a running test draws around the test's codes.
    assert not set(reply_codes.allocate(len(reply_codes.CODE_RANGE) - len(held) - len(tested))) & tested

    # Were a code ever to be held by both (two openings racing), a reply using it does neither.
    youth_alert = next(a for a in incident.activations if a.agency_key == "bham-youth-service")
    youth_test = recipient(test, "bham-youth-lead")
    youth_test.reply_code = youth_alert.reply_code
    db.session.commit()
    answer = reply(client, youth_test.phone, f"YES {youth_alert.reply_code}")
    assert "matches both an alert and a call-out test" in answer
    db.session.expire_all()
    assert youth_alert.state == "alerted" and youth_test.confirmed_at is None


def test_yes_alone_is_ambiguous_beside_a_waiting_alert(directory, client, signed_app, make_incident):
    test = start(at=datetime.now(UTC))
    youth = recipient(test, "bham-youth-lead")
    assert "This number is confirmed" in reply(client, youth.phone, "YES")  # the only thing waiting
    incident = make_incident()
    deputy = recipient(test, "bham-youth-deputy")
    lead_alert = next(a for a in incident.activations if a.agency_key == "bham-youth-service")
    assert lead_alert.lead_contact.key == "bham-youth-lead"
    # The youth lead now has an alert waiting (their test is confirmed): YES means the alert.
    assert "is covering" in reply(client, youth.phone, "YES")
    assert deputy.confirmed_at is None


def test_yes_alone_with_a_test_and_an_alert_both_waiting_does_neither(
    directory, client, signed_app, make_incident
):
    test = start(at=datetime.now(UTC))
    incident = make_incident()
    youth = recipient(test, "bham-youth-lead")
    assert "more than one message is waiting" in reply(client, youth.phone, "YES")
    lead_alert = next(a for a in incident.activations if a.agency_key == "bham-youth-service")
    assert lead_alert.state == "alerted" and youth.confirmed_at is None


def test_a_second_test_within_minutes_is_refused(directory):
    start()
    with freeze_time(STARTED + timedelta(minutes=5)), pytest.raises(callouts.CalloutError, match="10:10"):
        callouts.start_test("birmingham")
    with pytest.raises(callouts.CalloutError, match="no playbook"):
        callouts.start_test("atlantis")


def test_two_tests_started_at_once_text_everyone_once(directory, app):
    """A double click: the second start waits for the first to commit, then is refused."""
    outcome = two_at_once(app, lambda: callouts.start_test("birmingham").id)

    assert isinstance(outcome["first"], int)
    assert isinstance(outcome["second"], callouts.CalloutError)
    assert str(outcome["second"]).startswith("A call-out test of this playbook started at")
    assert db.session.scalar(select(func.count()).select_from(CalloutTest)) == 1
    texts = db.session.scalars(
        select(Message.recipient).where(Message.kind == MessageKind.CALLOUT_TEST)
    ).all()
    assert texts and len(texts) == len(set(texts))


def test_unconfirmed_contacts_are_flagged_until_they_confirm_again(
    directory, client, signed_app, make_user, login, runner
):
    test = start()
    youth = recipient(test, "bham-youth-lead")
    with freeze_time(STARTED + timedelta(minutes=30)):
        youth_deputy = recipient(test, "bham-youth-deputy")
        client.post(link_of(youth_deputy.message))
    later = STARTED + timedelta(hours=25)
    with freeze_time(later):
        found = callouts.contacts_not_confirmed()
        (person,) = [p for p in found["birmingham"] if p.contact_key == "bham-youth-lead"]
        assert person.status == callouts.Status.NOT_CONFIRMED and person.roles == ("bham-youth-lead",)
        assert person.role_labels == ("Lead, Birmingham Youth Service",)
        assert "bham-youth-deputy" not in {p.contact_key for p in found["birmingham"]}

        login(make_user("admin"))
        directory_page = client.get("/admin/contacts?q=bham-youth").get_data(as_text=True)
        assert "Call-out test: not confirmed within 24 hours" in directory_page

        strict = runner.invoke(args=["playbooks", "check", "--strict"])
        assert strict.exit_code == 1
        assert re.search(
            r"playbooks/birmingham\.yaml:\d+: agencies\.bham-youth-service\.lead: "
            r"bham-youth-lead did not confirm in the call-out test of 24 Nov 2026",
            strict.output,
        )
        assert runner.invoke(args=["playbooks", "check"]).exit_code == 0

    # Confirmed in a later test: no longer flagged.
    second = start("birmingham", at=later)
    with freeze_time(later + timedelta(minutes=3)):
        client.post(link_of(recipient(second, "bham-youth-lead").message))
    with freeze_time(later + timedelta(minutes=5)):
        assert "bham-youth-lead" not in {
            p.contact_key for p in callouts.contacts_not_confirmed()["birmingham"]
        }
        assert youth.contact_id not in callouts.flagged_contacts()


def test_a_failed_text_is_not_emailed_and_is_flagged_at_once(
    directory, real_providers, fake_twilio, send_outbox
):
    lead = db.session.scalar(select(Contact).where(Contact.key == "bham-youth-lead"))
    fake_twilio.reject_number(lead.phone, 21614)
    test = callouts.start_test("birmingham")
    db.session.commit()
    send_outbox()
    youth = recipient(test, "bham-youth-lead")
    assert youth.message.state == "failed"
    emails = db.session.scalar(select(func.count()).select_from(Message).where(Message.channel == "email"))
    assert emails == 0  # an emailed copy would confirm a number that does not work
    (person,) = [p for p in callouts.contacts_not_confirmed()["birmingham"] if p.contact_key == lead.key]
    assert person.status == callouts.Status.FAILED and "not a mobile number" in person.reason


def test_the_admin_page_starts_a_test_with_its_button(directory, client, make_user, login):
    login(make_user("admin"))
    page = client.get("/admin/callouts").get_data(as_text=True)
    assert "Never tested" in page and "Start a call-out test" in page
    response = client.post("/admin/callouts", data={"local_authority": "coventry"})
    assert response.status_code == 303
    (test_id,) = db.session.scalars(select(CalloutRecipient.test_id).distinct())
    assert response.headers["Location"].endswith(f"/admin/callouts/{test_id}")
    again = client.post("/admin/callouts", data={"local_authority": "coventry"}, follow_redirects=True)
    assert "a new one can start from" in again.get_data(as_text=True)
    report = client.get(f"/admin/callouts/{test_id}").get_data(as_text=True)
    assert "Coventry" in report and "Waiting for an answer" in report


def test_the_command_line_starts_and_reports(directory, runner):
    result = runner.invoke(args=["callout", "test", "walsall"])
    assert result.exit_code == 0, result.output
    assert re.search(r"call-out test \d+ of walsall: \d+ people texted for \d+ roles", result.output)
    assert "results: http://responder.test/admin/callouts/" in result.output
    report = runner.invoke(args=["callout", "report", "walsall"])
    assert report.exit_code == 0 and "Waiting for an answer" in report.output
    assert runner.invoke(args=["callout", "test", "atlantis"]).exit_code == 1
    assert runner.invoke(args=["callout", "report", "dudley"]).exit_code == 1


def test_rota_holders_on_duty_in_the_next_seven_days_are_tested_too(directory):
    from responder.rotas.importing import import_csv

    # Birmingham's duty manager role: two rota holders this week, one the week after.
    import_csv(
        "role,contact,start,end\n"
        "bham-vru-duty,bham-duty-manager-1,2026-11-25T08:00,2026-11-25T20:00\n"
        "bham-vru-duty,bham-duty-manager-2,2026-11-27T20:00,2026-11-28T08:00\n"
        "bham-vru-duty,cov-duty-manager-1,2026-12-05T08:00,2026-12-05T20:00\n",
        "rota.csv",
    )
    db.session.commit()
    test = start()
    texted = {r.contact.key for r in test.recipients}
    assert {"bham-vru-duty", "bham-duty-manager-1", "bham-duty-manager-2"} <= texted
    assert "cov-duty-manager-1" not in texted  # on duty only after the test's seven days
    holder = recipient(test, "bham-duty-manager-2")
    assert [held["role"] for held in holder.roles] == ["bham-vru-duty"]


def test_readiness_lists_who_did_not_confirm_the_last_call_out_test_until_they_do(
    directory, client, make_user, login, runner
):
    from responder.readiness import callout_problems

    test = start()
    with freeze_time(STARTED + timedelta(hours=25)):
        problems = callout_problems("birmingham")
        youth = [p for p in problems if "Lead, Birmingham Youth Service" in p.message]
        assert youth and youth[0].kind == "callout" and youth[0].fix_url == f"/admin/callouts/{test.id}"
        assert "never confirmed their number in the last call-out test" in youth[0].message
        login(make_user("manager"))
        assert "Lead, Birmingham Youth Service" in client.get("/readiness").get_data(as_text=True)
        checked = runner.invoke(args=["readiness", "check", "birmingham"])
        assert checked.exit_code == 1
        assert (
            "birmingham: call-out test: " in checked.output
            and "Lead, Birmingham Youth Service" in checked.output
        )
    second = start("birmingham", at=STARTED + timedelta(hours=26))
    with freeze_time(STARTED + timedelta(hours=26, minutes=5)):
        client.post(link_of(recipient(second, "bham-youth-lead").message))
    with freeze_time(STARTED + timedelta(hours=26, minutes=10)):
        assert not [
            p for p in callout_problems("birmingham") if "Lead, Birmingham Youth Service" in p.message
        ]
