"""`flask providers check`: one authenticated call with no side effect per provider, against the fakes."""

from __future__ import annotations

import socket

import pytest

from .conftest import TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, notify_settings
from .fake_notify import EMAIL_TEMPLATE_ID, SMS_TEMPLATE_ID
from .smtp_server import RecordingSmtpServer


def providers_check(app) -> tuple[int, list[str]]:
    result = app.test_cli_runner().invoke(args=["providers", "check"])
    return result.exit_code, result.stdout.splitlines()


@pytest.fixture
def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_development_outbox_says_it_sends_nothing(app):
    code, lines = providers_check(app)
    assert code == 0
    assert lines == [
        "ok     SMS, email and phone calls via the development outbox: sends nothing (every message stays at "
        "/dev/outbox); nothing to check"
    ]


def test_twilio_and_smtp_answer_and_nothing_is_sent(real_providers, fake_twilio, smtp_server):
    fake_twilio.credentials = (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)
    code, lines = providers_check(real_providers)

    assert code == 0, lines
    assert lines == [
        "ok     SMS and phone calls via Twilio: account AC0000…0000 is active (Full account)",
        f"ok     email via the mail server at {smtp_server.host}:{smtp_server.port}: EHLO and QUIT answered",
    ]
    assert [(r.method, r.path) for r in fake_twilio.requests] == [] and fake_twilio.created == []
    assert smtp_server.received == []


def test_twilio_refusing_the_credentials_fails_in_plain_words(real_providers, fake_twilio):
    fake_twilio.credentials = (TWILIO_ACCOUNT_SID, "the-right-token")
    code, lines = providers_check(real_providers)
    assert code == 1
    assert lines[0] == (
        "FAILED SMS and phone calls via Twilio: Twilio refused Responder's credentials (check TWILIO_ACCOUNT_SID and "
        "TWILIO_AUTH_TOKEN) (Twilio error 20003)"
    )
    assert lines[1].startswith("ok     email via the mail server")
    assert TWILIO_AUTH_TOKEN not in "\n".join(lines)


def test_a_suspended_twilio_account_fails(real_providers, fake_twilio):
    fake_twilio.account_status = "suspended"
    code, lines = providers_check(real_providers)
    assert (
        code == 1
        and lines[0]
        == "FAILED SMS and phone calls via Twilio: account AC0000…0000 is suspended, so it cannot send"
    )


def test_twilio_unreachable_fails(real_providers, unused_port):
    real_providers.config["TWILIO_API_BASE_URL"] = f"http://127.0.0.1:{unused_port}"
    code, lines = providers_check(real_providers)
    assert code == 1 and lines[0] == "FAILED SMS and phone calls via Twilio: could not connect to Twilio"


def test_the_mail_server_login_is_tried_when_configured(real_providers):
    server = RecordingSmtpServer(login=("responder", "right-password")).start()
    try:
        real_providers.config.update(
            SMTP_HOST=server.host,
            SMTP_PORT=server.port,
            SMTP_USERNAME="responder",
            SMTP_PASSWORD="right-password",
        )
        code, lines = providers_check(real_providers)
        assert code == 0 and lines[1].endswith(": EHLO, login and QUIT answered")
        assert server.logins == ["responder"] and server.received == []
    finally:
        server.stop()


def test_a_mail_server_without_starttls_fails_when_it_is_required(real_providers):
    real_providers.config["SMTP_STARTTLS"] = True
    code, lines = providers_check(real_providers)
    assert code == 1 and lines[1].endswith("it does not offer STARTTLS (SMTP_STARTTLS is on)")


def test_a_mail_server_that_is_not_there_fails(real_providers, unused_port):
    real_providers.config["SMTP_PORT"] = unused_port
    code, lines = providers_check(real_providers)
    assert code == 1 and "could not talk to it (ConnectionRefusedError" in lines[1]


# --- GOV.UK Notify ------------------------------------------------------------------------


@pytest.fixture
def notify_app(app, fake_notify):
    app.config.update(SMS_BACKEND="notify", EMAIL_BACKEND="notify", **notify_settings(fake_notify))
    return app


def test_notify_reads_the_key_and_both_templates_and_sends_nothing(notify_app, fake_notify):
    code, lines = providers_check(notify_app)
    assert code == 0, lines
    assert lines == [
        "ok     SMS and email via GOV.UK Notify: API key for service 8b3aa916-ec82-434e-b0c5-d5d9b371d6a3 "
        "accepted; NOTIFY_SMS_TEMPLATE_ID is a sms template, NOTIFY_EMAIL_TEMPLATE_ID is a email template "
        "with its placeholders"
    ]
    assert fake_notify.created == [] and {r.method for r in fake_notify.requests} == {"GET"}
    assert len(fake_notify.requests) == 3


def test_notify_refusing_the_key_fails_in_plain_words(notify_app):
    notify_app.config["NOTIFY_API_KEY"] = notify_app.config["NOTIFY_API_KEY"][:-1] + "f"
    code, lines = providers_check(notify_app)
    assert code == 1
    assert lines[0].startswith(
        "FAILED SMS and email via GOV.UK Notify: GOV.UK Notify refused Responder's API key"
    )
    assert notify_app.config["NOTIFY_API_KEY"][-36:] not in "\n".join(lines)


@pytest.mark.parametrize(
    ("template", "text", "words"),
    [
        (
            SMS_TEMPLATE_ID,
            ("Your alert", None),
            "the template NOTIFY_SMS_TEMPLATE_ID names has no ((body)) in its body",
        ),
        (
            EMAIL_TEMPLATE_ID,
            ("((body))", "Alert"),
            "NOTIFY_EMAIL_TEMPLATE_ID names has no ((subject)) in its subject",
        ),
    ],
)
def test_a_template_without_its_placeholders_fails(notify_app, fake_notify, template, text, words):
    fake_notify.template_text[template] = text
    code, lines = providers_check(notify_app)
    assert code == 1 and words in lines[0]


def test_a_template_of_the_wrong_kind_fails(notify_app):
    notify_app.config["NOTIFY_SMS_TEMPLATE_ID"] = EMAIL_TEMPLATE_ID
    code, lines = providers_check(notify_app)
    assert code == 1 and "NOTIFY_SMS_TEMPLATE_ID names a email template, not a sms one" in lines[0]


def test_a_template_notify_does_not_have_fails(notify_app):
    notify_app.config["NOTIFY_EMAIL_TEMPLATE_ID"] = "11111111-2222-4333-8444-555555555555"
    code, lines = providers_check(notify_app)
    assert code == 1 and "HTTP 404" in lines[0] and "No result found" in lines[0]


def test_notify_unreachable_fails(notify_app, unused_port):
    notify_app.config["NOTIFY_BASE_URL"] = f"http://127.0.0.1:{unused_port}"
    code, lines = providers_check(notify_app)
    assert code == 1 and lines == [
        "FAILED SMS and email via GOV.UK Notify: could not connect to GOV.UK Notify"
    ]


def test_twilio_for_texts_and_notify_for_email_are_each_checked(real_providers, fake_notify, fake_twilio):
    real_providers.config.update(EMAIL_BACKEND="notify", **notify_settings(fake_notify))
    code, lines = providers_check(real_providers)
    assert code == 0, lines
    assert lines[0].startswith("ok     SMS and phone calls via Twilio: account")
    assert lines[1].startswith("ok     email via GOV.UK Notify: API key for service")
    assert "NOTIFY_EMAIL_TEMPLATE_ID is a email template" in lines[1] and "SMS_TEMPLATE" not in lines[1]
