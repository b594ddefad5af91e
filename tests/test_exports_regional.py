"""The regional roll-up: one row of headline figures per incident in a period, exercises left out."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from freezegun import freeze_time

from .export_scenario import download, run_script, sign_in


@pytest.fixture
def incidents(make_incident, send_outbox):
    """The scripted response on 24 Nov; a Coventry shooting on 1 Nov; an exercise on 10 Nov;
    a Dudley incident at 23:59 on 30 Nov."""
    scripted = run_script(make_incident, send_outbox)
    with freeze_time(datetime(2026, 11, 1, 9, 0, tzinfo=UTC)):
        coventry = make_incident(local_authority="coventry", type="shooting")
    with freeze_time(datetime(2026, 11, 10, 9, 0, tzinfo=UTC)):
        exercise = make_incident(exercise=True)
    with freeze_time(datetime(2026, 11, 30, 23, 59, tzinfo=UTC)):
        late = make_incident(local_authority="dudley")
    return {"scripted": scripted.incident, "coventry": coventry, "exercise": exercise, "late": late}


@pytest.fixture
def manager(make_user, login):
    return sign_in(login, make_user("manager"))


def roll_up(client, query: str) -> list[dict[str, str]]:
    response = download(client, f"/exports/incidents.csv?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv" and response.get_data().startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def test_one_row_per_live_incident_opened_in_the_period(client, incidents, manager):
    rows = roll_up(client, "from=2026-11-01&to=2026-11-30")
    assert [row["Reference"] for row in rows] == [
        incidents["coventry"].reference,
        incidents["scripted"].reference,
        incidents["late"].reference,
    ]
    scripted = rows[1]
    assert scripted["Local authority"] == "Birmingham" and scripted["Type"] == "Stabbing"
    assert scripted["Exercise"] == "no"
    assert scripted["Minutes to first alert sent"] == "1.5"
    assert scripted["Median minutes to acknowledge"] == "12.0"
    assert scripted["Slowest minutes to acknowledge"] == "25.0"
    assert (
        scripted["Escalations"] == "1"
        and scripted["Messages failed"] == "1"
        and scripted["Fallbacks used"] == "1"
    )
    assert (scripted["Check-ins sent"], scripted["Check-ins answered"], scripted["Check-ins missed"]) == (
        "3",
        "2",
        "1",
    )
    assert scripted["Peak community tension"] == "high"
    assert rows[0]["Minutes to first alert sent"] == ""  # nothing sent yet


def test_exercises_only_when_asked_for(client, incidents, manager):
    rows = roll_up(client, "from=2026-11-01&to=2026-11-30&exercise=1")
    exercise = next(row for row in rows if row["Reference"] == incidents["exercise"].reference)
    assert exercise["Exercise"] == "yes"
    assert len(rows) == 4


def test_filter_by_local_authority_and_by_local_date(client, incidents, manager):
    assert [
        row["Reference"] for row in roll_up(client, "from=2026-11-01&to=2026-11-30&local_authority=coventry")
    ] == [incidents["coventry"].reference]
    assert [row["Reference"] for row in roll_up(client, "from=2026-12-01&to=2026-12-01")] == []
    assert roll_up(client, "from=2026-11-24&to=2026-11-24")[0]["Reference"] == incidents["scripted"].reference


def test_periods_are_local_dates(client, make_incident, manager):
    # 23:30 UTC on 31 July is 00:30 BST on 1 August.
    with freeze_time(datetime(2026, 7, 31, 23, 30, tzinfo=UTC)):
        incident = make_incident()
    assert roll_up(client, "from=2026-07-01&to=2026-07-31") == []
    assert [row["Reference"] for row in roll_up(client, "from=2026-08-01&to=2026-08-01")] == [
        incident.reference
    ]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-13-01&to=2026-12-01", "from must be a date written YYYY-MM-DD"),
        ("from=24/11/2026&to=2026-12-01", "from must be a date written YYYY-MM-DD"),
        ("from=2026-11-01", "to is required"),
        ("to=2026-11-01", "from is required"),
        ("", "from is required"),
        ("from=2026-12-01&to=2026-11-01", "from must be on or before to"),
        ("from=2026-11-01&to=2026-11-30&local_authority=atlantis", "local_authority must be one of"),
        ("from=2026-11-01&to=2026-11-30&exercise=perhaps", "exercise must be 1"),
    ],
)
def test_bad_queries_get_a_clear_400(client, manager, query, message):
    response = download(client, f"/exports/incidents.csv?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
