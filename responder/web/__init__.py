"""HTTP: one blueprint per feature. Views parse, call a service, render."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from responder.web import api, auth, dev, errors, health, incidents, webhooks

    auth.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(incidents.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(webhooks.bp)
    if app.config.get("DEV_OUTBOX"):
        app.register_blueprint(dev.bp)
    errors.register(app)
