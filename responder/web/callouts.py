"""Call-out tests on the web: admins start one and read its report; role holders confirm by link.

``/t/<token>`` is a holder's link from the test text: GET shows what it is
and changes nothing (phones and scanners preview links), POST confirms.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, stream_with_context, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import DataRequired

from responder import callouts
from responder.callouts import confirmations
from responder.callouts.results import CSV_HEADER, csv_rows, find_test
from responder.exports.chronology_csv import csv_chunks
from responder.extensions import limiter
from responder.models import ConfirmedBy, Role
from responder.playbooks.registry import current_playbooks
from responder.unit_of_work import retried_on_conflict
from responder.web.access import role_required
from responder.web.acks import LINK_RATE_LIMIT

bp = Blueprint("callouts", __name__)


class StartForm(FlaskForm):
    local_authority = HiddenField(validators=[DataRequired()])


@bp.get("/admin/callouts")
@role_required(Role.ADMIN)
def index():
    playbooks = current_playbooks()
    latest = callouts.latest_tests()
    areas = [
        (slug, playbook.name, callouts.report(latest[slug]) if slug in latest else None)
        for slug, playbook in sorted(playbooks.playbooks.items())
    ]
    return render_template("admin/callouts.html", areas=areas, form=StartForm())


@bp.post("/admin/callouts")
@role_required(Role.ADMIN)
@retried_on_conflict
def start():
    form = StartForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        test = callouts.start_test(form.local_authority.data, current_user)
    except callouts.CalloutError as error:
        flash(str(error), "error")
        return redirect(url_for("callouts.index"), code=303)
    flash(
        f"Call-out test started: {len(test.recipients)} people texted. Answers count for 24 hours.", "success"
    )
    return redirect(url_for("callouts.show", test_id=test.id), code=303)


@bp.get("/admin/callouts/<int:test_id>")
@role_required(Role.ADMIN)
def show(test_id: int):
    test = find_test(test_id) or abort(404)
    return render_template("admin/callout_report.html", report=callouts.report(test))


@bp.get("/admin/callouts/<int:test_id>/report.csv")
@role_required(Role.ADMIN)
def report_csv(test_id: int):
    test = find_test(test_id) or abort(404)
    rows = list(csv_rows(callouts.report(test)))
    response = Response(stream_with_context(csv_chunks(rows, CSV_HEADER)), mimetype="text/csv")
    started = test.started_at.strftime("%Y-%m-%d")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="callout-test-{test.local_authority}-{started}-{test.id}.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/t/<raw>")
@limiter.limit(LINK_RATE_LIMIT)
def confirm_page(raw: str):
    recipient = confirmations.recipient_for_link(raw)
    if recipient is None:
        return render_template("callouts/confirm.html", recipient=None), 404
    ended = confirmations.has_ended(recipient) and recipient.confirmed_at is None
    return render_template("callouts/confirm.html", recipient=recipient, ended=ended), 410 if ended else 200


@bp.post("/t/<raw>")
@limiter.limit(LINK_RATE_LIMIT)
@retried_on_conflict
def confirm(raw: str):
    recipient = confirmations.recipient_for_link(raw)
    if recipient is None:
        return render_template("callouts/confirm.html", recipient=None), 404
    outcome = confirmations.confirm(recipient, ConfirmedBy.LINK)
    if outcome.result == confirmations.Result.ENDED:
        return render_template("callouts/confirm.html", recipient=recipient, ended=True), 410
    return redirect(url_for("callouts.confirm_page", raw=raw), code=303)
