"""Activating agencies and support offers: at opening, later by hand, and across a border.

An agency is activated at most once per incident (a unique constraint), so a
regional agency shared by two local authorities' playbooks is alerted once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select

from responder import timeline
from responder.clock import now_utc
from responder.extensions import db
from responder.governance import sharing
from responder.incidents.guard import Change, guarded
from responder.models import (
    Activation,
    ActivationState,
    Contact,
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
from responder.responses.organisation_names import NotAName, checked_organisation_name
from responder.scheduling.schedule import schedule_next_escalation


class ActivationError(ValueError):
    """An agency or offer that cannot be added; the message says why."""


def activate_agencies(
    incident: Incident, agencies: Iterable[Agency], actor: str, why: str = "activated by the playbook"
) -> list[Activation]:
    """Activate each agency not already active for the incident, alerting its lead.

    ``why`` goes on each alert's sharing record.
    """
    already = {a.agency_key for a in incident.activations}
    fresh = [agency for agency in agencies if agency.key not in already]
    contacts = _active_contacts({a.lead for a in fresh} | {a.deputy for a in fresh if a.deputy})
    codes = iter(reply_codes.allocate(len(fresh)))
    return [_activate(incident, agency, contacts, actor, next(codes), why) for agency in fresh]


def offer_support(incident: Incident, offer: Offer, actor: str) -> OfferActivation | None:
    if any(existing.offer_key == offer.key for existing in incident.offers):
        return None
    row = OfferActivation(
        incident=incident, offer_key=offer.key, name=offer.name, provider_agency_key=offer.provider
    )
    db.session.add(row)
    timeline.record(
        incident, EventKind.OFFERED, f"Support offer: {offer.name}", actor=actor, agency_key=offer.provider
    )
    return row


@guarded(Change.ACTIVATE)
def add_playbook_agency(incident: Incident, user: User, agency_key: str, reason: str) -> Activation:
    """An agency from the incident's playbooks that the rules did not pick."""
    agency = playbook_agencies(incident).get(agency_key)
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
    if db.session.scalar(select(Contact).where(Contact.key == lead_role, Contact.active.is_(True))) is None:
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
    offers = playbook_offers(incident)
    if offer_key not in offers:
        raise ActivationError(f"{offer_key!r} is not a support offer in this incident's playbooks.")
    row = offer_support(incident, offers[offer_key], timeline.actor_for_user(user))
    if row is None:
        raise ActivationError(f"{offers[offer_key].name} is already offered.")
    return row


@guarded(Change.ACTIVATE)
def add_ad_hoc_offer(incident: Incident, user: User, name: str, provider_key: str) -> OfferActivation:
    name = _organisation_name(name)
    key = _ad_hoc_key(name, "offer")
    offer = Offer(key=key, name=name, provider=provider_key, source=incident.local_authority)
    row = offer_support(incident, offer, timeline.actor_for_user(user))
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
    actor = timeline.actor_for_user(user)
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
        f"{plan.playbook.name} added to the incident ({reason.strip()}): {len(added)} more agencies alerted"
        + (f"; {shared} already active were not alerted again" if shared else ""),
        actor=actor,
    )
    return added


def _add(incident: Incident, user: User, agency: Agency, reason: str) -> Activation:
    if any(a.agency_key == agency.key for a in incident.activations):
        raise ActivationError(f"{agency.name} is already activated for this incident.")
    actor = timeline.actor_for_user(user)
    if sharing.basis_for_agency(incident, agency.key, agency.source) is None:
        # No frozen playbook names it: keep its basis beside them, where every share looks.
        incident.frozen_playbooks = incident.frozen_playbooks.with_added_agency(agency)
    (activation,) = activate_agencies(incident, [agency], actor, why=f"added by hand: {reason.strip()}")
    schedule_next_escalation(activation)
    timeline.record(
        incident,
        EventKind.AGENCY_ADDED,
        f"{agency.name} added by hand: {reason.strip()} "
        f"(sharing basis: {SHARING_BASES[agency.sharing_basis]})",
        actor=actor,
        agency_key=agency.key,
    )
    return activation


def _activate(
    incident: Incident, agency: Agency, contacts: dict[str, Contact], actor: str, code: str, why: str
) -> Activation:
    lead = contacts.get(agency.lead)
    activation = Activation(
        incident=incident,
        agency_key=agency.key,
        agency_name=agency.name,
        source=agency.source,
        lead_role=agency.lead,
        deputy_role=agency.deputy,
        lead_contact=lead,
        deputy_contact=contacts.get(agency.deputy) if agency.deputy else None,
        state=ActivationState.ALERTED if lead else ActivationState.NO_CONTACT,
        activated_at=now_utc(),
        reply_code=code if lead else None,
    )
    db.session.add(activation)
    if lead is None:
        timeline.record(
            incident,
            EventKind.CONTACT_MISSING,
            f"{agency.name} not alerted: no active contact for role {agency.lead} in the directory",
            agency_key=agency.key,
        )
        return activation
    queue_alert(incident, activation, lead, shared_by=actor, purpose=why)
    timeline.record(
        incident,
        EventKind.ALERT_QUEUED,
        f"{agency.name} activated; alert queued to the lead ({agency.lead}) by SMS and email",
        actor=actor,
        agency_key=agency.key,
    )
    return activation


def _organisation_name(raw: str) -> str:
    try:
        return checked_organisation_name(raw)
    except NotAName as error:
        raise ActivationError(str(error)) from None


def _ad_hoc_key(name: str, fallback: str) -> str:
    """A stable id for something no playbook names, e.g. "adhoc-mosque-committee"."""
    return "adhoc-" + (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or fallback)


def _active_contacts(keys: set[str]) -> dict[str, Contact]:
    rows = db.session.scalars(select(Contact).where(Contact.key.in_(keys), Contact.active.is_(True)))
    return {row.key: row for row in rows}


def playbook_agencies(incident: Incident) -> dict[str, Agency]:
    """Every agency the incident's playbooks (and the regional file) define."""
    playbooks = current_playbooks()
    found = dict(playbooks.region.agencies)
    for slug in incident.local_authorities:
        if slug in playbooks.playbooks:
            found.update(playbooks.playbooks[slug].agencies)
    return found


def playbook_offers(incident: Incident) -> dict[str, Offer]:
    playbooks = current_playbooks()
    found = dict(playbooks.region.offers)
    for slug in incident.local_authorities:
        if slug in playbooks.playbooks:
            found.update(playbooks.playbooks[slug].offers)
    return found
