"""The Alembic revisions build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from responder import create_app
from responder.extensions import db
from tests.conftest import worker_database


def _scratch_url(tmp_path) -> str:
    """A database of its own, named after the run's (so parallel workers and runs never share one)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    url = worker_database(url)
    scratch = f"{sa.engine.make_url(url).database}_migrations"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{scratch}"'))
    engine.dispose()
    return sa.engine.make_url(url).set(database=scratch).render_as_string(hide_password=False)


def _diff(app) -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return [
            change
            for change in compare_metadata(context, db.metadata)
            if not (change[0] == "remove_table" and change[1].name == "alembic_version")
        ]


def test_migrations_build_the_models_schema_and_downgrade_cleanly(tmp_path):
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": _scratch_url(tmp_path)})
    with app.app_context():
        upgrade()
        assert _diff(app) == []
        downgrade(revision="base")
        assert sa.inspect(db.engine).get_table_names() == ["alembic_version"]
        upgrade()
        db.engine.dispose()


BEFORE_STRUCTURED_TIMELINE = "d12e926f81f3"
OLD_EVENTS = [
    # (actor, kind, detail, data)
    ("user:officer@example.org", "opened", "Incident opened: stabbing in Birmingham; 5 agencies", None),
    (
        "contact:bham-youth-lead",
        "acknowledged",
        "Covered: acknowledged by Zebedee Quartermaine by link",
        None,
    ),
    ("user:officer@example.org", "update_posted", "Vigil planned for Saturday", None),
    (
        "user:officer@example.org",
        "status_changed",
        "Status changed from open to active: Calm now",
        {"from": "open", "to": "active"},
    ),
    ("system", "something_retired", "An old kind of event", None),
]


def _old_rows(conn, frozen: dict) -> None:
    """A user, a contact, an incident and its timeline as the schema before the structured timeline held them."""
    conn.execute(
        sa.text(
            "INSERT INTO users (id, email, name, role, password_hash, active, created_at, failed_logins, sso_managed) "
            "VALUES (1, 'officer@example.org', 'Olu Officer', 'officer', 'x', true, '2026-11-01 10:00:00', 0, false)"
        )
    )
    conn.execute(
        sa.text(
            "INSERT INTO contacts (id, key, name, phone, email, local_authority, active, updated_at) VALUES "
            "(1, 'bham-youth-lead', 'Zebedee Quartermaine', '+447700900001', 'z@example.org', 'birmingham', true, "
            "'2026-11-01 10:00:00')"
        )
    )
    conn.execute(
        sa.text(
            "INSERT INTO incidents (id, reference, local_authority, type, occurred_at, location, summary, school_link, "
            "tension, exercise, status, opened_by_id, opened_at, playbook_snapshot, playbook_hash) VALUES "
            "(1, 'BHM-2026-0001', 'birmingham', 'stabbing', '2026-11-01 09:00:00', 'Somewhere', 'Something', false, "
            "'medium', false, 'active', 1, '2026-11-01 10:00:00', :frozen, 'abc')"
        ),
        {"frozen": json.dumps(frozen)},
    )
    for number, (actor, kind, detail, data) in enumerate(OLD_EVENTS, start=1):
        conn.execute(
            sa.text(
                "INSERT INTO timeline_events (id, incident_id, at, actor, kind, detail, data) "
                "VALUES (:id, 1, '2026-11-01 10:00:00', :actor, :kind, :detail, :data)"
            ),
            {
                "id": number,
                "actor": actor,
                "kind": kind,
                "detail": detail,
                "data": json.dumps(data) if data else None,
            },
        )


def test_the_structured_timeline_migration_keeps_existing_sentences_and_withholds_them_when_redacted(
    tmp_path,
):
    from responder.models import EventKind, Incident, TimelineEvent
    from responder.playbooks import snapshot
    from responder.playbooks.registry import current_playbooks
    from responder.timeline.naming import naming_for
    from responder.timeline.render import sentence, who

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": _scratch_url(tmp_path)})
    with app.app_context():
        upgrade(revision=BEFORE_STRUCTURED_TIMELINE)
        with db.engine.begin() as conn:
            _old_rows(conn, snapshot(current_playbooks(), "birmingham")[0])
        upgrade()
        incident = db.session.get(Incident, 1)
        events = {event.id: event for event in db.session.scalars(sa.select(TimelineEvent))}
        full, redacted = naming_for(incident, redacted=False), naming_for(incident, redacted=True)

        opened, acknowledged, update, status, retired = (events[n] for n in range(1, 6))
        assert opened.actor_user_id == 1 and opened.data == {"legacy": True}
        assert sentence(opened, full) == OLD_EVENTS[0][2] and sentence(opened, redacted) == "[withheld]"
        assert who(opened, full) == "Olu Officer" and who(opened, redacted).startswith("Person ")
        assert acknowledged.actor_contact_id == 1
        assert "Zebedee" in sentence(acknowledged, full) and "Zebedee" not in sentence(acknowledged, redacted)
        assert "Zebedee" not in who(acknowledged, redacted)
        assert update.text == "Vigil planned for Saturday" and "legacy" not in update.data
        assert (
            sentence(update, full) == "Vigil planned for Saturday"
            and sentence(update, redacted) == "[withheld]"
        )
        assert status.text == "Calm now" and status.data == {"from": "open", "to": "active"}
        assert sentence(status, full) == "Status changed from open to active: Calm now"
        assert sentence(status, redacted) == "Status changed from open to active: [withheld]"
        assert retired.kind == EventKind.UPDATE_POSTED and retired.data["legacy_kind"] == "something_retired"
        db.session.remove()

        downgrade(revision=BEFORE_STRUCTURED_TIMELINE)
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT actor, kind, detail FROM timeline_events ORDER BY id")).all()
        assert [tuple(row) for row in rows] == [
            (actor, kind, detail) for actor, kind, detail, _data in OLD_EVENTS[:3]
        ] + [
            ("user:officer@example.org", "status_changed", "Status changed: Calm now"),
            ("system", "something_retired", "An old kind of event"),
        ]
        db.engine.dispose()


