"""Refuse input that no database column can hold: the NUL character.

PostgreSQL refuses NUL in text, so a ``%00`` in an address, a query string or
a form field would otherwise surface as a 500 from deep inside a query. No
keyboard types one; whoever sends it gets a plain 400 and nothing is read
further. JSON bodies are checked by their schemas (responder.web.api_schemas).
"""

from __future__ import annotations

from flask import Flask, abort, request
from werkzeug.datastructures import MultiDict

NUL = "\x00"


def register(app: Flask) -> None:
    @app.before_request
    def refuse_nul_characters() -> None:
        if NUL in request.path or _holds_nul(request.args):
            abort(400)
        is_form = request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")
        if is_form and _holds_nul(request.form):
            abort(400)


def _holds_nul(values: MultiDict) -> bool:
    return any(NUL in key or NUL in value for key, value in values.items(multi=True))
