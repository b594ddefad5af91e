"""The sharing record: every alert, check-in, export and agency added by hand is recorded with its
lawful basis, a share without one is refused, and managers can read and download the record."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from responder.extensions import db
from responder.governance import sharing
from responder.governance.sharing import SharingRefused
from responder.incidents import lifecycle
from responder.models import Activation, Message, SharingRecord, TimelineEvent
from responder.scheduling import cancel_pending_escalations
from responder.scheduling.firing import fire_due_actions

OPENED = datetime(2026, 11, 24, 21, 50, tzinfo=UTC)


def records(incident, category: str | None = None) -> list[SharingRecord]:
    db.session.expire_all()
    query = select(SharingRecord).where(SharingRecord.incident_id == incident.id).order_by(SharingRecord.id)
    if category:
        query = query.where(SharingRecord.category == category)
    return list(db.session.scalars(query))


def agency(incident, key: str) -> Activation:
    return next(a for a in incident.activations if a.agency_key == key)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def incident(make_incident):
    with freeze_time(OPENED):
        return make_incident()


def test_every_alert_at_opening_is_recorded_with_the_playbooks_basis(incident):
    alerted = [a for a in incident.activations if a.lead_contact is not None]
    shares = records(incident, sharing.ALERT)
    assert {share.agency_key for share in shares} == {a.agency_key for a in alerted}
    youth = next(share for share in shares if share.agency_key == "bham-youth-service")
    frozen = incident.playbook_snapshot["playbook"]["agencies"]["bham-youth-service"]["sharing_basis"]
    assert youth.lawful_basis == frozen
    assert youth.recipient == "bham-youth-lead" and youth.channel == "sms and email"
    assert youth.shared_by == f"user:{incident.opened_by.email}"
    assert youth.at == OPENED
    police = next(share for share in shares if share.agency_key == "wmp-birmingham")
    assert (
        police.lawful_basis
        == incident.playbook_snapshot["regional"]["agencies"]["wmp-birmingham"]["sharing_basis"]
    )
    # Names, numbers and addresses are not part of the record: roles are.
    contact = agency(incident, "bham-youth-service").lead_contact
    for share in shares:
        assert contact.name not in repr(vars(share)) and contact.phone not in repr(vars(share))


def test_a_share_without_a_basis_is_refused_and_nothing_is_sent(incident, make_user):
    with pytest.raises(SharingRefused, match="no lawful basis"):
        sharing.record_share(
            incident,
            category=sharing.ALERT,
            recipient="someone",
            channel="sms",
            basis=None,
            shared_by="system",
        )
    with pytest.raises(SharingRefused, match="not a known basis"):
        sharing.record_share(
            incident,
            category=sharing.ALERT,
            recipient="someone",
            channel="sms",
            basis="gut-feeling",
            shared_by="x",
        )
    db.session.rollback()

    # An incident whose frozen playbook gives the agency no basis cannot alert it again.
    snapshot = dict(incident.playbook_snapshot)
    playbook = dict(snapshot["playbook"])
    playbook["agencies"] = {
        key: {k: v for k, v in value.items() if k != "sharing_basis"}
        for key, value in playbook["agencies"].items()
    }
    snapshot["playbook"] = playbook
    incident.playbook_snapshot = snapshot
    db.session.commit()
    before = (count(Message), count(SharingRecord), count(TimelineEvent))
    with pytest.raises(SharingRefused):
        lifecycle.resend_alert(agency(incident, "bham-youth-service"), make_user("officer"))
    db.session.rollback()
    assert (count(Message), count(SharingRecord), count(TimelineEvent)) == before


def test_escalations_and_resent_alerts_are_recorded_with_why_and_by_whom(incident, make_user):
    youth = agency(incident, "bham-youth-service")
    with freeze_time(OPENED + timedelta(minutes=16)):
        fire_due_actions()
    officer = make_user("officer")
    with freeze_time(OPENED + timedelta(minutes=17)):
        lifecycle.resend_alert(youth, officer)
    shares = [s for s in records(incident, sharing.ALERT) if s.agency_key == "bham-youth-service"]
    assert [s.recipient for s in shares] == ["bham-youth-lead", "bham-youth-deputy", "bham-youth-deputy"]
    assert shares[1].shared_by == "system" and shares[1].purpose.startswith("escalated to the deputy because")
    assert shares[2].shared_by == f"user:{officer.email}" and shares[2].purpose == "alert re-sent"


def test_each_check_in_request_and_reminder_is_recorded(incident):
    youth = agency(incident, "bham-youth-service")
    with freeze_time(OPENED + timedelta(minutes=5)):
        youth.state = "covered"
        youth.acknowledged_by = youth.lead_contact
        cancel_pending_escalations(youth)
        db.session.commit()
    check_in_at = OPENED + timedelta(hours=4)
    with freeze_time(check_in_at):
        fire_due_actions()
    with freeze_time(check_in_at + timedelta(hours=2)):
        fire_due_actions()
    requests = records(incident, sharing.CHECK_IN_REQUEST)
    reminders = records(incident, sharing.CHECK_IN_REMINDER)
    assert [(r.agency_key, r.recipient, r.at) for r in requests] == [
        ("bham-youth-service", "bham-youth-lead", check_in_at)
    ]
    assert [r.agency_key for r in reminders] == ["bham-youth-service"]
    assert requests[0].lawful_basis == youth_basis(incident) and requests[0].purpose == "4h check-in"


def youth_basis(incident) -> str:
    return incident.playbook_snapshot["playbook"]["agencies"]["bham-youth-service"]["sharing_basis"]


def test_standing_down_records_the_thank_you_to_covering_agencies(incident, make_user):
    youth = agency(incident, "bham-youth-service")
    youth.state = "covered"
    youth.acknowledged_by = youth.lead_contact
    db.session.commit()
    officer = make_user("officer")
    lifecycle.stand_down(incident, officer, "quiet for a week")
    (share,) = records(incident, sharing.STAND_DOWN)
    assert share.agency_key == "bham-youth-service" and share.shared_by == f"user:{officer.email}"


def test_an_agency_added_by_hand_needs_a_basis_end_to_end(client, incident, make_user, login):
    login(make_user("officer"))
    path = f"/incidents/{incident.reference}/agencies/ad-hoc"
    form = {"name": "Lozells Mosque committee", "lead_role": "bham-csp-lead", "reason": "faith liaison"}
    before = (count(Activation), count(SharingRecord), count(Message))

    refused = client.post(path, data=form)
    assert refused.status_code == 422
    assert "Choose the lawful basis for sharing" in refused.get_data(as_text=True)
    assert (count(Activation), count(SharingRecord), count(Message)) == before

    added = client.post(path, data={**form, "sharing_basis": "consent"})
    assert added.status_code == 303
    db.session.expire_all()
    activation = next(a for a in incident.activations if a.agency_name == "Lozells Mosque committee")
    (share,) = [s for s in records(incident, sharing.ALERT) if s.agency_key == activation.agency_key]
    assert share.lawful_basis == "consent" and share.recipient == "bham-csp-lead"
    assert share.purpose == "added by hand: faith liaison" and share.shared_by.startswith("user:officer")
    # Later shares with it (escalation, check-ins) find the basis with the frozen playbook.
    assert sharing.basis_for_agency(incident, activation.agency_key, activation.source) == "consent"


def share_export(client, reference: str, **fields):
    """The learning review page's form: an export for sharing on a stated basis and purpose."""
    form = {
        "format": "pdf",
        "redacted": "redacted",
        "basis": "safeguarding-duty",
        "purpose": "Rapid review panel",
    }
    return client.post(f"/incidents/{reference}/exports", data={**form, **fields})


