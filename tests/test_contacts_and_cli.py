"""The contact directory import and the staff command line."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from responder.directory.contacts import ContactError, normalise_phone
from responder.extensions import db
from responder.models import ApiToken, Contact, User


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("07700 900123", "+447700900123"),
        ("+44 7700 900123", "+447700900123"),
        ("0121 496 0000", "+441214960000"),
        ("(07700) 900-999", "+447700900999"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(raw, e164):
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize("raw", ["not a number", "0770", "+44 7700 9001234567", "999"])
def test_bad_phone_numbers_are_refused(raw):
    with pytest.raises(ContactError, match="phone"):
        normalise_phone(raw)


def test_import_keeps_good_rows_and_reports_bad_ones_by_line(runner, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text(
        "key,name,phone,email,local_authority\n"
        "bham-youth-lead,Amira Khan,07700 900101,amira@example.org,birmingham\n"
        "bham-youth-deputy,Ben Lee,12345,ben@example.org,birmingham\n"
        "bham-x,Cara Doe,07700900103,not-an-email,birmingham\n"
        "bham-y,Dan Roe,07700900104,dan@example.org,gotham\n"
        "Bad Key,Eve,07700900105,eve@example.org,birmingham\n"
        "bham-youth-lead,Again,07700900106,again@example.org,birmingham\n"
    )
    result = runner.invoke(args=["contacts", "import", str(path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{path}:3: phone: '12345'")
    assert lines[1].startswith(f"{path}:4: email:")
    assert lines[2].startswith(f"{path}:5: local_authority: 'gotham'")
    assert lines[3].startswith(f"{path}:6: key: 'Bad Key'")
    assert lines[4].startswith(f"{path}:7: key: 'bham-youth-lead' already given on line 2")
    assert "1 created, 0 updated, 0 unchanged, 5 rejected" in result.output
    contact = db.session.scalar(select(Contact))
    assert (contact.key, contact.phone) == ("bham-youth-lead", "+447700900101")


def test_import_updates_existing_contacts_and_is_idempotent(runner, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text(
        "key,name,phone,email,local_authority\nwm-on-call,Ola,07700900100,ola@example.org,regional\n"
    )
    assert "1 created" in runner.invoke(args=["contacts", "import", str(path)]).output
    assert "1 unchanged" in runner.invoke(args=["contacts", "import", str(path)]).output
    path.write_text(
        "key,name,phone,email,local_authority\nwm-on-call,Ola B,07700900100,ola@example.org,regional\n"
    )
    assert "1 updated" in runner.invoke(args=["contacts", "import", str(path)]).output


def test_import_names_missing_columns(runner, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("key,name,phone\nx,y,z\n")
    result = runner.invoke(args=["contacts", "import", str(path)])
    assert result.exit_code == 1
    assert f"{path}:1: header: missing column(s) email, local_authority" in result.output


def test_users_create_reads_the_password_from_stdin_and_hashes_it(runner):
    result = runner.invoke(
        args=["users", "create", "Lead@Example.org", "--role", "manager", "--name", "Mo", "--password-stdin"],
        input="a-long-enough-password\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User))
    assert user.email == "lead@example.org" and user.role == "manager"
    assert user.password_hash.startswith("$argon2id$")
    assert user.check_password("a-long-enough-password")


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["x@example.org", "--role", "officer"], "short", "at least 12 characters"),
        (["not-an-email", "--role", "officer"], "a-long-enough-password", "email"),
        (["x@example.org", "--role", "boss"], "a-long-enough-password", "Invalid value for '--role'"),
    ],
)
def test_users_create_refuses_bad_input_clearly(runner, args, password, message):
    result = runner.invoke(args=["users", "create", *args, "--password-stdin"], input=password + "\n")
    assert result.exit_code != 0
    assert message in result.output
    assert db.session.scalar(select(User)) is None


def test_users_token_prints_a_token_that_is_stored_hashed(runner, make_user):
    user = make_user()
    result = runner.invoke(args=["users", "token", user.email])
    token = result.output.strip()
    assert result.exit_code == 0 and token.startswith("rsp_")
    assert db.session.scalar(select(ApiToken)).token_hash != token


def test_playbooks_plan_matches_what_opening_activates(runner, make_incident):
    result = runner.invoke(args=["playbooks", "plan", "birmingham", "--type", "stabbing", "--school-link"])
    assert result.exit_code == 0, result.output
    incident = make_incident(type="stabbing", school_link=True, youngest_age=None, tension="medium")
    for activation in incident.activations:
        assert activation.agency_key in result.output
    for offer in incident.offers:
        assert offer.offer_key in result.output
    assert f"Agencies ({len(incident.activations)})" in result.output
    assert "at 0m    alert every lead; acknowledge within 15 minutes" in result.output


def test_playbooks_plan_names_an_unknown_local_authority(runner):
    result = runner.invoke(args=["playbooks", "plan", "gotham", "--type", "stabbing"])
    assert result.exit_code == 2
    assert "no playbook for 'gotham'" in result.output


def test_demo_seed_is_idempotent(runner):
    first = runner.invoke(args=["demo", "seed"])
    second = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == second.exit_code == 0
    assert "demo users created: officer@example.org" in first.output
    assert "already there" in second.output
    assert db.session.query(User).count() == 3
