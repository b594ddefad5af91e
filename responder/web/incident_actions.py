"""Running a response from the incident: updates, tension, meetings, agencies, stand-down, close."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from responder.extensions import db
from responder.governance.audit import access_log
from responder.incidents import lifecycle
from responder.incidents.lifecycle import LifecycleError
from responder.models import Activation, ActivationState, IncidentStatus, Role
from responder.playbooks.registry import current_playbooks
from responder.responses import activations
from responder.responses.activations import ActivationError
from responder.unit_of_work import discard_changes
from responder.web.access import role_required
from responder.web.incident_action_forms import (
    AdHocAgencyForm,
    AreaForm,
    MeetingForm,
    OfferForm,
    PlaybookAgencyForm,
    ReasonForm,
    TensionForm,
    UpdateForm,
)
from responder.web.incidents import visible_incident

bp = Blueprint("incident_actions", __name__, url_prefix="/incidents/<reference>")

SETTLED = (ActivationState.COVERED, ActivationState.NOT_APPLICABLE)
FORMS = {
    "post_update": UpdateForm,
    "tension": TensionForm,
    "meeting": MeetingForm,
    "playbook_agency": PlaybookAgencyForm,
    "ad_hoc_agency": AdHocAgencyForm,
    "offer": OfferForm,
    "area": AreaForm,
    "stand_down": ReasonForm,
    "resume": ReasonForm,
    "close": ReasonForm,
}


@bp.get("/manage")
@role_required(Role.OFFICER)
def manage(reference: str):
    incident = visible_incident(reference)
    return _render(incident, {})


@bp.post("/updates")
@role_required(Role.OFFICER)
def post_update(reference: str):
    return _act(
        reference,
        "post_update",
        lambda i, f: lifecycle.post_update(i, current_user, f.text.data),
        "Update posted",
    )


@bp.post("/tension")
@role_required(Role.OFFICER)
def change_tension(reference: str):
    return _act(
        reference,
        "tension",
        lambda i, f: lifecycle.change_tension(i, current_user, f.level.data, f.reason.data),
        "Community tension updated",
    )


@bp.post("/meetings")
@role_required(Role.OFFICER)
def record_meeting(reference: str):
    def record(incident, form):
        lifecycle.record_meeting(
            incident, current_user, form.title.data, form.lines(form.attendees), form.lines(form.actions)
        )

    return _act(reference, "meeting", record, "Meeting recorded")


@bp.post("/agencies")
@role_required(Role.OFFICER)
def add_playbook_agency(reference: str):
    return _act(
        reference,
        "playbook_agency",
        lambda i, f: activations.add_playbook_agency(i, current_user, f.agency_key.data, f.reason.data),
        "Agency added and alerted",
    )


@bp.post("/agencies/ad-hoc")
@role_required(Role.OFFICER)
def add_ad_hoc_agency(reference: str):
    return _act(
        reference,
        "ad_hoc_agency",
        lambda i, f: activations.add_ad_hoc_agency(
            i, current_user, f.name.data, f.lead_role.data, f.sharing_basis.data, f.reason.data
        ),
        "Agency added and alerted",
    )


@bp.post("/offers")
@role_required(Role.OFFICER)
def add_offer(reference: str):
    return _act(
        reference,
        "offer",
        lambda i, f: activations.add_playbook_offer(i, current_user, f.offer_key.data),
        "Support offer added",
    )


@bp.post("/areas")
@role_required(Role.OFFICER)
def add_area(reference: str):
    return _act(
        reference,
        "area",
        lambda i, f: activations.add_local_authority(i, current_user, f.local_authority.data, f.reason.data),
        "Local authority added and its agencies alerted",
    )


@bp.post("/activations/<int:activation_id>/resend")
@role_required(Role.OFFICER)
def resend(reference: str, activation_id: int):
    incident = visible_incident(reference)
    activation = _activation(incident, activation_id)
    try:
        contact = lifecycle.resend_alert(activation, current_user)
    except LifecycleError as error:
        return _render(incident, {}, error=str(error), status=409)
    flash(f"Alert re-sent to {contact.name}", "success")
    return _back_to_manage(incident)


@bp.post("/activations/<int:activation_id>/not-applicable")
@role_required(Role.OFFICER)
def not_applicable(reference: str, activation_id: int):
    incident = visible_incident(reference)
    activation = _activation(incident, activation_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        return _render(
            incident, {}, error=f"Give a reason for marking {activation.agency_name} not applicable"
        )
    try:
        lifecycle.mark_not_applicable(activation, current_user, form.reason.data)
    except LifecycleError as error:
        return _render(incident, {}, error=str(error), status=409)
    flash(f"{activation.agency_name} marked not applicable", "success")
    return _back_to_manage(incident)


@bp.post("/stand-down")
@role_required(Role.OFFICER)
def stand_down(reference: str):
    return _act(
        reference,
        "stand_down",
        lambda i, f: lifecycle.stand_down(i, current_user, f.reason.data),
        "Standing down: covering agencies have been told",
    )


@bp.post("/resume")
@role_required(Role.OFFICER)
def resume(reference: str):
    return _act(
        reference,
        "resume",
        lambda i, f: lifecycle.resume(i, current_user, f.reason.data),
        "The response is active again",
    )


@bp.post("/close")
@role_required(Role.MANAGER)
def close(reference: str):
    return _act(
        reference, "close", lambda i, f: lifecycle.close(i, current_user, f.reason.data), "Incident closed"
    )


@bp.get("/audit")
@role_required(Role.MANAGER)
def audit(reference: str):
    """Who has viewed or exported this incident."""
    incident = visible_incident(reference)
    return render_template("incidents/audit.html", incident=incident, entries=access_log(incident))


def _act(reference: str, name: str, action: Callable, done: str):
    incident = visible_incident(reference)
    form = _form(name, incident)
    if not form.validate_on_submit():
        return _render(incident, {name: form}, status=422)
    try:
        action(incident, form)
    except (LifecycleError, ActivationError) as error:
        discard_changes()
        return _render(incident, {name: form}, error=str(error), status=409)
    flash(done, "success")
    if incident.status == IncidentStatus.CLOSED:
        return redirect(url_for("incidents.show", reference=incident.reference), code=303)
    return _back_to_manage(incident)


def _back_to_manage(incident):
    """Back to "Run this response", its banner saying what was done, ready for the next action."""
    return redirect(url_for("incident_actions.manage", reference=incident.reference), code=303)


def _form(name: str, incident, formdata=True):
    form = FORMS[name]() if formdata else FORMS[name](formdata=None)
    # Ten forms share the page and several have a "reason": ids of their own let each label find its box.
    for field in form:
        field.id = f"{name}-{field.id}"
    playbooks = current_playbooks()
    if name == "playbook_agency":
        active = {a.agency_key for a in incident.activations}
        agencies = incident.frozen_playbooks.agencies()
        form.agency_key.choices = [
            (key, agency.name)
            for key, agency in sorted(agencies.items(), key=lambda item: item[1].name)
            if key not in active
        ]
    elif name == "offer":
        offered = {o.offer_key for o in incident.offers}
        offers = incident.frozen_playbooks.offers()
        form.offer_key.choices = [
            (key, offer.name)
            for key, offer in sorted(offers.items(), key=lambda item: item[1].name)
            if key not in offered
        ]
    elif name == "area":
        form.local_authority.choices = [
            (slug, p.name)
            for slug, p in sorted(playbooks.playbooks.items())
            if slug not in incident.local_authorities
        ]
    return form


def _render(incident, submitted: dict, error: str | None = None, status: int = 200):
    forms = {name: submitted.get(name) or _form(name, incident, formdata=False) for name in FORMS}
    return (
        render_template(
            "incidents/manage.html",
            incident=incident,
            forms=forms,
            error=error,
            waiting=[a for a in incident.activations if a.state not in SETTLED],
            closed=incident.status == IncidentStatus.CLOSED,
            standing_down=incident.status == IncidentStatus.STANDING_DOWN,
        ),
        status,
    )


def _activation(incident, activation_id: int) -> Activation:
    activation = db.session.get(Activation, activation_id)
    if activation is None or activation.incident_id != incident.id:
        abort(404)
    return activation
