"""The steps of a staff sign-in, shared by password, two-factor and single sign-on views.

Between a correct password and a correct code the person is not signed in: the
session holds only a short-lived "pending" note naming the account.
"""

from __future__ import annotations

import time

from flask import current_app, g, redirect, request, session, url_for
from flask_login import login_user
from werkzeug.wrappers import Response

from responder.accounts import sessions, throttling
from responder.extensions import db
from responder.models import User
from responder.web.safe_redirects import same_site_path

SESSION_KEY = "staff_session"
PENDING_KEY = "pending_sign_in"
# A person has this long between their password and their code.
PENDING_SECONDS = 5 * 60


def client_network() -> str:
    return throttling.network_of(request.remote_addr)


def begin_pending(user: User, next_url: str | None, *, enrol: bool) -> None:
    """The password was right; the second factor (or enrolling one) comes next."""
    session.clear()
    session[PENDING_KEY] = {
        "user": user.id,
        "since": time.time(),
        "next": same_site_path(next_url),
        "enrol": enrol,
    }


def pending_user(*, enrol: bool | None = None) -> User | None:
    """The account half-way through signing in (None if none, or if it took too long)."""
    note = session.get(PENDING_KEY)
    if not isinstance(note, dict) or time.time() - note.get("since", 0) > PENDING_SECONDS:
        return None
    if enrol is not None and bool(note.get("enrol")) != enrol:
        return None
    user = db.session.get(User, note.get("user")) if isinstance(note.get("user"), int) else None
    return user if user is not None and user.active else None


def pending_next() -> str | None:
    note = session.get(PENDING_KEY)
    return note.get("next") if isinstance(note, dict) else None


def complete_sign_in(user: User, method: str, next_url: str | None) -> Response:
    """Sign ``user`` in: a fresh session (no fixation), recorded on the server."""
    session.clear()
    raw = sessions.start_session(user, method, browser=request.user_agent.string or "")
    login_user(user)
    session[SESSION_KEY] = raw
    session.permanent = True
    throttling.record_success(user.email, client_network(), user)
    return redirect(same_site_path(next_url) or url_for("incidents.index"))


def load_signed_in_user(user_id: str) -> User | None:
    """Flask-Login's loader: the user only while the session the cookie names is open on the server."""
    if not user_id.isdigit():
        return None
    record = sessions.live_session(session.get(SESSION_KEY), int(user_id))
    if record is None or not record.user.active:
        return None
    g.staff_session = record
    return record.user


def mfa_required() -> bool:
    return bool(current_app.config.get("MFA_REQUIRED"))
