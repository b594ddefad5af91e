"""Rate limits counted once across processes (Redis), and production refusing to guess where."""

from __future__ import annotations

import secrets

import pytest
import redis

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def shared_redis():
    """The Redis on 127.0.0.1:6379 (.ci/run starts one when none runs), and a key prefix of this test's own."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379 (.ci/run starts one)")
    prefix = f"responder-test-{secrets.token_hex(4)}"
    yield client, prefix
    for key in client.scan_iter(f"*{prefix}*"):
        client.delete(key)
    client.close()


def test_two_processes_share_one_count_of_guesses(make_app, shared_redis):
    client, prefix = shared_redis
    # Two apps stand for two gunicorn workers (or two machines) sharing the store.
    first, second = (
        make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_KEY_PREFIX=prefix)
        for _ in range(2)
    )
    guess = "/a/guessguessguessguessguessguess00"
    from_first = [first.test_client().get(guess).status_code for _ in range(30)]
    assert set(from_first) == {404}, "30 a minute are allowed"
    assert second.test_client().get(guess).status_code == 429, "the other process knows of the 30"
    assert any(client.scan_iter(f"*{prefix}*"))


def test_production_refuses_to_start_without_a_rate_limit_store(monkeypatch):
    from responder import create_app

    monkeypatch.setenv("SECRET_KEY", secrets.token_urlsafe(48))
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://responder.example.org")
    monkeypatch.setenv("SMS_BACKEND", "twilio")
    monkeypatch.setenv("EMAIL_BACKEND", "smtp")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "token")
    monkeypatch.setenv("TWILIO_FROM", "+447700900000")
    monkeypatch.setenv("STARTUP_DATABASE_CHECK", "off")
    monkeypatch.delenv("RATELIMIT_STORAGE_URI", raising=False)
    with pytest.raises(SystemExit) as stopped:
        create_app("production")
    assert "RATELIMIT_STORAGE_URI must be set" in str(stopped.value)
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "memory://")  # said explicitly: accepted
    assert create_app("production").config["RATELIMIT_STORAGE_URI"] == "memory://"
