"""Outside-in fixtures: a real server process, a fake Twilio and an SMTP server beside it,
Debian's Chromium driven by Playwright, screenshots and SMS links.

These tests run with ``make e2e`` (RESPONDER_E2E=1) or when tests/e2e is named
on the command line; a plain ``pytest`` run leaves them out to stay fast.
Screenshots and axe reports stay in test-artifacts/ (ignored by git) after
every run, passing or failing.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from responder.clock import now_utc

from ..fake_twilio import FakeTwilio
from ..smtp_server import RecordingSmtpServer
from . import server as live
from .server import ARTIFACTS, ROOT, LiveServer

E2E_DIR = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
# Every page a journey visits is photographed at both sizes, and checked with axe-core.
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
SCREENSHOTS = ARTIFACTS / "screenshots"
# Bounded waits: messages leave within a second or two; the incident page polls every 5 s.
MESSAGE_WAIT_SECONDS = 30
LIVE_UPDATE_MS = 20_000
DEMO_PASSWORDS = {
    "officer@example.org": "officer-demo-password",
    "manager@example.org": "manager-demo-password",
    "admin@example.org": "admin-demo-password",
}
LINK = re.compile(r"https?://\S+/(?P<kind>[ac])/(?P<token>[A-Za-z0-9_\-]+)")


def _wanted(config) -> bool:
    named = any(Path(arg.split("::")[0]).resolve().is_relative_to(E2E_DIR) for arg in config.args)
    return os.environ.get("RESPONDER_E2E") == "1" or named


def pytest_ignore_collect(collection_path, config):
    """Left out of a plain `pytest` run (`make test` stays quick); `make e2e` runs them."""
    if collection_path.is_relative_to(E2E_DIR) and not _wanted(config):
        return True
    return None


# --- the server and its providers -----------------------------------------------------


@pytest.fixture(scope="session")
def fake_twilio_server() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="session")
def smtp() -> Iterator[RecordingSmtpServer]:
    server = RecordingSmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, fake_twilio_server, smtp) -> Iterator[LiveServer]:
    server = live.start(tmp_path_factory.mktemp("e2e"), fake_twilio_server.base_url, smtp.host, smtp.port)
    server.secrets.update({f"password of {email}": password for email, password in DEMO_PASSWORDS.items()})
    yield server
    live.stop(server)


@pytest.fixture(scope="session")
def contacts() -> dict[str, dict[str, str]]:
    """The demo contact directory the server was seeded with, by role key."""
    with (ROOT / "responder" / "demo" / "contacts.csv").open(encoding="utf-8") as source:
        return {row["key"]: row for row in csv.DictReader(source)}


class Messages:
    """What the fake Twilio received, read the way a lead reads their phone."""

    def __init__(self, fake: FakeTwilio, server: LiveServer) -> None:
        self.fake = fake
        self.server = server

    def texts_to(self, phone: str, *containing: str) -> list[str]:
        bodies = [r.form.get("Body", "") for r in self.fake.sent_to(phone)]
        return [body for body in bodies if all(part in body for part in containing)]

    def wait_for_text(self, phone: str, *containing: str) -> str:
        """The newest SMS to ``phone`` containing every one of ``containing``; a bounded wait."""
        deadline = time.monotonic() + MESSAGE_WAIT_SECONDS
        while time.monotonic() < deadline:
            texts = self.texts_to(phone, *containing)
            if texts:
                return texts[-1]
            time.sleep(0.2)
        raise AssertionError(
            f"no SMS to {phone} mentioning {containing!r} within {MESSAGE_WAIT_SECONDS} s; "
            f"the fake Twilio has {len(self.fake.requests)} requests"
        )

    def link_in(self, body: str, kind: str) -> str:
        """The /a/ (acknowledge) or /c/ (check-in) link in an SMS; its token is kept for the log check."""
        match = LINK.search(body)
        assert match and match["kind"] == kind, f"no /{kind}/ link in: {body}"
        self.server.secrets[f"/{kind}/ link token {match['token'][:6]}…"] = match["token"]
        return match[0]


@pytest.fixture(scope="session")
def messages(fake_twilio_server, live_server) -> Messages:
    return Messages(fake_twilio_server, live_server)


@pytest.fixture
def open_incident_via_api(live_server):
    """Open an incident through the JSON API (as another system would); returns its reference."""

    def open_(**overrides) -> str:
        body = {
            "local_authority": "birmingham",
            "type": "stabbing",
            "occurred_at": (now_utc() - timedelta(minutes=40)).isoformat(),
            "location": "Soho Road E2E-LOCATION-CANARY",
            "summary": "E2E-SUMMARY-CANARY a 16-year-old was stabbed",
            "youngest_age": 16,
            "school_link": False,
            "tension": "medium",
            "exercise": False,
            **overrides,
        }
        response = requests.post(
            f"{live_server.url}/api/v1/incidents",
            json=body,
            headers={"Authorization": f"Bearer {live_server.api_token}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return response.json()["reference"]

    return open_


# --- the browser ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make e2e-deps` (installs Debian's chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_context(browser, live_server, request) -> Iterator:
    """Open a browser context (a separate person): ``new_context(phone=True)``, or without JavaScript.

    When the test fails, every page still open is photographed as it was.
    """
    opened: list[BrowserContext] = []

    def make(phone: bool = False, javascript: bool = True) -> BrowserContext:
        context = browser.new_context(
            base_url=live_server.url, java_script_enabled=javascript, **(PHONE if phone else DESKTOP)
        )
        context.set_default_timeout(15_000)
        opened.append(context)
        return context

    yield make
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        folder = SCREENSHOTS / request.node.name
        folder.mkdir(parents=True, exist_ok=True)
        pages = [page for context in opened for page in context.pages]
        for number, page in enumerate(pages, start=1):
            page.screenshot(path=str(folder / f"failed-{number:02d}.png"), full_page=True)
    for context in opened:
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test, so fixtures can tell whether it failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def sign_in(new_context):
    def do(email: str, javascript: bool = True) -> Page:
        page = new_context(javascript=javascript).new_page()
        page.goto("/login")
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Password", exact=True).fill(DEMO_PASSWORDS[email])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/login" not in url)
        return page

    return do


class Screenshots:
    """Each journey step photographed at 1280x800 and 390x844 and checked with axe-core.

    Kept under test-artifacts/screenshots/<test>/NN-<step>-desktop.png and -phone.png
    (full pages), with axe's findings in test-artifacts/axe/<test>-NN-<step>.json.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def __call__(self, page: Page, step: str, *, axe: bool = True) -> None:
        from .axe import check_accessibility

        self.count += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{self.count:02d}-{step}"
        page.wait_for_load_state("load")  # a step may end as its page is still arriving
        if axe:
            check_accessibility(page, f"{self.folder.name}-{name}")
        before = page.viewport_size
        for size, viewport in SIZES.items():
            page.set_viewport_size(viewport)
            page.screenshot(path=str(self.folder / f"{name}-{size}.png"), full_page=True)
        page.set_viewport_size(before)


@pytest.fixture
def shot(request) -> Screenshots:
    folder = SCREENSHOTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)  # last run's pictures of this test only
    return Screenshots(folder)
