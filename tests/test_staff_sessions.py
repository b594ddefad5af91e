"""Sessions that end: on the server, everywhere a cookie was copied (issue 17, item 4)."""

from __future__ import annotations

from datetime import timedelta

from freezegun import freeze_time

from responder.clock import now_utc

from .conftest import PASSWORD


def signed_in_client(app, user):
    client = app.test_client()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def copy_of(app, client):
    """Another browser holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    cookie = client.get_cookie("session")
    thief.set_cookie("session", cookie.value)
    return thief


def test_signing_out_ends_a_copied_cookie_too(app, make_user):
    """The finding: a cookie copied before sign-out still worked afterwards, from another browser too."""
    user = make_user()
    browser = signed_in_client(app, user)
    thief = copy_of(app, browser)
    assert thief.get("/").status_code == 200
    assert browser.post("/logout").status_code == 302
    assert thief.get("/").status_code == 302
    assert thief.get("/incidents").headers["Location"].startswith("/login")


def test_sign_out_everywhere_else_keeps_this_browser(app, make_user):
    user = make_user()
    laptop, phone = signed_in_client(app, user), signed_in_client(app, user)
    page = laptop.get("/account").get_data(as_text=True)
    assert "Sign out everywhere else" in page and "This browser" in page
    assert laptop.post("/account/sessions/end-others").status_code == 303
    assert phone.get("/").status_code == 302
    assert laptop.get("/").status_code == 200
    assert "Sign out everywhere else" not in laptop.get("/account").get_data(as_text=True)


def test_a_busy_session_still_ends_after_its_absolute_lifetime(app, make_user):
    user = make_user()
    start = now_utc()
    with freeze_time(start) as clock:
        client = signed_in_client(app, user)
        lifetime = app.config["SESSION_ABSOLUTE_LIFETIME"]
        assert lifetime == timedelta(hours=12)
        for _ in range(int(lifetime / timedelta(minutes=30)) - 1):
            clock.tick(timedelta(minutes=30))
            assert client.get("/").status_code == 200
        clock.tick(timedelta(minutes=31))
        assert client.get("/").status_code == 302


def test_an_idle_session_ends_on_the_server_even_with_a_fresh_cookie(app, make_user):
    user = make_user()
    start = now_utc()
    with freeze_time(start) as clock:
        client = signed_in_client(app, user)
        stale = copy_of(app, client)
        clock.tick(app.config["PERMANENT_SESSION_LIFETIME"] + timedelta(minutes=1))
        # A cookie re-signed just now (as a client could replay) still names an idle session.
        assert stale.get("/").status_code == 302


def test_deactivating_someone_ends_their_sessions(app, make_user):
    user, admin = make_user(), make_user("admin")
    browser = signed_in_client(app, user)
    admin_client = signed_in_client(app, admin)
    assert admin_client.post(f"/admin/users/{user.id}/deactivate").status_code == 303
    assert browser.get("/").status_code == 302
    assert browser.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 401


def test_a_forged_session_id_signs_nobody_in(app, make_user):
    user = make_user()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["staff_session"] = "made-up-session-id"
    assert client.get("/").status_code == 302


def test_another_users_session_id_does_not_sign_in_as_this_user(app, make_user):
    alice, mallory = make_user(), make_user()
    client = signed_in_client(app, mallory)
    with client.session_transaction() as session:
        session["_user_id"] = str(
            alice.id
        )  # only possible with the secret key; the server record still says no
    assert client.get("/").status_code == 302
