"""Where messages go: the delivery backend for each channel, chosen by configuration.

``SMS_BACKEND`` is ``outbox`` or ``twilio``; ``EMAIL_BACKEND`` is ``outbox`` or
``smtp`` (design section 3). A backend gets an :class:`OutgoingMessage` (plain
values, already rendered, so no database work happens while a provider is
slow) and returns the provider's id for it, or raises a :class:`DeliveryError`
that says in plain words what went wrong and whether trying again can help.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from responder.models import Channel


@dataclass(frozen=True)
class OutgoingMessage:
    """One message as it leaves: the link placeholder already replaced."""

    id: int
    channel: str
    recipient: str
    subject: str | None
    text: str
    html: str | None
    created_at: datetime


class DeliveryError(Exception):
    """A send that did not happen. ``reason`` is shown to staff as it is."""

    permanent = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientDeliveryError(DeliveryError):
    """Worth trying again later: the provider was down, slow, busy or unreachable."""


class PermanentDeliveryError(DeliveryError):
    """Trying again cannot help: the number or address is wrong or refused."""

    permanent = True


class ConfigurationError(Exception):
    """A backend cannot be built from the configuration; the message says which setting."""


class Backend(Protocol):
    #: How the timeline names where a message went, e.g. "Twilio".
    provider_name: str

    def send(self, message: OutgoingMessage) -> str:
        """Hand the message over; return the provider's id for it."""


class DevOutbox:
    """Development: nothing leaves this machine; /dev/outbox shows every message."""

    provider_name = "the development outbox (nothing left this machine)"

    def send(self, message: OutgoingMessage) -> str:
        return f"outbox-{message.id}"


def backends_from_config(config: Mapping[str, Any]) -> dict[str, Backend]:
    """One backend per channel, built from SMS_BACKEND and EMAIL_BACKEND."""
    return {Channel.SMS: _sms_backend(config), Channel.EMAIL: _email_backend(config)}


def _sms_backend(config: Mapping[str, Any]) -> Backend:
    choice = config["SMS_BACKEND"]
    if choice == "outbox":
        return DevOutbox()
    if choice == "twilio":
        from responder.notify.sms_twilio import TwilioSms

        return TwilioSms.from_config(config)
    raise ConfigurationError(f"SMS_BACKEND must be 'outbox' or 'twilio', not {choice!r}")


def _email_backend(config: Mapping[str, Any]) -> Backend:
    choice = config["EMAIL_BACKEND"]
    if choice == "outbox":
        return DevOutbox()
    if choice == "smtp":
        from responder.notify.email_smtp import SmtpEmail

        return SmtpEmail.from_config(config)
    raise ConfigurationError(f"EMAIL_BACKEND must be 'outbox' or 'smtp', not {choice!r}")
