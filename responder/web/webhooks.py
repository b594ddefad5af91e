"""Requests from Twilio: delivery status callbacks (and, later, SMS replies).

Every view here is wrapped in :func:`require_twilio_signature`. The request
is signed over the URL Twilio called, which is ``PUBLIC_BASE_URL`` plus the
path: behind a proxy ``request.url`` names the internal host instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Request, abort, current_app, request
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from responder.extensions import csrf
from responder.links import public_url
from responder.notify.delivery import record_sms_status

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)  # Twilio cannot carry a CSRF token; its signature proves the sender instead


def signed_url(req: Request) -> str:
    """The URL Twilio signed: the public address, not the one the proxy forwarded to."""
    query = req.query_string.decode("utf-8", "replace")
    return public_url(req.path) + (f"?{query}" if query else "")


def is_signed_by_twilio(req: Request) -> bool:
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    signature = req.headers.get(SIGNATURE_HEADER, "")
    if not token:
        log.error("a Twilio webhook arrived but TWILIO_AUTH_TOKEN is not set, so it cannot be checked")
        return False
    if not signature:
        return False
    algorithm = get_signature_algorithm(req.headers.get(SIGNATURE_SETTINGS_HEADER))
    return RequestValidator(token).validate(signed_url(req), req.form, signature, algorithm)


def require_twilio_signature(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse (403, nothing changed) any request not signed with TWILIO_AUTH_TOKEN."""

    @wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if not is_signed_by_twilio(request):
            log.warning("refused an unsigned or wrongly signed request to %s", request.path)
            abort(403)
        return view(*args, **kwargs)

    return checked


@bp.post("/twilio/status")
@require_twilio_signature
def twilio_status():
    """Twilio reports what became of an SMS: sent, delivered, undelivered or failed."""
    sid = request.form.get("MessageSid", "")
    status = request.form.get("MessageStatus", "")
    message = record_sms_status(sid, status, request.form.get("ErrorCode"))
    if message is None:
        # Answer 200 all the same: Twilio would keep retrying a callback we cannot use.
        log.warning("Twilio status %r for unknown message %r ignored", status, sid)
    return "", 200
