"""Exports are for managers: officers are refused, signed-out users sent to sign in, every export audited."""

from __future__ import annotations

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from responder.extensions import db
from responder.models import TimelineEvent
from tests.timeline_words import said

from .export_scenario import REVIEWED, T0, download, sign_in

PATHS = [
    "/incidents/{ref}/export.csv",
    "/incidents/{ref}/export.json",
    "/incidents/{ref}/export.pdf",
    "/incidents/{ref}/report",
    "/incidents/{ref}/export.csv?redacted=1",
    "/incidents/{ref}/export.pdf?redacted=1",
    "/incidents/{ref}/review",
    "/exports/incidents.csv?from=2026-11-01&to=2026-11-30",
]
FORMATS = {"export.csv": "csv", "export.json": "json", "export.pdf": "pdf", "report": "html"}


@pytest.fixture
def incident(make_incident):
    with freeze_time(T0):
        return make_incident()


def exported_events(incident) -> list[TimelineEvent]:
    return list(
        db.session.scalars(
            select(TimelineEvent).where(
                TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "exported"
            )
        )
    )


@pytest.mark.parametrize("path", PATHS)
def test_officers_are_refused(client, incident, make_user, login, path):
    sign_in(login, make_user("officer"))
    assert download(client, path.format(ref=incident.reference)).status_code == 403
    assert exported_events(incident) == []


@pytest.mark.parametrize("path", PATHS)
def test_signed_out_users_are_sent_to_sign_in(client, incident, path):
    response = download(client, path.format(ref=incident.reference))
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert exported_events(incident) == []


@pytest.mark.parametrize("role", ["manager", "admin"])
@pytest.mark.parametrize("path", PATHS)
def test_managers_and_admins_may_export(client, incident, make_user, login, role, path):
    sign_in(login, make_user(role))
    assert download(client, path.format(ref=incident.reference)).status_code == 200


@pytest.mark.parametrize("export", FORMATS)
@pytest.mark.parametrize("variant", ["full", "redacted"])
def test_each_export_records_who_when_which_format_and_variant(
    client, incident, make_user, login, export, variant
):
    manager = sign_in(login, make_user("manager"))
    query = "?redacted=1" if variant == "redacted" else ""
    download(client, f"/incidents/{incident.reference}/{export}{query}")
    [event] = exported_events(incident)
    assert (event.actor_user_id, event.at) == (manager.id, REVIEWED)
    assert event.data == {"format": FORMATS[export], "variant": variant}
    assert said(event).endswith(f"{variant} version")


def test_an_unknown_incident_is_not_found(client, make_user, login):
    sign_in(login, make_user("manager"))
    assert download(client, "/incidents/BHM-2026-9999/export.csv").status_code == 404
