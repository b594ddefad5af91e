"""Shared fixtures: a migrated database (SQLite, or PostgreSQL via TEST_DATABASE_URL),
an app per test, factories for users, contacts and incidents, and no real network."""

from __future__ import annotations

import asyncio
import csv
import io
import ipaddress
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import freezegun
import pytest
import sqlalchemy as sa
from flask import g, has_app_context
from flask.testing import FlaskClient

from responder import create_app
from responder.accounts.users import create_user, issue_api_token
from responder.clock import now_utc
from responder.demo import DEMO_CONTACTS
from responder.directory.contacts import parse_row
from responder.extensions import db, limiter
from responder.incidents.opening import IncidentReport, open_incident
from responder.models import Contact, Incident
from responder.notify.dispatcher import stop_dispatcher, sweep_outbox
from responder.operations.structured_logs import configure_logging

from .fake_notify import API_KEY as NOTIFY_API_KEY
from .fake_notify import EMAIL_TEMPLATE_ID as NOTIFY_EMAIL_TEMPLATE_ID
from .fake_notify import SMS_TEMPLATE_ID as NOTIFY_SMS_TEMPLATE_ID
from .fake_notify import FakeNotify
from .fake_twilio import FakeTwilio
from .smtp_server import RecordingSmtpServer

# freezegun's real_asyncio, for every test: the sender's event loop (and aiosmtpd's) keeps
# real time while a test freezes the clock, or its timeouts and sleeps would never end.
# The real clock is kept in a closure, where freezegun's search for time functions to
# replace does not look.
asyncio.BaseEventLoop.time = (lambda monotonic: lambda self: monotonic())(time.monotonic)

# Each freeze_time() looks through every loaded module for time functions to replace (~40 ms
# with this suite's 2,500 modules, hundreds of times a run). These libraries hold no copy of a
# time function that Responder's frozen clock depends on, and the Responder code they call
# never reads the clock, so they are skipped; calls from them get the real time, which keeps
# their HTTP and database timeouts working while the clock is frozen.
freezegun.configure(
    extend_ignore_list=[
        "aiohttp",
        "alembic",
        "cryptography",
        "hypothesis",
        "mako",
        "phonenumbers",
        "psycopg",
        "pygments",
        "requests",
        "schemathesis",
        "twilio",
        "urllib3",
    ]
)

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOKS = ROOT / "playbooks"
PASSWORD = "correct-horse-battery"
TWILIO_ACCOUNT_SID = "AC" + "0" * 32
TWILIO_AUTH_TOKEN = "test-twilio-auth-token"
NOTIFY_CALLBACK_TOKEN = "test-notify-callback-token-0123456789"


@pytest.fixture(scope="session")
def database_url(request) -> str:
    """A fresh database for the whole run, its schema built from the models.

    tests/test_migrations.py checks separately that the Alembic revisions
    build exactly this schema.
    """
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        url = worker_database(url)
        reset_postgres(url)
    else:
        url = f"sqlite:///{request.getfixturevalue('sqlite_directory') / 'responder-test.db'}"
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return url


