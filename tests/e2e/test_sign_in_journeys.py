"""Signing in as staff, from the outside: two-factor set up on a phone and used at the next
sign-in, and the staff accounts pages an administrator uses, each checked with axe-core."""

from __future__ import annotations

import secrets
import time

import pyotp
from playwright.sync_api import expect

from .axe import check_accessibility


def test_a_new_officer_sets_up_two_factor_on_a_phone_and_signs_in_with_it(live_server, new_context, shot):
    email = f"phone.officer.{secrets.token_hex(3)}@example.org"
    password = "phone-officer-" + secrets.token_urlsafe(12)
    live_server.flask(
        "users", "create", email, "--role", "officer", "--password-stdin", stdin=password + "\n"
    )
    live_server.secrets[f"password of {email}"] = password
    page = new_context(phone=True).new_page()

    page.goto("/login")
    check_accessibility(page, "login-phone")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").tap()
    page.wait_for_url(lambda url: "/login" not in url)

    page.goto("/account")
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    check_accessibility(page, "account")
    page.get_by_role("link", name="Set up two-factor sign-in").tap()
    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    check_accessibility(page, "two-factor-start")
    shot(page, "two-factor-start")
    page.get_by_role("button", name="Set up two-factor sign-in").tap()

    expect(page.locator("figure.app-qr-code svg")).to_be_visible()
    check_accessibility(page, "two-factor-enrolment")
    shot(page, "two-factor-qr-code")
    secret = page.locator("#totp-secret").get_attribute("data-secret")
    assert secret and page.locator("#totp-secret").inner_text().replace(" ", "") == secret
    live_server.secrets[f"TOTP secret of {email}"] = secret
    totp = pyotp.TOTP(secret)
    page.get_by_label("Code from your authenticator app").fill(totp.now())
    page.get_by_role("button", name="Turn on two-factor sign-in").tap()

    expect(page.get_by_role("heading", name="Two-factor sign-in is on")).to_be_visible()
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    check_accessibility(page, "recovery-codes")
    shot(page, "recovery-codes")
    page.get_by_role("button", name="I have kept my recovery codes: continue").tap()
    page.wait_for_url(lambda url: "/two-factor" not in url)
    page.get_by_role("button", name="Sign out").tap()
    expect(page.get_by_role("heading", name="Sign in to Responder")).to_be_visible()

    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").tap()
    expect(page.get_by_role("heading", name="Enter the code from your authenticator app")).to_be_visible()
    check_accessibility(page, "two-factor-code")
    page.get_by_label("Code from your authenticator app").fill("000000")
    page.get_by_role("button", name="Continue").tap()
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Enter the code your authenticator app shows now"
    )
    check_accessibility(page, "two-factor-code-with-error")
    shot(page, "wrong-code")
    page.get_by_label("Code from your authenticator app").fill(_unused_code(totp))
    page.get_by_role("button", name="Continue").tap()
    page.wait_for_url(lambda url: "/login" not in url)
    expect(page.get_by_role("link", name="Your account")).to_be_visible()
    shot(page, "signed-in-with-code")


def _unused_code(totp: pyotp.TOTP) -> str:
    """The next step's code: the one used to enrol was spent, and a code is accepted once."""
    return totp.at(time.time() + 30)


def test_an_admin_manages_staff_accounts(sign_in, shot):
    page = sign_in("admin@example.org")
    page.goto("/admin/users")
    expect(page.get_by_role("heading", name="Staff accounts")).to_be_visible()
    check_accessibility(page, "admin-users")
    shot(page, "staff-accounts")
    page.get_by_role("button", name="Add a staff account").click()
    expect(page.get_by_role("heading", name="Add a staff account")).to_be_visible()
    check_accessibility(page, "admin-user-new")
    page.get_by_label("Email address").fill("not an email")
    page.get_by_label("Officer: opens and runs incidents, optionally in some areas only").check()
    page.get_by_role("button", name="Add account").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    check_accessibility(page, "admin-user-new-with-errors")
    shot(page, "new-account-errors")
    email = f"walsall.officer.{secrets.token_hex(3)}@example.org"
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Walsall").check()
    page.get_by_label("First password").fill("first-password-" + secrets.token_hex(4))
    page.get_by_role("button", name="Add account").click()
    expect(page.get_by_role("heading", name=email)).to_be_visible()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("can now sign in as officer")
    check_accessibility(page, "admin-user")
    shot(page, "account-page")
    page.get_by_role("button", name="Deactivate and sign out everywhere").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("deactivated")
    expect(page.get_by_text("User deactivated")).to_be_visible()
