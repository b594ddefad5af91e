"""HTTP: one blueprint per feature. Views parse, call a service, render."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from responder.scheduling.runtime import init_app as init_embedded_scheduler
    from responder.web import (
        account,
        acks,
        admin,
        admin_rotas,
        admin_users,
        api,
        auth,
        callouts,
        dev,
        errors,
        health,
        incident_actions,
        incidents,
        input_guard,
        notify_callbacks,
        readiness,
        security,
        single_sign_on,
        sms_inbound,
        two_factor,
        voice_calls,
        webhooks,
    )
    from responder.web.check_ins import bp as check_ins_bp
    from responder.web.deadlines import bp as deadlines_bp
    from responder.web.exports import bp as exports_bp
    from responder.web.insights import bp as insights_bp
    from responder.web.metrics import bp as metrics_bp
    from responder.web.reviews import bp as reviews_bp
    from responder.web.sharing import bp as sharing_bp

    auth.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(two_factor.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(single_sign_on.bp)
    app.register_blueprint(admin_users.bp)
    app.register_blueprint(incidents.bp)
    app.register_blueprint(incident_actions.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(callouts.bp)
    app.register_blueprint(admin_rotas.bp)
    app.register_blueprint(readiness.bp)
    app.register_blueprint(deadlines_bp)
    app.register_blueprint(check_ins_bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(acks.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(sms_inbound.bp)
    app.register_blueprint(voice_calls.bp)
    app.register_blueprint(notify_callbacks.bp)
    app.register_blueprint(exports_bp)
    app.register_blueprint(insights_bp)
    app.register_blueprint(reviews_bp)
    app.register_blueprint(sharing_bp)
    app.register_blueprint(metrics_bp)
    if app.config.get("DEV_OUTBOX"):
        app.register_blueprint(dev.bp)
    # SCHEDULER=embedded: the scheduler starts with the first request this process serves.
    init_embedded_scheduler(app)
    errors.register(app)
    input_guard.register(app)
    security.register(app)
