"""Running a response: status changes allowed and refused, stand-down, close, cross-border."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from responder.extensions import db
from responder.incidents import lifecycle
from responder.incidents.lifecycle import LifecycleError
from responder.models import Activation, Message, TimelineEvent
from responder.models.timed_actions import TimedAction
from responder.playbooks import IncidentFacts, plan_response
from responder.playbooks.registry import current_playbooks
from responder.responses import activations
from responder.responses.activations import ActivationError
from tests.timeline_words import said


@pytest.fixture
def incident(make_incident):
    return make_incident()


@pytest.fixture
def officer(make_user):
    return make_user("officer")


@pytest.fixture
def manager(make_user):
    return make_user("manager")


def events(kind: str) -> list[TimelineEvent]:
    return list(
        db.session.scalars(select(TimelineEvent).where(TimelineEvent.kind == kind).order_by(TimelineEvent.id))
    )


def pending_actions(incident) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(TimedAction)
        .where(TimedAction.incident_id == incident.id, TimedAction.state == "pending")
    )


def cover(activation):
    from responder.models import ResponseChannel
    from responder.responses import acknowledgements as acks

    return acks.acknowledge(activation, activation.lead_contact, ResponseChannel.LINK)


def test_the_first_agency_covering_makes_the_incident_active(incident):
    assert incident.status == "open"
    cover(incident.activations[0])
    assert incident.status == "active"
    assert "Status changed from open to active" in said(events("status_changed")[0])


def test_standing_down_thanks_covering_agencies_and_stops_escalations(incident, officer):
    covering = incident.activations[0]
    cover(covering)
    waiting = incident.activations[1]
    lifecycle.stand_down(incident, officer, "Community calm, suspects charged")
    assert incident.status == "standing_down"
    thanks = db.session.scalars(select(Message).where(Message.kind == "stand_down")).all()
    assert {m.contact_id for m in thanks} == {covering.lead_contact_id}
    assert {m.channel for m in thanks} == {"sms", "email"}
    assert all("standing down" in m.body for m in thanks)
    escalations = db.session.scalars(
        select(TimedAction).where(TimedAction.activation_id == waiting.id, TimedAction.kind == "escalation")
    ).all()
    assert escalations and all(action.state == "cancelled" for action in escalations)
    # Check-ins and deadlines carry on after standing down.
    assert pending_actions(incident) > 0
    assert "Community calm, suspects charged" in said(events("status_changed")[-1])


def test_closing_needs_a_manager(incident, officer):
    with pytest.raises(LifecycleError, match="Only a manager"):
        lifecycle.close(incident, officer, "done")
    assert incident.status == "open"


def test_closing_cancels_everything_and_frees_reply_codes(incident, manager):
    lifecycle.close(incident, manager, "Review complete")
    assert incident.status == "closed"
    assert pending_actions(incident) == 0
    assert all(a.reply_code is None for a in incident.activations)
    assert db.session.scalar(select(func.count()).select_from(Message).where(Message.state == "pending")) == 0


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda i, u: lifecycle.post_update(i, u, "text"), "is closed"),
        (lambda i, u: lifecycle.change_tension(i, u, "high", "why"), "is closed"),
        (lambda i, u: lifecycle.record_meeting(i, u, "Strategy", [], []), "is closed"),
        (lambda i, u: lifecycle.stand_down(i, u, "why"), "cannot be made standing down"),
        (lambda i, u: lifecycle.close(i, u, "again"), "cannot be made closed"),
        (lambda i, u: lifecycle.resume(i, u, "why"), "cannot be made active"),
        (lambda i, u: lifecycle.resend_alert(i.activations[0], u), "is closed"),
        (lambda i, u: lifecycle.mark_not_applicable(i.activations[0], u, "why"), "is closed"),
    ],
)
def test_a_closed_incident_refuses_every_change_with_a_clear_message(incident, manager, action, message):
    lifecycle.close(incident, manager, "done")
    before = db.session.scalar(select(func.count()).select_from(TimelineEvent))
    with pytest.raises(LifecycleError, match=message):
        action(incident, manager)
    assert db.session.scalar(select(func.count()).select_from(TimelineEvent)) == before


def test_resume_after_standing_down(incident, officer):
    lifecycle.stand_down(incident, officer, "quiet")
    lifecycle.resume(incident, officer, "retaliation feared")
    assert incident.status == "active"


def test_updates_tension_and_meetings_go_on_the_timeline(incident, officer):
    lifecycle.post_update(incident, officer, "Vigil planned for Saturday")
    lifecycle.change_tension(incident, officer, "critical", "Posts threatening retaliation")
    lifecycle.record_meeting(
        incident, officer, "24-hour strategy meeting", ["WMP", "Youth Service"], ["Patrols"]
    )
    assert said(events("update_posted")[0]) == "Vigil planned for Saturday"
    assert incident.tension == "critical"
    assert "from medium to critical" in said(events("tension_changed")[-1])
    meeting = events("meeting_recorded")[0]
    assert meeting.data == {"attendees": 2, "actions": 1} and "Actions: Patrols." in said(meeting)
    assert said(meeting, redacted=True) == "Meeting recorded (2 attendees, 1 action); notes withheld"
    with pytest.raises(LifecycleError, match="already critical"):
        lifecycle.change_tension(incident, officer, "critical", "same")


def test_not_applicable_stops_the_chain_and_leaves_coverage(incident, officer):
    activation = incident.activations[0]
    lifecycle.mark_not_applicable(activation, officer, "Not in their area")
    assert activation.state == "not_applicable"
    assert not db.session.scalars(
        select(TimedAction).where(TimedAction.activation_id == activation.id, TimedAction.state == "pending")
    ).all()


def test_resend_goes_to_whoever_holds_the_alert(incident, officer):
    activation = incident.activations[0]
    contact = lifecycle.resend_alert(activation, officer)
    assert contact.id == activation.lead_contact_id
    alerts = db.session.scalars(
        select(Message).where(Message.activation_id == activation.id, Message.kind == "alert")
    ).all()
    assert len(alerts) == 4  # the first SMS and email, and the re-sent pair


def test_an_agency_from_the_playbook_can_be_added_once(incident, officer):
    added = activations.add_playbook_agency(incident, officer, "bham-communications", "Media interest")
    assert added.state == "alerted" and added.reply_code
    assert "added: Media interest" in said(events("agency_added")[0])
    with pytest.raises(ActivationError, match="already activated"):
        activations.add_playbook_agency(incident, officer, "bham-communications", "again")


def test_an_ad_hoc_agency_needs_a_lawful_basis_and_a_known_contact(incident, officer):
    with pytest.raises(ActivationError, match="lawful basis"):
        activations.add_ad_hoc_agency(
            incident, officer, "Mosque committee", "bham-csp-lead", "", "faith liaison"
        )
    with pytest.raises(ActivationError, match="No active contact"):
        activations.add_ad_hoc_agency(
            incident, officer, "Mosque committee", "nobody", "consent", "faith liaison"
        )
    added = activations.add_ad_hoc_agency(
        incident, officer, "Mosque committee", "bham-csp-lead", "consent", "liaison"
    )
    assert added.agency_key == "adhoc-mosque-committee" and "sharing basis: Consent" in said(
        events("agency_added")[0]
    )


def test_a_second_local_authority_adds_its_agencies_without_alerting_shared_ones_twice(incident, officer):
    playbooks = current_playbooks()
    facts = IncidentFacts(type="stabbing", school_link=True, youngest_age=16, tension="medium")
    sandwell = plan_response(playbooks, "sandwell", facts)
    before = {a.agency_key for a in incident.activations}
    shared = before & {a.key for a in sandwell.agencies}
    alerts_before = db.session.scalar(
        select(func.count()).select_from(Message).where(Message.kind == "alert")
    )
    added = activations.add_local_authority(incident, officer, "sandwell", "Young person lives in Smethwick")
    assert incident.local_authorities == ["birmingham", "sandwell"]
    assert {a.agency_key for a in added} == {a.key for a in sandwell.agencies} - before
    keys = [
        a.agency_key
        for a in db.session.scalars(select(Activation).where(Activation.incident_id == incident.id))
    ]
    assert len(keys) == len(set(keys))
    alerts_after = db.session.scalar(select(func.count()).select_from(Message).where(Message.kind == "alert"))
    assert alerts_after - alerts_before == 2 * len(added)
    if shared:
        assert "already active were not alerted again" in said(events("area_added")[0])
    assert "sandwell" in incident.playbook_snapshot["additional"]
    with pytest.raises(ActivationError, match="already part of this incident"):
        activations.add_local_authority(incident, officer, "sandwell", "again")


def test_a_cross_border_agency_escalates_to_its_own_duty_manager(incident, officer):
    from responder.responses.escalation import ladder

    added = activations.add_local_authority(incident, officer, "sandwell", "lives there")
    sandwell_agency = next(a for a in added if a.source == "sandwell")
    assert (
        ladder(sandwell_agency)[2].role
        == incident.playbook_snapshot["additional"]["sandwell"]["duty_manager"]
    )
