"""After-action review exports (managers only): chronology CSV, incident JSON, report PDF and web page,
and the regional roll-up CSV.

``?redacted=1`` gives the version for sharing beyond the core partnership.
Every incident export is recorded on the timeline before anything is sent.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

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
from responder.exports.redaction import Redaction, for_incident
from responder.exports.regional_csv import RollUpPeriod, regional_csv
from responder.exports.report import build_report
from responder.exports.report_pdf import report_pdf
from responder.exports.tension_chart import tension_drawing, tension_svg
from responder.governance.sharing import SharingRefused
from responder.incidents.opening import get_incident
from responder.models import LOCAL_AUTHORITIES, Incident, Role
from responder.web.access import role_required

bp = Blueprint("exports", __name__)

DATE_ERROR = "must be a date written YYYY-MM-DD, for example 2026-11-24"


@bp.route("/incidents/<reference>/export.csv")
@role_required(Role.MANAGER)
def chronology(reference: str):
    incident, redaction = _export(reference, "csv")
    body = chronology_csv(incident, redaction)
    return _download(body, "text/csv; charset=utf-8", incident, redaction, "chronology.csv")


@bp.route("/incidents/<reference>/export.json")
@role_required(Role.MANAGER)
def incident_data(reference: str):
    incident, redaction = _export(reference, "json")
    body = incident_json(incident, redaction)
    return _download(body, "application/json", incident, redaction, "incident.json")


@bp.route("/incidents/<reference>/export.pdf")
@role_required(Role.MANAGER)
def report_document(reference: str):
    incident, redaction = _export(reference, "pdf")
    body = report_pdf(build_report(incident, redaction))
    return _download([body], "application/pdf", incident, redaction, "after-action-report.pdf")


@bp.route("/incidents/<reference>/report")
@role_required(Role.MANAGER)
def report_page(reference: str):
    incident, redaction = _export(reference, "html")
    report = build_report(incident, redaction)
    svg = tension_svg(tension_drawing(report.tension, report.opened_at, report.tension_until))
    # An <img> data URI: the page's Content-Security-Policy forbids the inline styles reportlab's SVG uses.
    chart = "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
    response = Response(render_template("exports/report.html", incident=incident, report=report, chart=chart))
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
    filename = f"incidents-{period.first}-to-{period.last}.csv"
    return _stream(regional_csv(period), "text/csv; charset=utf-8", filename)


def _export(reference: str, export_format: str) -> tuple[Incident, Redaction]:
    """The incident, recorded as exported in the variant asked for, and how to show its people."""
    incident = get_incident(reference)
    if incident is None:
        abort(404)
    redacted = request.args.get("redacted", "").lower() in ("1", "true", "yes")
    # A manager may state the basis and purpose (?basis=...&purpose=...); else the configured basis.
    basis = request.args.get("basis") or current_app.config.get("EXPORT_SHARING_BASIS")
    try:
        record_export(
            incident,
            current_user._get_current_object(),
            export_format,
            redacted=redacted,
            basis=basis,
            purpose=request.args.get("purpose", ""),
        )
    except SharingRefused as refused:
        abort(make_response(_bad_request({"basis": [str(refused)]})))
    return incident, for_incident(incident, redacted=redacted)


def _download(
    body: Iterable[bytes], content_type: str, incident: Incident, redaction: Redaction, name: str
) -> Response:
    """``name`` like "chronology.csv": the file is BHM-2026-0042-chronology[-redacted].csv."""
    stem, _, extension = name.rpartition(".")
    variant = "-redacted" if redaction.redacted else ""
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
