"""Throttling without lock-out by strangers (issue 17, item 5)."""

from __future__ import annotations

from datetime import timedelta

from freezegun import freeze_time
from sqlalchemy import select

from responder.clock import now_utc
from responder.extensions import db
from responder.models import Message, MessageKind, SignInThrottle

from .conftest import PASSWORD

ATTACKER = "203.0.113.7"
OFFICE = "198.51.100.20"


def sign_in(client, email, password, address=OFFICE):
    return client.post(
        "/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def test_a_strangers_failures_never_refuse_the_right_password_from_elsewhere(client, make_user):
    """The finding: six wrong passwords from one address locked the account for everyone."""
    user = make_user()
    for _ in range(12):
        sign_in(client, user.email, "wrong-password", ATTACKER)
    assert sign_in(client, user.email, PASSWORD, OFFICE).status_code == 302


def test_one_try_an_hour_does_not_keep_anyone_out(app, make_user):
    """The finding: one request an hour kept the account locked (each failure re-locked it for an hour)."""
    user = make_user()
    start = now_utc()
    for hour in range(12):
        with freeze_time(start + timedelta(hours=hour)):
            sign_in(app.test_client(), user.email, "wrong-password", ATTACKER)
    with freeze_time(start + timedelta(hours=11, minutes=30)):
        assert sign_in(app.test_client(), user.email, PASSWORD, OFFICE).status_code == 302


def test_an_address_that_keeps_failing_waits_twice_as_long_each_time(client, make_user):
    user = make_user()
    with freeze_time(now_utc()) as clock:
        for _ in range(5):
            assert sign_in(client, user.email, "wrong-password", ATTACKER).status_code == 401
        waits = []
        for _ in range(4):
            assert sign_in(client, user.email, "wrong-password", ATTACKER).status_code == 401
            refused = sign_in(client, user.email, PASSWORD, ATTACKER)  # even the right one, while it waits
            assert refused.status_code == 429 and b"Wait " in refused.data
            waits.append(int(refused.headers["Retry-After"]))
            clock.tick(timedelta(seconds=waits[-1]))
        assert waits == [1, 2, 4, 8]


def test_the_wait_is_capped_and_the_right_password_works_after_it(client, make_user):
    user = make_user()
    start = now_utc()
    with freeze_time(start) as clock:
        for _ in range(40):
            clock.tick(timedelta(minutes=16))  # each wait is over; each failure makes the next longer
            sign_in(client, user.email, "wrong-password", ATTACKER)
        refused = sign_in(client, user.email, PASSWORD, ATTACKER)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) <= 15 * 60
        clock.tick(timedelta(minutes=15, seconds=1))
        assert sign_in(client, user.email, PASSWORD, ATTACKER).status_code == 302


def test_an_address_guessing_many_accounts_is_slowed_down_for_all_of_them(client, make_user):
    user = make_user()
    with freeze_time(now_utc()):
        for number in range(30):
            assert sign_in(client, f"nobody{number}@example.org", "guess", ATTACKER).status_code == 401
        assert sign_in(client, "nobody-else@example.org", "guess", ATTACKER).status_code == 401
        assert sign_in(client, user.email, PASSWORD, ATTACKER).status_code == 429
        assert sign_in(client, user.email, PASSWORD, OFFICE).status_code == 302


def test_unknown_and_known_emails_are_answered_alike(client, make_user):
    user = make_user()
    with freeze_time(now_utc()):
        known = [sign_in(client, user.email, "wrong", ATTACKER).status_code for _ in range(7)]
        unknown = [sign_in(client, "ghost@example.org", "wrong", "192.0.2.1").status_code for _ in range(7)]
    assert known == unknown == [401] * 6 + [429]


def test_the_holder_is_emailed_after_repeated_failures_without_saying_from_where(client, make_user):
    user = make_user()
    for _ in range(4):
        sign_in(client, user.email, "wrong-password", ATTACKER)
    assert db.session.scalars(select(Message).where(Message.kind == MessageKind.SIGN_IN_NOTICE)).all() == []
    sign_in(client, user.email, "wrong-password", ATTACKER)
    notices = db.session.scalars(select(Message).where(Message.kind == MessageKind.SIGN_IN_NOTICE)).all()
    assert len(notices) == 1
    notice = notices[0]
    assert notice.recipient == user.email and notice.channel == "email"
    assert "5 failed attempts" in notice.body and ATTACKER not in notice.body
    assert "http://responder.test/login" in notice.body


def test_the_notice_is_sent_by_the_existing_sender(
    client, make_user, real_providers, smtp_server, send_outbox
):
    user = make_user()
    for _ in range(5):
        sign_in(client, user.email, "wrong-password", ATTACKER)
    send_outbox()
    assert smtp_server.received_by(user.email)


def test_a_full_sign_in_forgets_its_own_failures_but_not_the_addresss(client, make_user):
    user = make_user()
    for _ in range(3):
        sign_in(client, user.email, "wrong-password", OFFICE)
    assert sign_in(client, user.email, PASSWORD, OFFICE).status_code == 302
    db.session.expire_all()
    assert user.failed_logins == 0
    scopes = {row.scope for row in db.session.scalars(select(SignInThrottle))}
    assert scopes == {"address"}


def test_an_admin_can_clear_an_accounts_throttles(app, client, make_user, login):
    user = make_user()
    with freeze_time(now_utc()):
        for _ in range(8):
            sign_in(client, user.email, "wrong-password", ATTACKER)
        assert sign_in(client, user.email, PASSWORD, ATTACKER).status_code == 429
        admin_client = app.test_client()
        admin = make_user("admin")
        admin_client.post("/login", data={"email": admin.email, "password": PASSWORD})
        assert admin_client.post(f"/admin/users/{user.id}/unlock").status_code == 303
        assert sign_in(client, user.email, PASSWORD, ATTACKER).status_code == 302


def test_addresses_are_not_kept_once_they_stop_mattering(client, make_user):
    user = make_user()
    with freeze_time(now_utc() - timedelta(days=2)):
        sign_in(client, user.email, "wrong-password", ATTACKER)
    sign_in(client, user.email, "wrong-password", OFFICE)
    db.session.expire_all()
    assert {row.address for row in db.session.scalars(select(SignInThrottle))} == {OFFICE}