def test_exports_are_recorded_with_the_stated_or_configured_basis(app, client, incident, make_user, login):
    manager = login(make_user("manager"))
    reference = incident.reference
    assert client.get(f"/incidents/{reference}/export.csv").status_code == 200
    stated = share_export(client, reference)
    assert stated.status_code == 200 and stated.headers["Content-Type"] == "application/pdf"
    shares = [s for s in records(incident) if s.channel == sharing.DOWNLOAD]
    assert [(s.category, s.lawful_basis, s.purpose) for s in shares] == [
        ("incident export (full): chronology (CSV)", app.config["EXPORT_SHARING_BASIS"], ""),
        ("incident export (redacted): after-action report (PDF)", "safeguarding-duty", "Rapid review panel"),
    ]
    assert all(s.recipient == s.shared_by == f"user:{manager.email}" for s in shares)


def test_a_link_cannot_write_a_basis_or_purpose_into_the_record(app, client, incident, make_user, login):
    login(make_user("manager"))
    forged = f"/incidents/{incident.reference}/export.pdf?redacted=1&basis=consent&purpose=Forged+by+a+link"
    assert client.get(forged).status_code == 200  # recorded as a read, on the configured basis
    (share,) = [s for s in records(incident) if s.channel == sharing.DOWNLOAD]
    assert (share.lawful_basis, share.purpose) == (app.config["EXPORT_SHARING_BASIS"], "")
    assert "Forged" not in str([s.purpose for s in records(incident)])


