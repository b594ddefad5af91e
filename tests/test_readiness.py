"""Readiness per local authority: each problem appears on /readiness and in `readiness check`, and goes when fixed."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

from freezegun import freeze_time
from sqlalchemy import select

from responder.extensions import db
from responder.models import Contact
from responder.readiness import callout_problems
from responder.rotas.importing import import_csv
from responder.rotas.overrides import add_override, find_rota

from .conftest import PASSWORD, PLAYBOOKS

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
ROTA = (
    "role,contact,start,end\n"
    "bham-vru-duty,bham-duty-manager-1,2026-11-30T08:00,2026-12-03T02:00\n"
    "bham-vru-duty,bham-duty-manager-2,2026-12-03T06:00,2026-12-20T08:00\n"
)


def contact(key: str) -> Contact:
    return db.session.scalar(select(Contact).where(Contact.key == key))


def readiness_page(app, user) -> str:
    client = app.test_client()
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    return client.get("/readiness").get_data(as_text=True)


def test_problems_appear_on_the_page_and_in_readiness_check_and_go_when_fixed(
    app, directory, runner, make_user
):
    manager = make_user("manager")
    contact("bham-youth-deputy").active = False  # a role with no contact
    contact("bham-childrens-duty").active = False  # the owner of two Birmingham deadlines
    import_csv(ROTA, "rota.csv")  # nobody on duty from 02:00 to 06:00 on 3 December
    db.session.commit()
    with freeze_time(NOW):
        page = readiness_page(app, manager)
        check = runner.invoke(args=["readiness", "check", "birmingham"])
        coventry = runner.invoke(args=["readiness", "check", "coventry"])
    assert "6 of 7 ready" in page
    assert "bham-youth-deputy: no active contact and no rota: alerts for it cannot be sent" in page
    assert "bham-vru-duty: 2026-12-03 02:00 GMT - 2026-12-03 06:00 GMT: nobody on duty" in page
    assert "the deadline &#39;Notify the Child Safeguarding Practice Review Panel" in page
    assert 'href="/admin/contacts"' in page and 'href="/admin/rotas#rota-bham-vru-duty"' in page
    assert check.exit_code == 1
    lines = check.output.splitlines()
    assert (
        "birmingham: no contact: bham-youth-deputy: no active contact and no rota: alerts for it cannot be sent "
        "(fix: http://responder.test/admin/contacts)"
    ) in lines
    assert any(
        line.startswith("birmingham: rota gap: bham-vru-duty: 2026-12-03 02:00 GMT - 2026-12-03 06:00 GMT")
        for line in lines
    )
    assert any(line.startswith("birmingham: deadline owner: the deadline") for line in lines)
    assert (coventry.exit_code, coventry.output) == (0, "coventry: ready\n")

    # Fixed: the contacts active again, an override over the gap.
    contact("bham-youth-deputy").active = True
    contact("bham-childrens-duty").active = True
    add_override(
        find_rota("bham-vru-duty"),
        contact("cov-duty-manager-1"),
        datetime(2026, 12, 3, 2, tzinfo=UTC),
        datetime(2026, 12, 3, 6, tzinfo=UTC),
        "Coventry covers",
        make_user("admin"),
    )
    db.session.commit()
    with freeze_time(NOW):
        page = readiness_page(app, manager)
        check = runner.invoke(args=["readiness", "check"])
    assert "7 of 7 ready" in page and "nobody on duty" not in page
    assert check.exit_code == 0, check.output
    assert check.output.splitlines()[0] == "birmingham: ready"


def test_an_invalid_playbook_is_a_problem_for_its_local_authority(app, directory, runner, tmp_path):
    folder = tmp_path / "playbooks"
    shutil.copytree(PLAYBOOKS, folder)
    broken = folder / "walsall.yaml"
    broken.write_text(broken.read_text().replace("duty_manager: wal-vru-duty", "duty_manager: [not, a, key]"))
    app.config["PLAYBOOKS_DIR"] = str(folder)
    result = runner.invoke(args=["readiness", "check", "walsall"])
    assert result.exit_code == 1
    assert result.output.startswith(f"walsall: playbook: {broken}:")
    assert "then run `flask --app wsgi playbooks check`" in result.output
    assert runner.invoke(args=["readiness", "check", "dudley"]).exit_code == 0


def test_readiness_is_for_managers_and_admins_and_call_out_results_plug_in(app, directory, make_user):
    client = app.test_client()
    officer = make_user("officer")
    client.post("/login", data={"email": officer.email, "password": PASSWORD})
    assert client.get("/readiness").status_code == 403
    assert callout_problems("birmingham") == []  # nothing until call-out tests report here


def test_a_playbook_that_phones_rungs_is_not_ready_while_calls_are_off(app, directory):
    from responder.readiness.checks import ProblemKind, readiness

    app.config.update(
        SMS_BACKEND="twilio", TWILIO_FROM="MG" + "0" * 32, TWILIO_VOICE_FROM=None, VOICE_BACKEND=None
    )
    with app.test_request_context():
        (birmingham,) = readiness("birmingham")
        (problem,) = birmingham.of_kind(ProblemKind.CALLS_OFF)
        assert "phone calls are off" in problem.message and "duty manager" in problem.message
        app.config["TWILIO_VOICE_FROM"] = "+447700900001"
        (birmingham,) = readiness("birmingham")
        assert not birmingham.of_kind(ProblemKind.CALLS_OFF)
