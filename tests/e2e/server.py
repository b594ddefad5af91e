"""Responder as a real server process for the outside-in tests.

gunicorn serves ``wsgi:app`` on 127.0.0.1 with a SQLite file database built
by ``flask db upgrade`` and ``demo seed``, SMS through the Twilio SDK to the
fake Twilio, email over SMTP to aiosmtpd, and the embedded scheduler. Every
line the server writes (access log, error log, application logs) goes to one
file, which tests/e2e/test_server_log.py searches for secrets afterwards.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
TWILIO_ACCOUNT_SID = "AC" + "0" * 32
TWILIO_FROM = "+447700900000"
START_TIMEOUT_SECONDS = 60


@dataclass
class LiveServer:
    url: str
    database_url: str
    log_path: Path
    env: dict[str, str]
    api_token: str
    process: subprocess.Popen | None = None
    # Everything a log must never contain; tests add the link tokens they meet.
    secrets: dict[str, str] = field(default_factory=dict)

    def flask(self, *args: str, stdin: str | None = None) -> str:
        """Run ``flask --app wsgi ARGS`` against this server's database; its standard output."""
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=ROOT,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
        return done.stdout

    def read_log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(workdir: Path, port: int, twilio_url: str, smtp_host: str, smtp_port: int) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("RESPONDER_", "TWILIO_", "NOTIFY_", "SMTP_", "DATABASE_URL", "TEST_DATABASE_URL")
        )
    }
    env.update(
        {
            "RESPONDER_ENV": "development",
            "SECRET_KEY": "e2e-secret-" + secrets.token_urlsafe(32),
            "DATABASE_URL": f"sqlite:///{workdir / 'responder-e2e.db'}",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": "e2e-twilio-auth-" + secrets.token_hex(12),
            "TWILIO_FROM": TWILIO_FROM,
            "TWILIO_API_BASE_URL": twilio_url,
            "EMAIL_BACKEND": "smtp",
            "SMTP_HOST": smtp_host,
            "SMTP_PORT": str(smtp_port),
            "SMTP_STARTTLS": "0",
            "MAIL_FROM": "Responder <responder@vru.example.org>",
            # The embedded scheduler notices a due timed action within a second.
            "SCHEDULER": "embedded",
            "SCHEDULER_RECONCILE_SECONDS": "1",
            "OUTBOX_SWEEP_SECONDS": "2",
            "MESSAGE_RETRY_BASE_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def start(
    workdir: Path,
    twilio_url: str,
    smtp_host: str,
    smtp_port: int,
    *,
    extra_env: dict[str, str] | None = None,
    log_name: str = "e2e-server.log",
) -> LiveServer:
    """Migrate, seed, issue an API token and start gunicorn; returns once /healthz answers.

    ``extra_env`` changes the server's settings (another SMS backend, say); its
    log goes to test-artifacts/``log_name``.
    """
    port = free_port()
    env = {**server_env(workdir, port, twilio_url, smtp_host, smtp_port), **(extra_env or {})}
    ARTIFACTS.mkdir(exist_ok=True)
    server = LiveServer(
        url=f"http://127.0.0.1:{port}",
        database_url=env["DATABASE_URL"],
        log_path=ARTIFACTS / log_name,
        env=env,
        api_token="",
    )
    server.flask("db", "upgrade")
    server.flask("demo", "seed")
    server.api_token = server.flask("users", "token", "officer@example.org").strip().splitlines()[-1]
    server.secrets.update(
        {
            "SECRET_KEY": env["SECRET_KEY"],
            "TWILIO_AUTH_TOKEN": env["TWILIO_AUTH_TOKEN"],
            "API token": server.api_token,
        }
    )
    log = server.log_path.open("w", encoding="utf-8")
    server.process = subprocess.Popen(
        gunicorn_command(port),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    _wait_until_up(server)
    return server


def gunicorn_command(port: int) -> list[str]:
    """One worker with threads, as in production; every log line to standard output."""
    options = {
        "--bind": f"127.0.0.1:{port}",
        "--workers": "1",
        "--threads": "8",
        "--worker-class": "gthread",
        "--timeout": "120",
        "--graceful-timeout": "5",
        "--access-logfile": "-",
        "--error-logfile": "-",
        "--log-level": "debug",
    }
    # --no-control-socket: its shared default path would clash with other servers on the machine.
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "wsgi:app",
        *(p for o in options.items() for p in o),
        "--no-control-socket",
    ]


def stop(server: LiveServer) -> None:
    if server.process is None or server.process.poll() is not None:
        return
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=15)


def _wait_until_up(server: LiveServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"the server exited ({server.process.returncode}):\n{server.read_log()[-4000:]}"
            )
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=5):  # noqa: S310 - our own server
                return
        except urllib.error.HTTPError:
            return  # it answers (503 while the scheduler finds its feet is fine here)
        except OSError:
            time.sleep(0.2)
    stop(server)
    raise RuntimeError(
        f"the server did not answer within {START_TIMEOUT_SECONDS} s:\n{server.read_log()[-4000:]}"
    )
