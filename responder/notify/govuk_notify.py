"""SMS and email through GOV.UK Notify, with its official client (``notifications-python-client``).

Each channel has one generic template in Notify, so every kind of message
goes through it: ``((body))`` for texts (NOTIFY_SMS_TEMPLATE_ID), and
``((subject))`` with ``((body))`` for emails (NOTIFY_EMAIL_TEMPLATE_ID); the
README gives the text to paste into Notify. NOTIFY_BASE_URL replaces Notify's
address (the test suite's fake).

Every notification carries a ``reference`` made from its outbox row (its id
and when it was queued, so a rebuilt database whose ids start again never
matches an old one). Notify takes no idempotency key, but it can be asked
for a reference: a message whose outcome is unknown (no answer in time, the
connection cut after the request went) is looked up with
``get_all_notifications(reference=...)`` before it is sent again
(:meth:`NotifyBackend.find_sent`).

The client is synchronous and, by its own account, not thread-safe: each
call runs on a thread of this backend's own (one client per thread, never on
the sender's event loop), bounded by MESSAGE_SEND_TIMEOUT_SECONDS twice over:
by the client's own request timeout, and by how long the sender waits for
the thread.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

import requests
from notifications_python_client.errors import APIError, InvalidResponse
from notifications_python_client.notifications import NotificationsAPIClient
from urllib3.exceptions import MaxRetryError, NewConnectionError

from responder.models import Channel
from responder.notify.backends import (
    DeliveryError,
    OutcomeUnknown,
    OutgoingMessage,
    PermanentDeliveryError,
    Receipt,
    TransientDeliveryError,
)

NOTIFY_API = "https://api.notifications.service.gov.uk"
PROVIDER_NAME = "GOV.UK Notify"
# Notify's own minimum for a callback bearer token is 10 characters; a guessable one is not enough here.
CALLBACK_TOKEN_MIN_LENGTH = 20
TEMPLATE_SETTINGS = {Channel.SMS: "NOTIFY_SMS_TEMPLATE_ID", Channel.EMAIL: "NOTIFY_EMAIL_TEMPLATE_ID"}
NOTIFICATION_TYPES = {Channel.SMS: "sms", Channel.EMAIL: "email"}

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# An API key is "<key name>-<service id>-<secret>": the client reads the last 73 characters.
_API_KEY = re.compile(rf"^.+-{_UUID}-{_UUID}$", re.IGNORECASE)
_TEMPLATE_ID = re.compile(rf"^{_UUID}$", re.IGNORECASE)
# Notify's 400 messages that are about this recipient, not about Responder's settings.
_RECIPIENT_PROBLEMS = ("phone_number", "email_address", "can't send to this recipient", "international")

T = TypeVar("T")


def reference_for(message: OutgoingMessage) -> str:
    """The reference Notify keeps for a message: its outbox id and the moment it was queued."""
    return f"responder-{message.id}-{message.created_at:%Y%m%d%H%M%S}"


def settings_problems(config: Mapping[str, Any], channel: str) -> list[str]:
    """What stops Notify from sending on ``channel``: one phrase per setting, naming it (never its value)."""
    problems = []
    key = config.get("NOTIFY_API_KEY")
    if not key:
        problems.append("NOTIFY_API_KEY is not set")
    elif not _API_KEY.match(key):
        problems.append("NOTIFY_API_KEY is not a Notify API key (copy the whole key Notify showed)")
    setting = TEMPLATE_SETTINGS[channel]
    template = config.get(setting)
    if not template:
        problems.append(f"{setting} is not set")
    elif not _TEMPLATE_ID.match(template):
        problems.append(f"{setting} is not a template ID (a UUID from the template's page in Notify)")
    token = config.get("NOTIFY_CALLBACK_TOKEN")
    if token and len(token) < CALLBACK_TOKEN_MIN_LENGTH:
        problems.append(f"NOTIFY_CALLBACK_TOKEN must be at least {CALLBACK_TOKEN_MIN_LENGTH} characters")
    return problems


class NotifyClients:
    """One Notify client per thread of a pool of our own; calls are awaited from the event loop."""

    def __init__(self, *, api_key: str, base_url: str, timeout: float, threads: int = 10) -> None:
        self._api_key = api_key
        self._base_url = base_url
        self.timeout = timeout
        # As many as the sender has requests in flight, so no call waits for a thread while its
        # time runs (threads start only when needed).
        self._thread_count = max(threads, 1)
        self._local = threading.local()
        self._threads: ThreadPoolExecutor | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> NotifyClients:
        return cls(
            api_key=config["NOTIFY_API_KEY"],
            base_url=(config.get("NOTIFY_BASE_URL") or NOTIFY_API).rstrip("/"),
            timeout=float(config["MESSAGE_SEND_TIMEOUT_SECONDS"]),
            threads=int(config["MESSAGE_SEND_WORKERS"]),
        )

    def client(self) -> NotificationsAPIClient:
        """This thread's client (the calling thread must be one of the pool's, or a command's own)."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = NotificationsAPIClient(self._api_key, base_url=self._base_url, timeout=self.timeout)
            self._local.client = client
        return client

    async def call(self, work: Callable[[NotificationsAPIClient], T], *, creates: bool) -> T:
        """Run ``work(client)`` on a pool thread, bounded; Notify's failures become DeliveryErrors."""
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self._thread_count, thread_name_prefix="responder-notify")
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self._threads, lambda: work(self.client())), self.timeout
            )
        except APIError as error:
            raise classify_api_error(error, creates=creates) from error
        except TimeoutError as error:
            words = f"GOV.UK Notify did not answer within {self.timeout:g} s"
            raise (OutcomeUnknown(words) if creates else TransientDeliveryError(words)) from error

    def close(self) -> None:
        if self._threads is not None:
            # A thread still waiting for Notify finishes on its own, within its request timeout.
            self._threads.shutdown(wait=False)
            self._threads = None


