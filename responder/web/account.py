"""A person's own account: role, areas, two-factor, where they are signed in."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput
from wtforms import SubmitField

from responder.accounts import sessions, sign_in, two_factor
from responder.models import SessionEnd
from responder.unit_of_work import keep_writes_on_refusal, retried_on_conflict
from responder.web.sign_in_flow import client_network
from responder.web.two_factor import CodeForm

bp = Blueprint("account", __name__)


@bp.get("/account")
@login_required
def show():
    return render_template(
        "auth/account.html",
        open_sessions=sessions.open_sessions(current_user),
        this_session=g.get("staff_session"),
        recovery_left=two_factor.recovery_codes_left(current_user) if current_user.has_two_factor else 0,
        new_codes_form=CodeForm(prefix="codes"),
        end_others_form=EndOthersForm(),
    )


class EndOthersForm(FlaskForm):
    submit = SubmitField("Sign out everywhere else", widget=GovSubmitInput())


@bp.post("/account/sessions/end-others")
@login_required
def end_other_sessions():
    ended = sessions.end_sessions(current_user, SessionEnd.SIGNED_OUT_ELSEWHERE, keep=g.get("staff_session"))
    flash(f"Signed out of {ended} other session{'' if ended == 1 else 's'}", "success")
    return redirect(url_for("account.show"), code=303)


@bp.post("/account/recovery-codes")
@login_required
@retried_on_conflict
def new_recovery_codes():
    """Ten new recovery codes (the old ones stop working), after a current code from the app."""
    form = CodeForm(prefix="codes")
    if not current_user.has_two_factor:
        return redirect(url_for("two_factor.set_up"), code=303)
    if form.validate_on_submit():
        attempt = sign_in.attempt_code(current_user, form.code.data, client_network())
        if attempt.user is not None:
            codes = two_factor.issue_recovery_codes(current_user)
            return render_template("auth/recovery_codes.html", codes=codes, next_url=url_for("account.show"))
        keep_writes_on_refusal()
    flash("New recovery codes need the code your authenticator app shows now", "info")
    return redirect(url_for("account.show"), code=303)
