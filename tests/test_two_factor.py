"""Two-factor sign-in: TOTP enrolment with a QR code, every sign-in asks, recovery codes (issue 17, item 1)."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from freezegun import freeze_time
from sqlalchemy import select

from config import config_for
from responder.clock import now_utc
from responder.extensions import db
from responder.models import RecoveryCode

from .conftest import PASSWORD


@pytest.fixture
def mfa(app):
    app.config["MFA_REQUIRED"] = True
    return app


def password_step(client, user, **kwargs):
    return client.post("/login", data={"email": user.email, "password": PASSWORD}, **kwargs)


def enrol(client, user) -> tuple[pyotp.TOTP, list[str]]:
    """Sign in with the password, set up the app from the page, return the TOTP and the recovery codes."""
    assert password_step(client, user).headers["Location"] == "/two-factor/set-up"
    assert client.post("/two-factor/set-up", data={"start-submit": "Set up"}).status_code == 303
    page = client.get("/two-factor/set-up").get_data(as_text=True)
    secret = re.search(r'data-secret="([A-Z2-7]+)"', page).group(1)
    totp = pyotp.TOTP(secret)
    done = client.post("/two-factor/set-up", data={"confirm-code": totp.now(), "confirm-submit": "Turn on"})
    assert done.status_code == 200, done.get_data(as_text=True)
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", done.get_data(as_text=True))
    return totp, codes


def test_production_requires_two_factor_and_development_does_not():
    assert config_for("development").MFA_REQUIRED is False
    assert config_for("testing").MFA_REQUIRED is False


def test_demo_style_sign_in_is_one_step_when_two_factor_is_not_required(client, make_user):
    user = make_user()
    assert password_step(client, user).headers["Location"] == "/incidents"


def test_enrolment_shows_a_qr_code_drawn_here_and_ten_recovery_codes(mfa, client, make_user):
    user = make_user()
    password_step(client, user)
    assert client.get("/").status_code == 302, "not signed in before enrolling"
    client.post("/two-factor/set-up", data={"start-submit": "Set up"})
    page = client.get("/two-factor/set-up").get_data(as_text=True)
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert "<path" in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")
    _totp, codes = enrol_rest(client, page)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/").status_code == 200, "signed in once enrolled"
    hashes = db.session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all()
    assert len(hashes) == 10 and not any(code.replace("-", "") in hashes for code in codes)


def enrol_rest(client, page):
    totp = pyotp.TOTP(re.search(r'data-secret="([A-Z2-7]+)"', page).group(1))
    done = client.post("/two-factor/set-up", data={"confirm-code": totp.now(), "confirm-submit": "Turn on"})
    return totp, re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", done.get_data(as_text=True))


def test_a_wrong_code_does_not_turn_two_factor_on(mfa, client, make_user):
    user = make_user()
    password_step(client, user)
    client.post("/two-factor/set-up", data={"start-submit": "Set up"})
    wrong = client.post("/two-factor/set-up", data={"confirm-code": "000000", "confirm-submit": "Turn on"})
    assert wrong.status_code == 422 and "That code is wrong" in wrong.get_data(as_text=True)
    assert not user.has_two_factor and client.get("/").status_code == 302


def test_every_sign_in_asks_for_the_code(mfa, app, make_user):
    user = make_user()
    totp, _ = enrol(app.test_client(), user)
    client = app.test_client()
    assert password_step(client, user).headers["Location"] == "/login/code"
    assert client.get("/").status_code == 302, "the password alone signs nobody in"
    assert client.post("/login/code", data={"code": "123456"}).status_code == 401
    later = totp.at(now_utc() + timedelta(seconds=30))  # the enrolment used the current one
    assert client.post("/login/code", data={"code": later}).headers["Location"] == "/incidents"
    assert client.get("/").status_code == 200


def test_two_factor_is_asked_for_even_when_not_required_once_set_up(app, make_user):
    user = make_user()
    app.config["MFA_REQUIRED"] = True
    enrol(app.test_client(), user)
    app.config["MFA_REQUIRED"] = False
    assert password_step(app.test_client(), user).headers["Location"] == "/login/code"


def test_a_code_cannot_be_used_twice(mfa, app, make_user):
    user = make_user()
    totp, _ = enrol(app.test_client(), user)
    code = totp.at(now_utc() + timedelta(seconds=30))
    first, second = app.test_client(), app.test_client()
    password_step(first, user)
    password_step(second, user)
    assert first.post("/login/code", data={"code": code}).status_code == 302
    replay = second.post("/login/code", data={"code": code})
    assert replay.status_code == 401


def test_a_recovery_code_works_once(mfa, app, make_user):
    user = make_user()
    _totp, codes = enrol(app.test_client(), user)
    first, second = app.test_client(), app.test_client()
    password_step(first, user)
    assert first.post("/login/code", data={"code": codes[3].upper()}).status_code == 302
    password_step(second, user)
    assert second.post("/login/code", data={"code": codes[3]}).status_code == 401


def test_the_code_step_expires(mfa, app, make_user):
    user = make_user()
    totp, _ = enrol(app.test_client(), user)
    client = app.test_client()
    with freeze_time(now_utc()) as clock:
        password_step(client, user)
        clock.tick(timedelta(minutes=6))
        late = client.post("/login/code", data={"code": totp.now()})
    assert late.status_code == 302 and late.headers["Location"].startswith("/login")
    assert client.get("/").status_code == 302


def test_wrong_codes_are_throttled_like_wrong_passwords(mfa, app, make_user):
    user = make_user()
    totp, _ = enrol(app.test_client(), user)
    client = app.test_client()
    with freeze_time(now_utc()):
        password_step(client, user)
        answers = [client.post("/login/code", data={"code": "111111"}).status_code for _ in range(7)]
        assert answers == [401] * 6 + [429]
        assert client.post("/login/code", data={"code": totp.now()}).status_code == 429


def test_the_code_step_cannot_be_skipped_with_a_forged_pending_note(mfa, app, make_user):
    user = make_user()
    enrol(app.test_client(), user)
    client = app.test_client()
    with client.session_transaction() as session:
        session["pending_sign_in"] = {"user": user.id, "since": 9e12, "next": None, "enrol": False}
    # The cookie is signed, so only someone with SECRET_KEY could do this; even then, a code is needed.
    assert client.post("/login/code", data={"code": "000000"}).status_code == 401
    assert client.get("/").status_code == 302


def test_new_recovery_codes_need_a_current_code(mfa, app, make_user):
    user = make_user()
    client = app.test_client()
    totp, old = enrol(client, user)
    refused = client.post("/account/recovery-codes", data={"codes-code": "000000"})
    assert refused.status_code == 303
    fresh = client.post(
        "/account/recovery-codes", data={"codes-code": totp.at(now_utc() + timedelta(seconds=30))}
    )
    new = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", fresh.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)


def test_an_admin_reset_makes_them_enrol_again(mfa, app, make_user):
    user, admin = make_user(), make_user("admin")
    user_client = app.test_client()
    enrol(user_client, user)
    app.config["MFA_REQUIRED"] = False
    admin_client = app.test_client()
    password_step(admin_client, admin)
    assert admin_client.post(f"/admin/users/{user.id}/reset-two-factor").status_code == 303
    assert user_client.get("/").status_code == 302, "their sessions ended"
    app.config["MFA_REQUIRED"] = True
    assert password_step(app.test_client(), user).headers["Location"] == "/two-factor/set-up"


def test_no_key_code_or_session_id_reaches_the_logs(mfa, app, make_user, capfd):
    user = make_user()
    client = app.test_client()
    totp, codes = enrol(client, user)
    later = app.test_client()
    password_step(later, user)
    later.post("/login/code", data={"code": codes[0]})
    logs = "".join(capfd.readouterr())
    assert "POST /login/code" in logs or "/login/code" in logs
    session_id = later.get_cookie("session").value
    for secret in (totp.secret, *codes, codes[0].replace("-", ""), session_id):
        assert secret not in logs