class NotifyBackend:
    """Sends texts or emails (one channel per instance) through one generic Notify template."""

    provider_name = PROVIDER_NAME

    def __init__(self, clients: NotifyClients, *, channel: str, template_id: str) -> None:
        self._clients = clients
        self._channel = channel
        self._template_id = template_id

    @classmethod
    def from_config(cls, config: Mapping[str, Any], channel: str) -> NotifyBackend:
        return cls(
            NotifyClients.from_config(config),
            channel=channel,
            template_id=config[TEMPLATE_SETTINGS[channel]],
        )

    async def send(self, message: OutgoingMessage) -> Receipt:
        reference = reference_for(message)
        if self._channel == Channel.SMS:

            def request(client: NotificationsAPIClient) -> dict:
                return client.send_sms_notification(
                    phone_number=message.recipient,
                    template_id=self._template_id,
                    personalisation={"body": message.text},
                    reference=reference,
                )
        else:

            def request(client: NotificationsAPIClient) -> dict:
                return client.send_email_notification(
                    email_address=message.recipient,
                    template_id=self._template_id,
                    personalisation={"subject": message.subject or "Responder", "body": message.text},
                    reference=reference,
                )

        created = await self._clients.call(request, creates=True)
        try:
            return Receipt(str(created["id"]), "created")
        except (TypeError, KeyError):
            raise OutcomeUnknown("GOV.UK Notify's answer had no notification id") from None

    async def find_sent(self, message: OutgoingMessage, since: datetime) -> Receipt | None:
        """Notify's notification with this message's reference, if an earlier attempt created it.

        The reference is unique to the outbox row, so no time window is needed.
        """
        reference = reference_for(message)
        kind = NOTIFICATION_TYPES[self._channel]
        listed = await self._clients.call(
            lambda client: client.get_all_notifications(template_type=kind, reference=reference),
            creates=False,
        )
        for notification in (listed or {}).get("notifications") or []:
            if notification.get("reference") == reference and notification.get("type", kind) == kind:
                return Receipt(str(notification["id"]), str(notification.get("status") or "created"))
        return None

    async def close(self) -> None:
        self._clients.close()


