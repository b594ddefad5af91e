"""Error pages people can act on, and JSON errors for the API."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from responder.playbooks import PlaybookError

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

    @app.errorhandler(500)
    def server_error(error):
        return _render(500)
