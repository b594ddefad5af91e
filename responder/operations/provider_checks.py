"""``flask --app wsgi providers check``: can each configured provider be reached, with these credentials?

One authenticated call with no side effect per provider: nothing is sent,
created or changed anywhere.

* Twilio: fetch the account (its status says whether it may send).
* SMTP: connect, EHLO, STARTTLS and log in when configured, then QUIT.
* GOV.UK Notify: list the notifications with a reference no message has (the
  key is checked and the list is empty), then read each template in use and
  check it is of the right kind and holds ``((body))`` (and ``((subject))``).
* The development outbox sends nothing, and says so.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from responder.models import Channel
from responder.notify.backends import (
    ConfigurationError,
    DeliveryError,
    check_backend_settings,
    voice_backend,
)

CHANNEL_WORDS = {Channel.SMS: "SMS", Channel.EMAIL: "email", Channel.VOICE: "phone calls"}


@dataclass(frozen=True)
class ProviderCheck:
    """How one provider answered, in words an operator can act on."""

    channels: tuple[str, ...]
    provider: str
    ok: bool
    detail: str

    def line(self) -> str:
        words = [CHANNEL_WORDS[channel] for channel in self.channels]
        channels = " and ".join(words) if len(words) < 3 else f"{', '.join(words[:-1])} and {words[-1]}"
        return f"{'ok    ' if self.ok else 'FAILED'} {channels} via {self.provider}: {self.detail}"


def check_providers(config: Mapping[str, Any]) -> list[ProviderCheck]:
    """Ask every provider that SMS_BACKEND, EMAIL_BACKEND and VOICE_BACKEND name, once each.

    Raises ConfigurationError.
    """
    check_backend_settings(config)
    chosen = {Channel.SMS: config["SMS_BACKEND"], Channel.EMAIL: config["EMAIL_BACKEND"]}
    if (voice := voice_backend(config)) != "off":
        chosen[Channel.VOICE] = voice
    by_backend: dict[str, list[str]] = {}
    for channel, backend in chosen.items():
        by_backend.setdefault(backend, []).append(channel)
    checks = {
        "outbox": _outbox,
        "twilio": _twilio,
        "smtp": _smtp,
        "notify": _notify,
    }
    return [checks[backend](config, tuple(channels)) for backend, channels in by_backend.items()]


def _outbox(config: Mapping[str, Any], channels: tuple[str, ...]) -> ProviderCheck:
    return ProviderCheck(
        channels,
        "the development outbox",
        True,
        "sends nothing (every message stays at /dev/outbox); nothing to check",
    )


def _twilio(config: Mapping[str, Any], channels: tuple[str, ...]) -> ProviderCheck:
    from responder.notify.sms_twilio import TwilioSms

    twilio = TwilioSms.from_config(config)

    async def fetch():
        try:
            return await twilio.fetch_account()
        finally:
            await twilio.close()

    try:
        account = asyncio.run(fetch())
    except DeliveryError as error:
        return ProviderCheck(channels, "Twilio", False, error.reason)
    sid = config["TWILIO_ACCOUNT_SID"]
    shown = f"{sid[:6]}…{sid[-4:]}"
    if account.status != "active":
        return ProviderCheck(
            channels, "Twilio", False, f"account {shown} is {account.status}, so it cannot send"
        )
    kind = f" ({account.type} account)" if account.type else ""
    return ProviderCheck(channels, "Twilio", True, f"account {shown} is active{kind}")


def _smtp(config: Mapping[str, Any], channels: tuple[str, ...]) -> ProviderCheck:
    where = f"{config['SMTP_HOST']}:{config['SMTP_PORT']}"
    provider = f"the mail server at {where}"
    steps = ["EHLO"]
    try:
        with smtplib.SMTP(
            config["SMTP_HOST"],
            int(config["SMTP_PORT"]),
            timeout=float(config["MESSAGE_SEND_TIMEOUT_SECONDS"]),
        ) as smtp:
            smtp.ehlo()
            if config.get("SMTP_STARTTLS"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
                steps.append("STARTTLS")
            if config.get("SMTP_USERNAME"):
                smtp.login(config["SMTP_USERNAME"], config.get("SMTP_PASSWORD") or "")
                steps.append("login")
    except smtplib.SMTPAuthenticationError:
        detail = "it refused Responder's login (check SMTP_USERNAME and SMTP_PASSWORD)"
        return ProviderCheck(channels, provider, False, detail)
    except smtplib.SMTPNotSupportedError:
        return ProviderCheck(channels, provider, False, "it does not offer STARTTLS (SMTP_STARTTLS is on)")
    except smtplib.SMTPResponseException as error:
        reply = (
            error.smtp_error.decode("utf-8", "replace")
            if isinstance(error.smtp_error, bytes)
            else error.smtp_error
        )
        return ProviderCheck(channels, provider, False, f"it answered {error.smtp_code} {reply}".strip())
    except (smtplib.SMTPException, ssl.SSLError, OSError) as error:
        return ProviderCheck(
            channels, provider, False, f"could not talk to it ({type(error).__name__}: {error})"
        )
    return ProviderCheck(channels, provider, True, f"{', '.join(steps)} and QUIT answered")


def _notify(config: Mapping[str, Any], channels: tuple[str, ...]) -> ProviderCheck:
    from responder.notify.govuk_notify import check_access

    try:
        detail = check_access(config, channels)
    except DeliveryError as error:
        return ProviderCheck(channels, "GOV.UK Notify", False, error.reason)
    except ValueError as error:  # a template of the wrong kind or without its placeholders
        return ProviderCheck(channels, "GOV.UK Notify", False, str(error))
    return ProviderCheck(channels, "GOV.UK Notify", True, detail)


__all__ = ["ConfigurationError", "ProviderCheck", "check_providers"]