def classify_api_error(error: APIError, *, creates: bool) -> DeliveryError:
    """Transient (retry), permanent (stop) or unknown (ask Notify first), with the reason in plain words."""
    if error.response is None or isinstance(error, InvalidResponse):
        return _without_an_answer(error, creates=creates)
    status = error.status_code
    said = notify_messages(error)
    detail = f" ({said})" if said else ""
    if status == 429:
        return TransientDeliveryError(f"GOV.UK Notify asked Responder to slow down (HTTP 429){detail}")
    if status in (502, 504) and creates:
        # A gateway in front of Notify gave up waiting: Notify may have created the notification.
        return OutcomeUnknown(f"GOV.UK Notify's gateway gave up waiting (HTTP {status})")
    if status >= 500:
        return TransientDeliveryError(f"GOV.UK Notify had a problem on its side (HTTP {status})")
    if status in (401, 403):
        return TransientDeliveryError(
            "GOV.UK Notify refused Responder's API key (check NOTIFY_API_KEY, and that this machine's "
            f"clock is right to within 30 seconds){detail}"
        )
    if status == 400 and any(problem in said.lower() for problem in _RECIPIENT_PROBLEMS):
        return PermanentDeliveryError(f"GOV.UK Notify refused the recipient: {said}")
    # A template that does not exist or lacks ((body)): every message would fail the same way until
    # the settings are fixed, so it is retried and counts against the service's health.
    return TransientDeliveryError(
        f"GOV.UK Notify refused the request (HTTP {status}){detail}: check NOTIFY_SMS_TEMPLATE_ID, "
        "NOTIFY_EMAIL_TEMPLATE_ID and the templates' ((body)) and ((subject))"
    )


def notify_messages(error: APIError) -> str:
    """Notify's own words for an error (its JSON ``errors`` list), at most 200 characters."""
    try:
        errors = error.response.json().get("errors") or []
        words = "; ".join(str(item.get("message", "")) for item in errors if isinstance(item, dict))
    except (AttributeError, TypeError, ValueError):
        words = ""
    return words.strip()[:200]


def _without_an_answer(error: APIError, *, creates: bool) -> DeliveryError:
    """No HTTP answer (or one that could not be read): did the request reach Notify?"""
    cause = error.__cause__
    if isinstance(cause, requests.ConnectTimeout) or _never_connected(cause):
        return TransientDeliveryError("could not connect to GOV.UK Notify")
    if isinstance(cause, requests.exceptions.SSLError):
        return TransientDeliveryError("the TLS handshake with GOV.UK Notify failed")
    if not creates:
        return TransientDeliveryError(f"the request to GOV.UK Notify failed ({_name(cause or error)})")
    if isinstance(cause, requests.ReadTimeout):
        return OutcomeUnknown("GOV.UK Notify did not answer in time")
    if isinstance(error, InvalidResponse):
        return OutcomeUnknown("GOV.UK Notify's answer could not be read")
    return OutcomeUnknown(f"the connection to GOV.UK Notify broke ({_name(cause or error)})")


def _never_connected(cause: BaseException | None) -> bool:
    if not isinstance(cause, requests.ConnectionError) or not cause.args:
        return False
    inner = cause.args[0]
    return isinstance(inner, MaxRetryError) and isinstance(inner.reason, NewConnectionError)


def _name(error: BaseException) -> str:
    return type(error).__name__


def check_access(config: Mapping[str, Any], channels: tuple[str, ...]) -> str:
    """Authenticated reads with no side effect, for ``providers check``: the key, then each template in use.

    Lists the notifications with a reference no message ever has (Notify checks
    the key and answers an empty list), then reads each channel's template.
    Raises DeliveryError when Notify refuses, ValueError when a template is
    of the wrong kind or lacks its placeholders.
    """
    clients = NotifyClients.from_config(config)

    async def read() -> list[dict]:
        try:
            await clients.call(
                lambda client: client.get_all_notifications(reference="responder-providers-check"),
                creates=False,
            )
            return [
                await clients.call(
                    lambda client, c=channel: client.get_template(config[TEMPLATE_SETTINGS[c]]), creates=False
                )
                for channel in channels
            ]
        finally:
            clients.close()

    templates = asyncio.run(read())
    for channel, template in zip(channels, templates, strict=True):
        _check_template(channel, template or {})
    named = ", ".join(
        f"{TEMPLATE_SETTINGS[channel]} is a {NOTIFICATION_TYPES[channel]} template" for channel in channels
    )
    return f"API key for service {config['NOTIFY_API_KEY'][-73:-37]} accepted; {named} with its placeholders"


def _check_template(channel: str, template: dict) -> None:
    setting, kind = TEMPLATE_SETTINGS[channel], NOTIFICATION_TYPES[channel]
    if template.get("type") != kind:
        raise ValueError(f"{setting} names a {template.get('type') or 'unknown'} template, not a {kind} one")
    needed = {"body": "((body))"} if kind == "sms" else {"body": "((body))", "subject": "((subject))"}
    for part, placeholder in needed.items():
        if placeholder not in (template.get(part) or ""):
            raise ValueError(f"the template {setting} names has no {placeholder} in its {part}")
