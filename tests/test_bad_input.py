"""Every route, probed as an attacker or a clumsy client would: wrong methods, no CSRF token,
oversized bodies, and script and unicode payloads in every field of every form.

Never a 500, never a payload reflected unescaped, and a clear answer each time.
The app here has CSRF protection on, as in production.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from responder.clock import now_utc, to_local
from responder.extensions import db
from responder.models import (
    AccessToken,
    CheckIn,
    Contact,
    Incident,
    ResponseChannel,
    TimelineEvent,
    TokenPurpose,
)
from responder.responses import acknowledgements as acks
from responder.responses.access_tokens import token_value
from responder.rotas.importing import import_csv
from responder.scheduling.firing import fire_due_actions

from .conftest import PASSWORD, new_api_token

SCRIPT = '<script>alert("xss-7731")</script>'
ATTRIBUTE = '"><img src=x onerror=alert(7731)>'
PAYLOADS = [
    SCRIPT,
    ATTRIBUTE,
    "Zoë ‮evil‬ 漢字 🙂 e\u0301 \u200b\ufeff",
    "nul\x00byte and \x1b[31mcontrol\x07",
    "x" * 6000,
]
RAW_MARKERS = ("<script>alert(", "<img src=x onerror")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Twilio and API clients cannot carry a CSRF token; a signature or a bearer token stands in for it.
CSRF_EXEMPT = ("api.", "webhooks.", "sms_inbound.", "voice_calls.", "notify_callbacks.")
TOO_LARGE = 1024 * 1024 + 1
ROTA_CSV = "role,contact,start,end\nbham-vru-duty,bham-vru-duty,2026-01-01T08:00,2026-01-01T20:00\n"


# --- the world under test ----------------------------------------------------------------


@dataclass
class World:
    client: object
    app: object
    incident: Incident
    values: dict[str, str]
    api_token: str
    links: dict[str, str]  # a lead's acknowledgement and check-in tokens
    problems: list[str] = field(default_factory=list)

    def path(self, rule) -> str:
        path = rule.rule
        for name, value in self.values.items():
            for converter in ("", "int:", "path:"):
                path = path.replace(f"<{converter}{name}>", value)
        assert "<" not in path, f"no test value for a part of {rule.rule}"
        return path

    def note(self, problem: str) -> None:
        self.problems.append(problem)


@pytest.fixture
def world(make_app, make_incident, make_user):
    """A CSRF-protected app; an incident with an open alert link and a check-in link; an admin signed in."""
    with freeze_time(now_utc() - timedelta(hours=5)):
        incident = make_incident()
        covered = next(a for a in incident.activations if a.agency_key == "bham-youth-service")
        acks.acknowledge(covered, covered.lead_contact, ResponseChannel.LINK)
    fire_due_actions()  # the 4-hour check-in, and the escalations before it
    db.session.expire_all()
    alerted = next(a for a in incident.activations if a.agency_key == "bham-csp")
    ack_token = db.session.scalar(
        select(AccessToken).where(
            AccessToken.activation_id == alerted.id, AccessToken.purpose == TokenPurpose.ACKNOWLEDGE
        )
    )
    check_in = db.session.scalar(select(CheckIn).where(CheckIn.incident_id == incident.id))
    assert check_in is not None, "the check-in did not fire"
    # A rota, so /admin/rotas has its override form to probe.
    import_csv(ROTA_CSV, "rota.csv")
    db.session.commit()
    admin = make_user("admin")
    # Errors become 500 pages, as in production, so one run lists every route that fails.
    app = make_app(WTF_CSRF_ENABLED=True, TWILIO_AUTH_TOKEN="probe-twilio-token", PROPAGATE_EXCEPTIONS=False)
    client = app.test_client()
    sign_in(client, admin.email)
    values = {
        "reference": incident.reference,
        "activation_id": str(alerted.id),
        "contact_id": str(alerted.lead_contact_id),
        "action_id": "1",
        "filename": "app.js",
        "user_id": str(incident.opened_by_id),
        "token_id": "1",
        "key": "tension",
        "test_id": "1",
        "deadline_id": "1",
        "role": "bham-vru-duty",
        "shift_id": "1",
    }
    links = {"ack": token_value(ack_token), "check_in": token_value(check_in.access_token)}
    return World(client, app, incident, values, new_api_token(admin), links)


def sign_in(client, email: str) -> None:
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def rules(app, method: str | None = None):
    for rule in app.url_map.iter_rules():
        if method is None or method in rule.methods:
            yield rule


def check_answer(world: World, what: str, response) -> None:
    """No 500, nothing reflected raw in HTML, and on a redirect the page it leads to is clean too."""
    raw = response.get_data()  # read streamed answers (exports) to the end, as a browser would
    response.close()
    body = raw.decode("utf-8", "replace")
    # 503 is an answer (/healthz while the scheduler is off here; invalid playbooks), not a crash.
    if response.status_code >= 500 and response.status_code != 503:
        world.note(f"{what}: {response.status_code}")
        return
    if response.mimetype == "text/html":
        for marker in RAW_MARKERS:
            if marker in body:
                world.note(f"{what}: reflects {marker!r} unescaped")
    if response.status_code in (301, 302, 303) and response.headers.get("Location", "").startswith("/"):
        check_answer(
            world, f"{what} -> {response.headers['Location']}", world.client.get(response.headers["Location"])
        )


def assert_no_problems(world: World) -> None:
    assert not world.problems, f"{len(world.problems)} problems:\n" + "\n".join(world.problems[:60])


# --- wrong methods -------------------------------------------------------------------------


def test_every_route_answers_a_wrong_method_with_405_and_the_allowed_methods(world):
    links = world.links
    world.values["raw"] = links["ack"]
    adapter = world.app.url_map.bind("responder.test")
    for rule in rules(world.app):
        path = world.path(rule)
        allowed = set(adapter.allowed_methods(path))
        for method in METHODS:
            if method in allowed:
                continue
            response = world.client.open(path, method=method)
            what = f"{method} {path}"
            if response.status_code != 405:
                world.note(f"{what}: {response.status_code}, expected 405")
            elif not {m.strip() for m in response.headers.get("Allow", "").split(",")} >= allowed - {
                "OPTIONS"
            }:
                world.note(f"{what}: Allow is {response.headers.get('Allow')!r}, expected {sorted(allowed)}")
    assert_no_problems(world)


# --- CSRF ----------------------------------------------------------------------------------


def timeline_size() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(TimelineEvent))


def test_every_form_post_without_a_csrf_token_is_refused_and_changes_nothing(world):
    links = world.links
    for kind in ("ack", "check_in"):
        for rule in rules(world.app, "POST"):
            world.values["raw"] = links[kind]
            path = world.path(rule)
            before = timeline_size()
            response = world.client.post(path, data={"reason": "probe", "text": "probe", "action": "decline"})
            what = f"POST {path} without CSRF"
            if rule.endpoint.startswith(CSRF_EXEMPT):
                if response.status_code not in (400, 401, 403, 415, 422):
                    world.note(f"{what} (exempt: signed or bearer): {response.status_code}")
            elif (
                response.status_code != 400
                or "Something was wrong with that request" not in response.get_data(as_text=True)
            ):
                world.note(f"{what}: {response.status_code}, expected 400 with a clear page")
            if timeline_size() != before:
                world.note(f"{what}: changed the timeline")
    assert_no_problems(world)


# --- oversized bodies ----------------------------------------------------------------------


def test_every_post_over_the_size_limit_gets_413_and_a_clear_answer(world):
    links = world.links
    world.values["raw"] = links["ack"]
    assert world.app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    body = "text=" + "x" * TOO_LARGE
    for rule in rules(world.app, "POST"):
        path = world.path(rule)
        json_route = rule.endpoint.startswith("api.")
        response = world.client.post(
            path,
            data='{"summary": "' + "x" * TOO_LARGE + '"}' if json_route else body,
            content_type="application/json" if json_route else "application/x-www-form-urlencoded",
            # Credentials, so that each route reads the body rather than refusing before it.
            headers={"Authorization": f"Bearer {world.api_token}", "X-Twilio-Signature": "probe"},
        )
        what = f"POST {path} with {TOO_LARGE} bytes"
        if response.status_code != 413:
            world.note(f"{what}: {response.status_code}, expected 413")
        elif response.mimetype == "text/html":
            if "That was too much to send at once" not in response.get_data(as_text=True):
                world.note(f"{what}: the 413 page does not say what went wrong")
        elif response.mimetype != "application/json" or "error" not in (response.json or {}):
            world.note(f"{what}: the 413 answer is neither a page nor a JSON error")
    assert_no_problems(world)


# --- payloads in every field of every form ------------------------------------------------


@dataclass
class Form:
    page: str
    action: str
    method: str
    fields: list[tuple[str, str]]  # (name, value) in page order, as a browser would send them
    text_fields: list[str]


class FormParser(HTMLParser):
    """The forms on a page, with what a browser would submit untouched."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.page = page
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._textarea: str | None = None
        self._radios: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            action = (attrs.get("action") or self.page).partition("#")[
                0
            ]  # a browser never sends the fragment
            self._form = Form(self.page, action, (attrs.get("method") or "get").upper(), [], [])
            self._radios = set()
        if self._form is None:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = (attrs.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset"):
                if kind == "submit" and attrs.get("value"):
                    self._form.fields.append((name, attrs["value"]))
            elif kind == "radio":
                if name not in self._radios:  # the first choice of each group
                    self._radios.add(name)
                    self._form.fields.append((name, attrs.get("value", "on")))
            elif kind == "checkbox":
                if "checked" in attrs:
                    self._form.fields.append((name, attrs.get("value", "on")))
            else:
                self._form.fields.append((name, attrs.get("value", "")))
                if name != "csrf_token":
                    self._form.text_fields.append(name)
        elif tag == "textarea" and name:
            self._textarea = name
            self._form.fields.append((name, ""))
            self._form.text_fields.append(name)
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select:
            value = attrs.get("value", "")
            chosen = [v for n, v in self._form.fields if n == self._select]
            if value and (not chosen or "selected" in attrs):
                self._form.fields = [(n, v) for n, v in self._form.fields if n != self._select]
                self._form.fields.append((self._select, value))

    def handle_endtag(self, tag):
        if tag == "form" and self._form is not None:
            self.forms.append(self._form)
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def forms_on(client, path: str) -> list[Form]:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    parser = FormParser(path)
    parser.feed(response.get_data(as_text=True))
    return parser.forms


SENSIBLE = {
    "occurred_time": lambda: to_local(now_utc() - timedelta(hours=1)).strftime("%H:%M"),
    "youngest_age": lambda: "16",
}


def sensible(fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Fill empty boxes with something valid, so each payload is the only thing wrong."""
    happened = to_local(now_utc() - timedelta(hours=1))
    dates = iter([str(happened.day), str(happened.month), str(happened.year)])
    filled = []
    for name, value in fields:
        if name == "occurred_date":
            value = next(dates)
        elif not value:
            value = SENSIBLE.get(name, lambda: "Probe text")()
        filled.append((name, value))
    return filled


def with_payload(fields: list[tuple[str, str]], target: str, payload: str) -> list[tuple[str, str]]:
    return [(name, payload if name == target else value) for name, value in fields]


# Run last: they end what the other forms act on.
FINAL_ACTIONS = ("/stand-down", "/close")


def pages_with_forms(world: World, links: dict[str, str]) -> list[str]:
    reference = world.incident.reference
    return [
        "/incidents/new",
        f"/a/{links['ack']}",
        f"/c/{links['check_in']}",
        f"/incidents/{reference}",
        f"/incidents/{reference}/review",
        f"/admin/contacts/{world.values['contact_id']}",
        "/admin/contacts",
        "/admin/rotas",
        "/readiness",
        "/admin/users/new",
        f"/admin/users/{world.values['user_id']}",
        "/account",
        "/two-factor/set-up",
        "/",
        f"/incidents/{reference}/manage",
    ]


def test_script_and_unicode_in_every_field_of_every_form_are_never_a_500_or_reflected(world):
    links = world.links
    anonymous = world.app.test_client()
    forms = [(anonymous, form) for form in forms_on(anonymous, "/login")]
    for page in pages_with_forms(world, links):
        forms.extend(
            (world.client, form) for form in forms_on(world.client, page) if form.action != "/logout"
        )
    forms.sort(key=lambda pair: pair[1].action.endswith(FINAL_ACTIONS))
    assert len(forms) >= 15 and sum(len(form.text_fields) for _, form in forms) >= 25
    for client, form in forms:
        base = sensible(form.fields)
        for target in dict.fromkeys(form.text_fields):
            for payload in PAYLOADS:
                data = MultiDict(with_payload(base, target, payload))
                what = f"{form.method} {form.action} ({form.page}) with {target}={payload[:24]!r}"
                if form.method == "GET":
                    response = client.get(form.action, query_string=data)
                else:
                    response = client.post(form.action, data=data)
                check_answer(world, what, response)
    assert_no_problems(world)
    after_the_probes(world, links)


def after_the_probes(world: World, links: dict[str, str]) -> None:
    """Everything the probes wrote, shown again on every page: still escaped."""
    db.session.expire_all()
    references = db.session.scalars(select(Incident.reference)).all()
    pages = [
        "/",
        "/incidents",
        "/admin/contacts",
        "/admin/rotas",
        "/readiness",
        "/dev/outbox",
        f"/a/{links['ack']}",
        f"/c/{links['check_in']}",
    ]
    for reference in references:
        pages += [
            f"/incidents/{reference}",
            f"/incidents/{reference}/manage",
            f"/incidents/{reference}/review",
        ]
        pages += [f"/incidents/{reference}/report", f"/incidents/{reference}/audit"]
    for contact_id in db.session.scalars(select(Contact.id).limit(5)):
        pages.append(f"/admin/contacts/{contact_id}")
    for page in pages:
        check_answer(world, f"GET {page} after the probes", world.client.get(page))
    assert_no_problems(world)


QUERY_NAMES = ("kind", "order", "local_authority", "status", "after", "from", "to", "redacted", "next", "q")


def test_script_and_unicode_in_query_strings_are_never_a_500_or_reflected(world):
    links = world.links
    world.values["raw"] = links["ack"]
    for rule in rules(world.app, "GET"):
        path = world.path(rule)
        for payload in PAYLOADS[:4]:
            response = world.client.get(path, query_string={name: payload for name in QUERY_NAMES})
            check_answer(world, f"GET {urlsplit(path).path}?…={payload[:24]!r}", response)
    assert_no_problems(world)


def test_a_nul_character_anywhere_is_refused_with_400_before_it_reaches_the_database(world):
    reference = world.incident.reference
    csrf = csrf_token(world.client.get(f"/incidents/{reference}/manage").get_data(as_text=True))
    answers = [
        world.client.get(f"/incidents/{reference}%00"),
        world.client.get("/incidents", query_string={"kind": "a\x00b"}),
        world.client.post(f"/incidents/{reference}/updates", data={"text": "a\x00b", "csrf_token": csrf}),
        world.client.get("/api/v1/incidents/BHM%00", headers={"Authorization": f"Bearer {world.api_token}"}),
    ]
    assert [answer.status_code for answer in answers] == [400, 400, 400, 400]
    assert answers[-1].json == {"error": "Something was wrong with that request"}
