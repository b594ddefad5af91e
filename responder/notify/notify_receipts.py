"""GOV.UK Notify's delivery receipts, in Responder's terms.

Notify posts one JSON receipt per notification (``id``, ``reference``,
``status``, ``notification_type``...) to ``/webhooks/notify/status``. A
receipt is applied only to the message whose provider id it names and whose
reference it carries, so a receipt for another system's notification (one
Notify service can serve several) changes nothing.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from responder.extensions import db
from responder.models import Channel, Message
from responder.notify.delivery import DeliveryReceipt, Reported, record_receipt
from responder.notify.govuk_notify import reference_for

log = logging.getLogger(__name__)

_IN_PROGRESS = {"created", "sending", "pending", "sent", "accepted", "received"}
# Notify's failure statuses, in words a manager can act on (by channel where they differ).
_FAILURES = {
    "permanent-failure": {
        Channel.SMS: "the number does not exist or the network refused the text",
        Channel.EMAIL: "the email address does not exist or its mail server refused the email",
    },
    "temporary-failure": {
        Channel.SMS: "the phone was switched off or out of reach until Notify stopped trying",
        Channel.EMAIL: "the inbox was full or its mail server did not take email until Notify stopped trying",
    },
    "technical-failure": {
        Channel.SMS: "GOV.UK Notify had a technical problem and did not send it",
        Channel.EMAIL: "GOV.UK Notify had a technical problem and did not send it",
    },
}


def record_notify_receipt(notification_id: str, reference: str | None, status: str) -> Message | None:
    """Apply one Notify receipt. Returns the message, or None when it is not one of ours."""
    message = db.session.scalar(select(Message).where(Message.provider_id == notification_id))
    if message is None or reference != reference_for(message):
        return None
    status = status.strip().lower()
    if status == "delivered":
        reported, reason = Reported.DELIVERED, None
    elif status in _FAILURES:
        words = _FAILURES[status][Channel(message.channel)]
        reported, reason = Reported.FAILED, f"{words} (GOV.UK Notify: {status})"
    elif status in _IN_PROGRESS:
        reported, reason = Reported.IN_PROGRESS, None
    else:
        reported, reason = Reported.UNKNOWN, None
    return record_receipt(DeliveryReceipt(notification_id, status, reported, reason))
