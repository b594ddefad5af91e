"""SMS through Twilio, with the official SDK's asynchronous client.

``TWILIO_FROM`` is a UK number in E.164 or a Messaging Service SID (``MG...``).
``TWILIO_API_BASE_URL`` sends every request to another server instead of
Twilio's (the test suite's fake, a staging stub). Every send asks Twilio to
report delivery to ``PUBLIC_BASE_URL/webhooks/twilio/status``.

The client (``AsyncTwilioHttpClient``, on aiohttp) keeps one connection pool
for the life of the sender's event loop, and is created inside that loop. It
ignores its own ``timeout``, so every call here is bounded by
``asyncio.wait_for`` with MESSAGE_SEND_TIMEOUT_SECONDS. A call that times out
or loses its connection after the request went may still have created the
message: that is :class:`OutcomeUnknown`, and :meth:`TwilioSms.find_sent`
answers it from Twilio's list of messages to that number before anything is
sent again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp

# The SDK imports its Messages API on first use, which takes a noticeable
# moment; imported here, the first alert after a restart does not wait for it.
import twilio.rest.api.v2010.account  # noqa: F401
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from responder.links import public_url
from responder.notify.backends import (
    DeliveryError,
    OutcomeUnknown,
    OutgoingMessage,
    PermanentDeliveryError,
    Receipt,
    TransientDeliveryError,
)

log = logging.getLogger(__name__)

STATUS_CALLBACK_PATH = "/webhooks/twilio/status"
REQUIRED_SETTINGS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")
# How many of the newest messages to a number are searched for one whose outcome is unknown.
RECONCILE_PAGE = 50
# Twilio's clock and ours may differ a little: a message created this much before the attempt still counts.
CLOCK_SKEW = timedelta(minutes=2)

# Twilio error codes a manager may meet, in words they can act on. Codes below
# 30000 come back when the message is created; 30000 and up arrive later in a
# status callback (https://www.twilio.com/docs/api/errors).
TWILIO_ERRORS = {
    20003: "Twilio refused Responder's credentials (check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)",
    21210: "the calling number (TWILIO_VOICE_FROM) is not one of the account's numbers",
    21211: "the phone number is not valid",
    21215: "Twilio is not allowed to call this country from this account",
    21217: "the phone number does not appear to be valid",
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


def missing_settings(config: Mapping[str, Any]) -> list[str]:
    return [name for name in REQUIRED_SETTINGS if not config.get(name)]


class TwilioSms:
    """Sends SMS with the Twilio SDK's asynchronous client, from the sender's event loop."""

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
        self._twilio: Client | None = None
        self._http: _QuietAsyncHttpClient | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TwilioSms:
        return cls(
            account_sid=config["TWILIO_ACCOUNT_SID"],
            auth_token=config["TWILIO_AUTH_TOKEN"],
            sender=config["TWILIO_FROM"],
            status_callback=public_url(STATUS_CALLBACK_PATH, config),
            api_base_url=config.get("TWILIO_API_BASE_URL"),
            timeout=float(config["MESSAGE_SEND_TIMEOUT_SECONDS"]),
        )

    async def send(self, message: OutgoingMessage) -> Receipt:
        sender = (
            {"messaging_service_sid": self._sender}
            if self._sender.startswith("MG")
            else {"from_": self._sender}
        )
        created = await self._call(
            self._client().messages.create_async(
                to=message.recipient,
                body=message.text,
                status_callback=self._status_callback,
                **sender,
            ),
            sent=True,
        )
        return Receipt(created.sid, created.status or "accepted")

    async def find_sent(self, message: OutgoingMessage, since: datetime) -> Receipt | None:
        """The newest messages to the number, searched for this one's text (each alert's link is unique).

        Not filtered by DateSent: that filter is a GMT date, and a message still
        queued at Twilio has no date_sent yet.
        """
        newest = await self._call(
            self._client().messages.list_async(to=message.recipient, limit=RECONCILE_PAGE), sent=False
        )
        for record in newest:
            created = record.date_created
            if (
                record.body
                and message.text in record.body
                and (created is None or created >= since - CLOCK_SKEW)
            ):
                return Receipt(record.sid, record.status or "accepted")
        return None

    async def fetch_account(self):
        """Twilio's record of the account (``providers check``): authenticated, and changes nothing."""
        return await self._call(
            self._client().api.v2010.accounts(self._account_sid).fetch_async(), sent=False
        )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = self._twilio = None

    async def _call(self, request, *, sent: bool):
        """Await one SDK call, bounded; ``sent`` says whether it creates a message (and may have)."""
        try:
            return await asyncio.wait_for(request, self._timeout)
        except (TwilioRestException, TwilioServiceException) as error:
            raise classify_api_error(error) from error
        except TwilioException as error:
            # An answer the SDK could not read (a proxy's error page, say): nothing was created by it.
            raise TransientDeliveryError("Twilio's answer could not be read") from error
        except TimeoutError as error:
            if sent:
                raise OutcomeUnknown(f"Twilio did not answer within {self._timeout:g} s") from error
            raise TransientDeliveryError(f"Twilio did not answer within {self._timeout:g} s") from error
        except aiohttp.ClientConnectorError as error:
            # No connection was made, so nothing was sent.
            raise TransientDeliveryError("could not connect to Twilio") from error
        except (aiohttp.ClientError, OSError) as error:
            if sent:
                raise OutcomeUnknown(f"the connection to Twilio broke ({type(error).__name__})") from error
            raise TransientDeliveryError(f"the request to Twilio failed ({type(error).__name__})") from error

    def _client(self) -> Client:
        # Created on first use, inside the running event loop (aiohttp needs one).
        if self._twilio is None:
            self._http = _QuietAsyncHttpClient(self._api_base_url)
            self._twilio = Client(
                self._account_sid,
                self._auth_token,
                http_client=self._http,
                # Not os.environ: a stray TWILIO_EDGE or TWILIO_REGION would move
                # requests to another host. The SDK treats an empty mapping as
                # "use os.environ", hence the placeholder key.
                environment={"RESPONDER": "1"},
            )
        return self._twilio


