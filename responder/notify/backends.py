"""Where messages go: the delivery backend for each channel, chosen by configuration.

``SMS_BACKEND`` is ``outbox``, ``twilio`` or ``notify``; ``EMAIL_BACKEND`` is
``outbox``, ``smtp`` or ``notify`` (design section 3); any mixture works, e.g.
Twilio for texts and GOV.UK Notify for email. ``VOICE_BACKEND`` (phone calls)
is ``outbox``, ``twilio`` or ``off``. A backend is used from the sender's event loop
(responder.notify.sender). It gets an :class:`OutgoingMessage` (plain values,
already rendered, so no database work happens while a provider is slow) and:

* ``send`` returns a :class:`Receipt` (the provider's id for the message), or
  raises a :class:`DeliveryError` that says in plain words what went wrong and
  whether the message certainly did not go (transient or permanent), or may
  have (:class:`OutcomeUnknown`);
* ``find_sent`` answers whether the provider already has this message, for a
  message whose earlier attempt may have reached it: the sender asks before it
  sends again, because neither Twilio's API nor Notify's takes an idempotency key. A backend that
  cannot tell returns None (SMTP: see responder.notify.email_smtp).
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


@dataclass(frozen=True)
class Receipt:
    """The provider took the message: its id for it, and the status it gave."""

    provider_id: str
    status: str = "accepted"


class DeliveryError(Exception):
    """A send that did not (certainly) happen. ``reason`` is shown to staff as it is."""

    permanent = False
    # The provider itself refused or did not answer (it is down, slow or busy),
    # as against this one message or recipient: counts against /healthz.
    provider_trouble = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientDeliveryError(DeliveryError):
    """The message did not go, and trying again later can help."""

    def __init__(self, reason: str, *, provider_trouble: bool = True) -> None:
        super().__init__(reason)
        self.provider_trouble = provider_trouble


class PermanentDeliveryError(DeliveryError):
    """The message did not go, and trying again cannot help: the number or address is wrong or refused."""

    permanent = True


class OutcomeUnknown(DeliveryError):
    """The request may have reached the provider (no answer in time, the connection broke after sending).

    The message is not sent again until the provider has been asked.
    """

    provider_trouble = True


class ConfigurationError(Exception):
    """A backend cannot be built from the configuration; the message says which setting."""


class Backend(Protocol):
    #: How the timeline names where a message went, e.g. "Twilio".
    provider_name: str

    async def send(self, message: OutgoingMessage) -> Receipt:
        """Hand the message over."""

    async def find_sent(self, message: OutgoingMessage, since: datetime) -> Receipt | None:
        """The provider's record of this message if it was created after ``since``; None if it was not
        (or the provider cannot be asked). Raises DeliveryError when the provider cannot answer now."""

    async def close(self) -> None:
        """Release connections (the sender is stopping)."""


class DevOutbox:
    """Development: nothing leaves this machine; /dev/outbox shows every message."""

    provider_name = "the development outbox (nothing left this machine)"

    async def send(self, message: OutgoingMessage) -> Receipt:
        return Receipt(f"outbox-{message.id}")

    async def find_sent(self, message: OutgoingMessage, since: datetime) -> Receipt | None:
        return None  # kept nowhere but its own row, which says it is not sent

    async def close(self) -> None:
        return None


class NoVoiceProvider:
    """VOICE_BACKEND=off: no call is queued; one left from before fails, saying why."""

    provider_name = "no voice provider"

    async def send(self, message: OutgoingMessage) -> Receipt:
        raise PermanentDeliveryError("no call was placed: VOICE_BACKEND is off")

    async def find_sent(self, message: OutgoingMessage, since: datetime) -> Receipt | None:
        return None

    async def close(self) -> None:
        return None


SMS_BACKENDS = ("outbox", "twilio", "notify")
EMAIL_BACKENDS = ("outbox", "smtp", "notify")
VOICE_BACKENDS = ("outbox", "twilio", "off")


def voice_backend(config: Mapping[str, Any]) -> str:
    """VOICE_BACKEND; unset, calls follow the texts: Twilio when it has a number to call from, else off
    (a Messaging Service cannot place calls), and the dev outbox beside the outbox."""
    if config.get("VOICE_BACKEND"):
        return config["VOICE_BACKEND"]
    if config.get("SMS_BACKEND") == "twilio":
        from responder.notify.voice_twilio import voice_sender

        return "twilio" if voice_sender(config) else "off"
    return "outbox" if config.get("SMS_BACKEND") == "outbox" else "off"


def backends_from_config(config: Mapping[str, Any]) -> dict[str, Backend]:
    """One backend per channel, built from SMS_BACKEND and EMAIL_BACKEND.

    Build them inside the event loop that will use them: Twilio's asynchronous
    client opens its connection pool there.
    """
    return {
        Channel.SMS: _sms_backend(config),
        Channel.EMAIL: _email_backend(config),
        Channel.VOICE: _voice_backend(config),
    }


def check_backend_settings(config: Mapping[str, Any]) -> None:
    """Raise ConfigurationError naming a setting that would stop a backend from being built."""
    if problems := backend_setting_problems(config):
        raise ConfigurationError(problems[0])


def backend_setting_problems(config: Mapping[str, Any]) -> list[str]:
    """Each setting that would stop a backend from being built (or from logging in), one sentence each."""
    problems = []
    if config["SMS_BACKEND"] not in SMS_BACKENDS:
        problems.append(
            f"SMS_BACKEND must be one of {', '.join(SMS_BACKENDS)}, not {config['SMS_BACKEND']!r}"
        )
    if config["EMAIL_BACKEND"] not in EMAIL_BACKENDS:
        problems.append(
            f"EMAIL_BACKEND must be one of {', '.join(EMAIL_BACKENDS)}, not {config['EMAIL_BACKEND']!r}"
        )
    if config["SMS_BACKEND"] == "twilio":
        from responder.notify.sms_twilio import missing_settings

        if missing := missing_settings(config):
            problems.append(f"SMS_BACKEND is 'twilio' but {', '.join(missing)} is not set")
    voice = voice_backend(config)
    if voice not in VOICE_BACKENDS:
        problems.append(f"VOICE_BACKEND must be one of {', '.join(VOICE_BACKENDS)}, not {voice!r}")
    elif voice == "twilio":
        from responder.notify.voice_twilio import settings_problem

        if problem := settings_problem(config):
            problems.append(problem)
    if config["EMAIL_BACKEND"] == "smtp":
        if not config.get("SMTP_HOST"):
            problems.append("EMAIL_BACKEND is 'smtp' but SMTP_HOST is not set")
        if bool(config.get("SMTP_USERNAME")) != bool(config.get("SMTP_PASSWORD")):
            # The server would refuse a login with half the credentials at every send.
            problems.append("EMAIL_BACKEND is 'smtp': set both SMTP_USERNAME and SMTP_PASSWORD, or neither")
    notify_problems: list[str] = []
    for setting, channel in (("SMS_BACKEND", Channel.SMS), ("EMAIL_BACKEND", Channel.EMAIL)):
        if config[setting] == "notify":
            from responder.notify.govuk_notify import settings_problems

            notify_problems += [p for p in settings_problems(config, channel) if p not in notify_problems]
    if notify_problems:
        problems.append(f"GOV.UK Notify is chosen but {'; '.join(notify_problems)}")
    return problems


def _sms_backend(config: Mapping[str, Any]) -> Backend:
    check_backend_settings(config)
    if config["SMS_BACKEND"] == "twilio":
        from responder.notify.sms_twilio import TwilioSms

        return TwilioSms.from_config(config)
    if config["SMS_BACKEND"] == "notify":
        from responder.notify.govuk_notify import NotifyBackend

        return NotifyBackend.from_config(config, Channel.SMS)
    return DevOutbox()


def _voice_backend(config: Mapping[str, Any]) -> Backend:
    check_backend_settings(config)
    voice = voice_backend(config)
    if voice == "twilio":
        from responder.notify.voice_twilio import TwilioVoice

        return TwilioVoice.from_config(config)
    return DevOutbox() if voice == "outbox" else NoVoiceProvider()


def _email_backend(config: Mapping[str, Any]) -> Backend:
    check_backend_settings(config)
    if config["EMAIL_BACKEND"] == "smtp":
        from responder.notify.email_smtp import SmtpEmail

        return SmtpEmail.from_config(config)
    if config["EMAIL_BACKEND"] == "notify":
        from responder.notify.govuk_notify import NotifyBackend

        return NotifyBackend.from_config(config, Channel.EMAIL)
    return DevOutbox()
