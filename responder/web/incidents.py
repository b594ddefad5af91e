"""Staff pages: incident list, opening an incident, the incident page."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from responder.extensions import db
from responder.incidents import get_incident, open_incident
from responder.models import Incident, Message, Role, TimelineEvent
from responder.playbooks.registry import current_playbooks
from responder.web.access import role_required
from responder.web.incident_forms import IncidentForm

bp = Blueprint("incidents", __name__)


def _local_authorities() -> dict[str, str]:
    return {slug: playbook.name for slug, playbook in sorted(current_playbooks().playbooks.items())}


@bp.route("/")
@bp.route("/incidents")
@role_required(Role.OFFICER)
def index():
    incidents = db.session.scalars(select(Incident).order_by(Incident.opened_at.desc()).limit(200)).all()
    return render_template("incidents/index.html", incidents=incidents)


@bp.route("/incidents/new", methods=["GET", "POST"])
@role_required(Role.OFFICER)
def new():
    form = IncidentForm(local_authorities=_local_authorities())
    if form.validate_on_submit():
        incident = open_incident(form.report(), current_user, submission_key=form.submission_key.data)
        return redirect(url_for("incidents.show", reference=incident.reference), code=303)
    status = 422 if form.is_submitted() else 200
    return render_template("incidents/new.html", form=form), status


@bp.route("/incidents/<reference>")
@role_required(Role.OFFICER)
def show(reference: str):
    incident = get_incident(reference)
    if incident is None:
        abort(404)
    events = db.session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident.id)
        .order_by(TimelineEvent.at.desc(), TimelineEvent.id.desc())
    ).all()
    messages = db.session.scalars(
        select(Message).where(Message.incident_id == incident.id).order_by(Message.id)
    ).all()
    return render_template("incidents/show.html", incident=incident, events=events, messages=messages)
