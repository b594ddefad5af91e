"""Agency leads' acknowledgement links: GET shows, only POST changes anything."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovTextArea
from wtforms import RadioField, TextAreaField
from wtforms.validators import AnyOf, InputRequired, Length, Optional

from responder.clock import format_local
from responder.extensions import limiter
from responder.models import ActivationState, IncidentStatus, ResponseChannel, TokenPurpose
from responder.responses import acknowledgements as acks
from responder.responses import escalation
from responder.responses.access_tokens import find_token, is_expired
from responder.unit_of_work import retried_on_conflict

bp = Blueprint("acks", __name__)

# A lead opens, answers and maybe reloads: a handful of requests. Guessing needs millions.
LINK_RATE_LIMIT = "30 per minute; 300 per hour"


class AcknowledgeForm(FlaskForm):
    note = TextAreaField(
        "Note (optional)",
        widget=GovTextArea(),
        description="For example, when you expect to arrive. Seen only by the response team.",
        validators=[Optional(), Length(max=500, message="Note must be 500 characters or fewer")],
    )


class DeclineForm(FlaskForm):
    reason = RadioField(
        "Why are you declining?",
        choices=list(acks.DECLINE_REASONS.items()),
        widget=GovRadioInput(),
        validate_choice=False,
        validators=[
            InputRequired(message="Select why you are declining"),
            AnyOf(list(acks.DECLINE_REASONS), message="Select why you are declining"),
        ],
    )
    detail = TextAreaField(
        "More detail (optional)",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=500, message="Detail must be 500 characters or fewer")],
    )


def _token_or_error(raw: str):
    token = find_token(raw, TokenPurpose.ACKNOWLEDGE)
    if token is None:
        return None, (render_template("acks/invalid_link.html", expired=False), 404)
    if is_expired(token):
        return None, (render_template("acks/invalid_link.html", expired=True), 410)
    return token, None


@bp.route("/a/<raw>", methods=["GET"])
@limiter.limit(LINK_RATE_LIMIT)
def confirm_page(raw: str):
    token, error = _token_or_error(raw)
    if error:
        return error
    return _render(token, AcknowledgeForm(prefix="ack"), DeclineForm(prefix="decline"))


@bp.route("/a/<raw>", methods=["POST"])
@limiter.limit(LINK_RATE_LIMIT)
@retried_on_conflict
def respond(raw: str):
    token, error = _token_or_error(raw)
    if error:
        return error
    ack_form, decline_form = AcknowledgeForm(prefix="ack"), DeclineForm(prefix="decline")
    if request.form.get("action") == "decline":
        if not decline_form.validate_on_submit():
            return _render(token, AcknowledgeForm(prefix="ack", formdata=None), decline_form, status=422)
        reason = acks.DECLINE_REASONS[decline_form.reason.data]
        if decline_form.detail.data:
            reason = f"{reason}: {decline_form.detail.data.strip()}"
        outcome = acks.decline(token.activation, token.contact, ResponseChannel.LINK, reason)
    else:
        if not ack_form.validate_on_submit():
            return _render(token, ack_form, DeclineForm(prefix="decline", formdata=None), status=422)
        outcome = acks.acknowledge(
            token.activation, token.contact, ResponseChannel.LINK, ack_form.note.data or ""
        )
    flash(_outcome_message(outcome), "success" if outcome.status in ("acknowledged", "declined") else "info")
    return redirect(url_for("acks.confirm_page", raw=raw), code=303)


def _render(token, ack_form, decline_form, status: int = 200):
    activation = token.activation
    incident = activation.incident
    others = [a for a in incident.activations if a.id != activation.id]
    rung, holder = escalation.holder(activation)
    return (
        render_template(
            "acks/confirm.html",
            token=token,
            activation=activation,
            incident=incident,
            others=others,
            # After a decline the page says where the alert went, and offers no second decline.
            declined=acks.earlier_decline(activation, token.contact),
            rung=rung,
            holder=holder,
            covered=activation.state == ActivationState.COVERED,
            closed=incident.status == IncidentStatus.CLOSED,
            standing_down=incident.status == IncidentStatus.STANDING_DOWN,
            ack_form=ack_form,
            decline_form=decline_form,
        ),
        status,
    )


def _outcome_message(outcome: acks.Outcome) -> str:
    agency = outcome.activation.agency_name
    when = format_local(outcome.at, "%H:%M on %d %b") if outcome.at else ""
    who = outcome.by.name if outcome.by else "someone"
    return {
        "acknowledged": f"Thank you. {agency} is recorded as covering this response.",
        "already_covered": f"{agency} was already covered: acknowledged by {who} at {when}.",
        "declined": "Your decline is recorded. "
        + (
            f"The {outcome.handed_to} has been alerted."
            if outcome.handed_to
            else "The response team has been told."
        ),
        "already_declined": f"You already declined at {when}. Nothing has changed.",
        "standing_down": "Thank you. The response is standing down, so no cover is needed now. "
        "Your answer has been noted for the response team.",
        "incident_closed": "This incident is closed, so nothing was recorded. Thank you for responding.",
    }[outcome.status]
