"""Managers' view of an incident's sharing record: what went to whom, when, why, on what basis."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, stream_with_context
from flask_login import current_user

from responder.exports.chronology_csv import csv_chunks
from responder.governance import sharing
from responder.governance.audit import record_access
from responder.models import Role
from responder.timeline.naming import RESPONDER, naming_for
from responder.web.access import role_required
from responder.web.incidents import visible_incident

bp = Blueprint("sharing", __name__, url_prefix="/incidents/<reference>")


@bp.get("/sharing")
@role_required(Role.MANAGER)
def record(reference: str):
    incident = visible_incident(reference)
    return render_template(
        "sharing/record.html",
        incident=incident,
        records=sharing.sharing_records(incident.id),
        basis_name=sharing.basis_name,
        shared_by=_shared_by(incident),
    )


def _shared_by(incident):
    """Who shared, as a person says it: the record keeps "user:<email>" or "contact:<key>"."""
    naming = naming_for(incident, redacted=False)
    names = {f"user:{person.email}": person.name for person in naming.users.values()}
    names.update({f"contact:{person.key}": person.name for person in naming.contacts.values()})
    names["system"] = RESPONDER

    def name(raw: str) -> str:
        return names.get(raw) or raw.partition(":")[2] or raw

    return name


@bp.get("/sharing.csv")
@role_required(Role.MANAGER)
def record_csv(reference: str):
    """The same rows as CSV, Excel-safe like the chronology (BOM, no formula cells)."""
    incident = visible_incident(reference)
    record_access(current_user, incident, "exported", "sharing record (csv)")
    rows = sharing.sharing_rows(incident.id)
    response = Response(stream_with_context(csv_chunks(rows, sharing.CSV_HEADER)), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{incident.reference}-sharing-record.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response
