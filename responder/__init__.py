"""Responder: coordinating the multi-agency response to serious youth violence."""

from __future__ import annotations

from typing import Any

import click
from flask import Flask
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader
from werkzeug.middleware.proxy_fix import ProxyFix

from config import BASE_DIR, INSTANCE_DIR, config_for
from responder import database, unit_of_work
from responder.extensions import csrf, db, limiter, login_manager, migrate
from responder.operations import log_redaction, startup_checks, structured_logs

MIGRATIONS_DIR = BASE_DIR / "migrations"


def create_app(config_name: str | None = None, overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app: configuration, extensions, playbooks, blueprints. Starts nothing."""
    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config.from_object(config_for(config_name))
    if overrides:
        app.config.update(overrides)
    startup_checks.refuse_bad_settings(app)
    structured_logs.init_app(app)
    _trust_proxy_headers(app)

    database.configure_engine(app)
    db.init_app(app)
    unit_of_work.install_session_events()
    if app.config["STARTUP_DATABASE_CHECK"]:
        startup_checks.require_database(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), compare_type=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)

    from responder.playbooks import registry

    registry.init_app(app, strict=_serves_requests())

    # Request lines carry link tokens; these loggers write request lines.
    log_redaction.install("werkzeug", "gunicorn.access", "gunicorn.error")
    _init_templates(app)
    from responder import cli, web

    web.register(app)
    cli.register(app)
    unit_of_work.init_app(app)
    return app


def _serves_requests() -> bool:
    """True under gunicorn and ``flask run``: an invalid playbook must stop them at once.

    Other commands start with invalid playbooks, so that ``playbooks check``
    can say what is wrong; those that act check for themselves.
    """
    command = click.get_current_context(silent=True)
    return command is None or command.info_name == "run"


def _init_templates(app: Flask) -> None:
    app.jinja_loader = ChoiceLoader(
        [
            PackageLoader("responder"),
            PrefixLoader(
                {
                    "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                    "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
                }
            ),
        ]
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    from responder.web import filters

    filters.register(app)


def _trust_proxy_headers(app: Flask) -> None:
    """Behind PROXY_FIX_HOPS reverse proxies, take the client address and scheme from X-Forwarded-*.

    Never more hops than there are proxies: a client could forge the rest.
    """
    hops = app.config["PROXY_FIX_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


__all__ = ["create_app"]
