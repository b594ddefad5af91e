"""Each local authority's playbook activates what its partnership agreed."""

from __future__ import annotations

import pytest

from responder.playbooks import IncidentFacts, load_playbooks, plan_response

from .conftest import PLAYBOOKS

LOCAL_AUTHORITIES = ["birmingham", "coventry", "dudley", "sandwell", "solihull", "walsall", "wolverhampton"]


@pytest.fixture(scope="module")
def playbooks():
    return load_playbooks(PLAYBOOKS)


def sectors(plan) -> set[str]:
    return {agency.sector for agency in plan.agencies}


def keys(plan) -> set[str]:
    return {agency.key for agency in plan.agencies}


@pytest.mark.parametrize("la", LOCAL_AUTHORITIES)
def test_a_stabbing_activates_police_childrens_services_youth_service_and_the_vru(playbooks, la):
    plan = plan_response(playbooks, la, IncidentFacts(type="stabbing"))
    assert {"police", "childrens_social_care", "youth_service", "vru"} <= sectors(plan)
    police = [a for a in plan.agencies if a.sector == "police"]
    assert len(police) == 1
    assert la.capitalize() in police[0].name


@pytest.mark.parametrize("la", LOCAL_AUTHORITIES)
def test_a_school_link_adds_education_critical_incident_support(playbooks, la):
    without = plan_response(playbooks, la, IncidentFacts(type="stabbing", school_link=False))
    with_link = plan_response(playbooks, la, IncidentFacts(type="stabbing", school_link=True))
    assert "education" not in sectors(without)
    assert "education" in sectors(with_link)
    assert len(with_link.offers) > len(without.offers)


@pytest.mark.parametrize("la", LOCAL_AUTHORITIES)
def test_a_child_brings_in_youth_justice_and_an_unknown_age_does_not_guess(playbooks, la):
    child = plan_response(playbooks, la, IncidentFacts(type="stabbing", youngest_age=15))
    adult = plan_response(playbooks, la, IncidentFacts(type="stabbing", youngest_age=30))
    unknown = plan_response(playbooks, la, IncidentFacts(type="stabbing", youngest_age=None))
    assert "youth_justice" in sectors(child)
    assert "youth_justice" not in sectors(adult)
    assert "youth_justice" not in sectors(unknown)


@pytest.mark.parametrize("la", LOCAL_AUTHORITIES)
def test_high_tension_widens_the_response(playbooks, la):
    medium = plan_response(playbooks, la, IncidentFacts(type="stabbing", tension="medium"))
    high = plan_response(playbooks, la, IncidentFacts(type="stabbing", tension="high"))
    assert keys(medium) < keys(high)


@pytest.mark.parametrize("la", LOCAL_AUTHORITIES)
def test_a_homicide_adds_bereavement_and_victim_support(playbooks, la):
    stabbing = plan_response(playbooks, la, IncidentFacts(type="stabbing"))
    homicide = plan_response(playbooks, la, IncidentFacts(type="homicide"))
    assert keys(stabbing) < keys(homicide)
    assert any("victim" in agency.name.lower() for agency in homicide.agencies)


@pytest.mark.parametrize("la", LOCAL_AUTHORITIES)
def test_every_playbook_alerts_at_once_and_checks_in_for_four_weeks(playbooks, la):
    plan = plan_response(playbooks, la, IncidentFacts(type="shooting"))
    assert str(plan.alert_step.at) == "0m"
    check_ins = [str(step.at) for step in plan.steps if step.do == "check_in"]
    assert {"24h", "72h", "7d", "28d"} <= set(check_ins)


def test_birmingham_stabbing_with_a_school_link(playbooks):
    plan = plan_response(
        playbooks, "birmingham", IncidentFacts(type="stabbing", school_link=True, youngest_age=16)
    )
    assert {
        "wmp-birmingham",
        "bham-childrens-trust",
        "bham-youth-service",
        "bham-education-critical-incident",
        "bham-redthread",
        "wm-vru-localities",
    } <= keys(plan)
    assert "bham-school-critical-incident-support" in {offer.key for offer in plan.offers}


def test_rules_add_up_without_repeating_an_agency(playbooks):
    plan = plan_response(
        playbooks,
        "birmingham",
        IncidentFacts(type="homicide", school_link=True, youngest_age=15, tension="critical"),
    )
    agency_keys = [agency.key for agency in plan.agencies]
    assert len(agency_keys) == len(set(agency_keys))
