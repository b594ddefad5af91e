"""Email over SMTP with the standard library: plain text with an HTML alternative.

STARTTLS and login are used when configured (``SMTP_STARTTLS``,
``SMTP_USERNAME``/``SMTP_PASSWORD``). SMTP's own rule sorts failures: 4xx
replies, refused connections, timeouts and disconnects may pass, so they are
retried; 5xx replies mean the server will never take this message.

smtplib blocks, so each email is sent from a thread of this backend's own,
never on the sender's event loop. A connection that has just sent an email
is kept for the next one (up to MAX_CONNECTIONS, each for IDLE_SECONDS), so
a burst of alerts does not connect, greet and log in once per email; when
the server has closed a kept connection meanwhile, the email goes at once on
a fresh one (nothing of it had been sent). Every message keeps one ``Message-ID``
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
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from email import charset, policy
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
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
# Bodies as quoted-printable UTF-8: readable as sent, safe for any mail server.
_UTF8_QUOTED_PRINTABLE = charset.Charset("utf-8")
_UTF8_QUOTED_PRINTABLE.body_encoding = charset.QP
# How an email goes over the wire: SMTP's CRLF line ends.
_WIRE = policy.compat32.clone(linesep="\r\n")
# A connection unused this long is closed rather than reused (servers drop idle ones after minutes).
IDLE_SECONDS = 30.0


class SmtpEmail:
    """Sends emails over up to MAX_CONNECTIONS SMTP connections at once, each kept for the next email."""

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
        # Connections ready for the next email, with when each was last used (most recent last).
        self._idle: list[tuple[smtplib.SMTP, float]] = []
        self._idle_lock = threading.Lock()

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
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for smtp, _ in idle:
            smtp.close()

    def send_now(self, message: OutgoingMessage) -> str:
        """Send one email (blocking); return the id Responder keeps for it."""
        email, provider_id = self.build(message)
        kept = self._kept_connection()
        if kept is not None:
            try:
                self._send_on(kept, email)
                return provider_id
            except _NotSent as failed:
                if not failed.closed_before_data:
                    raise failed.delivery_error() from failed.error
                # The server closed it while it waited, before any of this email: send on a fresh one.
        try:
            self._send_on(self._connect(), email)
        except _NotSent as failed:
            raise failed.delivery_error() from failed.error
        return provider_id

    def _connect(self) -> smtplib.SMTP:
        try:
            smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        except (smtplib.SMTPException, OSError) as error:
            raise _NotSent(error, data_sent=False) from error
        try:
            if self._starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self._username:
                smtp.login(self._username, self._password or "")
        except (smtplib.SMTPException, OSError) as error:
            smtp.close()
            raise _NotSent(error, data_sent=False) from error
        return smtp

    def _send_on(self, smtp: smtplib.SMTP, email: Message) -> None:
        """One mail transaction; the connection is kept for the next email only once the server took this one."""
        data_sent = False
        try:
            _envelope(smtp, email)
            data_sent = True
            code, reply = smtp.data(email.as_bytes(policy=_WIRE))
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
        except (smtplib.SMTPException, OSError) as error:
            smtp.close()
            raise _NotSent(error, data_sent=data_sent) from error
        with self._idle_lock:
            if len(self._idle) < MAX_CONNECTIONS:
                self._idle.append((smtp, time.monotonic()))
                return
        _let_go(smtp)

    def _kept_connection(self) -> smtplib.SMTP | None:
        """The connection used most recently, if it has not been idle too long; the stale ones are closed."""
        with self._idle_lock:
            fresh_since = time.monotonic() - IDLE_SECONDS
            stale = [smtp for smtp, used_at in self._idle if used_at < fresh_since]
            self._idle = [(smtp, used_at) for smtp, used_at in self._idle if used_at >= fresh_since]
            kept = self._idle.pop()[0] if self._idle else None
        for smtp in stale:
            smtp.close()
        return kept

    def build(self, message: OutgoingMessage) -> tuple[Message, str]:
        """The email as it is sent, and the id Responder keeps for it.

        Made with the standard library's compat32 classes: building with the
        default policy's header objects took three times as long, for headers
        that need none of what they parse.
        """
        domain = parseaddr(self._sender)[1].rpartition("@")[2] or "responder.invalid"
        # The same message keeps the same Message-ID on every attempt, so a
        # mail client can tell a retried duplicate from a new alert.
        local_part = f"responder.{message.id}.{message.created_at:%Y%m%d%H%M%S}"
        email: Message = MIMEText(message.text, "plain", _UTF8_QUOTED_PRINTABLE)
        if message.html:
            html = MIMEText(message.html, "html", _UTF8_QUOTED_PRINTABLE)
            email = MIMEMultipart("alternative", _subparts=[email, html])
        email["From"] = formataddr(parseaddr(self._sender), charset="utf-8")
        email["To"] = formataddr(parseaddr(message.recipient), charset="utf-8")
        email["Subject"] = message.subject or "Responder"  # encoded (RFC 2047) where it is not ASCII
        email["Date"] = format_datetime(now_utc())
        email["Message-ID"] = f"<{local_part}@{domain}>"
        # Asks mail servers and clients not to send out-of-office replies.
        email["Auto-Submitted"] = "auto-generated"
        return email, f"smtp:{local_part}"


class _NotSent(Exception):
    """An SMTP error, and whether the email's data had been sent when it came."""

    def __init__(self, error: smtplib.SMTPException | OSError, *, data_sent: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.data_sent = data_sent

    @property
    def closed_before_data(self) -> bool:
        """The server had dropped the connection (or said 421, it is closing) before any of the email was sent.

        Not a timeout: a server that stops answering is left to the next
        attempt, since a second wait could outlast the sender's bound on this one.
        """
        closing = isinstance(self.error, smtplib.SMTPResponseException) and self.error.smtp_code == 421
        # (smtplib's errors are OSErrors too: "dropped" is a closed socket, not a reply; and smtplib
        # reports a reply that timed out as a disconnect, raised while handling the TimeoutError.)
        timed_out = isinstance(self.error, TimeoutError) or isinstance(self.error.__context__, TimeoutError)
        dropped = isinstance(self.error, smtplib.SMTPServerDisconnected) or not isinstance(
            self.error, smtplib.SMTPException
        )
        return not self.data_sent and not timed_out and (dropped or closing)

    def delivery_error(self) -> DeliveryError:
        """SMTP's own rule: what may pass is retried, what never will fails; after DATA, the outcome is unknown."""
        error = self.error
        if isinstance(error, smtplib.SMTPRecipientsRefused):
            code, reply = next(iter(error.recipients.values()))
            return _by_reply_code(code, reply, "the mail server refused the address")
        if isinstance(error, smtplib.SMTPAuthenticationError):
            # Not about the recipient: once the login is fixed a retry succeeds.
            return TransientDeliveryError(
                "the mail server refused Responder's login (check SMTP_USERNAME and SMTP_PASSWORD)"
            )
        if isinstance(error, smtplib.SMTPResponseException):
            return _by_reply_code(error.smtp_code, error.smtp_error, "the mail server refused it")
        if self.data_sent:
            return OutcomeUnknown(f"the mail server did not confirm the message ({type(error).__name__})")
        if isinstance(error, smtplib.SMTPServerDisconnected):
            return TransientDeliveryError("the mail server closed the connection")
        if isinstance(error, smtplib.SMTPException):
            return TransientDeliveryError(f"sending to the mail server failed: {error}")
        return TransientDeliveryError(f"could not reach the mail server ({type(error).__name__})")


def _let_go(smtp: smtplib.SMTP) -> None:
    """Say goodbye to a server that took the last email (waiting a second at most), then close.

    A connection after an error, a stale one, and those left at shutdown are
    only closed: no waiting on a server that may not answer.
    """
    try:
        if smtp.sock is not None:
            smtp.sock.settimeout(1.0)
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _envelope(smtp: smtplib.SMTP, email: Message) -> None:
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
