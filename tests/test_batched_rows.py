"""Batched rows (timeline events, sharing records, an opening's timed actions): written a table at a time.

They are not ORM objects in the session, so the guarantees pending objects
have are tested here: a query in the same transaction finds them, a rollback
(of a savepoint or the transaction) takes them away, ids keep the order they
were added in, and a row naming an object that never reaches the database
stops the commit instead of being lost.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from responder import timeline
from responder.extensions import db
from responder.models import EventKind, Incident, SharingRecord, TimedAction, TimelineEvent
from responder.unit_of_work import unit_of_work
from tests.conftest import report


def _texts(incident: Incident) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(TimelineEvent.text)
            .where(TimelineEvent.incident_id == incident.id, TimelineEvent.text.is_not(None))
            .order_by(TimelineEvent.id)
        )
    )


def test_a_query_in_the_same_transaction_finds_the_rows_added_before_it(make_incident):
    incident = make_incident()
    timeline.record(incident, EventKind.UPDATE_POSTED, text="written before the query")
    assert _texts(incident) == ["written before the query"]


def test_with_autoflush_off_they_wait_for_the_flush_as_pending_objects_do(make_incident):
    incident = make_incident()
    with db.session.no_autoflush:
        timeline.record(incident, EventKind.UPDATE_POSTED, text="waiting")
        assert _texts(incident) == []
    db.session.flush()
    assert _texts(incident) == ["waiting"]


def test_a_statement_that_asks_for_no_autoflush_does_not_write_them(make_incident):
    incident = make_incident()
    timeline.record(incident, EventKind.UPDATE_POSTED, text="waiting")
    texts = sa.select(TimelineEvent.text).where(TimelineEvent.text.is_not(None))
    assert list(db.session.scalars(texts.execution_options(autoflush=False))) == []
    assert list(db.session.scalars(texts)) == ["waiting"]


def test_a_rolled_back_transaction_writes_none_of_them(make_incident):
    incident = make_incident()
    timeline.record(incident, EventKind.UPDATE_POSTED, text="never written")
    db.session.rollback()
    db.session.commit()  # a later commit in the same session does not write them either
    assert _texts(incident) == []


def test_a_rolled_back_savepoint_takes_its_rows_and_leaves_the_earlier_ones(make_incident):
    incident = make_incident()
    with db.session.no_autoflush:
        timeline.record(incident, EventKind.UPDATE_POSTED, text="before the savepoint")
        savepoint = db.session.begin_nested()
        timeline.record(incident, EventKind.UPDATE_POSTED, text="inside the savepoint")
        savepoint.rollback()
        timeline.record(incident, EventKind.UPDATE_POSTED, text="after the savepoint")
    db.session.commit()
    assert _texts(incident) == ["before the savepoint", "after the savepoint"]


def test_a_released_savepoint_inside_one_rolled_back_goes_with_it(make_incident):
    incident = make_incident()
    outer = db.session.begin_nested()
    inner = db.session.begin_nested()
    timeline.record(incident, EventKind.UPDATE_POSTED, text="released, then rolled back with the outer")
    inner.commit()
    outer.rollback()
    db.session.commit()
    assert _texts(incident) == []


def test_ids_keep_the_order_rows_were_added_in_when_one_waits_for_a_new_object(app, directory, make_user):
    """An event about an incident without a key yet holds back the events added after it."""
    officer = make_user()
    earlier = Incident(**_incident_values(officer, "BHM-2026-9001"))
    db.session.add(earlier)
    db.session.flush()
    later = Incident(**_incident_values(officer, "BHM-2026-9002"))
    timeline.record(later, EventKind.UPDATE_POSTED, text="first, about the new incident")
    timeline.record(earlier, EventKind.UPDATE_POSTED, text="second, about the flushed one")
    earlier.location = "Changed, so that the flush below runs"
    db.session.flush()  # the first cannot be written yet, so neither is the second
    db.session.add(later)
    db.session.commit()
    rows = db.session.execute(
        sa.select(TimelineEvent.text, TimelineEvent.incident_id).order_by(TimelineEvent.id)
    )
    assert [tuple(row) for row in rows] == [
        ("first, about the new incident", later.id),
        ("second, about the flushed one", earlier.id),
    ]


def test_a_row_about_an_object_never_added_stops_the_commit(make_incident, make_user):
    incident = make_incident()
    stray = Incident(**_incident_values(make_user("manager"), "BHM-2026-9003"))
    timeline.record(incident, EventKind.UPDATE_POSTED, text="fine on its own")
    timeline.record(stray, EventKind.UPDATE_POSTED, text="about an incident that is not in the session")
    with pytest.raises(sa.exc.InvalidRequestError, match="never added"), unit_of_work():
        pass
    db.session.rollback()  # as the request, command or job around it does when its commit fails
    assert _texts(incident) == []


def test_an_opening_writes_each_batched_table_in_one_statement(app, directory, make_user):
    from responder.incidents.opening import open_incident

    officer = make_user()
    inserts: dict[str, int] = {}

    def count(conn, cursor, statement, *args):
        words = statement.split()
        if words[:2] == ["INSERT", "INTO"]:
            inserts[words[2]] = inserts.get(words[2], 0) + 1

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        incident = open_incident(report(), officer)
        db.session.commit()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    for model in (TimelineEvent, SharingRecord, TimedAction):
        written = db.session.scalar(sa.select(sa.func.count()).where(model.incident_id == incident.id))
        assert written > 3, model.__tablename__
        assert inserts[model.__tablename__] == 1, model.__tablename__


def test_a_released_savepoint_lets_a_row_wait_for_an_object_added_after_it(make_incident, make_user):
    make_incident()
    later = Incident(**_incident_values(make_user("manager"), "BHM-2026-9004"))
    savepoint = db.session.begin_nested()
    timeline.record(later, EventKind.UPDATE_POSTED, text="about an incident added after the savepoint")
    savepoint.commit()
    db.session.add(later)
    db.session.commit()
    assert _texts(later) == ["about an incident added after the savepoint"]


def test_a_database_error_while_writing_them_leaves_nothing_waiting(make_incident):
    """A database that fails (or times out) mid-write: the unit of work rolls back, nothing is kept for later."""
    incident = make_incident()
    failures = []

    def fail_on_timeline_inserts(conn, cursor, statement, *args):
        if statement.lstrip().startswith("INSERT INTO timeline_events") and not failures:
            failures.append(statement)
            raise sa.exc.OperationalError(
                statement, {}, Exception("canceling statement due to statement timeout")
            )

    sa.event.listen(db.engine, "before_cursor_execute", fail_on_timeline_inserts)
    try:
        timeline.record(incident, EventKind.UPDATE_POSTED, text="lost with the failed transaction")
        with pytest.raises(sa.exc.OperationalError), unit_of_work():
            pass
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", fail_on_timeline_inserts)
    db.session.rollback()  # as the boundary does when its commit fails
    db.session.commit()
    assert failures and _texts(incident) == []


def _incident_values(officer, reference: str) -> dict:
    opened = report()
    return {
        "reference": reference,
        "local_authority": opened.local_authority,
        "type": opened.type,
        "occurred_at": opened.occurred_at,
        "location": opened.location,
        "tension": opened.tension,
        "opened_by": officer,
        "opened_at": opened.occurred_at,
        "playbook_snapshot": {},
        "playbook_hash": "0" * 64,
    }
