"""Staff sign-in and sign-out: password (then the second factor), or single sign-on."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovPasswordInput, GovSubmitInput, GovTextInput
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import InputRequired

from responder.accounts import sessions, sign_in
from responder.extensions import login_manager
from responder.models import SignInMethod
from responder.unit_of_work import keep_writes_on_refusal, retried_on_conflict
from responder.web import sign_in_flow
from responder.web.sign_in_flow import client_network, complete_sign_in

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "Enter a correct email address and password"
PASSWORDS_OFF = "Sign in with your council account: Responder passwords are turned off"


class LoginForm(FlaskForm):
    email = EmailField(
        "Email address",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter your email address")],
    )
    password = PasswordField(
        "Password", widget=GovPasswordInput(), validators=[InputRequired(message="Enter your password")]
    )
    submit = SubmitField("Sign in", widget=GovSubmitInput())


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to see this page"
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(user_id: str):
    return sign_in_flow.load_signed_in_user(user_id)


@bp.route("/login", methods=["GET", "POST"])
@retried_on_conflict
def login():
    if current_user.is_authenticated:
        return redirect(url_for("incidents.index"))
    form = LoginForm()
    if request.method == "POST" and not current_app.config["PASSWORD_SIGN_IN"]:
        return _login_page(form, PASSWORDS_OFF, 403)
    if not form.validate_on_submit():
        return _login_page(form, None, 200 if not form.is_submitted() else 422)
    attempt = sign_in.attempt_password(form.email.data, form.password.data, client_network())
    if attempt.wait_seconds:
        return too_many_attempts(form, attempt.wait_seconds)
    if attempt.user is None:
        keep_writes_on_refusal()  # the failure counts although the answer is 401
        return _login_page(form, LOGIN_FAILED, 401)
    return _after_password(attempt.user, request.args.get("next"))


def _after_password(user, next_url: str | None):
    if user.has_two_factor:
        sign_in_flow.begin_pending(user, next_url, enrol=False)
        return redirect(url_for("two_factor.code"))
    if sign_in_flow.mfa_required():
        sign_in_flow.begin_pending(user, next_url, enrol=True)
        return redirect(url_for("two_factor.set_up"))
    return complete_sign_in(user, SignInMethod.PASSWORD, next_url)


def _login_page(form: LoginForm, error: str | None, status: int):
    return render_template("auth/login.html", form=form, error=error), status


def too_many_attempts(form, wait_seconds: int, template: str = "auth/login.html"):
    """429 with Retry-After: this address has been failing; nobody else is affected."""
    minutes = -(-wait_seconds // 60)
    wait = f"{wait_seconds} seconds" if wait_seconds < 60 else f"{minutes} minute{'s' if minutes > 1 else ''}"
    error = f"Too many attempts that did not work from this network. Wait {wait}, then try again"
    response = current_app.make_response((render_template(template, form=form, error=error), 429))
    response.headers["Retry-After"] = str(wait_seconds)
    return response


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    record = g.get("staff_session")
    if record is not None:
        sessions.end_session(record)  # a copy of this cookie stops working too
    logout_user()
    session.clear()
    flash("You have signed out", "success")
    return redirect(url_for("auth.login"))
