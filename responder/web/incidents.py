"""Staff pages: the regional dashboard, the incident list, opening an incident, the incident page."""

from __future__ import annotations

import re
from dataclasses import replace

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user

from responder.clock import now_utc
from responder.extensions import db
from responder.governance.audit import record_access
from responder.incidents import view as incident_view
from responder.incidents.access import areas_of, find_visible, visible_incidents
from responder.incidents.opening import SubmissionConflict, open_incident
from responder.models import LOCAL_AUTHORITIES, Incident, IncidentStatus, Role
from responder.playbooks.registry import current_playbooks
from responder.rotas.coverage import escalation_gaps
from responder.timeline.naming import naming_for
from responder.unit_of_work import retried_on_conflict
from responder.web.access import role_required
from responder.web.incident_forms import IncidentForm
from responder.web.incident_panels import (
    POLL_SECONDS,
    TimelineView,
    decode_seen,
    panel_context,
    poll_url,
    render_panels,
)

# A timeline event id as the query string may carry it ("²" is a digit to str.isdigit, not to int).
_EVENT_ID = re.compile(r"[0-9]{1,18}")

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
        rota_gaps=escalation_gaps(hours=72, areas=_dashboard_areas(local_authority)),
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
    if request.method == "GET":
        form.fill_in_the_time_of_the_report()
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
    shown, past = _timeline_view(), _event_id(request.args.get("past", ""))
    continued = past is not None
    naming = naming_for(incident, redacted=False)
    page = incident_view.timeline(
        incident,
        naming,
        shown.kind,
        oldest_first=shown.oldest_first,
        past=past,
        receipts=shown.receipts,
    )
    shown = replace(shown, where=_where_new_events_go(shown, page, continued))
    context = panel_context(incident, naming)
    panels = render_panels(context)
    cursor = incident_view.latest_event_id(incident)
    return render_template(
        "incidents/show.html",
        **context,
        panels=panels.html,
        poll_url=poll_url(incident, cursor, shown, panels.fingerprints),
        poll_seconds=POLL_SECONDS,
        timeline=page,
        continued=continued,
        shown=shown,
        filters=incident_view.TIMELINE_FILTERS,
        failed_messages=incident_view.failed_message_counts([incident.id]).get(incident.id, 0),
    )


@bp.route("/incidents/<reference>/live")
@role_required(Role.OFFICER)
def live(reference: str):
    """What changed since the poller's cursor and fingerprints, as htmx out-of-band swaps.

    Every panel whose HTML differs from what the page has, the timeline's new
    events (where the page shows the latest end), and the poller with its new
    cursor; 204 No Content when nothing changed.
    """
    incident = visible_incident(reference)
    after = _event_id(request.args.get("after", "0"))
    if after is None:
        return "after must be a timeline event id", 400, {"Content-Type": "text/plain; charset=utf-8"}
    where = request.args.get("events", "")
    shown = replace(_timeline_view(), where=where if where in ("prepend", "append") else "")
    naming = naming_for(incident, redacted=False)
    cursor = incident_view.latest_event_id(incident)
    events = _new_events(incident, naming, shown, after) if cursor > after else []
    cursor = max([cursor, *(entry.id for entry in events)])
    panels = render_panels(panel_context(incident, naming))
    changed = panels.changed_since(decode_seen(request.args.get("seen", "")))
    if not changed and cursor <= after:
        return "", 204
    return render_template(
        "incidents/_live.html",
        changed=changed,
        ids=panels.ids,
        events=events,
        shown=shown,
        poll_url=poll_url(incident, cursor, shown, panels.fingerprints),
        poll_seconds=POLL_SECONDS,
        now=now_utc(),
    )


def _new_events(incident: Incident, naming, shown: TimelineView, after: int) -> list:
    """Events after the cursor that the page's timeline shows, in the order they join it."""
    if not shown.where:
        return []  # the page shows an earlier stretch of the timeline: nothing joins it
    entries = incident_view.timeline(
        incident, naming, shown.kind, oldest_first=True, after=after, limit=None, receipts=shown.receipts
    ).entries
    return entries[::-1] if shown.where == "prepend" else entries


def _where_new_events_go(shown: TimelineView, page, continued: bool) -> str:
    """New events join the list live only where it shows the latest end of the timeline."""
    if shown.oldest_first:
        return "" if page.more else "append"
    return "" if continued else "prepend"


def _timeline_view() -> TimelineView:
    """The timeline as the query string asks to see it: a kind, an order, receipts or not."""
    kind = request.args.get("kind")
    return TimelineView(
        kind=kind if kind in incident_view.TIMELINE_FILTERS else None,
        oldest_first=request.args.get("order") == "oldest",
        receipts=request.args.get("receipts") == "1",
    )


def _dashboard_areas(local_authority: str | None) -> list[str] | None:
    """The local authorities the dashboard speaks for: the one filtered on, within the user's own."""
    areas = areas_of(current_user)
    if local_authority is None:
        return areas
    return [local_authority] if areas is None or local_authority in areas else []


def _event_id(raw: str) -> int | None:
    """A timeline event id from the query string: ASCII digits only, and no longer than an id can be."""
    return int(raw) if _EVENT_ID.fullmatch(raw) else None