def test_a_stated_export_needs_its_basis_and_purpose(client, incident, make_user, login):
    login(make_user("manager"))
    before = count(SharingRecord)
    refused = share_export(client, incident.reference, basis="because", purpose="")
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "Select the lawful basis for sharing" in page and "Say who the export is for and why" in page
    assert count(SharingRecord) == before


def test_an_export_without_a_basis_is_refused_and_nothing_is_recorded(
    app, client, incident, make_user, login
):
    login(make_user("manager"))
    app.config["EXPORT_SHARING_BASIS"] = None
    before = (count(SharingRecord), count(TimelineEvent))
    response = client.get(f"/incidents/{incident.reference}/export.json")
    assert response.status_code == 400
    assert "no lawful basis" in response.get_data(as_text=True)
    assert (count(SharingRecord), count(TimelineEvent)) == before


def test_managers_read_and_download_the_sharing_record(client, incident, make_user, login):
    login(make_user("manager"))
    # A stated purpose that a spreadsheet would run as a formula.
    share_export(client, incident.reference, format="json", purpose='=HYPERLINK("http://x")').get_data()

    page = client.get(f"/incidents/{incident.reference}/sharing")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Birmingham Youth Service" in text and "bham-youth-lead" in text
    assert "Section 115, Crime and Disorder Act 1998" in text or "Statutory safeguarding duty" in text

    download = client.get(f"/incidents/{incident.reference}/sharing.csv")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].endswith(
        f'filename="{incident.reference}-sharing-record.csv"'
    )
    assert download.headers["Cache-Control"] == "no-store"
    body = download.get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == list(sharing.CSV_HEADER)
    assert len(rows) - 1 == len(records(incident))
    purposes = [row[sharing.CSV_HEADER.index("Purpose")] for row in rows[1:]]
    assert '\'=HYPERLINK("http://x")' in purposes
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows[1:] for cell in row)


def test_officers_cannot_read_the_sharing_record(client, incident, make_user, login):
    login(make_user("officer"))
    assert client.get(f"/incidents/{incident.reference}/sharing").status_code == 403
    assert client.get(f"/incidents/{incident.reference}/sharing.csv").status_code == 403


def test_the_incident_page_links_managers_to_the_sharing_record(client, incident, make_user, login):
    login(make_user("manager"))
    page = client.get(f"/incidents/{incident.reference}").get_data(as_text=True)
    assert f'href="/incidents/{incident.reference}/sharing"' in page