def classify_api_error(error: TwilioRestException | TwilioServiceException) -> DeliveryError:
    """Transient (retry) or permanent (stop), with the reason in plain words."""
    status, code = error.status, error.code
    if status == 429:
        return TransientDeliveryError("Twilio asked Responder to slow down (HTTP 429)")
    if status in (502, 504):
        # A gateway in front of Twilio gave up waiting: Twilio may have created the message.
        return OutcomeUnknown(f"Twilio's gateway gave up waiting (HTTP {status})")
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


class _QuietAsyncHttpClient(AsyncTwilioHttpClient):
    """The SDK's asynchronous HTTP client, optionally pointed at another host, that never logs bodies.

    The SDK logs whole responses at INFO, and a response echoes the SMS body
    with the lead's acknowledgement link in it. Its own ``request`` builds
    aiohttp's deprecated ``BasicAuth``; this one sends the same header itself.
    """

    def __init__(self, base_url: str | None) -> None:
        super().__init__(pool_connections=True)
        self._base = urlsplit(base_url.rstrip("/")) if base_url else None

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if self._base is not None:
            # Rewriting here (not client.api.base_url) covers every Twilio domain.
            parts = urlsplit(url)
            url = urlunsplit(
                (self._base.scheme, self._base.netloc, self._base.path + parts.path, parts.query, "")
            )
        headers = dict(headers or {})
        if auth is not None:
            headers["Authorization"] = aiohttp.encode_basic_auth(auth[0], auth[1])
        body = None
        if data:
            # Encoded here as aiohttp's form data would encode it, without building a form
            # object per request (a third of the sender's work for each text).
            body = urlencode(data, doseq=True).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        log.debug("Twilio request: %s %s", method.upper(), url)
        async with self.session.request(
            method.upper(), url, params=params, data=body, headers=headers, allow_redirects=allow_redirects
        ) as answer:
            text = await answer.text()
        log.debug("Twilio response: HTTP %s", answer.status)
        return Response(answer.status, text, answer.headers)