@pytest.fixture(scope="session")
def sqlite_directory(tmp_path_factory):
    """Where the SQLite test database lives: memory-backed /dev/shm where there is one.

    The tests commit thousands of times, and on a disk each commit waits for an fsync.
    """
    shared_memory = Path("/dev/shm")
    if not (shared_memory.is_dir() and os.access(shared_memory, os.W_OK)):
        yield tmp_path_factory.mktemp("db")
        return
    directory = Path(tempfile.mkdtemp(prefix="responder-tests-", dir=shared_memory))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def worker_database(url: str) -> str:
    """Under pytest-xdist, a database of each worker's own beside TEST_DATABASE_URL's (created once)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = sa.engine.make_url(url)
    name = f"{base.database}_{worker}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            known = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
            if not known:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        pytest.exit(f"TEST_DATABASE_URL is set but PostgreSQL is unreachable: {error}", returncode=3)
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    except sa.exc.OperationalError as error:
        pytest.exit(f"TEST_DATABASE_URL is set but PostgreSQL is unreachable: {error}", returncode=3)
    finally:
        engine.dispose()


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


class IsolatedRequestClient(FlaskClient):
    """A test client whose requests do not inherit the signed-in user from the test's app context.

    Tests keep an app context pushed; Flask reuses it for each request, and
    Flask-Login caches the user on ``g`` there. Dropping that cache makes every
    request load its user from its own cookies, as in a real server.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            g.pop("_login_user", None)
        return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def shared_app(database_url):
    """One app for the whole run: its engine, compiled statements and templates are reused.

    Tests change its settings freely; the ``app`` fixture puts them back.
    """
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": database_url, "PLAYBOOKS_DIR": str(PLAYBOOKS)})
    app.test_client_class = IsolatedRequestClient
    app.extensions["tests.limiter_settings"] = dict(limiter.__dict__)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(shared_app):
    """The app inside an app context; afterwards its settings restored and its tables emptied."""
    config = dict(shared_app.config)
    extensions = dict(shared_app.extensions)
    # Logging is the process's, and other apps or tests may have changed it; so is the
    # rate limiter (Flask-Limiter keeps the settings of the last app it was bound to).
    configure_logging(shared_app.config)
    limiter.__dict__.update(shared_app.extensions["tests.limiter_settings"])
    with shared_app.app_context():
        yield shared_app
        stop_dispatcher(shared_app)
        db.session.remove()
        _empty_tables()
    shared_app.config.clear()
    shared_app.config.update(config)
    shared_app.extensions.clear()
    shared_app.extensions.update(extensions)


def _empty_tables() -> None:
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def make_app(database_url):
    """Another app on the test database with different settings; its connections closed after."""
    made = []

    def make(**overrides):
        settings = {"SQLALCHEMY_DATABASE_URI": database_url, "PLAYBOOKS_DIR": str(PLAYBOOKS), **overrides}
        other = create_app("testing", settings)
        other.test_client_class = IsolatedRequestClient
        made.append(other)
        return other

    yield make
    for other in made:
        stop_dispatcher(other)
        with other.app_context():
            db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(autouse=True)
def no_real_network(monkeypatch):
    """Any connection beyond this machine fails the test."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else None
        if host is not None:
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise RuntimeError(f"test tried to reach the network: {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


# --- factories -----------------------------------------------------------------


@pytest.fixture
def make_user(app):
    counter = iter(range(1, 10_000))

    def make(role: str = "officer", email: str | None = None, password: str = PASSWORD):
        email = email or f"{role}{next(counter)}@example.org"
        user = create_user(email, role, password, name=f"Test {role.title()}")
        db.session.commit()
        return user

    return make


@pytest.fixture(scope="session")
def demo_contacts() -> list[dict]:
    """The demo directory's rows, validated once (tests of importing use import_contacts itself)."""
    reader = csv.DictReader(io.StringIO(DEMO_CONTACTS.read_text(encoding="utf-8")))
    return [vars(parse_row(row)) for row in reader]


@pytest.fixture
def directory(app, demo_contacts):
    """The demo contact directory, loaded in one statement."""
    db.session.execute(sa.insert(Contact), [{**row, "active": True} for row in demo_contacts])
    db.session.commit()
    return demo_contacts


def incident_by_reference(reference: str) -> Incident:
    """Any incident, whoever may see it (the test's own look-up, not a user's)."""
    return db.session.scalar(sa.select(Incident).where(Incident.reference == reference))


def two_at_once(app, work: Callable[[], object]) -> dict[str, object]:
    """Run ``work`` in two transactions at once: "first" holds its transaction open until "second"
    has been seen waiting on it for half a second, then commits. Returns what each returned, or the
    error it raised (its transaction rolled back)."""
    outcome: dict[str, object] = {}
    first_holds = threading.Event()
    first_may_end = threading.Event()

    def run(name: str) -> None:
        with app.app_context():
            try:
                outcome[name] = work()
                if name == "first":
                    first_holds.set()
                    first_may_end.wait(10)
                db.session.commit()
            except Exception as error:
                db.session.rollback()
                outcome[name] = error
            finally:
                db.session.remove()

    first = threading.Thread(target=run, args=("first",))
    first.start()
    assert first_holds.wait(10)
    second = threading.Thread(target=run, args=("second",))
    second.start()
    second.join(0.5)
    assert second.is_alive() and "second" not in outcome  # waiting for the first's transaction
    first_may_end.set()
    first.join(10)
    second.join(10)
    return outcome


