"""One unit of work per request, command and job; the sender woken by the commit, not by callers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import func, select

from responder.extensions import db
from responder.models import Incident, Message, TimelineEvent
from responder.notify import dispatcher
from responder.unit_of_work import unit_of_work

from .conftest import ROOT, report

# The boundaries: the only modules that may commit or roll back the session.
BOUNDARIES = {
    "responder/unit_of_work.py",
    # The sender's own steps (claim, record) are units of work of the sender job.
    "responder/notify/delivery.py",
}


def session_calls(path: Path) -> list[tuple[int, str]]:
    """Every ``<something>.commit()`` or ``.rollback()`` call on a session in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("commit", "rollback")
            and "session" in ast.unparse(node.func.value)
        ):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_only_the_boundaries_commit_or_roll_back():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {call}"
        for path in sorted((ROOT / "responder").rglob("*.py"))
        if str(path.relative_to(ROOT)) not in BOUNDARIES
        for line, call in session_calls(path)
    ]
    assert not offenders, "services must add and flush; the boundary commits:\n" + "\n".join(offenders)


@pytest.fixture
def wakes(app, monkeypatch):
    """Every time the sender is woken, from this process."""
    woken = []
    monkeypatch.setattr(
        dispatcher, "wake_dispatcher", lambda app=None, handed_over=None, claim=True: woken.append(app)
    )
    return woken


def test_a_commit_that_queued_messages_wakes_the_sender_once(app, directory, make_user, wakes):
    officer = make_user()
    assert wakes == []
    with unit_of_work():
        from responder.incidents.opening import open_incident

        open_incident(report(), officer)
        assert wakes == [], "nothing may be sent before the commit"
    assert wakes == [app]


def test_a_commit_without_messages_does_not_wake_the_sender(app, make_user, wakes):
    with unit_of_work():
        make_user("manager")
    assert wakes == []


def test_a_rolled_back_unit_of_work_wakes_nothing_and_writes_nothing(app, directory, make_user, wakes):
    from responder.incidents.opening import open_incident

    officer = make_user()
    with pytest.raises(RuntimeError), unit_of_work():
        open_incident(report(), officer)
        raise RuntimeError("the command failed half way")
    assert wakes == []
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0
    with unit_of_work():
        make_user("manager")
    assert wakes == [], "a rolled-back transaction's messages must not wake a later commit"


def test_a_refused_request_leaves_nothing_written(client, login, make_incident, make_user):
    incident = make_incident()
    login(make_user("officer"))
    events = db.session.scalar(select(func.count()).select_from(TimelineEvent))
    # A meeting with no title is a form error (422): nothing of it may be kept.
    response = client.post(f"/incidents/{incident.reference}/meetings", data={"title": "", "attendees": "x"})
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(TimelineEvent)) == events


def test_a_request_that_succeeds_is_committed_once_it_answers(client, login, make_incident, make_user):
    incident = make_incident()
    login(make_user("officer"))
    response = client.post(f"/incidents/{incident.reference}/updates", data={"text": "Street team out"})
    assert response.status_code == 303
    db.session.rollback()  # nothing of the request may be left uncommitted
    assert db.session.scalar(
        select(func.count()).select_from(TimelineEvent).where(TimelineEvent.kind == "update_posted")
    )
