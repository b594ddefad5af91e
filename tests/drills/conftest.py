"""Fault drills: Responder as it runs in production, with plugs pulled.

A throwaway PostgreSQL cluster (tests/drills/cluster.py), gunicorn serving the
web app, and ``flask scheduler run`` processes, all real processes; the fake
Twilio and an SMTP server run in this test process, so killing Responder's
processes leaves the providers' record of what they received intact. A
playbook alerts 40 leads, each with a deputy. Each drill counts what the
providers received, by recipient and text: nothing lost, nothing doubled.

These run with ``make drills`` (RESPONDER_DRILLS=1), which .ci/run calls, or
when tests/drills is named on the command line; a plain ``pytest`` leaves
them out.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from ..fake_twilio import FakeTwilio
from ..smtp_server import RecordingSmtpServer
from .cluster import ThrowawayPostgres

ROOT = Path(__file__).resolve().parents[2]
DRILLS_DIR = Path(__file__).resolve().parent
ARTIFACTS = ROOT / "test-artifacts" / "drills"
LEADS = 40
TWILIO_ACCOUNT_SID = "AC" + "0" * 32
TWILIO_FROM = "+447700900000"


def _wanted(config) -> bool:
    named = any(Path(arg.split("::")[0]).resolve().is_relative_to(DRILLS_DIR) for arg in config.args)
    return os.environ.get("RESPONDER_DRILLS") == "1" or named


def pytest_ignore_collect(collection_path, config):
    """Left out of a plain `pytest` run; `make drills` runs them."""
    if collection_path.is_relative_to(DRILLS_DIR) and not _wanted(config):
        return True
    return None


# --- the playbook and directory: 40 leads, each with a deputy ----------------------------


def lead_phone(n: int) -> str:
    return f"+4477009{n:05d}"


def deputy_phone(n: int) -> str:
    return f"+4477009{n + 100:05d}"


def write_playbooks(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "regional.yaml").write_text(
        "region: west-midlands\nname: West Midlands\non_call: drill-on-call\n", encoding="utf-8"
    )
    agencies = "".join(
        f"  drill-agency-{n:02d}:\n"
        f"    name: Drill agency {n:02d}\n"
        "    sector: council\n"
        "    sharing_basis: s115-cda-1998\n"
        f"    lead: drill-lead-{n:02d}\n"
        f"    deputy: drill-deputy-{n:02d}\n"
        for n in range(1, LEADS + 1)
    )
    keys = ", ".join(f"drill-agency-{n:02d}" for n in range(1, LEADS + 1))
    (folder / "birmingham.yaml").write_text(
        "local_authority: birmingham\nname: Birmingham\ncode: BHM\nduty_manager: drill-duty\n"
        f"agencies:\n{agencies}"
        f"activation:\n  - when: {{}}\n    agencies: [{keys}]\n"
        "steps:\n  - {at: 0m, do: alert, ack_within: 15m}\n",
        encoding="utf-8",
    )


def write_contacts(path: Path) -> None:
    rows = ["key,name,phone,email,local_authority"]
    for n in range(1, LEADS + 1):
        rows.append(f"drill-lead-{n:02d},Lead {n:02d},{lead_phone(n)},lead{n:02d}@example.org,birmingham")
        rows.append(
            f"drill-deputy-{n:02d},Deputy {n:02d},{deputy_phone(n)},deputy{n:02d}@example.org,birmingham"
        )
    rows.append("drill-duty,Duty Manager,+447700900999,duty@example.org,birmingham")
    rows.append("drill-on-call,On Call,+447700900998,oncall@example.org,regional")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


# --- the stack ----------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Stack:
    """The processes of one drill, and what the providers received."""

    cluster: ThrowawayPostgres
    twilio: FakeTwilio
    smtp: RecordingSmtpServer
    env: dict[str, str]
    workdir: Path
    port: int
    api_token: str = ""
    web: subprocess.Popen | None = None
    schedulers: list[subprocess.Popen] = field(default_factory=list)
    engine: sa.Engine | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- processes ------------------------------------------------------------------

    def flask(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return done.stdout

    def start_web(self) -> None:
        log = (self.workdir / "web.log").open("a", encoding="utf-8")
        self.web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "wsgi:app",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "1",
                "--threads",
                "8",
                "--worker-class",
                "gthread",
                "--timeout",
                "120",
                "--graceful-timeout",
                "5",
                "--no-control-socket",
            ],
            cwd=ROOT,
            env={**self.env, "SCHEDULER": "off"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the drill kills master and worker at once
        )
        log.close()
        self.wait_for_web()

    def start_scheduler(self) -> subprocess.Popen:
        log = (self.workdir / f"scheduler-{len(self.schedulers)}.log").open("a", encoding="utf-8")
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.schedulers.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL the process and everything it started: no chance to finish or clean up."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop_all(self) -> None:
        for process in [self.web, *self.schedulers]:
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in [self.web, *self.schedulers]:
            if process is not None:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    # Still finishing sends it had in flight: this drill is over, so it is killed,
                    # and reaped, so no process outlives the drill that started it.
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=30)
        if self.engine is not None:
            self.engine.dispose()

    def wait_for_web(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=5):  # noqa: S310 - our own server
                    return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(
            "the web process did not answer:\n" + (self.workdir / "web.log").read_text()[-3000:]
        )

    # --- requests --------------------------------------------------------------------

    def open_incident(self) -> dict:
        body = {
            "local_authority": "birmingham",
            "type": "stabbing",
            "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 600)),
            "location": "Drill Road",
            "summary": "A fault drill",
            "youngest_age": 16,
            "school_link": False,
            "tension": "medium",
            "exercise": True,
        }
        request = urllib.request.Request(  # noqa: S310 - our own server
            self.url + "/api/v1/incidents",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.api_token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            assert response.status == 201
            return json.load(response)

    def get(self, path: str, timeout: float = 30) -> tuple[int, float, bytes]:
        """Status, seconds taken and body of a GET."""
        started = time.monotonic()
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:  # noqa: S310
                return response.status, time.monotonic() - started, response.read()
        except urllib.error.HTTPError as error:
            return error.code, time.monotonic() - started, error.read()

    # --- the database ------------------------------------------------------------------

    def db(self) -> sa.Engine:
        if self.engine is None:
            self.engine = sa.create_engine(self.cluster.url, pool_pre_ping=True)
        return self.engine

    def message_states(self) -> dict[str, int]:
        with self.db().connect() as conn:
            rows = conn.execute(sa.text("SELECT state, count(*) FROM messages GROUP BY state")).all()
        return dict(rows)

    def bring_escalations_forward(self) -> int:
        """Every pending escalation due now (as if its 15 minutes had passed)."""
        with self.db().begin() as conn:
            return conn.execute(
                sa.text(
                    "UPDATE timed_actions SET due_at = now() WHERE kind = 'escalation' AND state = 'pending'"
                )
            ).rowcount

    # --- what the providers received -----------------------------------------------------

    def texts_to(self, numbers: set[str]) -> dict[str, int]:
        """How many texts each of ``numbers`` received."""
        counts = dict.fromkeys(numbers, 0)
        for message in self.twilio.created:
            if message.to in counts:
                counts[message.to] += 1
        return counts

    def smtp_copies(self) -> dict[tuple[str, str], list[str]]:
        """(address, subject) -> the Message-ID of every copy received."""
        copies: dict[tuple[str, str], list[str]] = {}
        for email in self.smtp.received:
            for address in email.rcpt_tos:
                key = (address, str(email.message["Subject"]))
                copies.setdefault(key, []).append(str(email.message["Message-ID"]))
        return copies

    def wait_for_texts(self, numbers: set[str], timeout: float) -> float | None:
        """Seconds until every number has had a text (None if some never did in time)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if all(self.texts_to(numbers).values()):
                return time.monotonic() - started
            time.sleep(0.1)
        return None

    def wait_until_settled(self, timeout: float) -> dict[str, int]:
        """Wait until no message is waiting or being sent; the states then."""
        deadline = time.monotonic() + timeout
        states: dict[str, int] = {}
        while time.monotonic() < deadline:
            try:
                states = self.message_states()
            except sa.exc.OperationalError:
                states = {}
            if states and not (states.get("pending") or states.get("sending")):
                return states
            time.sleep(0.25)
        return states