def new_api_token(user) -> str:
    """A new API bearer token for ``user``, committed as the ``users token`` command would."""
    raw = issue_api_token(user)
    db.session.commit()
    return raw


def report(**overrides) -> IncidentReport:
    values = {
        "local_authority": "birmingham",
        "type": "stabbing",
        "occurred_at": now_utc() - timedelta(minutes=30),
        "location": "Lozells Road",
        "summary": "Canary summary SUMMARY-CANARY-7731",
        "youngest_age": 16,
        "school_link": True,
        "tension": "medium",
        "exercise": False,
    }
    values.update(overrides)
    return IncidentReport(**values)


@contextmanager
def counting_statements() -> Iterator[list[str]]:
    """Every statement sent to the database while the block runs, in order."""
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


@pytest.fixture
def make_incident(app, directory, make_user):
    officer = make_user("officer")

    def make(**overrides):
        incident = open_incident(report(**overrides), officer)
        db.session.commit()
        return incident

    return make


@pytest.fixture
def login(client):
    def do(user, password: str = PASSWORD):
        response = client.post("/login", data={"email": user.email, "password": password})
        assert response.status_code == 302, response.data
        return user

    return do


# --- real delivery components --------------------------------------------------


@pytest.fixture
def fake_twilio():
    """A fake Twilio API on 127.0.0.1 (tests/fake_twilio.py), reached through the real SDK."""
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that records messages (tests/smtp_server.py)."""
    server = RecordingSmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def real_providers(app, fake_twilio, smtp_server):
    """SMS through the Twilio SDK to the fake, email over SMTP; retries due at once."""
    app.config.update(
        SMS_BACKEND="twilio",
        TWILIO_ACCOUNT_SID=TWILIO_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=TWILIO_AUTH_TOKEN,
        TWILIO_FROM="+447700900000",
        TWILIO_API_BASE_URL=fake_twilio.base_url,
        EMAIL_BACKEND="smtp",
        SMTP_HOST=smtp_server.host,
        SMTP_PORT=smtp_server.port,
        SMTP_STARTTLS=False,
        MAIL_FROM="Responder <responder@vru.example.org>",
        MESSAGE_RETRY_BASE_SECONDS=0,
    )
    yield app
    # Before the fake servers stop: a dispatcher a test started may still be sending.
    stop_dispatcher(app)


@pytest.fixture
def fake_notify():
    """A fake GOV.UK Notify API on 127.0.0.1 (tests/fake_notify.py), reached through the real client."""
    with FakeNotify() as fake:
        yield fake


def notify_settings(fake: FakeNotify) -> dict:
    return {
        "NOTIFY_API_KEY": NOTIFY_API_KEY,
        "NOTIFY_SMS_TEMPLATE_ID": NOTIFY_SMS_TEMPLATE_ID,
        "NOTIFY_EMAIL_TEMPLATE_ID": NOTIFY_EMAIL_TEMPLATE_ID,
        "NOTIFY_CALLBACK_TOKEN": NOTIFY_CALLBACK_TOKEN,
        "NOTIFY_BASE_URL": fake.base_url,
    }


@pytest.fixture
def notify_providers(app, fake_notify):
    """SMS and email through the Notify client to the fake; retries due at once."""
    app.config.update(
        SMS_BACKEND="notify",
        EMAIL_BACKEND="notify",
        MESSAGE_RETRY_BASE_SECONDS=0,
        **notify_settings(fake_notify),
    )
    yield app
    stop_dispatcher(app)


@pytest.fixture
def break_escalation(monkeypatch):
    """Make one escalation action raise when it fires (a bug in its handler); the others fire as usual."""
    from responder.scheduling import escalations

    real = escalations.fire_escalation

    def breaking(action_id: int, message: str = "bug") -> None:
        def fire(action, now):
            if action.id == action_id:
                raise RuntimeError(message)
            return real(action, now)

        monkeypatch.setattr(escalations, "fire_escalation", fire)

    return breaking


@pytest.fixture
def send_outbox(app):
    """One dispatch pass, run to completion; the test's session then sees the results."""

    def send():
        db.session.commit()  # what the test did so far, as a request would have
        result = sweep_outbox(app)
        db.session.expire_all()
        return result

    return send
