"""Staff sign-in and sign-out."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovPasswordInput, GovSubmitInput, GovTextInput
from sqlalchemy import func, select
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import InputRequired

from responder.clock import as_utc, now_utc
from responder.extensions import db, limiter, login_manager
from responder.models import User
from responder.models.users import burn_password_check
from responder.unit_of_work import keep_writes_on_refusal
from responder.web.safe_redirects import same_site_path

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "Enter a correct email address and password"


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
def load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


# After this many failures in a row an account waits before it may try again,
# twice as long after each further failure (capped), whatever the password.
FREE_ATTEMPTS = 5
FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(hours=1)


def authenticate(email: str, password: str) -> User | None:
    """The user for these credentials, taking the same time whether or not the email exists.

    A locked account gets the same generic answer as a wrong password, so
    guessing learns nothing; the lock lifts by itself.
    """
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        burn_password_check(password)
        return None
    now = now_utc()
    if user.locked_until is not None and as_utc(user.locked_until) > now:
        burn_password_check(password)
        return None
    if not user.check_password(password) or not user.active:
        user.failed_logins += 1
        if user.failed_logins >= FREE_ATTEMPTS:
            lock = FIRST_LOCK * 2 ** (user.failed_logins - FREE_ATTEMPTS)
            user.locked_until = now + min(lock, LONGEST_LOCK)
        keep_writes_on_refusal()  # the failure counts although the answer is 401
        return None
    user.failed_logins, user.locked_until = 0, None
    return user


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute; 50 per hour", methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("incidents.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            next_url = session.get("next") or request.args.get("next")
            session.clear()  # a fresh session on sign-in: no fixation
            login_user(user)
            session.permanent = True
            return redirect(same_site_path(next_url) or url_for("incidents.index"))
        error = LOGIN_FAILED
    return render_template("auth/login.html", form=form, error=error), 200 if error is None else 401


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    session.clear()
    flash("You have signed out", "success")
    return redirect(url_for("auth.login"))
