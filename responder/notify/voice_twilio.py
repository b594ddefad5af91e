"""Phone calls through Twilio Programmable Voice, with the SDK's asynchronous client (as texts are sent).

``client.calls.create_async`` places the call with machine detection on. When
it is answered Twilio fetches what to say from
``PUBLIC_BASE_URL/webhooks/twilio/voice/answer`` and reports how it ended to
``.../voice/status``, both signed with ``TWILIO_AUTH_TOKEN`` and naming the
outbox row (responder.web.voice_calls). The caller id is
``TWILIO_VOICE_FROM``, else ``TWILIO_FROM`` when that is a number (a
Messaging Service cannot place calls).

**A call is never placed twice.** A text whose outcome is unknown is looked
up in Twilio's list of messages by its body; a call has no body to find it
by, and two calls at 3 a.m. are worse than none. So a call whose request timed
out, whose connection broke after it was sent, or whose sender died holding
it fails at once with that reason: the rung's text, sent beside it, stands.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from responder.links import public_url
from responder.notify.backends import OutcomeUnknown, OutgoingMessage, PermanentDeliveryError, Receipt
from responder.notify.sms_twilio import TwilioSms

ANSWER_PATH = "/webhooks/twilio/voice/answer"
KEY_PATH = "/webhooks/twilio/voice/key"
STATUS_PATH = "/webhooks/twilio/voice/status"
# How long the phone rings before Twilio gives up (no-answer); voicemail usually answers sooner.
RING_SECONDS = 30
NEVER_TWICE = "the call may have been placed, and a call is never placed twice; the text stands"


class CallMayHaveBeenPlaced(PermanentDeliveryError):
    """Twilio may have placed the call but did not say so: it is not placed again."""

    provider_trouble = True


def voice_sender(config: Mapping[str, Any]) -> str | None:
    """The number calls come from: TWILIO_VOICE_FROM, else TWILIO_FROM unless it is a Messaging Service."""
    explicit = config.get("TWILIO_VOICE_FROM")
    if explicit:
        return explicit
    sender = config.get("TWILIO_FROM") or ""
    return sender if sender and not sender.startswith("MG") else None


def settings_problem(config: Mapping[str, Any]) -> str | None:
    """Why Twilio cannot place calls, or None (what SMS_BACKEND=twilio already reports is not repeated)."""
    texts_say_it = config.get("SMS_BACKEND") == "twilio"
    credentials = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
    missing = [] if texts_say_it else [name for name in credentials if not config.get(name)]
    if voice_sender(config) is None and not (texts_say_it and not config.get("TWILIO_FROM")):
        missing.append("TWILIO_VOICE_FROM (a number: a Messaging Service cannot place calls)")
    return f"phone calls go through Twilio but {', '.join(missing)} is not set" if missing else None


def call_url(path: str, message_id: int, config: Mapping[str, Any] | None = None) -> str:
    """A voice webhook's address for one call: the outbox row is named in the (signed) query."""
    return public_url(path, config) + "?" + urlencode({"message": message_id})


class TwilioVoice(TwilioSms):
    """Places calls with the same client, timeouts and error handling as :class:`TwilioSms`."""

    def __init__(self, *, config: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._config = {"PUBLIC_BASE_URL": config["PUBLIC_BASE_URL"]}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TwilioVoice:
        return cls(
            config=config,
            account_sid=config["TWILIO_ACCOUNT_SID"],
            auth_token=config["TWILIO_AUTH_TOKEN"],
            sender=voice_sender(config),
            status_callback=public_url(STATUS_PATH, config),
            api_base_url=config.get("TWILIO_API_BASE_URL"),
            timeout=float(config["MESSAGE_SEND_TIMEOUT_SECONDS"]),
        )

    async def send(self, message: OutgoingMessage) -> Receipt:
        try:
            call = await self._call(
                self._client().calls.create_async(
                    to=message.recipient,
                    from_=self._sender,
                    url=call_url(ANSWER_PATH, message.id, self._config),
                    method="POST",
                    status_callback=call_url(STATUS_PATH, message.id, self._config),
                    status_callback_method="POST",
                    status_callback_event=["completed"],
                    machine_detection="Enable",
                    timeout=RING_SECONDS,
                ),
                sent=True,
            )
        except OutcomeUnknown as error:
            raise CallMayHaveBeenPlaced(f"{error.reason}: {NEVER_TWICE}") from error
        return Receipt(call.sid, call.status or "queued")

    async def find_sent(self, message: OutgoingMessage, since: datetime) -> Receipt | None:
        """Never asked: an earlier attempt may have placed the call, so it fails rather than rings twice."""
        raise CallMayHaveBeenPlaced(f"an earlier attempt did not finish: {NEVER_TWICE}")
