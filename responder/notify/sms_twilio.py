"""SMS through Twilio, with the official SDK.

``TWILIO_FROM`` is a UK number in E.164 or a Messaging Service SID (``MG...``).
``TWILIO_API_BASE_URL`` sends every request to another server instead of
Twilio's (the test suite's fake, a staging stub). Every send asks Twilio to
report delivery to ``PUBLIC_BASE_URL/webhooks/twilio/status``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

# The SDK imports its Messages API on first use, which takes a noticeable
# moment; imported here, the first alert after a restart does not wait for it.
import twilio.rest.api.v2010.account  # noqa: F401
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from responder.notify.backends import (
    ConfigurationError,
    DeliveryError,
    OutgoingMessage,
    PermanentDeliveryError,
    TransientDeliveryError,
)

log = logging.getLogger(__name__)

STATUS_CALLBACK_PATH = "/webhooks/twilio/status"

# Twilio error codes a manager may meet, in words they can act on. Codes below
# 30000 come back when the message is created; 30000 and up arrive later in a
# status callback (https://www.twilio.com/docs/api/errors).
TWILIO_ERRORS = {
    20003: "Twilio refused Responder's credentials (check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)",
    21211: "the phone number is not valid",
    21408: "Twilio is not allowed to send SMS to this country from this account",
    21606: "the sending number (TWILIO_FROM) cannot send SMS",
    21608: "a Twilio trial account can only send to verified numbers",
    21610: "the recipient has replied STOP, so Twilio will not send to them",
    21612: "Twilio cannot route an SMS to this number",
    21614: "the number cannot receive SMS (not a mobile number)",
    30003: "the phone was switched off or out of reach",
    30004: "the recipient's network blocked the message",
    30005: "the number is unknown or no longer in service",
    30006: "the number is a landline or cannot receive SMS",
    30007: "the mobile network filtered the message as spam",
    30008: "the mobile network reported an unknown error",
}

# Not about the recipient: fixing the account or configuration lets a retry succeed.
_ACCOUNT_ERRORS = {20003}


def describe_twilio_error(code: int | str | None) -> str:
    """Plain words for a Twilio error code (from an API error or a status callback)."""
    try:
        number = int(code) if code not in (None, "") else None
    except (TypeError, ValueError):
        number = None
    if number is None:
        return "Twilio reported a failure without a reason"
    words = TWILIO_ERRORS.get(number, "Twilio could not deliver it")
    return f"{words} (Twilio error {number})"


class TwilioSms:
    """Sends SMS with the Twilio SDK; safe to call from many threads at once."""

    provider_name = "Twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        sender: str,
        status_callback: str,
        api_base_url: str | None = None,
        timeout: float = 15.0,
    ) -> None:
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._sender = sender
        self._status_callback = status_callback
        self._api_base_url = api_base_url
        self._timeout = timeout
        # The SDK's HTTP client keeps per-request state, so each thread has its own.
        self._local = threading.local()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TwilioSms:
        missing = [
            name
            for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")
            if not config.get(name)
        ]
        if missing:
            raise ConfigurationError(f"SMS_BACKEND is 'twilio' but {', '.join(missing)} is not set")
        return cls(
            account_sid=config["TWILIO_ACCOUNT_SID"],
            auth_token=config["TWILIO_AUTH_TOKEN"],
            sender=config["TWILIO_FROM"],
            status_callback=config["PUBLIC_BASE_URL"] + STATUS_CALLBACK_PATH,
            api_base_url=config.get("TWILIO_API_BASE_URL"),
            timeout=float(config["MESSAGE_SEND_TIMEOUT_SECONDS"]),
        )

    def send(self, message: OutgoingMessage) -> str:
        sender = (
            {"messaging_service_sid": self._sender}
            if self._sender.startswith("MG")
            else {"from_": self._sender}
        )
        try:
            created = self._client().messages.create(
                to=message.recipient,
                body=message.text,
                status_callback=self._status_callback,
                **sender,
            )
        except (TwilioRestException, TwilioServiceException) as error:
            raise classify_api_error(error) from error
        except requests.Timeout as error:
            raise TransientDeliveryError("Twilio did not answer in time") from error
        except requests.ConnectionError as error:
            raise TransientDeliveryError("could not connect to Twilio") from error
        except requests.RequestException as error:
            raise TransientDeliveryError(f"the request to Twilio failed ({type(error).__name__})") from error
        return created.sid

    def _client(self) -> Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = Client(
                self._account_sid,
                self._auth_token,
                http_client=_QuietHttpClient(self._api_base_url, timeout=self._timeout),
                # Not os.environ: a stray TWILIO_EDGE or TWILIO_REGION would move
                # requests to another host. The SDK treats an empty mapping as
                # "use os.environ", hence the placeholder key.
                environment={"RESPONDER": "1"},
            )
            self._local.client = client
        return client


def classify_api_error(error: TwilioRestException | TwilioServiceException) -> DeliveryError:
    """Transient (retry) or permanent (stop), with the reason in plain words."""
    status, code = error.status, error.code
    if status == 429:
        return TransientDeliveryError("Twilio asked Responder to slow down (HTTP 429)")
    if status >= 500:
        return TransientDeliveryError(f"Twilio had a problem on its side (HTTP {status})")
    if status == 401 or code in _ACCOUNT_ERRORS:
        return TransientDeliveryError(describe_twilio_error(20003))
    if code in TWILIO_ERRORS:
        return PermanentDeliveryError(describe_twilio_error(code))
    detail = str(getattr(error, "msg", "") or getattr(error, "title", "")).removeprefix(
        "Unable to create record: "
    )
    return PermanentDeliveryError(f"Twilio refused the message: {detail} (HTTP {status}, error {code})")


class _QuietHttpClient(TwilioHttpClient):
    """The SDK's HTTP client, optionally pointed at another host, that never logs bodies.

    The SDK logs whole responses at INFO, and a response echoes the SMS body
    with the lead's acknowledgement link in it.
    """

    def __init__(self, base_url: str | None, *, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._base = urlsplit(base_url.rstrip("/")) if base_url else None

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):
        if self._base is not None:
            # Rewriting here (not client.api.base_url) covers every Twilio domain.
            parts = urlsplit(url)
            url = urlunsplit(
                (self._base.scheme, self._base.netloc, self._base.path + parts.path, parts.query, "")
            )
        return super().request(method, url, *args, **kwargs)

    def log_request(self, kwargs: dict[str, Any]) -> None:
        log.debug("Twilio request: %s %s", kwargs["method"], kwargs["url"])

    def log_response(self, status_code: int, response: Any) -> None:
        log.debug("Twilio response: HTTP %s", status_code)
