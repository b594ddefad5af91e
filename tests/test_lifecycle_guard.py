"""One lifecycle guard that every change to an incident passes, and hand-typed names checked like playbook names."""

from __future__ import annotations

import inspect

import pytest
from sqlalchemy import func, select

from responder.check_ins import service as check_ins
from responder.deadlines import service as deadlines
from responder.extensions import db
from responder.incidents import lifecycle
from responder.incidents.guard import LifecycleError
from responder.models import ActivationState, EventKind, Message, ResponseChannel, TimelineEvent
from responder.responses import activations
from responder.responses.acknowledgements import acknowledge, decline
from tests.timeline_words import said

from .conftest import PASSWORD

# Every module whose public functions change an incident, and those that need no guard (and why).
CHANGING_MODULES = (lifecycle, activations, check_ins, deadlines)
NOT_GUARDED = {
    "lifecycle.stand_down": "a status change: the transition table decides",
    "lifecycle.resume": "a status change: the transition table decides",
    "lifecycle.close": "a status change: the transition table decides",
    "lifecycle.mark_active": "called by an acknowledgement, which the guard has let through",
    "lifecycle.record_opening_tension": "part of a guarded tension change or check-in answer",
    "activations.activate_agencies": "part of opening, or of a guarded addition",
    "activations.offer_support": "part of opening, or of a guarded addition",
    "check_ins.send_check_in_round": "a timed action: the scheduler skips closed and stood-down incidents",
    "check_ins.remind_check_in": "a timed action",
    "check_ins.flag_missed_check_in": "a timed action",
    # Reading, not changing:
    "check_ins.overdue_check_ins": "reads",
    "check_ins.tension_trend": "reads",
    "check_ins.unanswered_check_ins": "reads",
    "deadlines.deadline_statuses": "reads",
}
NAMES = {lifecycle: "lifecycle", activations: "activations", check_ins: "check_ins", deadlines: "deadlines"}


def changes_an_incident(function) -> bool:
    parameters = list(inspect.signature(function).parameters)
    return bool(parameters) and parameters[0] in ("incident", "activation", "check_in")


def test_every_change_to_an_incident_passes_the_guard():
    unguarded = [
        f"{NAMES[module]}.{name}"
        for module in CHANGING_MODULES
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if function.__module__ == module.__name__
        and not name.startswith("_")
        and changes_an_incident(function)
        and not hasattr(function, "lifecycle_change")
    ]
    forgotten = [name for name in unguarded if name not in NOT_GUARDED]
    assert not forgotten, f"decorate with @guarded(Change...) or explain in NOT_GUARDED: {forgotten}"


def messages() -> int:
    return db.session.scalar(select(func.count()).select_from(Message))


@pytest.fixture
def closed(make_incident, make_user):
    incident = make_incident()
    lifecycle.close(incident, make_user("manager"), "Finished")
    db.session.commit()
    return incident


@pytest.fixture
def standing_down(make_incident, make_user):
    incident = make_incident()
    lifecycle.stand_down(incident, make_user("officer"), "Quiet for a week")
    db.session.commit()
    return incident


ADDITIONS = {
    "agency from the playbooks": lambda i, u: activations.add_playbook_agency(i, u, "bham-housing", "A move"),
    "agency by hand": lambda i, u: activations.add_ad_hoc_agency(
        i, u, "Lozells Mosque Committee", "bham-networks-lead", "consent", "Community reassurance"
    ),
    "offer from the playbooks": lambda i, u: activations.add_playbook_offer(i, u, "bham-family-support"),
    "offer by hand": lambda i, u: activations.add_ad_hoc_offer(
        i, u, "Community breakfast", "bham-youth-service"
    ),
    "local authority": lambda i, u: activations.add_local_authority(i, u, "sandwell", "Lives in Sandwell"),
    "re-sent alert": lambda i, u: lifecycle.resend_alert(
        next(a for a in i.activations if a.state == ActivationState.ALERTED), u
    ),
}


@pytest.mark.parametrize("addition", ADDITIONS.values(), ids=ADDITIONS.keys())
def test_a_closed_incident_takes_no_new_agency_offer_area_or_alert(closed, make_user, addition):
    before = messages()
    with pytest.raises(LifecycleError, match="is closed"):
        addition(closed, make_user("officer"))
    assert messages() == before


