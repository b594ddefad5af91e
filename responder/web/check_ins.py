"""Check-in links (/c/<token>): GET shows the form and changes nothing; POST records the answer."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovTextArea
from wtforms import RadioField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional

from responder.check_ins.service import CheckInAnswer, check_in_for_token, record_check_in_answer
from responder.extensions import limiter
from responder.models import CheckIn, IncidentStatus, OfferActivation, OfferState, Tension, TokenPurpose
from responder.playbooks import parse_duration
from responder.responses.access_tokens import find_token, is_expired

bp = Blueprint("check_ins", __name__)

# A lead opens, answers and maybe reloads: a handful of requests. Guessing needs millions.
LINK_RATE_LIMIT = "30 per minute; 300 per hour"
UNCHANGED = "unchanged"
OFFER_CHOICES = [
    (UNCHANGED, "No change"),
    (OfferState.DELIVERED, "Delivered"),
    (OfferState.DECLINED, "Declined"),
]


class CheckInForm(FlaskForm):
    status_update = TextAreaField(
        "How is the response going?",
        widget=GovTextArea(),
        description="What your agency has done since the incident, and what happens next.",
        validators=[
            DataRequired(message="Enter a short update on how the response is going"),
            Length(max=2000, message="The update must be 2,000 characters or fewer"),
        ],
    )
    tension = RadioField(
        "Community tension now",
        choices=[(t.value, t.label) for t in Tension],
        widget=GovRadioInput(),
        validate_choice=False,
        validators=[
            InputRequired(message="Select the level of community tension"),
            AnyOf([t.value for t in Tension], message="Select the level of community tension"),
        ],
    )
    needs = TextAreaField(
        "Needs or concerns (optional)",
        widget=GovTextArea(),
        description="Anything you need from other agencies, or anything worrying you.",
        validators=[
            Optional(),
            Length(max=2000, message="Needs or concerns must be 2,000 characters or fewer"),
        ],
    )

    offer_fields: list[tuple[OfferActivation, str]] = []

    def answer(self) -> CheckInAnswer:
        offers = {
            offer.offer_key: self[name].data
            for offer, name in self.offer_fields
            if self[name].data != UNCHANGED
        }
        return CheckInAnswer(
            status_update=self.status_update.data,
            tension=self.tension.data,
            needs=self.needs.data or "",
            offers=offers,
        )


def check_in_form(check_in: CheckIn) -> CheckInForm:
    """The form, with one "delivered / declined" question per support offer of the incident.

    The offers the lead's own agency provides come first; the form says which
    agency provides each of the others (the page folds those away).
    """
    agency = check_in.activation.agency_key
    providers = {a.agency_key: a.agency_name for a in check_in.incident.activations}
    offers = sorted(check_in.incident.offers, key=lambda offer: offer.provider_agency_key != agency)

    class Form(CheckInForm):
        offer_fields = [(offer, f"offer_{offer.id}") for offer in offers]

    for offer, name in Form.offer_fields:
        provider = providers.get(offer.provider_agency_key, offer.provider_agency_key)
        field = RadioField(
            offer.name,
            choices=OFFER_CHOICES,
            default=UNCHANGED,
            widget=GovRadioInput(),
            description=f"Provided by {provider}. Now: {offer.state.replace('_', ' ')}",
            validate_choice=False,
            validators=[
                AnyOf([value for value, _ in OFFER_CHOICES], message=f"Select what happened: {offer.name}")
            ],
        )
        setattr(Form, name, field)
    return Form(tension=check_in.incident.tension)


def _check_in_or_error(raw: str):
    """The check-in for a link, or the page to show instead. Writes nothing either way."""
    token = find_token(raw, TokenPurpose.CHECK_IN)
    check_in = check_in_for_token(token) if token is not None else None
    if check_in is None:
        return None, (render_template("check_ins/invalid_link.html", expired=False), 404)
    if is_expired(token):
        return None, (render_template("check_ins/invalid_link.html", expired=True), 410)
    return check_in, None


@bp.get("/c/<raw>")
@limiter.limit(LINK_RATE_LIMIT)
def form_page(raw: str):
    check_in, error = _check_in_or_error(raw)
    if error:
        return error
    return _render(check_in, check_in_form(check_in))


@bp.post("/c/<raw>")
@limiter.limit(LINK_RATE_LIMIT)
def submit(raw: str):
    check_in, error = _check_in_or_error(raw)
    if error:
        return error
    if check_in.answered or _closed(check_in):
        return _render(check_in, None)
    form = check_in_form(check_in)
    if not form.validate_on_submit():
        return _render(check_in, form, status=422)
    record_check_in_answer(check_in, form.answer())
    return redirect(url_for("check_ins.form_page", raw=raw), code=303)


def _offer_questions(check_in: CheckIn, form: CheckInForm | None) -> dict:
    """The offers the lead's own agency provides, the others (folded away), and whether to unfold them."""
    if form is None:
        return {"ours": [], "theirs": [], "theirs_open": False}
    agency = check_in.activation.agency_key
    ours = [(offer, name) for offer, name in form.offer_fields if offer.provider_agency_key == agency]
    theirs = [(offer, name) for offer, name in form.offer_fields if offer.provider_agency_key != agency]
    # Unfolded when one of them has an error, or was answered (so the answer is not hidden).
    theirs_open = any(name in form.errors or form[name].data not in (None, UNCHANGED) for _, name in theirs)
    return {"ours": ours, "theirs": theirs, "theirs_open": theirs_open}


def _closed(check_in: CheckIn) -> bool:
    return check_in.incident.status == IncidentStatus.CLOSED


def _render(check_in: CheckIn, form: CheckInForm | None, status: int = 200):
    return (
        render_template(
            "check_ins/form.html",
            check_in=check_in,
            incident=check_in.incident,
            activation=check_in.activation,
            closed=_closed(check_in),
            step=parse_duration(check_in.step).describe(),
            form=form,
            **_offer_questions(check_in, form),
        ),
        status,
    )
