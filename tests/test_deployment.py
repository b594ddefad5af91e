"""Deployment: configuration mistakes stop the start with one clear line; the proxy, gunicorn
and systemd settings in deploy/ do what the README's "Operations" section says."""

from __future__ import annotations

import json
import logging
import runpy
import secrets
from pathlib import Path

import pytest
from flask import request
from werkzeug.middleware.proxy_fix import ProxyFix

from responder import create_app
from responder.operations.secret_keys import secret_key_problem

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
GOOD_PRODUCTION = {
    "SECRET_KEY": secrets.token_hex(32),
    "SMS_BACKEND": "twilio",
    "EMAIL_BACKEND": "smtp",
    "PUBLIC_BASE_URL": "https://responder.example.org",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "twilio-auth-token",
    "TWILIO_FROM": "+447700900000",
    "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
}


@pytest.fixture
def production_env(monkeypatch):
    for name, value in GOOD_PRODUCTION.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_production_starts_with_a_reachable_database(production_env):
    app = create_app("production", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["STARTUP_DATABASE_CHECK"] and app.config["HEALTH_EXPECT_SCHEDULER"]


def test_production_refuses_an_unreachable_database_in_one_line(production_env):
    # Port 1 on loopback: nothing listens there.
    url = "postgresql+psycopg://responder:s3cret-password@127.0.0.1:1/responder?connect_timeout=2"
    with pytest.raises(SystemExit) as stopped:
        create_app("production", {"SQLALCHEMY_DATABASE_URI": url})
    message = str(stopped.value)
    assert message.startswith("Responder cannot start: the database at postgresql+psycopg://responder:***@")
    assert "unreachable" in message and "DATABASE_URL" in message
    assert "s3cret-password" not in message and "\n" not in message


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RETENTION_MONTHS": "two years"}, "RETENTION_MONTHS must be a whole number, not 'two years'"),
        ({"RETENTION_MONTHS": "0"}, "RETENTION_MONTHS and EXERCISE_RETENTION_DAYS must be at least 1"),
        ({"EXPORT_SHARING_BASIS": "because"}, "EXPORT_SHARING_BASIS must be one of s115-cda-1998"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be json or text"),
        ({"RETENTION_PURGE_TIME": "3am"}, "RETENTION_PURGE_TIME must be a time of day"),
        ({"PROXY_FIX_HOPS": "-1"}, "PROXY_FIX_HOPS must be 0"),
    ],
)
def test_bad_settings_stop_any_environment_in_one_line(monkeypatch, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        create_app("development", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert message in str(stopped.value) and "\n" not in str(stopped.value)
    assert str(stopped.value).startswith("Responder cannot start:")


def test_behind_a_proxy_the_client_address_and_scheme_come_from_forwarded_headers(make_app):
    app = make_app(PROXY_FIX_HOPS=1)
    assert isinstance(app.wsgi_app, ProxyFix)

    @app.get("/_seen-as")
    def seen_as():
        return {"address": request.remote_addr, "scheme": request.scheme, "host": request.host}

    with app.app_context():
        seen = app.test_client().get(
            "/_seen-as",
            headers={
                "X-Forwarded-For": "198.51.100.4, 203.0.113.9",
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": "responder.example.org",
            },
        )
    # One hop: only the address the proxy itself added is trusted, not one the client sent.
    assert seen.json == {"address": "203.0.113.9", "scheme": "https", "host": "responder.example.org"}


def test_without_a_proxy_forwarded_headers_are_ignored(app):
    assert not isinstance(app.wsgi_app, ProxyFix)


def test_gunicorn_never_preloads_and_logs_paths_without_queries_or_tokens(capsys):
    settings = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert settings["preload_app"] is False
    fmt = settings["access_log_format"]
    assert "%(U)s" in fmt and "%(r)s" not in fmt and "%(q)s" not in fmt

    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    config = Config()
    for name, value in settings.items():
        if name in config.settings:
            config.set(name, value)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    logger = Logger(config)  # applies logconfig_dict, as gunicorn does at start
    try:
        atoms = {
            "h": "127.0.0.1",
            "m": "GET",
            "U": "/a/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
            "H": "HTTP/1.1",
        }
        atoms.update({"s": 200, "B": 512, "M": 4, "{x-request-id}o": "req-1"})
        logger.access_log.info(config.access_log_format, atoms)
        line = capsys.readouterr().err.strip().splitlines()[-1]
    finally:
        for name in ("gunicorn.access", "gunicorn.error"):
            logging.getLogger(name).handlers.clear()
        root.handlers[:] = handlers
        root.setLevel(level)
    entry = json.loads(line)
    assert entry["logger"] == "gunicorn.access"
    assert entry["message"] == '127.0.0.1 "GET /a/[redacted] HTTP/1.1" 200 512 4ms req-1'


def test_systemd_units_run_web_workers_without_a_scheduler_and_one_scheduler_process():
    web = (DEPLOY / "systemd" / "responder-web.service").read_text()
    assert "Environment=SCHEDULER=off" in web
    assert "gunicorn --config deploy/gunicorn.conf.py wsgi:app" in web and "--preload" not in web
    for unit in ("responder-scheduler.service", "responder-scheduler-standby.service"):
        text = (DEPLOY / "systemd" / unit).read_text()
        assert "ExecStart=/opt/responder/.venv/bin/flask --app wsgi scheduler run" in text
        assert "Environment=SCHEDULER=off" in text  # never also an embedded one


def test_the_example_environment_would_not_start_unchanged():
    """A copied example must not run in production with its placeholder secret."""
    example = dict(
        line.split("=", 1)
        for line in (DEPLOY / "responder.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert secret_key_problem(example["SECRET_KEY"].split()[0]) is not None
    assert example["RESPONDER_ENV"] == "production" and example["PUBLIC_BASE_URL"].startswith("https://")
