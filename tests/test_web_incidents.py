"""Staff pages: sign-in, opening an incident through the form, the incident page and the dev outbox."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from responder.clock import now_utc, to_local
from responder.extensions import db
from responder.models import Incident, Message

# Routes that are public by design: sign-in, health, agency leads' scoped links, webhooks;
# /metrics answers only loopback or its own bearer token (tests/test_observability.py).
PUBLIC_PREFIXES = ("/login", "/healthz", "/metrics", "/static", "/a/", "/c/", "/t/", "/webhooks/", "/api/")


def form_data(**overrides):
    occurred = to_local(now_utc() - timedelta(hours=1))
    data = {
        "local_authority": "birmingham",
        "type": "stabbing",
        "occurred_date": [str(occurred.day), str(occurred.month), str(occurred.year)],
        "occurred_time": occurred.strftime("%H:%M"),
        "location": "Lozells Road",
        "summary": "Two young people injured",
        "youngest_age": "16",
        "school_link": "y",
        "tension": "high",
        "submission_key": "key-0123456789",
    }
    data.update(overrides)
    return data


def staff_routes(app) -> list[str]:
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PUBLIC_PREFIXES) or "GET" not in rule.methods:
            continue
        path = rule.rule.replace("<reference>", "BHM-2026-0001")
        routes.append(re.sub(r"<int:\w+>", "1", path))
    return routes


def test_every_staff_page_needs_sign_in(app, client):
    routes = staff_routes(app)
    assert {"/", "/incidents", "/incidents/new", "/incidents/BHM-2026-0001", "/dev/outbox"} <= set(routes)
    for route in routes:
        response = client.get(route)
        assert response.status_code == 302, route
        assert response.headers["Location"].startswith("/login"), route


def test_sign_in_with_a_wrong_password_gives_one_generic_message(client, make_user):
    user = make_user()
    wrong = client.post("/login", data={"email": user.email, "password": "not-the-password"})
    unknown = client.post("/login", data={"email": "nobody@example.org", "password": "whatever-password"})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert b"Enter a correct email address and password" in response.data


def test_sign_in_then_out(client, make_user, login):
    login(make_user())
    assert client.get("/incidents").status_code == 200
    client.post("/logout")
    assert client.get("/incidents").status_code == 302


def test_sign_in_does_not_redirect_off_site(client, make_user):
    user = make_user()
    response = client.post(
        "/login?next=https://evil.example/", data={"email": user.email, "password": "correct-horse-battery"}
    )
    assert response.headers["Location"] == "/incidents"


def test_an_officer_opens_an_incident_and_sees_the_activations(client, directory, make_user, login):
    login(make_user())
    response = client.post("/incidents/new", data=form_data())
    assert response.status_code == 303
    incident = db.session.scalar(select(Incident))
    assert response.headers["Location"] == f"/incidents/{incident.reference}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert incident.reference in page
    for activation in incident.activations:
        assert activation.agency_name.replace("'", "&#39;") in page
    assert "Lozells Road" in page and incident.tension == "high" and incident.school_link


def test_a_double_submitted_form_opens_one_incident(client, directory, make_user, login):
    login(make_user())
    first = client.post("/incidents/new", data=form_data())
    second = client.post("/incidents/new", data=form_data())
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("local_authority", "", "Select the local authority"),
        ("local_authority", "gotham", "Select the local authority"),
        ("type", "", "Select the type of incident"),
        ("type", "mugging", "Select the type of incident"),
        ("location", "  ", "Enter where the incident happened"),
        ("occurred_time", "25:99", "Enter a real time on the 24-hour clock"),
        ("occurred_date", ["31", "2", "2026"], "Enter a real date"),
        ("occurred_date", ["", "", ""], "Enter the date the incident happened"),
        ("occurred_date", ["24", "11", "2016"], "must be in the last year"),
        ("occurred_date", ["1", "1", "0001"], "must be in the last year"),
        ("youngest_age", "sixteen", "Not a valid integer value"),
        ("youngest_age", "140", "Enter an age between 0 and 120"),
        ("tension", "", "Select the level of community tension"),
    ],
)
def test_form_errors_are_shown_and_nothing_is_written(
    client, directory, make_user, login, field, value, message
):
    login(make_user())
    response = client.post("/incidents/new", data=form_data(**{field: value}))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "There is a problem" in page and message in page
    assert "Lozells Road" in page or field == "location"  # what was typed is kept
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_a_time_in_the_future_is_refused(client, directory, make_user, login):
    login(make_user())
    later = to_local(now_utc() + timedelta(hours=2))
    data = form_data(
        occurred_date=[str(later.day), str(later.month), str(later.year)],
        occurred_time=later.strftime("%H:%M"),
    )
    response = client.post("/incidents/new", data=data)
    assert response.status_code == 422
    assert "must be in the past" in response.get_data(as_text=True)


def test_a_tampered_form_missing_fields_is_an_error_not_a_crash(client, directory, make_user, login):
    login(make_user())
    response = client.post("/incidents/new", data={"occurred_date": "1"})
    assert response.status_code == 422


def test_the_dev_outbox_shows_every_queued_message_with_working_links(
    client, make_incident, make_user, login
):
    incident = make_incident()
    login(make_user())
    page = client.get("/dev/outbox").get_data(as_text=True)
    assert page.count("app-outbox-item__body") == 2 * len(incident.activations)
    assert 'href="http://responder.test/a/' in page


def test_the_dev_outbox_does_not_exist_outside_development(make_app):
    app = make_app(DEV_OUTBOX=False)
    assert "/dev/outbox" not in {rule.rule for rule in app.url_map.iter_rules()}
    assert app.test_client().get("/dev/outbox").status_code == 404


def test_forms_need_a_csrf_token(make_app, directory, make_user):
    app = make_app(WTF_CSRF_ENABLED=True)
    user = make_user()
    client = app.test_client()
    response = client.post("/login", data={"email": user.email, "password": "correct-horse-battery"})
    assert response.status_code == 400


def test_healthz_reports_database_and_scheduler(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok" and response.json["database"] == "ok"


def date_inputs(page: str) -> list[str]:
    """The day, month and year the form shows."""
    return [
        re.search(rf'id="occurred_date-{part}"[^>]*value="([^"]*)"', page).group(1)
        for part in ("day", "month", "year")
    ]


def test_a_new_form_starts_at_the_time_of_the_report(client, directory, make_user, login):
    with freeze_time(datetime(2026, 7, 14, 22, 5, tzinfo=UTC)):  # 23:05 BST
        login(make_user())
        page = client.get("/incidents/new").get_data(as_text=True)
    assert date_inputs(page) == ["14", "7", "2026"] or date_inputs(page) == ["14", "07", "2026"]
    assert re.search(r'id="occurred_time"[^>]*value="23:05"', page)


def test_the_night_shift_trap_asks_did_you_mean_yesterday_with_yesterdays_date_filled_in(
    client, directory, make_user, login
):
    after_midnight = datetime(2026, 11, 25, 0, 20, tzinfo=UTC)  # 00:20 GMT, Wednesday 25 November
    with freeze_time(after_midnight):
        login(make_user())
        data = form_data(occurred_date=["25", "11", "2026"], occurred_time="21:40")
        response = client.post("/incidents/new", data=data)
        page = response.get_data(as_text=True)
        assert response.status_code == 422
        assert "Did you mean yesterday?" in page and "Tuesday 24 November" in page
        assert date_inputs(page) == ["24", "11", "2026"]  # yesterday's date, filled in
        assert db.session.scalar(select(func.count()).select_from(Incident)) == 0
        # Sent again as it now stands, it opens the incident at 21:40 yesterday.
        confirmed = client.post("/incidents/new", data={**data, "occurred_date": date_inputs(page)})
        assert confirmed.status_code == 303
    incident = db.session.scalar(select(Incident))
    assert to_local(incident.occurred_at).strftime("%a %d %H:%M") == "Tue 24 21:40"


def test_a_future_time_on_another_day_is_refused_without_the_hint(client, directory, make_user, login):
    with freeze_time(datetime(2026, 11, 25, 0, 20, tzinfo=UTC)):
        login(make_user())
        response = client.post(
            "/incidents/new", data=form_data(occurred_date=["26", "11", "2026"], occurred_time="09:00")
        )
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "must be in the past" in page and "yesterday?" not in page
