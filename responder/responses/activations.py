"""Activating agencies and support offers: at opening, later by hand, and across a border.

An agency is activated at most once per incident (a unique constraint), so a
regional agency shared by two local authorities' playbooks is alerted once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from responder import timeline
from responder.clock import now_utc
from responder.extensions import db
from responder.governance import sharing
from responder.incidents.guard import Change, guarded
from responder.models import (
    Activation,
    ActivationState,
    EventKind,
    Incident,
    IncidentArea,
    OfferActivation,
    User,
)
from responder.notify.outbox import queue_alert
from responder.playbooks import IncidentFacts, plan_response
from responder.playbooks.model import Agency, Offer
from responder.playbooks.registry import current_playbooks
from responder.playbooks.schema import SHARING_BASES
from responder.responses import reply_codes
from responder.responses.escalation import alert_next_level, ladder, record_rota_gap, with_duty
from responder.responses.organisation_names import NotAName, checked_organisation_name
from responder.responses.phone_calls import call_rung
from responder.rotas import DutySource, OnDuty, on_duty, on_duty_for
from responder.scheduling.schedule import schedule_next_escalation
from responder.timeline import Actor

# The key of every agency or offer added by hand starts so (its name was typed, not reviewed).
AD_HOC = "adhoc-"


class ActivationError(ValueError):
    """An agency or offer that cannot be added; the message says why."""


def activate_agencies(
    incident: Incident, agencies: Iterable[Agency], actor: Actor, why: str = "activated by the playbook"
) -> list[Activation]:
    """Activate each agency not already active for the incident, alerting its lead.

    Each lead role is resolved now, to whoever is on duty (responder.rotas).
    ``why`` goes on each alert's sharing record.
    """
    already = {a.agency_key for a in incident.activations}
    fresh = [agency for agency in agencies if agency.key not in already]
    duty = on_duty_for({a.lead for a in fresh} | {a.deputy for a in fresh if a.deputy})
    codes = iter(reply_codes.allocate(len(fresh)))
    return [_activate(incident, agency, duty, actor, next(codes), why) for agency in fresh]


def offer_support(incident: Incident, offer: Offer, actor: Actor) -> OfferActivation | None:
    if any(existing.offer_key == offer.key for existing in incident.offers):
        return None
    row = OfferActivation(
        incident=incident, offer_key=offer.key, name=offer.name, provider_agency_key=offer.provider
    )
    db.session.add(row)
    timeline.record(
        incident,
        EventKind.OFFERED,
        by=actor,
        agency_key=offer.provider,
        offer=offer.name,
        by_hand=offer.key.startswith(AD_HOC) or None,
    )
    return row


@guarded(Change.ACTIVATE)
def add_playbook_agency(incident: Incident, user: User, agency_key: str, reason: str) -> Activation:
    """An agency from the incident's playbooks that the rules did not pick."""
    agency = incident.frozen_playbooks.agencies().get(agency_key)
    if agency is None:
        raise ActivationError(f"{agency_key!r} is not an agency in this incident's playbooks.")
    return _add(incident, user, agency, reason)


@guarded(Change.ACTIVATE)
def add_ad_hoc_agency(
    incident: Incident, user: User, name: str, lead_role: str, sharing_basis: str, reason: str
) -> Activation:
    """An agency no playbook names, reached through a contact already in the directory."""
    if sharing_basis not in SHARING_BASES:
        raise ActivationError("Choose the lawful basis for sharing incident information with this agency.")
    if on_duty(lead_role).source == DutySource.NOBODY:
        raise ActivationError(f"No active contact with role {lead_role!r} in the contact directory.")
    name = _organisation_name(name)
    key = _ad_hoc_key(name, "agency")
    agency = Agency(
        key=key,
        name=name,
        sector="community",
        sharing_basis=sharing_basis,
        lead=lead_role,
        deputy=None,
        source=incident.local_authority,
    )
    return _add(incident, user, agency, reason)


@guarded(Change.ACTIVATE)
def add_playbook_offer(incident: Incident, user: User, offer_key: str) -> OfferActivation:
    offers = incident.frozen_playbooks.offers()
    if offer_key not in offers:
        raise ActivationError(f"{offer_key!r} is not a support offer in this incident's playbooks.")
    row = offer_support(incident, offers[offer_key], Actor.of(user))
    if row is None:
        raise ActivationError(f"{offers[offer_key].name} is already offered.")
    return row


@guarded(Change.ACTIVATE)
def add_ad_hoc_offer(incident: Incident, user: User, name: str, provider_key: str) -> OfferActivation:
    name = _organisation_name(name)
    key = _ad_hoc_key(name, "offer")
    offer = Offer(key=key, name=name, provider=provider_key, source=incident.local_authority)
    row = offer_support(incident, offer, Actor.of(user))
    if row is None:
        raise ActivationError(f"{name} is already offered.")
    return row


