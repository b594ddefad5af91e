"""Email over SMTP: what goes over the wire, and kept connections (a burst goes over few, a dropped one costs nothing)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from email.errors import HeaderParseError

import pytest

from responder.notify import email_smtp
from responder.notify.backends import OutgoingMessage, PermanentDeliveryError, TransientDeliveryError
from responder.notify.email_smtp import SmtpEmail


def email(
    number: int, to: str = "lead@agency.example", subject: str = "Responder alert", html: str | None = None
) -> OutgoingMessage:
    return OutgoingMessage(
        id=number,
        channel="email",
        recipient=to,
        subject=subject,
        text=f"Alert {number}",
        html=html,
        created_at=datetime(2026, 11, 30, 2, 0, tzinfo=UTC),
    )


@pytest.fixture
def mail(smtp_server):
    backend = SmtpEmail(host=smtp_server.host, port=smtp_server.port, sender="responder@example.org")
    yield backend
    asyncio.run(backend.close())


def test_emails_one_after_another_share_one_connection(mail, smtp_server):
    for number in range(5):
        mail.send_now(email(number))

    received = smtp_server.received
    assert [m.message["Subject"] for m in received] == ["Responder alert"] * 5
    assert len({m.peer for m in received}) == 1


def test_a_connection_the_server_closed_while_it_waited_is_replaced_and_the_email_goes(mail, smtp_server):
    mail.send_now(email(1))
    smtp_server.restart()  # as a server's idle timeout does

    mail.send_now(email(2))

    first, second = smtp_server.received
    assert second.message["Message-ID"].startswith("<responder.2.")
    assert first.peer != second.peer


def test_a_connection_idle_too_long_is_not_reused(mail, smtp_server, monkeypatch):
    monkeypatch.setattr(email_smtp, "IDLE_SECONDS", 0.0)
    mail.send_now(email(1))
    mail.send_now(email(2))

    assert len({m.peer for m in smtp_server.received}) == 2


def test_a_kept_connection_that_stops_answering_is_not_tried_again_within_the_same_attempt(smtp_server):
    """Two timeouts in one attempt could outlast the sender's bound on it, which then counts the email
    as maybe sent while a fresh connection still sends it: a hang is left to the next attempt."""
    mail = SmtpEmail(
        host=smtp_server.host, port=smtp_server.port, sender="responder@example.org", timeout=0.5
    )
    try:
        mail.send_now(email(1))
        smtp_server.hang_next_mail(2.0)
        with pytest.raises(TransientDeliveryError):
            mail.send_now(email(2))
    finally:
        asyncio.run(mail.close())

    assert [m.message["Message-ID"].split(".")[1] for m in smtp_server.received] == ["1"]


def test_a_refused_address_is_still_refused_on_a_kept_connection_and_the_next_email_goes(mail, smtp_server):
    smtp_server.refused.add("gone@agency.example")
    mail.send_now(email(1))

    with pytest.raises(PermanentDeliveryError, match="refused the address"):
        mail.send_now(email(2, to="gone@agency.example"))
    mail.send_now(email(3))

    assert [m.message["Message-ID"].split(".")[1] for m in smtp_server.received] == ["1", "3"]
    assert smtp_server.refusals == ["gone@agency.example"]  # asked once, not again on a fresh connection


def test_a_kept_connection_the_server_says_it_is_closing_is_replaced_and_the_email_goes(mail, smtp_server):
    mail.send_now(email(1))
    smtp_server.close_next_mail()

    mail.send_now(email(2))

    assert [m.message["Message-ID"].split(".")[1] for m in smtp_server.received] == ["1", "2"]


def test_words_beyond_ascii_arrive_as_written_in_headers_and_bodies(smtp_server):
    sender = "Équipe Réponse <responder@example.org>"
    mail = SmtpEmail(host=smtp_server.host, port=smtp_server.port, sender=sender)
    long_link = "https://responder.example/a/" + "x" * 90
    outgoing = email(1, subject="Walsall – café", html=f'<a href="{long_link}">Acknowledge – now</a>')
    outgoing = dataclasses.replace(outgoing, text=f"Acknowledge – now: {long_link}")
    try:
        mail.send_now(outgoing)
    finally:
        asyncio.run(mail.close())

    (received,) = smtp_server.received
    assert received.raw.isascii()  # encoded for any mail server
    assert received.message["Subject"] == "Walsall – café"
    assert received.message["From"] == sender
    assert received.part("text/plain").strip() == f"Acknowledge – now: {long_link}"
    assert f'href="{long_link}"' in received.part("text/html")
    assert b"Acknowledge" in received.raw  # quoted-printable: readable as sent, not base64


def test_a_header_cannot_carry_another(mail):
    with pytest.raises((HeaderParseError, ValueError)):
        mail.build(email(1, subject="Alert\r\nBcc: someone@elsewhere.example"))[0].as_bytes()
