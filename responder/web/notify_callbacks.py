"""Callbacks from GOV.UK Notify: delivery receipts, and texts sent to the service's inbound number.

Notify proves itself with the bearer token set beside each callback URL in
its settings, which must equal NOTIFY_CALLBACK_TOKEN: compared in constant
time; wrong or missing, the request is refused (403) and changes nothing.
Notify retries a callback that is not answered with a 2xx, so a receipt for
a message that is not ours is still answered 200.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Request, abort, current_app, request

from responder.extensions import csrf, limiter
from responder.notify.notify_receipts import record_notify_receipt
from responder.responses.sms_replies import answer_received_text
from responder.unit_of_work import retried_on_conflict

log = logging.getLogger(__name__)

bp = Blueprint("notify_callbacks", __name__, url_prefix="/webhooks/notify")
csrf.exempt(bp)  # Notify cannot carry a CSRF token; its bearer token proves the sender instead


def carries_notify_token(req: Request) -> bool:
    """The request's bearer token is NOTIFY_CALLBACK_TOKEN (compared in constant time)."""
    expected = current_app.config.get("NOTIFY_CALLBACK_TOKEN")
    if not expected:
        log.error("a GOV.UK Notify callback arrived but NOTIFY_CALLBACK_TOKEN is not set, so it was refused")
        return False
    scheme, _, presented = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode("utf-8"), expected.encode("utf-8"))


def require_notify_token(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse (403, nothing changed) any request without the callback token."""

    @wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if not carries_notify_token(request):
            log.warning("refused a request to %s without the Notify callback token", request.path)
            abort(403)
        return view(*args, **kwargs)

    return checked


def _fields(required: str, *optional: str) -> list[str]:
    """String fields of the JSON body, ``required`` first; 400 when the body is not what Notify sends."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400)
    first, rest = body.get(required), [body.get(name) for name in optional]
    if not isinstance(first, str) or not first or not all(v is None or isinstance(v, str) for v in rest):
        abort(400)
    return [first, *(value or "" for value in rest)]


@bp.post("/status")
@limiter.limit("600 per minute")
@require_notify_token
def notify_status():
    """Notify reports what became of a text or email: delivered, or a failure."""
    notification_id, reference, status = _fields("id", "reference", "status")
    if record_notify_receipt(notification_id, reference or None, status) is None:
        log.warning("GOV.UK Notify status %r for a notification that is not Responder's ignored", status[:32])
    return "", 200


@bp.post("/inbound")
@limiter.limit("120 per minute")
@require_notify_token
@retried_on_conflict
def notify_inbound():
    """A lead answered an alert by text; the answer goes back as a new text (Notify cannot reply inline)."""
    notification_id, source, text = _fields("id", "source_number", "message")
    if not source:
        abort(400)
    # Notify writes the sender without its "+" (447700900123).
    number = f"+{source}" if source.isdigit() and not source.startswith("0") else source
    answer_received_text("notify", notification_id[:64], number, text)
    return "", 200