@guarded(Change.ACTIVATE)
def add_local_authority(
    incident: Incident, user: User, local_authority: str, reason: str
) -> list[Activation]:
    """Bring a second local authority in (e.g. where the young person lives).

    Its playbook's matching agencies and offers are activated as well; agencies
    already active, such as a shared regional one, are not alerted again. Its
    playbook is frozen into the incident's snapshot beside the first.
    """
    playbooks = current_playbooks()
    if local_authority not in playbooks.playbooks:
        raise ActivationError(f"There is no playbook for {local_authority!r}.")
    if local_authority in incident.local_authorities:
        raise ActivationError(
            f"{playbooks.playbooks[local_authority].name} is already part of this incident."
        )
    facts = IncidentFacts(
        type=incident.type,
        school_link=incident.school_link,
        youngest_age=incident.youngest_age,
        tension=incident.tension,
    )
    plan = plan_response(playbooks, local_authority, facts)
    incident.frozen_playbooks = incident.frozen_playbooks.with_area(plan.playbook)
    incident.areas.append(IncidentArea(local_authority=local_authority, position=len(incident.areas)))
    actor = Actor.of(user)
    added = activate_agencies(
        incident, plan.agencies, actor, why=f"{plan.playbook.name} added to the incident"
    )
    for activation in added:
        schedule_next_escalation(activation)
    for offer in plan.offers:
        offer_support(incident, offer, actor)
    shared = len(plan.agencies) - len(added)
    timeline.record(
        incident,
        EventKind.AREA_ADDED,
        by=actor,
        text=reason,
        local_authority=local_authority,
        alerted=len(added),
        shared=shared,
    )
    return added


def _add(incident: Incident, user: User, agency: Agency, reason: str) -> Activation:
    if any(a.agency_key == agency.key for a in incident.activations):
        raise ActivationError(f"{agency.name} is already activated for this incident.")
    actor = Actor.of(user)
    if sharing.basis_for_agency(incident, agency.key, agency.source) is None:
        # No frozen playbook names it: keep its basis beside them, where every share looks.
        incident.frozen_playbooks = incident.frozen_playbooks.with_added_agency(agency)
    (activation,) = activate_agencies(incident, [agency], actor, why=f"added by hand: {reason.strip()}")
    schedule_next_escalation(activation)
    timeline.record(
        incident,
        EventKind.AGENCY_ADDED,
        by=actor,
        agency_key=agency.key,
        text=reason,
        basis=agency.sharing_basis,
    )
    return activation


def _activate(
    incident: Incident, agency: Agency, duty: dict[str, OnDuty], actor: Actor, code: str, why: str
) -> Activation:
    lead_duty = duty.get(agency.lead) or on_duty(agency.lead)
    lead = lead_duty.contact
    deputy = duty[agency.deputy].contact if agency.deputy in duty else None
    activation = Activation(
        incident=incident,
        agency_key=agency.key,
        agency_name=agency.name,
        source=agency.source,
        lead_role=agency.lead,
        deputy_role=agency.deputy,
        lead_contact=lead,
        deputy_contact=deputy,
        state=ActivationState.ALERTED if lead else ActivationState.NO_CONTACT,
        escalation_level=0,
        activated_at=now_utc(),
        reply_code=code if lead or lead_duty.is_gap else None,
    )
    db.session.add(activation)
    if lead_duty.source == DutySource.GAP:
        # Nobody on duty on the lead's rota and no fixed contact: the next rung, at once.
        record_rota_gap(activation, ladder(activation)[0], lead_duty, actor)
        if alert_next_level(activation, "nobody was on duty for the lead", actor) is None:
            activation.reply_code = None
        return activation
    if lead is None:
        timeline.record(incident, EventKind.CONTACT_MISSING, agency_key=agency.key, role=agency.lead)
        return activation
    for contact in lead_duty.contacts:
        queue_alert(incident, activation, contact, shared_by=actor, purpose=with_duty(why, lead_duty))
        called = call_rung(activation, "lead", contact, shared_by=actor, duty_note=lead_duty.sharing_note())
        timeline.record(
            incident,
            EventKind.ALERT_QUEUED,
            by=actor,
            contact=contact,
            agency_key=agency.key,
            role=agency.lead,
            called=called is not None or None,
            **lead_duty.timeline_data(),
        )
    return activation


def _organisation_name(raw: str) -> str:
    try:
        return checked_organisation_name(raw)
    except NotAName as error:
        raise ActivationError(str(error)) from None


def _ad_hoc_key(name: str, fallback: str) -> str:
    """A stable id for something no playbook names, e.g. "adhoc-mosque-committee"."""
    return AD_HOC + (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or fallback)
