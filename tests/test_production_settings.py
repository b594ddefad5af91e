"""Production refuses to start half-configured, one line per problem (issue 17, item 7)."""

from __future__ import annotations

import secrets

import pytest

from responder import create_app
from responder.notify.backends import voice_backend

STRONG_KEY = secrets.token_hex(32)
GOOD = {
    "SECRET_KEY": STRONG_KEY,
    "SMS_BACKEND": "twilio",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "twilio-auth-token",
    "TWILIO_FROM": "+447700900000",
    "EMAIL_BACKEND": "smtp",
    "SMTP_HOST": "smtp.example.org",
    "SMTP_STARTTLS": "on",
    "SMTP_USERNAME": "responder",
    "SMTP_PASSWORD": "smtp-password",
    "PUBLIC_BASE_URL": "https://responder.example.org",
    "RATELIMIT_STORAGE_URI": "memory://",
    "STARTUP_DATABASE_CHECK": "off",
}
SETTING_NAMES = {
    *GOOD,
    "OIDC_ISSUER",
    "OIDC_CLIENT_ID",
    "OIDC_CLIENT_SECRET",
    "PASSWORD_SIGN_IN",
    "METRICS_TOKEN",
    "VOICE_BACKEND",
    "TWILIO_VOICE_FROM",
}


def start_production(monkeypatch, **changes):
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in {**GOOD, **changes}.items():
        if value is not None:
            monkeypatch.setenv(name, value)
    return create_app("production", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def refusal(monkeypatch, **changes) -> list[str]:
    with pytest.raises(SystemExit) as stopped:
        start_production(monkeypatch, **changes)
    lines = str(stopped.value).splitlines()
    assert all(line.startswith("Responder cannot start: ") for line in lines), lines
    return lines


def test_a_well_configured_production_starts(monkeypatch):
    assert start_production(monkeypatch).config["ENV_NAME"] == "production"


@pytest.mark.parametrize(
    "key",
    [
        "a" * 32,  # the finding: 32 characters of one letter
        "change-me-change-me-change-me-change-me",  # the finding: a placeholder
        "abcabcabcabcabcabcabcabcabcabcabcabc",  # too few distinct characters
        "short-but-random-Xy7",
        "my-super-SECRET-key-for-responder-0123456789",
        "Password1234567890-ABCDEFGHIJKLMNOPQRST",
        "CHANGEME-0a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p",
        "",
    ],
)
def test_a_weak_or_placeholder_secret_key_is_refused(monkeypatch, key):
    lines = refusal(monkeypatch, SECRET_KEY=key or None)
    assert len(lines) == 1 and "SECRET_KEY" in lines[0]


@pytest.mark.parametrize(
    "make_key",
    [lambda: secrets.token_hex(32), lambda: secrets.token_urlsafe(48), lambda: secrets.token_hex(16)],
    ids=["hex-32", "urlsafe-48", "hex-16"],
)
def test_random_keys_pass(monkeypatch, make_key):
    start_production(monkeypatch, SECRET_KEY=make_key())


def test_an_unknown_backend_name_is_refused(monkeypatch):
    lines = refusal(monkeypatch, SMS_BACKEND="nope")
    assert lines == ["Responder cannot start: SMS_BACKEND must be one of outbox, twilio, notify, not 'nope'."]


def test_twilio_without_its_credentials_is_refused(monkeypatch):
    lines = refusal(monkeypatch, TWILIO_ACCOUNT_SID=None, TWILIO_AUTH_TOKEN=None, TWILIO_FROM=None)
    assert len(lines) == 1 and "TWILIO_ACCOUNT_SID" in lines[0] and "TWILIO_AUTH_TOKEN" in lines[0]


def test_calls_from_a_messaging_service_need_a_number_to_call_from(monkeypatch):
    service = "MG" + "0" * 32
    lines = refusal(monkeypatch, TWILIO_FROM=service, VOICE_BACKEND="twilio")
    assert len(lines) == 1 and "TWILIO_VOICE_FROM" in lines[0]
    # Unset, calls follow the texts only where there is a number to call from; otherwise they are off.
    assert voice_backend(start_production(monkeypatch, TWILIO_FROM=service).config) == "off"
    numbered = start_production(monkeypatch, TWILIO_FROM=service, TWILIO_VOICE_FROM="+447700900999")
    assert voice_backend(numbered.config) == "twilio"


def test_calls_kept_in_the_outbox_are_refused_in_production(monkeypatch):
    lines = refusal(monkeypatch, VOICE_BACKEND="outbox")
    assert len(lines) == 1 and "VOICE_BACKEND" in lines[0]


def test_smtp_with_half_its_credentials_is_refused(monkeypatch):
    lines = refusal(monkeypatch, SMTP_PASSWORD=None)
    assert len(lines) == 1 and "SMTP_USERNAME" in lines[0] and "SMTP_PASSWORD" in lines[0]


def test_smtp_credentials_sent_without_starttls_are_refused(monkeypatch):
    lines = refusal(monkeypatch, SMTP_STARTTLS="off")
    assert len(lines) == 1 and "SMTP_STARTTLS" in lines[0]


def test_every_problem_gets_its_own_line(monkeypatch):
    lines = refusal(
        monkeypatch,
        SECRET_KEY="a" * 32,
        EMAIL_BACKEND="outbox",
        PUBLIC_BASE_URL="http://responder.example.org",
        SMS_BACKEND="nope",
    )
    assert len(lines) == 4, lines


def test_single_sign_on_half_configured_is_refused(monkeypatch):
    lines = refusal(monkeypatch, OIDC_ISSUER="https://login.microsoftonline.com/tenant/v2.0")
    assert len(lines) == 1 and "OIDC_CLIENT_ID" in lines[0] and "OIDC_CLIENT_SECRET" in lines[0]


def test_password_sign_in_off_needs_single_sign_on(monkeypatch):
    lines = refusal(monkeypatch, PASSWORD_SIGN_IN="off")
    assert len(lines) == 1 and "PASSWORD_SIGN_IN" in lines[0] and "OIDC_ISSUER" in lines[0]


def test_production_asks_for_two_factor_by_default(monkeypatch):
    assert start_production(monkeypatch).config["MFA_REQUIRED"] is True
