"""Backup and restore: a SQLite backup taken while the service runs restores into a service that
shows the same incidents and fires the pending timed actions from their rows."""

from __future__ import annotations

import shutil
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from freezegun import freeze_time
from sqlalchemy import func, select

from responder.accounts.users import create_user
from responder.clock import now_utc
from responder.demo import DEMO_CONTACTS
from responder.directory.contacts import import_contacts
from responder.extensions import db
from responder.incidents.opening import open_incident
from responder.models import ActionKind, ActionState, Incident, Message, TimedAction, TimelineEvent
from responder.scheduling.runtime import SchedulerRuntime

from .conftest import PASSWORD, report


def backup_command(app, path):
    """``flask --app wsgi backup PATH`` (flask's own group pushes the app context; the runner does not)."""
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["backup", str(path)])
        db.session.remove()
    return result


def snapshot_of_incidents() -> dict:
    db.session.expire_all()
    incidents = db.session.scalars(select(Incident).order_by(Incident.id)).all()
    return {
        incident.reference: {
            "status": incident.status,
            "summary": incident.summary,
            "activations": sorted((a.agency_key, a.state) for a in incident.activations),
            "events": db.session.scalar(
                select(func.count())
                .select_from(TimelineEvent)
                .where(TimelineEvent.incident_id == incident.id)
            ),
        }
        for incident in incidents
    }


def pending_escalations() -> list[int]:
    return list(
        db.session.scalars(
            select(TimedAction.id).where(
                TimedAction.kind == ActionKind.ESCALATION, TimedAction.state == ActionState.PENDING
            )
        )
    )


def fired_or_pending(action_ids: list[int]) -> dict[int, str]:
    db.session.rollback()
    db.session.expire_all()
    rows = db.session.execute(select(TimedAction.id, TimedAction.state).where(TimedAction.id.in_(action_ids)))
    return dict(rows.all())


@pytest.fixture
def live_service(make_app, tmp_path):
    """A service on its own SQLite file, with two incidents opened 20 minutes ago (escalations overdue)."""
    live = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'live.db'}")
    with live.app_context():
        db.create_all()
        import_contacts(DEMO_CONTACTS.read_text(encoding="utf-8"), "contacts.csv")
        officer = create_user("officer@example.org", "officer", PASSWORD, name="Officer")
        with freeze_time(now_utc() - timedelta(minutes=20)):
            open_incident(report(summary="Backed-up summary"), officer)
            open_incident(report(local_authority="coventry"), officer)
        db.session.commit()
        before = snapshot_of_incidents()
        db.session.remove()
    return live, before


def test_backup_then_restore_shows_the_same_incidents_and_fires_pending_actions(
    make_app, live_service, tmp_path
):
    live, before = live_service
    backup = tmp_path / "responder-backup.db"
    result = backup_command(live, backup)
    assert result.exit_code == 0, result.output
    assert f"backed up to {backup}" in result.output and "2 incidents" in result.output

    # Restoring a SQLite backup is putting the file where DATABASE_URL points.
    restored_path = tmp_path / "restored.db"
    shutil.copy(backup, restored_path)
    restored = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{restored_path}", SCHEDULER_RECONCILE_SECONDS=1)
    with restored.app_context():
        assert snapshot_of_incidents() == before
        client = restored.test_client()
        assert (
            client.post("/login", data={"email": "officer@example.org", "password": PASSWORD}).status_code
            == 302
        )
        for reference in before:
            page = client.get(f"/incidents/{reference}")
            assert page.status_code == 200 and reference in page.get_data(as_text=True)

        # The rows are the schedule: a scheduler started on the restored database fires what was pending.
        overdue = pending_escalations()
        assert overdue
        alerts_before = db.session.scalar(
            select(func.count()).select_from(Message).where(Message.kind == "alert")
        )
        runtime = SchedulerRuntime(restored)
        thread = threading.Thread(target=runtime.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while set(fired_or_pending(overdue).values()) != {ActionState.FIRED}:
                assert time.monotonic() < deadline, "the restored scheduler did not fire the overdue actions"
                time.sleep(0.1)
        finally:
            runtime.stop()
            thread.join(timeout=30)
        alerts_after = db.session.scalar(
            select(func.count()).select_from(Message).where(Message.kind == "alert")
        )
        assert alerts_after > alerts_before  # deputies were alerted
        db.session.remove()

    # The live database was not touched by any of this.
    with live.app_context():
        assert len(pending_escalations()) == len(overdue)
        db.session.remove()


def test_a_backup_never_overwrites_a_file(live_service, tmp_path):
    live, _ = live_service
    existing = tmp_path / "already-there.db"
    existing.write_bytes(b"precious")
    result = backup_command(live, existing)
    assert result.exit_code == 1 and "already exists" in result.output
    assert existing.read_bytes() == b"precious"


def test_on_postgresql_the_command_says_to_use_pg_dump(make_app, tmp_path):
    url = "postgresql+psycopg://responder:s3cret-password@db.internal:5432/responder"
    app = make_app(SQLALCHEMY_DATABASE_URI=url)
    result = backup_command(app, tmp_path / "x.dump")
    assert result.exit_code == 1
    assert "pg_dump --format=custom" in result.output and "pg_restore" in result.output
    assert "postgresql://responder:***@db.internal:5432/responder" in result.output
    assert "s3cret-password" not in result.output
    assert not (tmp_path / "x.dump").exists()


def test_the_backup_is_a_consistent_sqlite_database(live_service, tmp_path):
    live, before = live_service
    backup = tmp_path / "copy.db"
    assert backup_command(live, backup).exit_code == 0
    engine = sa.create_engine(f"sqlite:///{backup}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
        references = set(conn.execute(sa.text("SELECT reference FROM incidents")).scalars())
    engine.dispose()
    assert references == set(before)
    assert not list(tmp_path.glob(".*.partial"))
