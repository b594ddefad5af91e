"""Configuration classes, read from the environment when the app factory runs.

Each class reads its values in ``__init__`` so that importing this module has no
side effects and tests can set environment variables before building an app.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"Responder cannot start: {name} must be a whole number, not {value!r}.") from None


def _env_float(name: str, default: float) -> float:
    value = _env(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise SystemExit(f"Responder cannot start: {name} must be a number, not {value!r}.") from None


def _dev_secret_key() -> str:
    """A development secret generated once and kept in instance/ (never in git)."""
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"

    def __init__(self) -> None:
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        self.SECRET_KEY = _env("SECRET_KEY")
        self.SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'responder.db'}")
        # PostgreSQL (responder.database): how long to wait for a connection to open,
        # for one statement, and for a free connection in this process's pool; the
        # pool's size. The README's "Connections" section adds them up.
        self.DATABASE_CONNECT_TIMEOUT_SECONDS = _env_int("DATABASE_CONNECT_TIMEOUT_SECONDS", 5)
        self.DATABASE_STATEMENT_TIMEOUT_SECONDS = _env_int("DATABASE_STATEMENT_TIMEOUT_SECONDS", 15)
        self.DATABASE_POOL_TIMEOUT_SECONDS = _env_int("DATABASE_POOL_TIMEOUT_SECONDS", 5)
        self.DATABASE_POOL_SIZE = _env_int("DATABASE_POOL_SIZE", 4)
        self.DATABASE_MAX_OVERFLOW = _env_int("DATABASE_MAX_OVERFLOW", 6)
        self.PLAYBOOKS_DIR = _env("PLAYBOOKS_DIR", str(BASE_DIR / "playbooks"))
        self.PUBLIC_BASE_URL = _env("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
        self.TIMEZONE = _env("TIMEZONE", "Europe/London")
        self.SMS_BACKEND = _env("SMS_BACKEND", "outbox")
        self.EMAIL_BACKEND = _env("EMAIL_BACKEND", "outbox")
        self.TWILIO_ACCOUNT_SID = _env("TWILIO_ACCOUNT_SID")
        self.TWILIO_AUTH_TOKEN = _env("TWILIO_AUTH_TOKEN")
        self.TWILIO_FROM = _env("TWILIO_FROM")
        self.TWILIO_API_BASE_URL = _env("TWILIO_API_BASE_URL")
        # Phone calls for the rungs a playbook's alert step names in ``call`` (outbox, twilio
        # or off); unset, they follow SMS_BACKEND (responder.notify.backends.voice_backend).
        # Calls come from TWILIO_VOICE_FROM, else TWILIO_FROM when it is a number.
        self.VOICE_BACKEND = _env("VOICE_BACKEND")
        self.TWILIO_VOICE_FROM = _env("TWILIO_VOICE_FROM")
        # GOV.UK Notify (SMS_BACKEND=notify and/or EMAIL_BACKEND=notify): the API key, one generic
        # template per channel, the bearer token Notify sends with its callbacks, and (tests only)
        # another address for its API.
        self.NOTIFY_API_KEY = _env("NOTIFY_API_KEY")
        self.NOTIFY_SMS_TEMPLATE_ID = _env("NOTIFY_SMS_TEMPLATE_ID")
        self.NOTIFY_EMAIL_TEMPLATE_ID = _env("NOTIFY_EMAIL_TEMPLATE_ID")
        self.NOTIFY_CALLBACK_TOKEN = _env("NOTIFY_CALLBACK_TOKEN")
        self.NOTIFY_BASE_URL = _env("NOTIFY_BASE_URL")
        self.SMTP_HOST = _env("SMTP_HOST", "localhost")
        self.SMTP_PORT = _env_int("SMTP_PORT", 25)
        self.SMTP_USERNAME = _env("SMTP_USERNAME")
        self.SMTP_PASSWORD = _env("SMTP_PASSWORD")
        self.SMTP_STARTTLS = _env_bool("SMTP_STARTTLS", False)
        self.MAIL_FROM = _env("MAIL_FROM", "responder@example.org")
        # Sending the outbox (responder.notify): start sending in this process right
        # after a commit; provider requests in flight at once per process; how long
        # one request may take (a text that has not been answered by then may still
        # have been created, and the provider is asked before it is sent again); how
        # long a claimed message stays with one sender (more than two requests' worth,
        # so a takeover never overlaps a send); the backoff between retries (doubling
        # from BASE, capped at MAX, with jitter); how long a message that keeps
        # failing is retried before it fails for good; how long a text keeps failing
        # before its recipient is emailed as well.
        self.DISPATCH_AFTER_COMMIT = _env_bool("DISPATCH_AFTER_COMMIT", True)
        self.MESSAGE_SEND_WORKERS = _env_int("MESSAGE_SEND_WORKERS", 50)
        self.MESSAGE_SEND_TIMEOUT_SECONDS = _env_int("MESSAGE_SEND_TIMEOUT_SECONDS", 10)
        self.MESSAGE_LEASE_SECONDS = _env_int("MESSAGE_LEASE_SECONDS", 25)
        self.MESSAGE_RETRY_BASE_SECONDS = _env_int("MESSAGE_RETRY_BASE_SECONDS", 5)
        self.MESSAGE_RETRY_MAX_SECONDS = _env_int("MESSAGE_RETRY_MAX_SECONDS", 300)
        self.MESSAGE_RETRY_FOR_SECONDS = _env_int("MESSAGE_RETRY_FOR_SECONDS", 2 * 60 * 60)
        self.MESSAGE_EMAIL_FALLBACK_SECONDS = _env_int("MESSAGE_EMAIL_FALLBACK_SECONDS", 120)
        self.SCHEDULER = _env("SCHEDULER", "off")
        # Timed actions (responder.scheduling): how often the reconciliation sweep
        # runs; how long a scheduler's lease lasts without a heartbeat (a standby
        # takes over once it runs out); how many actions may fire at once; how
        # often the scheduler sweeps the outbox.
        self.SCHEDULER_RECONCILE_SECONDS = _env_int("SCHEDULER_RECONCILE_SECONDS", 60)
        self.SCHEDULER_LEASE_SECONDS = _env_int("SCHEDULER_LEASE_SECONDS", 10)
        self.SCHEDULER_WORKERS = _env_int("SCHEDULER_WORKERS", 8)
        self.OUTBOX_SWEEP_SECONDS = _env_int("OUTBOX_SWEEP_SECONDS", 5)
        # An unanswered check-in is reminded once after this, then flagged as missed.
        self.CHECK_IN_REMINDER_AFTER = timedelta(minutes=_env_int("CHECK_IN_REMINDER_MINUTES", 120))
        self.CHECK_IN_FLAG_AFTER = timedelta(minutes=_env_int("CHECK_IN_FLAG_MINUTES", 120))
        # How long an acknowledgement or check-in link stays usable.
        self.ACCESS_TOKEN_TTL = timedelta(days=_env_int("ACCESS_TOKEN_TTL_DAYS", 7))
        # Shown on every error page a lead might meet at 2 a.m.
        self.VRU_DUTY_NUMBER = _env("VRU_DUTY_NUMBER", "0121 496 0000")
        self.DEV_OUTBOX = False
        self.WTF_CSRF_TIME_LIMIT = None  # a form left open overnight must still submit
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.PERMANENT_SESSION_LIFETIME = timedelta(minutes=_env_int("SESSION_IDLE_MINUTES", 120))
        # Staff sign-in (responder.accounts): a session also ends this long after it
        # began, however busy; two-factor codes for password sign-in (on by default
        # in production); who a refused person should ask for access.
        self.SESSION_ABSOLUTE_LIFETIME = timedelta(hours=_env_int("SESSION_ABSOLUTE_HOURS", 12))
        self.MFA_REQUIRED = _env_bool("MFA_REQUIRED", False)
        self.MFA_ISSUER_NAME = _env("MFA_ISSUER_NAME", "Responder")
        self.PASSWORD_SIGN_IN = _env_bool("PASSWORD_SIGN_IN", True)
        self.ACCESS_REQUEST_CONTACT = _env("ACCESS_REQUEST_CONTACT", "your Responder administrator")
        # Single sign-on (OpenID Connect, responder.accounts.single_sign_on): the
        # issuer and this client; which ID token claim carries roles ("roles": Entra
        # ID app roles, or "groups"); how its values map to a role and to local
        # authorities ("VALUE=ROLE,..."; "VALUE=birmingham,..."); whether the
        # identity provider must say it checked a second factor ("mfa" in amr).
        self.OIDC_ISSUER = _env("OIDC_ISSUER")
        self.OIDC_CLIENT_ID = _env("OIDC_CLIENT_ID")
        self.OIDC_CLIENT_SECRET = _env("OIDC_CLIENT_SECRET")
        self.OIDC_ROLE_CLAIM = _env("OIDC_ROLE_CLAIM", "roles")
        self.OIDC_ROLE_MAP = _env(
            "OIDC_ROLE_MAP", "Responder.Officer=officer,Responder.Manager=manager,Responder.Admin=admin"
        )
        self.OIDC_AREA_MAP = _env("OIDC_AREA_MAP", "")
        self.OIDC_REQUIRE_MFA = _env_bool("OIDC_REQUIRE_MFA", True)
        self.OIDC_SIGN_IN_LABEL = _env("OIDC_SIGN_IN_LABEL", "Sign in with your council account")
        # How long a bearer token from `users token` lasts unless --expires-days says otherwise.
        self.API_TOKEN_DAYS = _env_int("API_TOKEN_DAYS", 90)
        self.MAX_CONTENT_LENGTH = 1024 * 1024
        # Where rate limits are counted: shared between processes in production
        # (redis://...); production refuses to start without it being set, and
        # takes memory:// (each process counting for itself) only when it is said.
        self.RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI")
        self.RATELIMIT_ENABLED = True
        # Information governance (responder.sharing, responder.retention): the lawful
        # basis recorded for an export when the manager states none; how long personal
        # fields are kept after an incident closes (exercises much less).
        self.EXPORT_SHARING_BASIS = _env("EXPORT_SHARING_BASIS", "s115-cda-1998")
        self.RETENTION_MONTHS = _env_int("RETENTION_MONTHS", 24)
        self.EXERCISE_RETENTION_DAYS = _env_int("EXERCISE_RETENTION_DAYS", 30)
        self.RETENTION_PURGE_TIME = _env("RETENTION_PURGE_TIME", "03:30")  # local time, daily
        # Rotas (responder.rotas): how far ahead a calendar's recurring shifts are expanded,
        # and when (local time, nightly) they are expanded again to keep that far ahead.
        self.ROTA_WINDOW_DAYS = _env_int("ROTA_WINDOW_DAYS", 60)
        self.ROTA_EXTEND_TIME = _env("ROTA_EXTEND_TIME", "02:15")
        # Operations (responder.structured_logs, responder.web.metrics, /healthz):
        # JSON log lines (or "text"); a bearer token for /metrics (without one, only
        # loopback may read it); when /healthz reports degraded.
        self.LOG_FORMAT = _env("LOG_FORMAT", "json")
        self.LOG_LEVEL = _env("LOG_LEVEL", "INFO")
        self.LOG_REQUESTS = _env_bool("LOG_REQUESTS", True)
        self.METRICS_TOKEN = _env("METRICS_TOKEN")
        self.HEALTH_EXPECT_SCHEDULER = _env_bool("HEALTH_EXPECT_SCHEDULER", False)
        self.HEALTH_SCHEDULER_STALE_SECONDS = _env_int("HEALTH_SCHEDULER_STALE_SECONDS", 60)
        self.HEALTH_OUTBOX_MAX_AGE_SECONDS = _env_int("HEALTH_OUTBOX_MAX_AGE_SECONDS", 600)
        # /healthz answers within this whatever the database does, and says the
        # service is degraded when a provider has failed every attempt this long.
        self.HEALTH_TIMEOUT_SECONDS = _env_float("HEALTH_TIMEOUT_SECONDS", 1.5)
        self.PROVIDER_DOWN_AFTER_SECONDS = _env_int("PROVIDER_DOWN_AFTER_SECONDS", 300)
        # Behind a reverse proxy: how many proxies set X-Forwarded-* (0: trust none).
        self.PROXY_FIX_HOPS = _env_int("PROXY_FIX_HOPS", 0)
        self.STARTUP_DATABASE_CHECK = _env_bool("STARTUP_DATABASE_CHECK", False)


class DevelopmentConfig(Config):
    ENV_NAME = "development"

    def __init__(self) -> None:
        super().__init__()
        self.RATELIMIT_STORAGE_URI = self.RATELIMIT_STORAGE_URI or "memory://"
        self.SECRET_KEY = self.SECRET_KEY or _dev_secret_key()
        self.SCHEDULER = _env("SCHEDULER", "embedded")
        self.DEV_OUTBOX = True


class TestingConfig(Config):
    ENV_NAME = "testing"

    def __init__(self) -> None:
        super().__init__()
        self.TESTING = True
        self.RATELIMIT_STORAGE_URI = self.RATELIMIT_STORAGE_URI or "memory://"
        self.SECRET_KEY = "testing-secret-key-not-for-production"  # noqa: S105
        self.SQLALCHEMY_DATABASE_URI = _env("TEST_DATABASE_URL", "sqlite:///:memory:")
        self.SCHEDULER = "off"
        self.DEV_OUTBOX = True
        self.WTF_CSRF_ENABLED = False
        self.RATELIMIT_ENABLED = False
        self.PUBLIC_BASE_URL = "http://responder.test"
        # Tests send with sweep_outbox(), so nothing races them in the background.
        self.DISPATCH_AFTER_COMMIT = False


class ProductionConfig(Config):
    ENV_NAME = "production"

    def __init__(self) -> None:
        super().__init__()
        self.SESSION_COOKIE_SECURE = True
        self.REMEMBER_COOKIE_SECURE = True
        self.MFA_REQUIRED = _env_bool("MFA_REQUIRED", True)
        self.PREFERRED_URL_SCHEME = "https"
        # A production web process expects a scheduler somewhere, and a reachable database.
        self.HEALTH_EXPECT_SCHEDULER = _env_bool("HEALTH_EXPECT_SCHEDULER", True)
        self.STARTUP_DATABASE_CHECK = _env_bool("STARTUP_DATABASE_CHECK", True)


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_for(name: str | None = None) -> Config:
    """Build the configuration object for RESPONDER_ENV (or ``name``)."""
    name = name or _env("RESPONDER_ENV", "development")
    try:
        return CONFIGS[name]()
    except KeyError:
        raise SystemExit(
            f"Responder cannot start: RESPONDER_ENV={name!r} is not one of {', '.join(CONFIGS)}."
        ) from None
