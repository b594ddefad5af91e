"""Single sign-on with OpenID Connect against a provider inside the test suite (issue 17, item 2)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from responder.extensions import db
from responder.models import User

from .conftest import PASSWORD
from .oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider


@pytest.fixture(scope="session")
def provider():
    provider = OidcProvider().start()
    yield provider
    provider.stop()


@pytest.fixture
def sso(app, provider):
    app.config.update(OIDC_ISSUER=provider.issuer, OIDC_CLIENT_ID=CLIENT_ID, OIDC_CLIENT_SECRET=CLIENT_SECRET)
    return provider


def authorize(client, next_url: str | None = None) -> dict[str, str]:
    """Start single sign-on; the parameters Responder sends the browser to the provider with."""
    response = client.get("/login/sso", query_string={"next": next_url} if next_url else None)
    assert response.status_code == 302, response.get_data(as_text=True)
    location = urlsplit(response.headers["Location"])
    return {name: values[0] for name, values in parse_qs(location.query).items()} | {"_path": location.path}


def come_back(client, provider, params, **claims):
    code = provider.issue_code(params, **claims)
    return client.get("/login/sso/callback", query_string={"code": code, "state": params["state"]})


def signed_in(client) -> bool:
    return client.get("/incidents").status_code == 200


def test_a_valid_sign_in_maps_app_roles_to_a_role_and_areas(sso, client):
    params = authorize(client, next_url="/incidents/new")
    assert params["_path"] == "/authorize" and params["client_id"] == CLIENT_ID
    assert params["code_challenge_method"] == "S256" and params["code_challenge"] and params["nonce"]
    assert params["redirect_uri"] == "http://responder.test/login/sso/callback"
    assert "openid" in params["scope"].split()
    answer = come_back(client, sso, params)
    assert answer.status_code == 302 and answer.headers["Location"] == "/incidents/new"
    assert signed_in(client)
    user = db.session.scalar(select(User).where(User.email == "olu.officer@coventry.example.gov.uk"))
    assert (user.role, user.local_authorities, user.sso_managed) == ("officer", ["coventry"], True)
    assert user.name == "Olu Officer" and not user.has_password
    assert sso.token_requests[-1]["code_verifier"], "PKCE: the verifier went to the token endpoint"


def test_the_role_is_decided_afresh_at_every_sign_in(sso, app):
    first = app.test_client()
    come_back(first, sso, authorize(first))
    second = app.test_client()
    come_back(second, sso, authorize(second), roles=["Responder.Manager"])
    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.sso_subject.is_not(None)))
    assert (user.role, user.local_authorities) == ("manager", None)


@pytest.mark.parametrize(
    ("claims", "what"),
    [
        ({"aud": "someone-else"}, "wrong audience"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 4000}, "expired"),
        ({"bad_signature": True}, "signed with another key"),
        ({"nonce": "not-the-nonce-we-sent"}, "wrong nonce"),
        ({"iss": "https://evil.example"}, "wrong issuer"),
    ],
)
def test_a_token_that_does_not_validate_signs_nobody_in(sso, client, claims, what):
    answer = come_back(client, sso, authorize(client), **claims)
    assert answer.status_code == 401, what
    assert "We could not confirm who you are" in answer.get_data(as_text=True)
    assert not signed_in(client)
    assert db.session.scalar(select(User)) is None


def test_a_callback_with_another_state_is_refused(sso, client):
    params = authorize(client)
    code = sso.issue_code(params)
    assert (
        client.get("/login/sso/callback", query_string={"code": code, "state": "forged"}).status_code == 401
    )
    assert not signed_in(client)


def test_a_stolen_code_is_useless_in_another_browser(sso, app):
    victim, attacker = app.test_client(), app.test_client()
    params = authorize(victim)
    code = sso.issue_code(params)
    # The attacker's browser has no state (and no PKCE verifier) for it.
    assert (
        attacker.get("/login/sso/callback", query_string={"code": code, "state": params["state"]}).status_code
        == 401
    )


def test_no_mapped_role_gets_a_page_saying_whom_to_ask(sso, client, app):
    app.config["ACCESS_REQUEST_CONTACT"] = "the VRU service desk (0121 496 0001)"
    answer = come_back(client, sso, authorize(client), roles=["Finance.Reader"])
    page = answer.get_data(as_text=True)
    assert answer.status_code == 403
    assert "do not have access to Responder yet" in page and "the VRU service desk (0121 496 0001)" in page
    assert not signed_in(client)


def test_no_mfa_in_amr_is_refused_when_required(sso, client):
    answer = come_back(client, sso, authorize(client), amr=["pwd"])
    assert answer.status_code == 403 and "second factor" in answer.get_data(as_text=True)
    assert not signed_in(client)


def test_amr_is_not_checked_when_not_required(sso, client, app):
    app.config["OIDC_REQUIRE_MFA"] = False
    come_back(client, sso, authorize(client), amr=None)
    assert signed_in(client)


def test_groups_can_stand_in_for_app_roles(sso, client, app):
    app.config.update(
        OIDC_ROLE_CLAIM="groups",
        OIDC_ROLE_MAP="6f1c0e52-0000-4000-8000-000000000001=admin",
        OIDC_AREA_MAP="6f1c0e52-0000-4000-8000-000000000002=walsall",
    )
    come_back(client, sso, authorize(client), roles=None, groups=["6f1c0e52-0000-4000-8000-000000000001"])
    user = db.session.scalar(select(User))
    assert user.role == "admin"


def test_a_local_account_with_the_same_email_is_taken_over_once(sso, client, make_user):
    local = make_user("manager", email="olu.officer@coventry.example.gov.uk")
    come_back(client, sso, authorize(client))
    db.session.expire_all()
    assert local.sso_subject and local.role == "officer" and local.sso_managed
    # From now on the password no longer signs them in: the identity provider decides.
    other = client.application.test_client()
    assert other.post("/login", data={"email": local.email, "password": PASSWORD}).status_code == 401


def test_a_deactivated_account_stays_out(sso, client, app, make_user):
    come_back(client, sso, authorize(client))
    user = db.session.scalar(select(User))
    user.active = False
    db.session.commit()
    again = app.test_client()
    assert come_back(again, sso, authorize(again)).status_code == 403


def test_passwords_can_be_turned_off(sso, app, make_user):
    user = make_user()
    app.config["PASSWORD_SIGN_IN"] = False
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in with your council account" in page and 'type="password"' not in page
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 403
    assert not signed_in(client)


def test_the_admin_page_shows_a_single_sign_on_role_read_only(sso, app, make_user):
    user_client = app.test_client()
    come_back(user_client, sso, authorize(user_client))
    sso_user = db.session.scalar(select(User).where(User.sso_managed))
    admin = make_user("admin")
    admin_client = app.test_client()
    admin_client.post("/login", data={"email": admin.email, "password": PASSWORD})
    page = admin_client.get(f"/admin/users/{sso_user.id}").get_data(as_text=True)
    assert "Decided by the identity provider" in page and 'name="role"' not in page
    refused = admin_client.post(f"/admin/users/{sso_user.id}", data={"role": "admin"})
    assert refused.status_code == 422
    db.session.expire_all()
    assert sso_user.role == "officer"


def test_an_unreachable_provider_gets_a_clear_page(app, client):
    app.config.update(OIDC_ISSUER="http://127.0.0.1:9", OIDC_CLIENT_ID="x", OIDC_CLIENT_SECRET="y")
    answer = client.get("/login/sso")
    assert answer.status_code == 502 and "not answering" in answer.get_data(as_text=True)


def test_without_single_sign_on_its_routes_are_not_found(client):
    assert client.get("/login/sso").status_code == 404
    assert client.get("/login/sso/callback?code=x&state=y").status_code == 404
