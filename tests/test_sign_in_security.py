"""Signing in: generic failures, fresh sessions, safe cookies, headers (throttling: test_sign_in_throttling.py)."""

from __future__ import annotations

from datetime import timedelta

from freezegun import freeze_time

from responder.clock import now_utc

PASSWORD = "correct-horse-battery"


def sign_in(client, email, password):
    return client.post("/login", data={"email": email, "password": password})


def test_a_good_sign_in_resets_the_count(client, make_user):
    user = make_user()
    for _ in range(3):
        sign_in(client, user.email, "wrong-password")
    assert sign_in(client, user.email, PASSWORD).status_code == 302
    assert user.failed_logins == 0


def test_sign_in_starts_a_fresh_session(client, make_user):
    user = make_user()
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    sign_in(client, user.email, PASSWORD)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.permanent


def test_sign_out_ends_the_session(client, make_user):
    user = make_user()
    sign_in(client, user.email, PASSWORD)
    client.post("/logout")
    assert client.get("/").status_code == 302


def test_sessions_expire_when_idle(client, make_user, app):
    user = make_user()
    sign_in(client, user.email, PASSWORD)
    idle = app.config["PERMANENT_SESSION_LIFETIME"] + timedelta(minutes=1)
    with freeze_time(now_utc() + idle):
        assert client.get("/").status_code == 302


def test_production_cookies_are_secure_httponly_and_samesite(monkeypatch):
    from .test_production_settings import start_production

    app = start_production(monkeypatch)
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    response = app.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_every_page_sends_protective_headers(client):
    response = client.get("/login")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_pages_have_no_inline_scripts(client, make_user):
    import re

    user = make_user()
    sign_in(client, user.email, PASSWORD)
    for path in ("/login", "/", "/incidents/new", "/incidents"):
        html = client.get(path).get_data(as_text=True)
        scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
        assert all("src=" in attributes and not body.strip() for attributes, body in scripts), path
