"""Staff pages: the regional dashboard, the incident list, opening an incident, the incident page."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from responder.check_ins.service import overdue_check_ins
from responder.clock import local_zone, now_utc
from responder.deadlines import deadline_statuses
from responder.extensions import db
from responder.governance.audit import record_access
from responder.incidents import view as incident_view
from responder.incidents.access import areas_of, find_visible, visible_incidents
from responder.incidents.opening import SubmissionConflict, open_incident
from responder.models import LOCAL_AUTHORITIES, Incident, IncidentStatus, Role
from responder.models.check_ins import CheckIn
from responder.playbooks.registry import current_playbooks
from responder.rotas.coverage import escalation_gaps
from responder.scheduling import upcoming_actions
from responder.scheduling.schedule import describe
from responder.timeline.naming import naming_for
from responder.unit_of_work import retried_on_conflict
from responder.web.access import role_required
from responder.web.incident_forms import IncidentForm

bp = Blueprint("incidents", __name__)


def _local_authorities() -> dict[str, str]:
    """Where this user may open an incident."""
    names = {slug: playbook.name for slug, playbook in sorted(current_playbooks().playbooks.items())}
    areas = areas_of(current_user)
    return names if areas is None else {slug: name for slug, name in names.items() if slug in areas}


def visible_incident(reference: str) -> Incident:
    """The incident, if this user may see it; 404 otherwise, as for one that does not exist."""
    incident = find_visible(current_user, reference)
    if incident is None:
        abort(404)
    return incident


@bp.route("/")
@role_required(Role.OFFICER)
def dashboard():
    local_authority = request.args.get("local_authority") or None
    status = request.args.get("status") or None
    if local_authority not in (None, *LOCAL_AUTHORITIES) or status not in (None, *IncidentStatus):
        abort(400)
    live, exercises = incident_view.dashboard(visible_incidents(current_user), local_authority, status)
    return render_template(
        "incidents/dashboard.html",
        live=live,
        exercises=exercises,
        local_authority=local_authority,
        status=status,
        local_authorities=LOCAL_AUTHORITIES,
        statuses=list(IncidentStatus),
        rota_gaps=escalation_gaps(hours=72),
    )


@bp.route("/incidents")
@role_required(Role.OFFICER)
def index():
    query = visible_incidents(current_user).order_by(Incident.opened_at.desc(), Incident.id.desc()).limit(500)
    return render_template("incidents/index.html", incidents=db.session.scalars(query).all())


@bp.route("/incidents/new", methods=["GET", "POST"])
@role_required(Role.OFFICER)
@retried_on_conflict
def new():
    form = IncidentForm(local_authorities=_local_authorities())
    if request.method == "GET" and not form.occurred_date.data:
        form.occurred_date.data = now_utc().astimezone(local_zone()).date()
    if form.validate_on_submit():
        try:
            incident = open_incident(form.report(), current_user, submission_key=form.submission_key.data)
        except SubmissionConflict as conflict:
            form.submission_key.errors.append(
                f"This form already opened {conflict.incident.reference}. To open another incident, "
                "start a new form."
            )
        else:
            return redirect(url_for("incidents.show", reference=incident.reference), code=303)
    status = 422 if form.is_submitted() else 200
    return render_template("incidents/new.html", form=form), status


@bp.route("/incidents/<reference>")
@role_required(Role.OFFICER)
def show(reference: str):
    incident = visible_incident(reference)
    record_access(current_user, incident, "viewed")
    kind = request.args.get("kind") if request.args.get("kind") in incident_view.TIMELINE_FILTERS else None
    oldest_first = request.args.get("order") == "oldest"
    past = request.args.get("past", "")
    covered, expected = incident_view.coverage(incident)
    naming = naming_for(incident, redacted=False)
    page = incident_view.timeline(
        incident,
        naming,
        kind,
        oldest_first=oldest_first,
        past=int(past) if past.isdigit() else None,
    )
    return render_template(
        "incidents/show.html",
        incident=incident,
        groups=incident_view.board(incident, naming),
        covered=covered,
        expected=expected,
        timeline=page,
        continued=past.isdigit(),
        cursor=incident_view.latest_event_id(incident),
        kind=kind,
        oldest_first=oldest_first,
        filters=incident_view.TIMELINE_FILTERS,
        trend=incident_view.tension_trend(incident),
        upcoming=upcoming_actions(incident),
        describe_action=describe,
        missed_check_ins=_missed_check_ins(incident),
        overdue_check_ins=overdue_check_ins(incident),
        failed_messages=incident_view.failed_message_counts([incident.id]).get(incident.id, 0),
        deadlines=deadline_statuses(incident),
        now=now_utc(),
    )


@bp.route("/incidents/<reference>/live")
@role_required(Role.OFFICER)
def live(reference: str):
    """What changed since the cursor (a timeline event id): new events, and the board if anything did."""
    incident = visible_incident(reference)
    after = request.args.get("after", "0")
    if not after.isdigit():
        return jsonify({"error": "after must be a timeline event id"}), 400
    kind = request.args.get("kind") if request.args.get("kind") in incident_view.TIMELINE_FILTERS else None
    cursor = incident_view.latest_event_id(incident)
    if cursor <= int(after):
        return jsonify({"cursor": cursor, "events": [], "board": None, "status": incident.status})
    naming = naming_for(incident, redacted=False)
    new_events = incident_view.timeline(
        incident, naming, kind, oldest_first=True, after=int(after), limit=None
    ).entries
    covered, expected = incident_view.coverage(incident)
    return jsonify(
        {
            "cursor": cursor,
            "status": incident.status,
            "events": [render_template("incidents/_event.html", entry=entry) for entry in new_events],
            "board": render_template(
                "incidents/_board.html",
                groups=incident_view.board(incident, naming),
                covered=covered,
                expected=expected,
            ),
        }
    )


def _missed_check_ins(incident: Incident) -> list[CheckIn]:
    return list(
        db.session.scalars(
            select(CheckIn).where(
                CheckIn.incident_id == incident.id,
                CheckIn.missed_at.is_not(None),
                CheckIn.responded_at.is_(None),
            )
        )
    )
