"""After-action review exports (managers only): chronology CSV, incident JSON, report PDF and web page,
and the regional roll-up CSV.

``?redacted=1`` gives the version for sharing beyond the core partnership.
Every incident export is recorded (timeline, access log and sharing record)
before anything is sent. A plain GET is recorded as a read, on the configured
EXPORT_SHARING_BASIS: it accepts no basis or purpose, so a link from anywhere
cannot write one into the record. Sharing on a stated basis, for a stated
purpose, is a POST from the form on the learning review page (CSRF-checked),
which returns the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    render_template,
    request,
    stream_with_context,
)
from flask_login import current_user
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from responder.exports.audit import record_export
from responder.exports.chronology_csv import chronology_csv
from responder.exports.incident_json import incident_json
from responder.exports.regional_csv import RollUpPeriod, incidents_in, regional_csv
from responder.exports.report import build_report
from responder.exports.report_charts import (
    ACK_TITLE,
    SWIMLANE_TITLE,
    acknowledgement_drawing,
    svg_data_uri,
    swimlane_drawing,
)
from responder.exports.report_pdf import report_pdf
from responder.exports.tension_chart import tension_drawing
from responder.governance.sharing import SharingRefused
from responder.incidents.access import find_visible, visible_incidents
from responder.models import LOCAL_AUTHORITIES, Incident, Role
from responder.timeline.naming import Naming, naming_for
from responder.web.access import role_required
from responder.web.review_forms import ShareExportForm
from responder.web.reviews import reviews_page

bp = Blueprint("exports", __name__)

DATE_ERROR = "must be a date written YYYY-MM-DD, for example 2026-11-24"


@bp.get("/incidents/<reference>/export.csv")
@role_required(Role.MANAGER)
def chronology(reference: str):
    return _send("csv", *_export(reference, "csv", _read_on_the_default_basis()))


@bp.get("/incidents/<reference>/export.json")
@role_required(Role.MANAGER)
def incident_data(reference: str):
    return _send("json", *_export(reference, "json", _read_on_the_default_basis()))


@bp.get("/incidents/<reference>/export.pdf")
@role_required(Role.MANAGER)
def report_document(reference: str):
    return _send("pdf", *_export(reference, "pdf", _read_on_the_default_basis()))


@bp.post("/incidents/<reference>/exports")
@role_required(Role.MANAGER)
def share(reference: str):
    """An export for sharing on a stated lawful basis and purpose (the learning review page's form)."""
    incident = _visible(reference)
    form = ShareExportForm()
    if not form.validate_on_submit():
        return reviews_page(incident, share_form=form)
    stated = Share(form.basis.data, form.purpose.data, form.redacted.data == "redacted")
    return _send(form.format.data, *_export(reference, form.format.data, stated))


def _send(export_format: str, incident: Incident, naming: Naming) -> Response:
    if export_format == "csv":
        body = chronology_csv(incident, naming)
        return _download(body, "text/csv; charset=utf-8", incident, naming, "chronology.csv")
    if export_format == "json":
        return _download(
            incident_json(incident, naming), "application/json", incident, naming, "incident.json"
        )
    body = report_pdf(build_report(incident, naming))
    return _download([body], "application/pdf", incident, naming, "after-action-report.pdf")


@bp.get("/incidents/<reference>/report")
@role_required(Role.MANAGER)
def report_page(reference: str):
    incident, naming = _export(reference, "html", _read_on_the_default_basis())
    report = build_report(incident, naming)
    # <img> data URIs: the page's Content-Security-Policy forbids the inline styles reportlab's SVG uses.
    charts = {
        "swimlane": svg_data_uri(
            swimlane_drawing(report.lanes, report.opened_at, report.lanes_until), SWIMLANE_TITLE
        ),
        "acknowledgement": svg_data_uri(acknowledgement_drawing(report.lanes), ACK_TITLE),
        "tension": svg_data_uri(
            tension_drawing(report.tension, report.opened_at, report.tension_until),
            "Community tension over time",
        ),
    }
    response = Response(
        render_template("exports/report.html", incident=incident, report=report, charts=charts)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


class RollUpArgs(Schema):
    """``/exports/incidents.csv`` query: from, to, and optionally local_authority and exercise."""

    first = fields.Date(
        data_key="from",
        required=True,
        error_messages={"required": "from is required: " + DATE_ERROR, "invalid": "from " + DATE_ERROR},
    )
    last = fields.Date(
        data_key="to",
        required=True,
        error_messages={"required": "to is required: " + DATE_ERROR, "invalid": "to " + DATE_ERROR},
    )
    local_authority = fields.Str(
        load_default=None,
        validate=validate.OneOf(
            list(LOCAL_AUTHORITIES), error="local_authority must be one of: " + ", ".join(LOCAL_AUTHORITIES)
        ),
    )
    exercise = fields.Bool(
        load_default=False,
        truthy={"1", "true", "yes"},
        falsy={"0", "false", "no", ""},
        error_messages={"invalid": "exercise must be 1 (include exercises) or 0"},
    )

    @validates_schema
    def _in_order(self, data, **kwargs):
        if "first" in data and "last" in data and data["first"] > data["last"]:
            raise ValidationError("from must be on or before to")


@bp.route("/exports/incidents.csv")
@role_required(Role.MANAGER)
def regional():
    args = {
        key: value
        for key, value in request.args.items()
        if key in ("from", "to", "local_authority", "exercise")
    }
    try:
        parsed = RollUpArgs().load(args)
    except ValidationError as error:
        return _bad_request(error.messages)
    period = RollUpPeriod(parsed["first"], parsed["last"], parsed["local_authority"], parsed["exercise"])
    incident_ids = incidents_in(period, visible_incidents(current_user))
    filename = f"incidents-{period.first}-to-{period.last}.csv"
    return _stream(regional_csv(incident_ids), "text/csv; charset=utf-8", filename)


@dataclass(frozen=True)
class Share:
    """On what lawful basis, and why, an export is taken; and which variant."""

    basis: str
    purpose: str
    redacted: bool


def _read_on_the_default_basis() -> Share:
    """A plain GET: the configured basis; only the variant comes from the address."""
    redacted = request.args.get("redacted", "").lower() in ("1", "true", "yes")
    return Share(current_app.config["EXPORT_SHARING_BASIS"], "", redacted)


def _visible(reference: str) -> Incident:
    incident = find_visible(current_user, reference)
    if incident is None:
        abort(404)
    return incident


def _export(reference: str, export_format: str, share: Share) -> tuple[Incident, Naming]:
    """The incident, recorded as exported in the variant asked for, and how to show its people."""
    incident = _visible(reference)
    try:
        record_export(
            incident,
            current_user._get_current_object(),
            export_format,
            redacted=share.redacted,
            basis=share.basis,
            purpose=share.purpose,
        )
    except SharingRefused as refused:
        abort(make_response(_bad_request({"basis": [str(refused)]})))
    return incident, naming_for(incident, redacted=share.redacted)


def _download(
    body: Iterable[bytes], content_type: str, incident: Incident, naming: Naming, name: str
) -> Response:
    """``name`` like "chronology.csv": the file is BHM-2026-0042-chronology[-redacted].csv."""
    stem, _, extension = name.rpartition(".")
    variant = "-redacted" if naming.redacted else ""
    return _stream(body, content_type, f"{incident.reference}-{stem}{variant}.{extension}")


def _stream(body: Iterable[bytes], content_type: str, filename: str) -> Response:
    response = Response(stream_with_context(body), content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Personal data: never kept by a browser or proxy cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def _bad_request(messages) -> tuple[str, int]:
    problems = []
    for value in messages.values() if isinstance(messages, dict) else [messages]:
        problems.extend(value if isinstance(value, list) else [str(value)])
    description = "Check the address: " + "; ".join(problems) + "."
    return render_template(
        "error.html", status=400, title="Something was wrong with that request", description=description
    ), 400
