"""A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it receives.

Tell it to answer ``451`` (try later) to the next N messages, or to refuse an
address with ``550``. Used as the ``smtp_server`` fixture (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

# aiosmtpd logs every command it reads at INFO: a line per command per connection, formatted
# as JSON by the app's logging, in the server's thread, while the sender waits on it.
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass(frozen=True)
class ReceivedEmail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    peer: tuple[str, int]  # the client's address and port: one per connection

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)

    def part(self, content_type: str) -> str:
        """The text of the ``text/plain`` or ``text/html`` part."""
        body = self.message.get_body(preferencelist=(content_type.split("/")[1],))
        assert body is not None and body.get_content_type() == content_type, content_type
        return body.get_content()


class _Handler:
    def __init__(self, server: RecordingSmtpServer) -> None:
        self._server = server

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self._server.closing_once():
            return "421 4.4.2 Idle too long, closing connection"
        if hang := self._server.hanging_once():
            await asyncio.sleep(hang)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self._server.requires_login and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if address in self._server.refused:
            self._server.refusals.append(address)
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        return self._server.take(envelope, session.peer)


class RecordingSmtpServer:
    """With ``login=(user, password)`` it refuses mail until the client has logged in with them."""

    def __init__(self, host: str = "127.0.0.1", login: tuple[str, str] | None = None) -> None:
        self.host = host
        self.port = _free_port(host)
        self.refused: set[str] = set()
        self.refusals: list[str] = []  # each RCPT refused, in order
        self.logins: list[str] = []
        self._lock = threading.Lock()
        self._received: list[ReceivedEmail] = []
        self._busy_left = 0
        self._closing = False
        self._hang_seconds = 0.0
        auth = {}
        if login is not None:
            # Plain-text login is fine on loopback; production servers insist on TLS first.
            auth = {"authenticator": self._authenticator(login), "auth_require_tls": False}
        self.requires_login = login is not None
        self._auth = auth
        self._controller = self._new_controller()

    def _new_controller(self) -> Controller:
        return Controller(_Handler(self), hostname=self.host, port=self.port, **self._auth)

    def _authenticator(self, expected: tuple[str, str]):
        def check(server, session, envelope, mechanism, auth_data) -> AuthResult:
            given = (auth_data.login.decode(), auth_data.password.decode())
            with self._lock:
                self.logins.append(given[0])
            # handled=False: the server itself answers a wrong login with 535 (with aiosmtpd's
            # default it answers nothing, and the client waits out its timeout).
            return AuthResult(success=given == expected, handled=False)

        return check

    def start(self) -> RecordingSmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def restart(self) -> None:
        """Stop and start again on the same port: every open connection is closed, as a server's idle timeout does."""
        self._controller.stop()
        self._controller = self._new_controller()
        self._controller.start()

    def busy_for(self, count: int) -> None:
        """Answer ``451`` to the next ``count`` messages."""
        with self._lock:
            self._busy_left = count

    def close_next_mail(self) -> None:
        """Answer the next MAIL with ``421`` (the server is closing the connection), as a server does to an idle one."""
        with self._lock:
            self._closing = True

    def hang_next_mail(self, seconds: float) -> None:
        """Answer the next MAIL only after ``seconds``, as a server that has stopped answering does."""
        with self._lock:
            self._hang_seconds = seconds

    def hanging_once(self) -> float:
        with self._lock:
            seconds, self._hang_seconds = self._hang_seconds, 0.0
            return seconds

    def closing_once(self) -> bool:
        with self._lock:
            closing, self._closing = self._closing, False
            return closing

    def take(self, envelope, peer: tuple[str, int]) -> str:
        with self._lock:
            if self._busy_left > 0:
                self._busy_left -= 1
                return "451 4.3.0 Mail server busy, try again later"
            self._received.append(
                ReceivedEmail(
                    envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content), tuple(peer)
                )
            )
        return "250 Message accepted"

    @property
    def received(self) -> list[ReceivedEmail]:
        with self._lock:
            return list(self._received)

    def received_by(self, address: str) -> list[ReceivedEmail]:
        return [email for email in self.received if address in email.rcpt_tos]


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]
