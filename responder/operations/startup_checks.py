"""Refusing to start half-configured: each problem is one line that says which setting to fix.

Called by ``create_app``. A service that starts with a wrong setting fails
later, at 2 a.m., in the middle of an incident; one that refuses to start
fails at deploy time, in front of the person who can fix it.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from responder.extensions import db
from responder.notify.backends import backend_setting_problems
from responder.operations.secret_keys import secret_key_problem
from responder.playbooks.schema import SHARING_BASES

LOG_FORMATS = ("json", "text")
OIDC_ROLE_CLAIMS = ("roles", "groups")


def refuse_bad_settings(app: Flask) -> None:
    """Refuse to start on any wrong setting: SystemExit with one line per problem, naming the setting."""
    problems = _setting_problems(app.config)
    if app.config.get("ENV_NAME") == "production":
        problems += _production_problems(app.config)
    if problems:
        raise SystemExit("\n".join(f"Responder cannot start: {problem}." for problem in problems))


def _setting_problems(config) -> list[str]:
    """Settings every environment needs right."""
    problems = []
    if config.get("EXPORT_SHARING_BASIS") not in SHARING_BASES:
        problems.append(f"EXPORT_SHARING_BASIS must be one of {', '.join(SHARING_BASES)}")
    if config.get("LOG_FORMAT") not in LOG_FORMATS:
        problems.append(f"LOG_FORMAT must be {' or '.join(LOG_FORMATS)}")
    if config.get("RETENTION_MONTHS", 1) < 1 or config.get("EXERCISE_RETENTION_DAYS", 1) < 1:
        problems.append("RETENTION_MONTHS and EXERCISE_RETENTION_DAYS must be at least 1")
    if not _is_time_of_day(config.get("RETENTION_PURGE_TIME", "03:30")):
        problems.append("RETENTION_PURGE_TIME must be a time of day such as 03:30")
    if config.get("PROXY_FIX_HOPS", 0) < 0:
        problems.append("PROXY_FIX_HOPS must be 0 (no proxy) or more")
    problems += _sending_problems(config)
    problems += _sign_in_problems(config)
    return problems


def _production_problems(config) -> list[str]:
    """What production must have besides: a real key, real providers, https, shared rate limits."""
    problems = []
    if reason := secret_key_problem(config.get("SECRET_KEY")):
        problems.append(reason)
    if config["SMS_BACKEND"] == "outbox" or config["EMAIL_BACKEND"] == "outbox":
        problems.append("SMS_BACKEND and EMAIL_BACKEND must not be 'outbox' (nothing would be sent)")
    if config.get("VOICE_BACKEND") == "outbox":  # unset, it follows SMS_BACKEND, refused above if outbox
        problems.append("VOICE_BACKEND must be 'twilio' or 'off', not 'outbox' (no call would be placed)")
    if not config["PUBLIC_BASE_URL"].startswith("https://"):
        problems.append("PUBLIC_BASE_URL must be an https:// address")
    if not config.get("RATELIMIT_STORAGE_URI"):
        problems.append(
            "RATELIMIT_STORAGE_URI must be set: redis://HOST:6379/0 to share limits between processes "
            "and machines, or memory:// to accept that each process counts on its own"
        )
    if config["EMAIL_BACKEND"] == "smtp" and config.get("SMTP_PASSWORD") and not config.get("SMTP_STARTTLS"):
        problems.append(
            "SMTP_STARTTLS must be on when SMTP_PASSWORD is set (the password would cross in clear)"
        )
    if config.get("OIDC_ISSUER") and not config["OIDC_ISSUER"].startswith("https://"):
        problems.append("OIDC_ISSUER must be an https:// address")
    return problems


def _sign_in_problems(config) -> list[str]:
    problems = []
    if config.get("OIDC_ISSUER"):
        missing = [name for name in ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET") if not config.get(name)]
        if missing:
            problems.append(f"OIDC_ISSUER is set but {' and '.join(missing)} is not")
    elif not config.get("PASSWORD_SIGN_IN", True):
        problems.append("PASSWORD_SIGN_IN is off but OIDC_ISSUER is not set: nobody could sign in")
    if config.get("OIDC_ROLE_CLAIM", "roles") not in OIDC_ROLE_CLAIMS:
        problems.append(f"OIDC_ROLE_CLAIM must be {' or '.join(OIDC_ROLE_CLAIMS)}")
    from responder.accounts.claim_mapping import ClaimMappingError, claim_mapping_from_config

    try:
        claim_mapping_from_config(config)
    except ClaimMappingError as error:
        problems.append(str(error))
    return problems


def _sending_problems(config) -> list[str]:
    problems = backend_setting_problems(config)
    timeout, lease = config["MESSAGE_SEND_TIMEOUT_SECONDS"], config["MESSAGE_LEASE_SECONDS"]
    if timeout < 1 or lease < 2 * timeout + 5:
        # A takeover must never start while the first sender may still be asking the provider.
        problems.append(
            "MESSAGE_LEASE_SECONDS must be at least twice MESSAGE_SEND_TIMEOUT_SECONDS plus 5 "
            f"(now {lease} and {timeout})"
        )
    return problems


def require_database(app: Flask) -> None:
    """Connect once (STARTUP_DATABASE_CHECK, on in production); refuse to start if that fails."""
    shown = _safe_url(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with app.app_context():
            try:
                db.session.execute(text("SELECT 1"))
            finally:
                db.session.remove()
                # Nothing pooled survives into forked workers.
                db.engine.dispose()
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise SystemExit(
            f"Responder cannot start: the database at {shown} is unreachable ({reason}). "
            "Check DATABASE_URL and that the database server is running."
        ) from None


def _is_time_of_day(value: str) -> bool:
    hour, _, minute = value.partition(":")
    return hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60


def _safe_url(url: str) -> str:
    """The database URL with its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(DATABASE_URL is not a database URL)"