def test_the_acknowledgement_seconds_migration_fills_in_existing_acknowledgements(tmp_path):
    from responder.playbooks import snapshot
    from responder.playbooks.registry import current_playbooks

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": _scratch_url(tmp_path)})
    with app.app_context():
        upgrade(revision=BEFORE_STRUCTURED_TIMELINE)
        with db.engine.begin() as conn:
            _old_rows(conn, snapshot(current_playbooks(), "birmingham")[0])
            for number, (agency, acknowledged_at) in enumerate(
                [("youth", "2026-11-01 10:07:30"), ("police", None), ("early", "2026-11-01 09:59:00")],
                start=1,
            ):
                conn.execute(
                    sa.text(
                        "INSERT INTO activations (id, incident_id, agency_key, agency_name, source, lead_role, "
                        "state, escalation_level, activated_at, acknowledged_at) VALUES (:id, 1, :agency, :agency, "
                        "'birmingham', 'lead', 'covered', 0, '2026-11-01 10:00:00', :acknowledged_at)"
                    ),
                    {"id": number, "agency": agency, "acknowledged_at": acknowledged_at},
                )
        upgrade()
        with db.engine.connect() as conn:
            seconds = conn.execute(
                sa.text("SELECT acknowledged_after_seconds FROM activations ORDER BY id")
            ).scalars()
            # 7.5 minutes; never acknowledged; a clock that ran backwards counts as at once.
            assert [None if s is None else round(s, 3) for s in seconds] == [450.0, None, 0.0]
        db.engine.dispose()


BEFORE_DEADLINE_ROWS = "10ae0026ed85"


def test_open_incidents_get_a_row_for_each_deadline_their_timed_actions_name(tmp_path):
    from responder.models import Deadline, TimedAction
    from responder.playbooks import snapshot
    from responder.playbooks.registry import current_playbooks

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": _scratch_url(tmp_path)})
    with app.app_context():
        upgrade(revision=BEFORE_DEADLINE_ROWS)
        with db.engine.begin() as conn:
            _old_rows_without_timeline(conn, snapshot(current_playbooks(), "birmingham")[0])
            details = {
                "name": "Notify the Panel",
                "notify": "bham-childrens-duty",
                "due": "2026-12-01T21:50:00+00:00",
                "step": "5wd",
            }
            for action_id, kind, due, extra in (
                (1, "deadline", "2026-12-01 21:50:00", {}),
                (2, "deadline_reminder", "2026-11-30 21:50:00", {"before": "1wd"}),
                (3, "check_in", "2026-11-02 10:00:00", None),
            ):
                conn.execute(
                    sa.text(
                        "INSERT INTO timed_actions (id, incident_id, kind, due_at, state, details, created_at, attempts) "
                        "VALUES (:id, 1, :kind, :due, 'pending', :details, '2026-11-01 10:00:00', 0)"
                    ),
                    {
                        "id": action_id,
                        "kind": kind,
                        "due": due,
                        "details": json.dumps({**details, **extra} if extra is not None else {"step": "24h"}),
                    },
                )
        upgrade()
        (deadline,) = db.session.scalars(sa.select(Deadline)).all()
        assert (deadline.incident_id, deadline.name, deadline.step, deadline.notify_role) == (
            1,
            "Notify the Panel",
            "5wd",
            "bham-childrens-duty",
        )
        assert deadline.due_at.isoformat() == "2026-12-01T21:50:00+00:00" and deadline.done_at is None
        pointers = dict(db.session.execute(sa.select(TimedAction.id, TimedAction.deadline_id)).all())
        assert pointers == {1: deadline.id, 2: deadline.id, 3: None}
        db.session.remove()
        downgrade(revision=BEFORE_DEADLINE_ROWS)
        db.engine.dispose()


def _old_rows_without_timeline(conn, frozen: dict) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO users (id, email, name, role, password_hash, active, created_at, failed_logins, sso_managed) "
            "VALUES (1, 'officer@example.org', 'Olu Officer', 'officer', 'x', true, '2026-11-01 10:00:00', 0, false)"
        )
    )
    conn.execute(
        sa.text(
            "INSERT INTO incidents (id, reference, local_authority, type, occurred_at, location, summary, school_link, "
            "tension, exercise, status, opened_by_id, opened_at, playbook_snapshot, playbook_hash) VALUES "
            "(1, 'BHM-2026-0001', 'birmingham', 'stabbing', '2026-11-01 09:00:00', 'Somewhere', 'Something', false, "
            "'medium', false, 'active', 1, '2026-11-01 10:00:00', :frozen, 'abc')"
        ),
        {"frozen": json.dumps(frozen)},
    )
