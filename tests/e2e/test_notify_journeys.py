"""The acknowledgement journey once more, with GOV.UK Notify as the SMS backend.

A second server process sends its texts through the Notify client to a fake
Notify (tests/fake_notify.py) that checks every request's JSON Web Token;
emails still go over SMTP. The same browser journey as in test_journeys.py
runs against it, then a lead answers by text through Notify's received-text
callback and is answered with a new text, and the server's log is searched
for the Notify API key, the callback token and every link token.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator

import pytest
import requests

from ..fake_notify import API_KEY, EMAIL_TEMPLATE_ID, KEY_SECRET, SMS_TEMPLATE_ID, FakeNotify
from . import server as live
from . import test_journeys
from .conftest import DEMO_PASSWORDS, MESSAGE_WAIT_SECONDS, Messages
from .server import LiveServer

CALLBACK_TOKEN = "e2e-notify-callback-" + secrets.token_hex(16)
REPLY_CODE = re.compile(r"reply YES (?P<code>\d{4})")


@pytest.fixture(scope="module")
def fake_notify_server() -> Iterator[FakeNotify]:
    with FakeNotify() as fake:
        yield fake


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, fake_twilio_server, smtp, fake_notify_server) -> Iterator[LiveServer]:
    """The server of test_journeys.py, with SMS_BACKEND=notify."""
    server = live.start(
        tmp_path_factory.mktemp("e2e-notify"),
        fake_twilio_server.base_url,
        smtp.host,
        smtp.port,
        extra_env={
            "SMS_BACKEND": "notify",
            "NOTIFY_API_KEY": API_KEY,
            "NOTIFY_SMS_TEMPLATE_ID": SMS_TEMPLATE_ID,
            "NOTIFY_EMAIL_TEMPLATE_ID": EMAIL_TEMPLATE_ID,
            "NOTIFY_BASE_URL": fake_notify_server.base_url,
            "NOTIFY_CALLBACK_TOKEN": CALLBACK_TOKEN,
        },
        log_name="e2e-server-notify.log",
    )
    server.secrets.update({f"password of {email}": password for email, password in DEMO_PASSWORDS.items()})
    server.secrets.update(
        {"the Notify API key's secret": KEY_SECRET, "NOTIFY_CALLBACK_TOKEN": CALLBACK_TOKEN}
    )
    yield server
    live.stop(server)


class NotifyMessages(Messages):
    """What the fake Notify created, read the way a lead reads their phone."""

    def texts_to(self, phone: str, *containing: str) -> list[str]:
        bodies = [n.body for n in self.fake.sent_to(phone) if n.type == "sms"]
        return [body for body in bodies if all(part in body for part in containing)]


@pytest.fixture(scope="module")
def messages(fake_notify_server, live_server) -> NotifyMessages:
    return NotifyMessages(fake_notify_server, live_server)


# The same journey as in test_journeys.py, collected here, so it runs against this module's server.
test_a_lead_acknowledges_an_alert_texted_through_notify = (
    test_journeys.test_a_lead_acknowledges_on_a_phone_and_the_officers_page_updates_itself
)


def test_a_lead_answers_by_text_through_notify_and_is_answered_with_a_new_text(
    live_server, messages, contacts, open_incident_via_api
):
    reference = open_incident_via_api()
    phone = contacts["bham-csp-lead"]["phone"]
    alert = messages.wait_for_text(phone, "Responder alert", reference)
    code = REPLY_CODE.search(alert)["code"]

    callback = {
        "id": "a1b2c3d4-0000-4000-8000-" + secrets.token_hex(6),
        "source_number": phone.removeprefix("+"),
        "destination_number": "07700900000",
        "message": f"YES {code}",
        "date_received": "2026-11-30T09:05:00.000000Z",
    }
    url = f"{live_server.url}/webhooks/notify/inbound"
    forged = requests.post(url, json=callback, headers={"Authorization": "Bearer guess"}, timeout=30)
    assert forged.status_code == 403
    answered = requests.post(
        url, json=callback, headers={"Authorization": f"Bearer {CALLBACK_TOKEN}"}, timeout=30
    )
    assert answered.status_code == 200
    replayed = requests.post(
        url, json=callback, headers={"Authorization": f"Bearer {CALLBACK_TOKEN}"}, timeout=30
    )
    assert replayed.status_code == 200

    confirmation = messages.wait_for_text(phone, "thank you", reference)
    assert (
        confirmation
        == f"Responder: thank you. Birmingham Community Safety Partnership is covering {reference}."
    )
    time.sleep(2)  # a second confirmation would have been sent by now
    assert len(messages.texts_to(phone, "thank you", reference)) == 1


def test_the_notify_servers_log_holds_no_key_token_or_link(live_server):
    deadline = time.monotonic() + MESSAGE_WAIT_SECONDS
    while "/webhooks/notify/inbound" not in live_server.read_log() and time.monotonic() < deadline:
        time.sleep(0.2)
    log = live_server.read_log()
    assert "/webhooks/notify/inbound" in log, "the callbacks were not logged at all"
    leaked = [name for name, secret in live_server.secrets.items() if secret and secret in log]
    assert not leaked, f"{live_server.log_path} holds: {', '.join(leaked)}"
