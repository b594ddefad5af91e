"""The learning review page: a manager records practice episodes, lessons, recommendations and actions."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from responder.incidents.access import find_visible
from responder.models import Incident, Role
from responder.reviews import learning_review as reviews
from responder.web.access import role_required
from responder.web.review_forms import ActionStatusForm, ReviewActionForm, ReviewNoteForm, ShareExportForm

bp = Blueprint("reviews", __name__)


@bp.route("/incidents/<reference>/review", methods=["GET", "POST"])
@role_required(Role.MANAGER)
def edit(reference: str):
    incident = _incident(reference)
    note_form = ReviewNoteForm(prefix="note")
    action_form = ReviewActionForm(prefix="action")
    user = current_user._get_current_object()
    # Two forms share the page; the button pressed says which was sent.
    if request.method == "POST" and note_form.submit.data:
        if note_form.validate_on_submit():
            reviews.add_note(incident, user, note_form.kind.data, note_form.text.data)
            flash("Added to the review", "success")
            return _back_to(incident, "notes")
    elif request.method == "POST" and action_form.submit.data:
        if action_form.validate_on_submit():
            reviews.add_action(
                incident,
                user,
                action_form.action.data,
                action_form.owner.data,
                action_form.due,
                action_form.rag.data,
            )
            flash("Added to the action plan", "success")
            return _back_to(incident, "action-plan")
    elif request.method == "POST":
        abort(400)
    return reviews_page(incident, note_form, action_form)


@bp.route("/incidents/<reference>/review/actions/<int:action_id>", methods=["POST"])
@role_required(Role.MANAGER)
def update_action(reference: str, action_id: int):
    incident = _incident(reference)
    action = reviews.get_action(incident, action_id)
    if action is None:
        abort(404)
    form = ActionStatusForm(prefix=f"status-{action.id}")
    if not form.validate_on_submit():
        flash(f"Action status not changed: {_first_error(form)}", "error")
        return _back_to(incident, "action-plan")
    reviews.set_action_status(action, current_user._get_current_object(), form.rag.data)
    flash("Action status updated", "success")
    return _back_to(incident, "action-plan")


def reviews_page(
    incident: Incident,
    note_form: ReviewNoteForm | None = None,
    action_form: ReviewActionForm | None = None,
    share_form: ShareExportForm | None = None,
):
    """The learning review page, with any form that was sent showing its errors (422)."""
    note_form = note_form or ReviewNoteForm(prefix="note", formdata=None)
    action_form = action_form or ReviewActionForm(prefix="action", formdata=None)
    share_form = share_form or ShareExportForm(formdata=None)
    review = reviews.review_for(incident)
    status_forms = {
        action.id: ActionStatusForm(prefix=f"status-{action.id}", formdata=None, rag=action.rag)
        for action in review.actions
    }
    failed = bool(note_form.errors or action_form.errors or share_form.errors)
    return render_template(
        "reviews/edit.html",
        incident=incident,
        review=review,
        note_form=note_form,
        action_form=action_form,
        share_form=share_form,
        status_forms=status_forms,
    ), (422 if failed else 200)


def _incident(reference: str) -> Incident:
    incident = find_visible(current_user, reference)
    if incident is None:
        abort(404)
    return incident


def _back_to(incident: Incident, anchor: str):
    return redirect(url_for("reviews.edit", reference=incident.reference, _anchor=anchor), code=303)


def _first_error(form) -> str:
    for errors in form.errors.values():
        return errors[0]
    return "try again"