@pytest.mark.parametrize("addition", ADDITIONS.values(), ids=ADDITIONS.keys())
def test_a_response_standing_down_takes_no_new_agency_offer_area_or_alert(standing_down, make_user, addition):
    before = messages()
    with pytest.raises(LifecycleError, match="standing down"):
        addition(standing_down, make_user("officer"))
    assert messages() == before


def test_a_response_standing_down_still_records_updates_tension_and_meetings(standing_down, make_user):
    officer = make_user("officer")
    lifecycle.post_update(standing_down, officer, "Vigil passed peacefully")
    lifecycle.change_tension(standing_down, officer, "low", "Calm")
    lifecycle.record_meeting(standing_down, officer, "Closing meeting", ["Police"], [])
    db.session.commit()
    kinds = set(db.session.scalars(select(TimelineEvent.kind)))
    assert {EventKind.UPDATE_POSTED, EventKind.TENSION_CHANGED, EventKind.MEETING_RECORDED} <= kinds


def test_adding_to_a_closed_incident_on_the_web_is_409_and_sends_nothing(closed, client, login, make_user):
    login(make_user("manager"))
    before = messages()
    response = client.post(
        f"/incidents/{closed.reference}/agencies", data={"agency_key": "bham-housing", "reason": "A move"}
    )
    assert response.status_code == 409 and "is closed" in response.get_data(as_text=True)
    assert messages() == before


def test_an_acknowledgement_after_the_stand_down_is_thanked_not_counted(standing_down, client):
    from .test_acknowledgements import link_for

    youth = next(a for a in standing_down.activations if a.agency_key == "bham-youth-service")
    path = link_for(standing_down, "bham-youth-service")
    page = client.get(path).get_data(as_text=True)
    assert "standing down" in page and "Acknowledge: we are covering this" not in page

    outcome = acknowledge(youth, youth.lead_contact, ResponseChannel.SMS_REPLY, "On my way")
    db.session.commit()
    assert outcome.status == "standing_down"
    assert youth.state != ActivationState.COVERED and youth.acknowledged_at is None
    late = db.session.scalars(
        select(TimelineEvent).where(TimelineEvent.kind == EventKind.LATE_RESPONSE)
    ).all()
    assert len(late) == 1 and "standing down" in said(late[0])


def test_a_decline_after_the_stand_down_hands_nothing_on(standing_down):
    youth = next(a for a in standing_down.activations if a.agency_key == "bham-youth-service")
    before = messages()
    assert decline(youth, youth.lead_contact, ResponseChannel.LINK, "Not our area").status == "standing_down"
    assert youth.escalation_level == 0 and messages() == before


def test_a_check_in_answer_for_a_closed_incident_is_refused(closed):
    from responder.check_ins.service import CheckInAnswer
    from responder.models import CheckIn

    with pytest.raises(LifecycleError, match="is closed"):
        check_ins.record_check_in_answer(CheckIn(incident=closed, step="4h"), CheckInAnswer("fine", "low"))


# --- hand-typed organisation names ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("Mosque\r\nBcc: everyone@example.org", "control characters"),
        ("ab", "3 to 120 characters"),
        ("x" * 121, "3 to 120 characters"),
        ("amira.khan@example.org", "not an email address"),
        ("Call 07700 900123", "not a phone number"),
        ("Community <script>", "ordinary punctuation only"),
    ],
)
def test_a_hand_added_agency_name_must_be_an_organisations_name(
    name, problem, client, login, make_incident, make_user
):
    incident = make_incident()
    login(make_user("officer"))
    before = messages()
    response = client.post(
        f"/incidents/{incident.reference}/agencies/ad-hoc",
        data={"name": name, "lead_role": "bham-networks-lead", "sharing_basis": "consent", "reason": "Help"},
    )
    assert response.status_code == 422 and problem in response.get_data(as_text=True)
    assert messages() == before
    with pytest.raises(activations.ActivationError, match=problem):
        activations.add_ad_hoc_agency(
            incident, make_user("officer"), name, "bham-networks-lead", "consent", "Help"
        )


def test_an_ordinary_organisation_name_is_accepted(client, login, make_incident, make_user):
    incident = make_incident()
    login(make_user("officer", password=PASSWORD))
    response = client.post(
        f"/incidents/{incident.reference}/agencies/ad-hoc",
        data={
            "name": "St Mary's & St John's Church (Lozells) - youth club",
            "lead_role": "bham-networks-lead",
            "sharing_basis": "consent",
            "reason": "Reassurance",
        },
    )
    assert response.status_code == 303
