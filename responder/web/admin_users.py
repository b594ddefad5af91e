"""/admin/users: staff accounts for administrators. Views parse and render; responder.accounts.administration acts."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovPasswordInput,
    GovRadioInput,
    GovTextInput,
)
from wtforms import EmailField, PasswordField, RadioField, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Length, Optional

from responder.accounts import administration, sessions, throttling
from responder.accounts.administration import AdminError
from responder.accounts.users import MIN_PASSWORD_LENGTH
from responder.extensions import db
from responder.models import LOCAL_AUTHORITIES, Role, User
from responder.web.access import role_required

bp = Blueprint("admin_users", __name__, url_prefix="/admin/users")

ROLE_CHOICES = [
    (Role.OFFICER.value, "Officer: opens and runs incidents, optionally in some areas only"),
    (Role.MANAGER.value, "Manager: everything in every area, closing incidents, exports and reviews"),
    (Role.ADMIN.value, "Admin: everything, plus staff accounts and the contact directory"),
]
AREA_CHOICES = list(LOCAL_AUTHORITIES.items())


class AccessForm(FlaskForm):
    role = RadioField(
        "Role", choices=ROLE_CHOICES, widget=GovRadioInput(), validators=[InputRequired("Choose a role")]
    )
    local_authorities = SelectMultipleField(
        "Local authorities (officers only)",
        choices=AREA_CHOICES,
        widget=GovCheckboxesInput(),
        description="Leave all unticked for every area. Managers and admins always see every area.",
    )


class NewUserForm(AccessForm):
    email = EmailField(
        "Email address",
        widget=GovTextInput(),
        validators=[InputRequired("Enter an email address"), Length(max=254)],
    )
    name = StringField("Name", widget=GovTextInput(), validators=[Optional(), Length(max=120)])
    password = PasswordField(
        "First password",
        widget=GovPasswordInput(),
        validators=[Optional(), Length(min=MIN_PASSWORD_LENGTH, max=200)],
        description=f"At least {MIN_PASSWORD_LENGTH} characters; give it to them in person or by phone. "
        "Leave empty for someone who signs in only with their council account.",
    )


class ActionForm(FlaskForm):
    """Buttons that only need the CSRF token."""


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("")
@role_required(Role.ADMIN)
def index():
    users = db.session.scalars(administration.all_users()).all()
    return render_template("admin/users.html", users=users)


@bp.route("/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new():
    form = NewUserForm()
    error = None
    if form.validate_on_submit():
        if (
            not form.password.data
            and current_app.config["PASSWORD_SIGN_IN"]
            and not current_app.config["OIDC_ISSUER"]
        ):
            error = "Enter a first password: without single sign-on it is the only way in"
        else:
            try:
                user = administration.add_user(
                    current_user,
                    form.email.data,
                    form.name.data,
                    form.role.data,
                    form.local_authorities.data,
                    form.password.data,
                )
            except AdminError as refused:
                error = str(refused)
            else:
                flash(f"{user.email} can now sign in as {user.role}", "success")
                return redirect(url_for("admin_users.show", user_id=user.id), code=303)
    status = 422 if form.is_submitted() else 200
    return render_template("admin/user_new.html", form=form, error=error), status


@bp.route("/<int:user_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def show(user_id: int):
    user = _user_or_404(user_id)
    form = AccessForm(data={"role": user.role, "local_authorities": user.local_authorities or []})
    error = None
    if form.validate_on_submit():
        try:
            administration.change_access(current_user, user, form.role.data, form.local_authorities.data)
        except AdminError as refused:
            error = str(refused)
        else:
            flash(f"{user.email}: access saved", "success")
            return redirect(url_for("admin_users.show", user_id=user.id), code=303)
    return render_template(
        "admin/user.html",
        user=user,
        form=form,
        error=error,
        action_form=ActionForm(),
        tokens=administration.tokens_of(user),
        history=administration.history_of(user),
        open_sessions=len(sessions.open_sessions(user)),
        throttled=throttling.throttled_addresses(user),
        token_state=administration.token_state,
    ), 422 if form.is_submitted() else 200


def _act(user_id: int, action, done: str):
    user = _user_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        action(user)
    except AdminError as refused:
        flash(str(refused), "info")
    else:
        flash(done.format(email=user.email), "success")
    return redirect(url_for("admin_users.show", user_id=user.id), code=303)


@bp.post("/<int:user_id>/deactivate")
@role_required(Role.ADMIN)
def deactivate(user_id: int):
    return _act(
        user_id,
        lambda user: administration.set_active(current_user, user, False),
        "{email} deactivated and signed out everywhere",
    )


@bp.post("/<int:user_id>/reactivate")
@role_required(Role.ADMIN)
def reactivate(user_id: int):
    return _act(
        user_id, lambda user: administration.set_active(current_user, user, True), "{email} reactivated"
    )


@bp.post("/<int:user_id>/reset-two-factor")
@role_required(Role.ADMIN)
def reset_two_factor(user_id: int):
    return _act(
        user_id,
        lambda user: administration.reset_two_factor(current_user, user),
        "{email}: two-factor reset; they set it up again at their next sign-in",
    )


@bp.post("/<int:user_id>/unlock")
@role_required(Role.ADMIN)
def unlock(user_id: int):
    return _act(
        user_id, lambda user: administration.unlock(current_user, user), "{email}: failed sign-ins forgotten"
    )


@bp.post("/<int:user_id>/tokens/<int:token_id>/revoke")
@role_required(Role.ADMIN)
def revoke_token(user_id: int, token_id: int):
    return _act(
        user_id,
        lambda user: administration.revoke_token(current_user, user, token_id),
        "{email}: API token revoked",
    )