LEAD_PHONES = {lead_phone(n) for n in range(1, LEADS + 1)}
DEPUTY_PHONES = {deputy_phone(n) for n in range(1, LEADS + 1)}


@pytest.fixture
def stack(tmp_path):
    """A cluster, the providers, the migrated and seeded database; processes started by each drill."""
    write_playbooks(tmp_path / "playbooks")
    write_contacts(tmp_path / "contacts.csv")
    with ThrowawayPostgres() as cluster, FakeTwilio() as twilio:
        smtp = RecordingSmtpServer().start()
        port = _free_port()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RESPONDER_", "TWILIO_", "SMTP_", "DATABASE_URL", "TEST_DATABASE_URL"))
        }
        env.update(
            {
                "RESPONDER_ENV": "development",
                "SECRET_KEY": "drill-secret-key-" + "x" * 32,
                "DATABASE_URL": cluster.url,
                "PLAYBOOKS_DIR": str(tmp_path / "playbooks"),
                "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                "SMS_BACKEND": "twilio",
                "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID,
                "TWILIO_AUTH_TOKEN": "drill-twilio-auth-token",
                "TWILIO_FROM": TWILIO_FROM,
                "TWILIO_API_BASE_URL": twilio.base_url,
                "EMAIL_BACKEND": "smtp",
                "SMTP_HOST": smtp.host,
                "SMTP_PORT": str(smtp.port),
                "SMTP_STARTTLS": "0",
                "MAIL_FROM": "Responder <responder@vru.example.org>",
                "SCHEDULER": "off",
                "SCHEDULER_RECONCILE_SECONDS": "1",
                "LOG_FORMAT": "text",
                "PYTHONUNBUFFERED": "1",
            }
        )
        drill = Stack(cluster, twilio, smtp, env, tmp_path, port)
        drill.flask("db", "upgrade")
        drill.flask("contacts", "import", str(tmp_path / "contacts.csv"))
        drill.flask("demo", "seed")
        drill.api_token = drill.flask("users", "token", "officer@example.org").strip().splitlines()[-1]
        try:
            yield drill
        finally:
            drill.stop_all()
            smtp.stop()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            for log in tmp_path.glob("*.log"):
                (ARTIFACTS / log.name).write_text(log.read_text(errors="replace"))
