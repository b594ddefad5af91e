"""The chronology CSV: one row per timeline event, oldest first, safe to open in Excel, streamed."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from responder import timeline
from responder.exports.chronology_csv import BOM, HEADER, chronology_csv, neutralise
from responder.extensions import db
from responder.models import EventKind, TimelineEvent
from responder.models.audit import AuditEvent
from responder.timeline.naming import naming_for
from tests.timeline_words import said

from .export_scenario import REVIEWED, T0, download, run_script, sign_in


@pytest.fixture
def scripted(make_incident, send_outbox):
    return run_script(make_incident, send_outbox)


@pytest.fixture
def manager(make_user, login):
    return sign_in(login, make_user("manager"))


def parse(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def test_one_row_per_event_with_local_time_utc_actor_agency_channel_kind_detail(client, scripted, manager):
    response = download(client, f"/incidents/{scripted.reference}/export.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response.headers["Content-Disposition"]
        == f'attachment; filename="{scripted.reference}-chronology.csv"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    rows = parse(response)
    assert tuple(rows[0]) == HEADER == ("Local time", "UTC", "Actor", "Agency", "Channel", "Kind", "Detail")
    events = db.session.scalar(
        select(func.count())
        .select_from(TimelineEvent)
        .where(TimelineEvent.incident_id == scripted.incident.id)
    )
    assert len(rows) - 1 == events  # the export's own event included
    ack = next(row for row in rows if row[5] == "Acknowledged" and row[3] == "Birmingham Youth Service")
    lead = next(a for a in scripted.incident.activations if a.agency_key == "bham-youth-service").lead_contact
    assert ack[:3] == [
        "2026-11-24 21:45:00 GMT",
        "2026-11-24T21:45:00Z",
        f"{lead.name}, Lead, Birmingham Youth Service",
    ]
    assert ack[4] == "link" and "covered: acknowledged by" in ack[6]


def test_opens_cleanly_in_excel_utf8_with_bom(client, scripted, manager):
    raw = download(client, f"/incidents/{scripted.reference}/export.csv").get_data()
    assert raw.startswith(BOM.encode("utf-8"))
    assert "West Midlands Police – Birmingham".encode() in raw  # the en dash survives
    assert b"\r\n" in raw  # the line ends Excel expects


def test_rows_are_strictly_chronological_by_time_then_id(client, scripted, manager):
    incident = scripted.incident
    # Recorded late but about earlier moments, and two events at the very same instant.
    with freeze_time(T0 + timedelta(minutes=2)):
        timeline.record(incident, EventKind.UPDATE_POSTED, text="same instant, written first")
        timeline.record(incident, EventKind.UPDATE_POSTED, text="same instant, written second")
    db.session.add(
        TimelineEvent(
            incident=incident, at=T0 + timedelta(seconds=30), kind=EventKind.UPDATE_POSTED, text="backdated"
        )
    )
    db.session.commit()
    rows = parse(download(client, f"/incidents/{incident.reference}/export.csv"))[1:]
    moments = [datetime.strptime(row[1], "%Y-%m-%dT%H:%M:%SZ") for row in rows]
    assert moments == sorted(moments)
    details = [row[6] for row in rows]
    assert details.index("same instant, written first") + 1 == details.index("same instant, written second")
    assert details.index("backdated") < details.index("same instant, written first")
    assert rows[-1][5] == "Exported"  # the review happened last


def test_local_time_follows_british_summer_time(client, make_incident, send_outbox, make_user, login):
    july = datetime(2026, 7, 14, 21, 40, tzinfo=UTC)
    scripted = run_script(make_incident, send_outbox, at=july)
    with freeze_time(july + timedelta(days=2)):
        login(make_user("manager"))
        rows = parse(client.get(f"/incidents/{scripted.reference}/export.csv"))
    opened = next(row for row in rows if row[5] == "Opened")
    assert opened[:2] == ["2026-07-14 22:40:00 BST", "2026-07-14T21:40:00Z"]


@pytest.mark.parametrize(
    "dangerous", ['=HYPERLINK("http://evil")', "+44 7700", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]
)
def test_formula_cells_are_neutralised(client, scripted, manager, dangerous):
    # Written as stored (record() would strip the leading tab or return): the export must not trust it.
    db.session.add(
        TimelineEvent(incident=scripted.incident, at=REVIEWED, kind=EventKind.UPDATE_POSTED, text=dangerous)
    )
    db.session.commit()
    rows = parse(download(client, f"/incidents/{scripted.reference}/export.csv"))
    assert "'" + dangerous in [row[6] for row in rows]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)


@pytest.mark.parametrize(
    ("cell", "safe"),
    [("=1+1", "'=1+1"), ("plain", "plain"), ("", ""), (None, ""), ("a=b", "a=b"), ("-", "'-"), (42, "42")],
)
def test_neutralise(cell, safe):
    assert neutralise(cell) == safe


def test_the_export_streams_in_chunks(client, make_incident, manager):
    with freeze_time(T0):
        incident = make_incident()
    db.session.execute(
        TimelineEvent.__table__.insert(),
        [
            {
                "incident_id": incident.id,
                "at": T0 + timedelta(seconds=i),
                "kind": EventKind.UPDATE_POSTED,
                "data": {},
                "text": f"event {i} " + "x" * 80,
            }
            for i in range(3000)
        ],
    )
    db.session.commit()
    chunks = list(chronology_csv(incident, naming_for(incident, redacted=False)))
    assert len(chunks) > 3
    assert sum(chunk.count(b"\r\n") for chunk in chunks) >= 3001
    with freeze_time(REVIEWED):
        response = client.get(f"/incidents/{incident.reference}/export.csv")
        assert response.is_streamed
        lines = response.get_data().count(b"\r\n")
    events = db.session.scalar(
        select(func.count()).select_from(TimelineEvent).where(TimelineEvent.incident_id == incident.id)
    )
    assert lines == 1 + events > 3000


def test_each_export_is_on_the_timeline_and_in_the_access_log(client, scripted, manager):
    download(client, f"/incidents/{scripted.reference}/export.csv?redacted=1")
    event = db.session.scalar(
        select(TimelineEvent).where(
            TimelineEvent.incident_id == scripted.incident.id, TimelineEvent.kind == "exported"
        )
    )
    assert event.actor_user_id == manager.id
    assert event.at == REVIEWED
    assert event.data == {"format": "csv", "variant": "redacted"}
    assert said(event) == "Exported the chronology (CSV), redacted version"
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.incident_id == scripted.incident.id))
    assert (audit.user_id, audit.action, audit.detail) == (manager.id, "exported", "csv (redacted)")
