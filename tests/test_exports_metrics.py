"""Response metrics for the learning review, checked against a scripted response with known timings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from responder.extensions import db
from responder.models import ResponseChannel
from responder.responses.acknowledgements import acknowledge
from responder.responses.escalation import alert_next_level
from responder.reviews.metrics import describe_duration, key_figures, response_metrics

from .export_scenario import T0, activation_for, run_script


@pytest.fixture
def scripted(make_incident, send_outbox):
    return run_script(make_incident, send_outbox)


@pytest.fixture
def metrics(scripted):
    return response_metrics(scripted.incident)


def alerted_count(incident) -> int:
    return sum(1 for a in incident.activations if a.state not in ("no_contact", "not_applicable"))


def test_time_to_first_alert_runs_from_opening_to_the_first_alert_sent(metrics):
    assert metrics.opened_at == T0
    assert metrics.first_alert_sent_at == T0 + timedelta(seconds=90)
    assert metrics.time_to_first_alert == timedelta(seconds=90)


def test_each_agency_time_to_acknowledge_with_median_and_slowest(metrics):
    took = {a.agency_key: a.time_to_acknowledge for a in metrics.agencies if a.time_to_acknowledge}
    assert took == {
        "bham-youth-service": timedelta(minutes=5),
        "wmp-birmingham": timedelta(minutes=12),
        "bham-childrens-trust": timedelta(minutes=25),
    }
    assert metrics.median_time_to_acknowledge == timedelta(minutes=12)
    assert metrics.slowest.agency_key == "bham-childrens-trust"


def test_share_acknowledged_within_the_playbooks_target(scripted, metrics):
    # Birmingham's alert step: ack_within 15m. Youth service (5 min) and police (12 min) made it.
    assert {a.target for a in metrics.alerted} == {timedelta(minutes=15)}
    within = {a.agency_key for a in metrics.agencies if a.within_target}
    assert within == {"bham-youth-service", "wmp-birmingham"}
    assert metrics.within_target == 2
    assert metrics.with_target == alerted_count(scripted.incident)
    assert metrics.share_within_target == pytest.approx(2 / alerted_count(scripted.incident))


def test_escalations_and_the_level_that_covered(metrics):
    assert [(e.agency_key, e.level_name, e.at) for e in metrics.escalations] == [
        ("bham-childrens-trust", "deputy", T0 + timedelta(minutes=16))
    ]
    covered = {a.agency_key: a.covered_at_name for a in metrics.agencies if a.covered_at_level is not None}
    assert covered == {
        "bham-youth-service": "lead",
        "wmp-birmingham": "lead",
        "bham-childrens-trust": "deputy",
    }


def test_a_lead_answering_after_escalation_is_counted_as_the_lead(make_incident):
    with freeze_time(T0):
        incident = make_incident()
    with freeze_time(T0 + timedelta(minutes=16)):
        activation = activation_for(incident, "bham-csp")
        alert_next_level(activation, reason="nobody acknowledged within 15 minutes")
        db.session.commit()
    with freeze_time(T0 + timedelta(minutes=18)):
        acknowledge(activation, activation.lead_contact, ResponseChannel.LINK)
    csp = next(a for a in response_metrics(incident).agencies if a.agency_key == "bham-csp")
    assert [e.level_name for e in csp.escalations] == ["deputy"]
    assert csp.covered_at_name == "lead"
    assert csp.time_to_acknowledge == timedelta(minutes=18) and csp.within_target is False


def test_failed_messages_and_fallbacks_used(metrics):
    assert metrics.messages_failed == 1
    assert metrics.fallbacks_used == 1


def test_check_ins_sent_answered_and_missed(metrics):
    assert (metrics.check_ins.sent, metrics.check_ins.answered, metrics.check_ins.missed) == (3, 2, 1)


def test_support_offers_offered_accepted_and_delivered(scripted, metrics):
    assert metrics.offers.offered == len(scripted.incident.offers)
    assert (metrics.offers.accepted, metrics.offers.delivered, metrics.offers.declined) == (1, 1, 1)


def test_community_tension_over_time(metrics):
    assert [(p.at - T0, p.level) for p in metrics.tension] == [
        (timedelta(0), "medium"),
        (timedelta(hours=4, minutes=30), "high"),
        (timedelta(hours=5), "low"),
    ]
    assert metrics.peak_tension == "high"


def test_key_figures_for_the_roll_up(scripted, metrics):
    figures = key_figures(metrics)
    assert figures["minutes_to_first_alert"] == 1.5
    assert figures["median_minutes_to_acknowledge"] == 12.0
    assert figures["slowest_minutes_to_acknowledge"] == 25.0
    assert figures["agencies_acknowledged"] == 3
    assert figures["agencies_alerted"] == alerted_count(scripted.incident)
    assert figures["escalations"] == 1
    assert (figures["check_ins_sent"], figures["check_ins_answered"], figures["check_ins_missed"]) == (
        3,
        2,
        1,
    )
    assert figures["peak_tension"] == "high"


def test_an_incident_nobody_has_answered_yet_has_no_times(make_incident):
    with freeze_time(T0):
        incident = make_incident()
    metrics = response_metrics(incident)
    assert metrics.time_to_first_alert is None  # still in the outbox
    assert metrics.median_time_to_acknowledge is None and metrics.slowest is None
    assert metrics.within_target == 0 and metrics.share_within_target == 0
    assert [(p.at, p.level) for p in metrics.tension] == [(T0, "medium")]


@pytest.mark.parametrize(
    ("duration", "words"),
    [
        (None, "—"),
        (timedelta(seconds=45), "45 s"),
        (timedelta(minutes=12), "12 min"),
        (timedelta(minutes=4, seconds=30), "4 min 30 s"),
        (timedelta(hours=2, minutes=5), "2 h 05 min"),
        (timedelta(days=3, hours=4), "3 d 4 h"),
    ],
)
def test_durations_read_naturally(duration, words):
    assert describe_duration(duration) == words
