"""Error pages people can act on, and JSON errors for the API.

A database that is down, overloaded or timing out is answered with 503 and
``Retry-After``, on a page that needs nothing from the database (it does not
load the signed-in user), so staff and leads alike see it and the VRU duty
number, never a bare "Internal Server Error".
"""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, render_template, request
from flask_login import AnonymousUserMixin
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError

from responder.database import is_unavailable
from responder.playbooks import PlaybookError

log = logging.getLogger(__name__)

# Seconds a client is asked to wait when the database is unavailable.
RETRY_AFTER_SECONDS = 30
DATABASE_UNAVAILABLE = (
    "Responder cannot reach its database just now, so nothing could be shown or recorded. "
    "Try again in a minute."
)

TITLES = {
    400: "Something was wrong with that request",
    401: "Sign in to continue",
    403: "You do not have access to this page",
    404: "Page not found",
    405: "That action is not available here",
    410: "This link has expired",
    413: "That was too much to send at once",
    422: "Check what you entered",
    429: "Too many attempts",
    500: "Sorry, there is a problem with the service",
    503: "Sorry, the service is unavailable",
}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/webhooks/")


def _render(status: int, description: str | None = None):
    if _wants_json():
        return jsonify({"error": TITLES.get(status, "Error")}), status
    return render_template(
        "error.html", status=status, title=TITLES.get(status, "Error"), description=description
    ), status


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        body, status = _render(error.code)
        # Keep what the error says in headers: Allow on a 405 (RFC 9110), WWW-Authenticate, Retry-After.
        headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
        return body, status, headers

    @app.errorhandler(PlaybookError)
    def playbook_error(error: PlaybookError):
        app.logger.error("invalid playbooks: %s", error)
        return _render(
            503,
            "The playbooks are invalid, so incidents cannot be opened. "
            "An administrator must run `flask --app wsgi playbooks check`.",
        )

    @app.errorhandler(SQLAlchemyError)
    def database_error(error: SQLAlchemyError):
        if is_unavailable(error):
            return _database_unavailable(error)
        raise error  # a bug: the 500 handler below answers it

    @app.errorhandler(500)
    def server_error(error):
        original = getattr(error, "original_exception", None)
        if isinstance(error, InternalServerError) and original is not None and is_unavailable(original):
            # The commit at the end of the request failed: nothing of it was kept.
            return _database_unavailable(original)
        return _render(500)


def _database_unavailable(error: BaseException):
    log.warning("the database is unavailable (%s); answered 503", type(error).__name__)
    # The page must not need the database: no signed-in user is loaded for it.
    g._login_user = AnonymousUserMixin()
    body, status = _render(503, DATABASE_UNAVAILABLE)
    return body, status, {"Retry-After": str(RETRY_AFTER_SECONDS)}
