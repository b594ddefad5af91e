"""/admin/users: administrators manage staff accounts, every change audited (issue 17, item 3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from responder.clock import now_utc
from responder.extensions import db
from responder.models import ApiToken, AuditEvent, User

from .conftest import PASSWORD, new_api_token


@pytest.fixture
def admin_client(app, make_user):
    admin = make_user("admin")
    client = app.test_client()
    assert client.post("/login", data={"email": admin.email, "password": PASSWORD}).status_code == 302
    client.admin = admin
    return client


def audit_actions(user) -> list[str]:
    db.session.expire_all()
    return [
        e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.target_user_id == user.id))
    ]


def test_an_admin_creates_an_officer_limited_to_two_areas(app, admin_client, make_incident):
    answer = admin_client.post(
        "/admin/users/new",
        data={
            "email": "New.Officer@Example.org",
            "name": "Nia Officer",
            "role": "officer",
            "local_authorities": ["walsall", "dudley"],
            "password": "a-first-password-123",
        },
    )
    assert answer.status_code == 303
    user = db.session.scalar(select(User).where(User.email == "new.officer@example.org"))
    assert (user.role, user.local_authorities) == ("officer", ["dudley", "walsall"])
    assert audit_actions(user) == ["user_created"]
    listing = admin_client.get("/admin/users").get_data(as_text=True)
    assert "new.officer@example.org" in listing and "Dudley, Walsall" in listing
    officer = app.test_client()
    assert (
        officer.post("/login", data={"email": user.email, "password": "a-first-password-123"}).status_code
        == 302
    )
    birmingham = make_incident(local_authority="birmingham")
    assert officer.get(f"/incidents/{birmingham.reference}").status_code in (403, 404)


def test_bad_input_gets_form_errors(admin_client, make_user):
    existing = make_user()
    for data, message in [
        ({"email": existing.email, "role": "officer", "password": "x" * 12}, "already exists"),
        ({"email": "not-an-email", "role": "officer", "password": "x" * 12}, "email"),
        ({"email": "a@example.org", "role": "king", "password": "x" * 12}, "Not a valid choice"),
        (
            {
                "email": "a@example.org",
                "role": "officer",
                "local_authorities": ["atlantis"],
                "password": "x" * 12,
            },
            "valid choice",
        ),
        ({"email": "a@example.org", "role": "officer", "password": "short"}, "at least 12"),
        ({"email": "a@example.org", "role": "officer"}, "Enter a first password"),
    ]:
        answer = admin_client.post("/admin/users/new", data=data)
        assert answer.status_code == 422, data
        assert message.lower() in answer.get_data(as_text=True).lower(), (data, message)


def test_changing_role_and_areas_takes_effect_at_once_and_is_audited(app, admin_client, make_user):
    user = make_user()
    client = app.test_client()
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert client.get("/incidents/1/export.csv").status_code in (403, 404)
    answer = admin_client.post(
        f"/admin/users/{user.id}", data={"role": "officer", "local_authorities": ["coventry"]}
    )
    assert answer.status_code == 303
    db.session.expire_all()
    assert user.local_authorities == ["coventry"]
    admin_client.post(f"/admin/users/{user.id}", data={"role": "manager", "local_authorities": ["coventry"]})
    db.session.expire_all()
    assert (user.role, user.local_authorities) == ("manager", None)
    assert audit_actions(user) == ["access_changed", "access_changed"]
    history = admin_client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert "officer -&gt; manager" in history and admin_client.admin.email in history


def test_an_admin_cannot_demote_or_deactivate_themselves(admin_client):
    me = admin_client.admin
    refused = admin_client.post(f"/admin/users/{me.id}", data={"role": "officer"})
    assert refused.status_code == 422 and "own admin role" in refused.get_data(as_text=True)
    admin_client.post(f"/admin/users/{me.id}/deactivate")
    db.session.expire_all()
    assert me.active and me.role == "admin"


def test_deactivate_and_reactivate(app, admin_client, make_user):
    user = make_user()
    admin_client.post(f"/admin/users/{user.id}/deactivate")
    assert (
        app.test_client().post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 401
    )
    admin_client.post(f"/admin/users/{user.id}/reactivate")
    assert (
        app.test_client().post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    )
    assert audit_actions(user) == ["user_deactivated", "user_reactivated"]


def test_tokens_are_listed_with_when_last_used_and_can_be_revoked(app, admin_client, make_user):
    user = make_user()
    raw = new_api_token(user)
    api = app.test_client()
    headers = {"Authorization": f"Bearer {raw}"}
    assert api.get("/api/v1/incidents/NOPE-2026-0001", headers=headers).status_code == 404
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    page = admin_client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert f"Token {token.id}" in page and "Never" not in page.split("API tokens")[1].split("Expires")[0]
    assert raw not in page
    assert admin_client.post(f"/admin/users/{user.id}/tokens/{token.id}/revoke").status_code == 303
    assert api.get("/api/v1/incidents/NOPE-2026-0001", headers=headers).status_code == 401
    assert audit_actions(user) == ["api_token_revoked"]


def test_another_users_token_cannot_be_revoked_through_this_user(admin_client, make_user):
    alice, bob = make_user(), make_user()
    new_api_token(bob)
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == bob.id))
    admin_client.post(f"/admin/users/{alice.id}/tokens/{token.id}/revoke")
    db.session.expire_all()
    assert token.revoked_at is None


def test_tokens_expire(app, runner, make_user):
    user = make_user()
    result = runner.invoke(args=["users", "token", user.email, "--expires-days", "2"])
    assert result.exit_code == 0, result.output
    raw = result.stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {raw}"}
    assert app.test_client().get("/api/v1/incidents/X", headers=headers).status_code == 404
    with freeze_time(now_utc() + timedelta(days=2, minutes=1)):
        assert app.test_client().get("/api/v1/incidents/X", headers=headers).status_code == 401
    assert runner.invoke(args=["users", "token", user.email, "--expires-days", "0"]).exit_code == 2


def test_tokens_without_expires_days_expire_after_the_default(runner, make_user):
    user = make_user()
    runner.invoke(args=["users", "token", user.email])
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert abs(token.expires_at - (now_utc() + timedelta(days=90))) < timedelta(minutes=1)


def test_an_unknown_user_is_404(admin_client):
    assert admin_client.get("/admin/users/999999").status_code == 404
    assert admin_client.post("/admin/users/999999/unlock").status_code == 404
