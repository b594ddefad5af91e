"""The second factor: the code at each password sign-in, and setting up the authenticator app."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextInput
from wtforms import StringField, SubmitField
from wtforms.validators import InputRequired, Length

from responder.accounts import sign_in, two_factor
from responder.accounts.two_factor import TwoFactorError
from responder.models import SignInMethod
from responder.unit_of_work import keep_writes_on_refusal, retried_on_conflict
from responder.web import sign_in_flow
from responder.web.auth import too_many_attempts
from responder.web.sign_in_flow import client_network, complete_sign_in

bp = Blueprint("two_factor", __name__)

CODE_FAILED = "Enter the code your authenticator app shows now, or one of your recovery codes"


class CodeForm(FlaskForm):
    code = StringField(
        "Code from your authenticator app",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter the code from your authenticator app"), Length(max=40)],
        description="Or enter one of your recovery codes, like abcde-23456.",
    )
    submit = SubmitField("Continue", widget=GovSubmitInput())


class StartForm(FlaskForm):
    submit = SubmitField("Set up two-factor sign-in", widget=GovSubmitInput())


class ConfirmForm(FlaskForm):
    code = StringField(
        "Code from your authenticator app",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter the 6-digit code from your authenticator app"),
            Length(max=40),
        ],
    )
    submit = SubmitField("Turn on two-factor sign-in", widget=GovSubmitInput())


@bp.route("/login/code", methods=["GET", "POST"])
@retried_on_conflict
def code():
    """Step two of a password sign-in for someone with two-factor set up."""
    user = sign_in_flow.pending_user(enrol=False)
    if user is None:
        flash("Sign in again: that took too long, or the sign-in was not started", "info")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if not form.validate_on_submit():
        return render_template("auth/code.html", form=form, error=None), 422 if form.is_submitted() else 200
    attempt = sign_in.attempt_code(user, form.code.data, client_network())
    if attempt.wait_seconds:
        return too_many_attempts(form, attempt.wait_seconds, "auth/code.html")
    if attempt.user is None:
        keep_writes_on_refusal()
        return render_template("auth/code.html", form=form, error=CODE_FAILED), 401
    return complete_sign_in(user, SignInMethod.PASSWORD_AND_CODE, sign_in_flow.pending_next())


def _enrolling_user():
    """Who is setting up two-factor: the signed-in person, or someone whose sign-in requires it first."""
    if current_user.is_authenticated:
        return current_user, False
    return sign_in_flow.pending_user(enrol=True), True


@bp.route("/two-factor/set-up", methods=["GET", "POST"])
@retried_on_conflict
def set_up():
    user, signing_in = _enrolling_user()
    if user is None:
        return redirect(url_for("auth.login"))
    if user.has_two_factor:
        return redirect(url_for("account.show"))
    start, confirm = StartForm(prefix="start"), ConfirmForm(prefix="confirm")
    if start.submit.data and start.validate_on_submit():
        two_factor.begin_enrolment(user)
        return redirect(url_for("two_factor.set_up"), code=303)
    error, status = None, 200
    if confirm.submit.data and confirm.validate_on_submit() and user.totp_secret:
        try:
            codes = two_factor.confirm_enrolment(user, confirm.code.data)
        except TwoFactorError as refused:
            error, status = str(refused), 422
        else:
            return _enrolled(user, codes, signing_in)
    elif confirm.is_submitted() and confirm.submit.data:
        status = 422
    return render_template(
        "auth/set_up.html",
        user=user,
        start=start,
        confirm=confirm,
        error=error,
        signing_in=signing_in,
        qr_svg=two_factor.qr_code_svg(user) if user.totp_secret else None,
        grouped_secret=two_factor.grouped_secret(user),
    ), status


def _enrolled(user, codes: list[str], signing_in: bool):
    """Show the recovery codes once; someone who was signing in is now signed in."""
    next_url = url_for("incidents.index")
    if signing_in:
        response = complete_sign_in(user, SignInMethod.PASSWORD_AND_CODE, sign_in_flow.pending_next())
        next_url = response.location
    return render_template("auth/recovery_codes.html", codes=codes, next_url=next_url, new=True)
