"""Marking a deadline done from the incident page (officers and managers), with a note."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovTextArea
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from responder.deadlines import DeadlineError, mark_deadline_done
from responder.deadlines.service import NOTE_LENGTH
from responder.incidents.guard import LifecycleError
from responder.models import Role
from responder.unit_of_work import discard_changes
from responder.web.access import role_required
from responder.web.incidents import visible_incident

bp = Blueprint("deadlines", __name__, url_prefix="/incidents/<reference>/deadlines")


class DoneForm(FlaskForm):
    note = TextAreaField(
        "What was done",
        widget=GovTextArea(),
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[
            DataRequired(message="Write a note saying what was done"),
            Length(max=NOTE_LENGTH, message=f"Keep it under {NOTE_LENGTH:,} characters"),
        ],
    )


@bp.post("/<int:deadline_id>/done")
@role_required(Role.OFFICER)
def mark_done(reference: str, deadline_id: int):
    incident = visible_incident(reference)
    form = DoneForm()
    back = url_for("incidents.show", reference=incident.reference, _anchor="deadlines")
    if not form.validate_on_submit():
        flash(f"Not marked done: {next(iter(form.errors.values()))[0]}", "error")
        return redirect(back, code=303)
    try:
        deadline = mark_deadline_done(incident, current_user, deadline_id, form.note.data)
    except (DeadlineError, LifecycleError) as error:
        discard_changes()
        flash(f"Not marked done: {error}", "error")
        return redirect(back, code=303)
    flash(f"Marked done: {deadline.name}", "success")
    return redirect(back, code=303)
