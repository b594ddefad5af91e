"""Email over SMTP with the standard library: plain text with an HTML alternative.

STARTTLS and login are used when configured (``SMTP_STARTTLS``,
``SMTP_USERNAME``/``SMTP_PASSWORD``). SMTP's own rule sorts failures: 4xx
replies, refused connections, timeouts and disconnects may pass, so they are
retried; 5xx replies mean the server will never take this message.

smtplib blocks, so each email is sent from a thread of this backend's own,
never on the sender's event loop. Every message keeps one ``Message-ID``
(derived from its outbox row) on every attempt. SMTP has no way to ask a
server whether it took a message: when the connection breaks after the
message's data was sent but before the server said "250" (the outcome is
unknown), the email is sent again with the same ``Message-ID``, which mail
clients that de-duplicate by it (Outlook, Gmail) show once. That is the one
duplicate Responder can still cause (README, "Sending alerts").
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from responder.clock import now_utc
from responder.notify.backends import (
    DeliveryError,
    OutcomeUnknown,
    OutgoingMessage,
    PermanentDeliveryError,
    Receipt,
    TransientDeliveryError,
)

# Mail servers that may be talked to at once from one process.
MAX_CONNECTIONS = 20


class SmtpEmail:
    """Sends each email on its own SMTP connection, so many can go at once."""

    provider_name = "the mail server"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 15.0,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout
        self._threads: ThreadPoolExecutor | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpEmail:
        return cls(
            host=config["SMTP_HOST"],
            port=int(config["SMTP_PORT"]),
            sender=config["MAIL_FROM"],
            username=config.get("SMTP_USERNAME"),
            password=config.get("SMTP_PASSWORD"),
            starttls=bool(config.get("SMTP_STARTTLS")),
            timeout=float(config["MESSAGE_SEND_TIMEOUT_SECONDS"]),
        )

    async def send(self, message: OutgoingMessage) -> Receipt:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(MAX_CONNECTIONS, thread_name_prefix="responder-smtp")
        loop = asyncio.get_running_loop()
        provider_id = await loop.run_in_executor(self._threads, self.send_now, message)
        return Receipt(provider_id)

    async def find_sent(self, message: OutgoingMessage, since: datetime) -> Receipt | None:
        return None  # SMTP cannot be asked; see the module's note on Message-ID

    async def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=False)
            self._threads = None

    def send_now(self, message: OutgoingMessage) -> str:
        """Send one email on its own connection (blocking); return the id Responder keeps for it."""
        email, provider_id = self.build(message)
        data_sent = False
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                if self._starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self._username:
                    smtp.login(self._username, self._password or "")
                _envelope(smtp, email)
                data_sent = True
                code, reply = smtp.data(email.as_bytes(policy=policy.SMTP))
                if code != 250:
                    raise smtplib.SMTPDataError(code, reply)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            raise _by_reply_code(code, reply, "the mail server refused the address") from error
        except smtplib.SMTPAuthenticationError as error:
            # Not about the recipient: once the login is fixed a retry succeeds.
            raise TransientDeliveryError(
                "the mail server refused Responder's login (check SMTP_USERNAME and SMTP_PASSWORD)"
            ) from error
        except smtplib.SMTPResponseException as error:
            raise _by_reply_code(error.smtp_code, error.smtp_error, "the mail server refused it") from error
        except (smtplib.SMTPServerDisconnected, TimeoutError, OSError) as error:
            if data_sent:
                raise OutcomeUnknown(
                    f"the mail server did not confirm the message ({type(error).__name__})"
                ) from error
            if isinstance(error, smtplib.SMTPServerDisconnected):
                raise TransientDeliveryError("the mail server closed the connection") from error
            raise TransientDeliveryError(
                f"could not reach the mail server ({type(error).__name__})"
            ) from error
        except smtplib.SMTPException as error:
            raise TransientDeliveryError(f"sending to the mail server failed: {error}") from error
        return provider_id

    def build(self, message: OutgoingMessage) -> tuple[EmailMessage, str]:
        """The email as it is sent, and the id Responder keeps for it."""
        domain = parseaddr(self._sender)[1].rpartition("@")[2] or "responder.invalid"
        # The same message keeps the same Message-ID on every attempt, so a
        # mail client can tell a retried duplicate from a new alert.
        local_part = f"responder.{message.id}.{message.created_at:%Y%m%d%H%M%S}"
        email = EmailMessage()
        email["From"] = self._sender
        email["To"] = message.recipient
        email["Subject"] = message.subject or "Responder"
        email["Date"] = format_datetime(now_utc())
        email["Message-ID"] = f"<{local_part}@{domain}>"
        # Asks mail servers and clients not to send out-of-office replies.
        email["Auto-Submitted"] = "auto-generated"
        email.set_content(message.text)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        return email, f"smtp:{local_part}"


def _envelope(smtp: smtplib.SMTP, email: EmailMessage) -> None:
    """MAIL FROM and RCPT TO: until DATA is sent, the server cannot have taken the message."""
    sender = parseaddr(email["From"])[1]
    recipient = parseaddr(email["To"])[1]
    smtp.ehlo_or_helo_if_needed()
    code, reply = smtp.mail(sender)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    code, reply = smtp.rcpt(recipient)
    if code not in (250, 251):
        raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})


def _by_reply_code(code: int, reply: bytes | str, summary: str) -> DeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    reason = f"{summary}: {code} {text}".strip()
    if 400 <= code < 500:
        # A busy or greylisting server: this recipient, not the service, waits.
        return TransientDeliveryError(reason, provider_trouble=False)
    return PermanentDeliveryError(reason)
