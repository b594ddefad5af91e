"""Playbook validation: every kind of mistake is reported as FILE:LINE: field.path: message."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from responder import create_app
from responder.playbooks import PlaybookError, load_playbooks

from .conftest import PLAYBOOKS

MINIMAL_REGIONAL = """\
region: west-midlands
name: West Midlands
on_call: wm-on-call
agencies:
  wmp-test:
    name: West Midlands Police
    sector: police
    sharing_basis: s115-cda-1998
    lead: wmp-lead
"""

MINIMAL_BIRMINGHAM = """\
local_authority: birmingham
name: Birmingham
code: BHM
duty_manager: bham-duty
agencies:
  bham-youth:
    name: Birmingham Youth Service
    sector: youth_service
    sharing_basis: s115-cda-1998
    lead: bham-youth-lead
support_offers:
  bham-detached:
    name: Detached youth work
    provider: bham-youth
activation:
  - when: {type: [stabbing]}
    agencies: [wmp-test, bham-youth]
    offers: [bham-detached]
steps:
  - {at: 0m, do: alert, ack_within: 15m}
  - {at: 24h, do: check_in}
"""


def write_playbooks(
    folder: Path, birmingham: str = MINIMAL_BIRMINGHAM, regional: str = MINIMAL_REGIONAL
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "regional.yaml").write_text(regional)
    (folder / "birmingham.yaml").write_text(birmingham)
    return folder


def problems_for(folder: Path) -> list[str]:
    with pytest.raises(PlaybookError) as caught:
        load_playbooks(folder)
    return [str(problem) for problem in caught.value.problems]


def test_the_minimal_playbooks_are_valid(tmp_path):
    playbooks = load_playbooks(write_playbooks(tmp_path))
    assert set(playbooks.playbooks) == {"birmingham"}


def test_the_shipped_playbooks_are_valid():
    playbooks = load_playbooks(PLAYBOOKS)
    assert set(playbooks.playbooks) == {
        "birmingham",
        "coventry",
        "dudley",
        "sandwell",
        "solihull",
        "walsall",
        "wolverhampton",
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            ("    lead: bham-youth-lead\n", "    lead: bham-youth-lead\n    phone: '+447700900001'\n"),
            "birmingham.yaml:11: agencies.bham-youth.phone: unknown key",
            id="unknown key",
        ),
        pytest.param(
            ("agencies: [wmp-test, bham-youth]", "agencies: [wmp-test, bham-yuoth]"),
            "birmingham.yaml:17: activation.0.agencies.1: unknown agency 'bham-yuoth'",
            id="dangling agency reference",
        ),
        pytest.param(
            ("offers: [bham-detached]", "offers: [bham-detatched]"),
            "birmingham.yaml:18: activation.0.offers.0: unknown support offer 'bham-detatched'",
            id="dangling offer reference",
        ),
        pytest.param(
            ("provider: bham-youth\n", "provider: bham-nobody\n"),
            "birmingham.yaml:14: support_offers.bham-detached.provider: unknown agency 'bham-nobody'",
            id="dangling provider",
        ),
        pytest.param(
            ("ack_within: 15m", "ack_within: 15 minutes"),
            "birmingham.yaml:20: steps.0.ack_within: '15 minutes' is not a duration",
            id="bad duration",
        ),
        pytest.param(
            ("{at: 24h, do: check_in}", "{at: 24, do: check_in}"),
            "birmingham.yaml:21: steps.1.at: 24 is not a duration",
            id="duration without unit",
        ),
        pytest.param(
            ("code: BHM\n", ""),
            "birmingham.yaml:1: code: required",
            id="missing required field",
        ),
        pytest.param(
            ("sector: youth_service", "sector: youth_servce"),
            "birmingham.yaml:8: agencies.bham-youth.sector: Must be one of",
            id="unknown sector",
        ),
        pytest.param(
            ("  - when: {type: [stabbing]}", "  - when: {type: [stabing]}"),
            "birmingham.yaml:16: activation.0.when.type.0: Must be one of",
            id="unknown incident type in a rule",
        ),
        pytest.param(
            ("  - {at: 0m, do: alert, ack_within: 15m}\n", ""),
            "birmingham.yaml:19: steps: needs exactly one alert step, found 0",
            id="no alert step",
        ),
        pytest.param(
            ("ack_within: 15m}", "ack_within: 15m,\n     call: [duty_manager, on-call]}"),
            "birmingham.yaml:21: steps.0.call.1: must be one of: lead, deputy, duty_manager, on_call",
            id="unknown rung to call",
        ),
        pytest.param(
            ("ack_within: 15m}", "ack_within: 15m,\n     call: [on_call, duty_manager, on_call]}"),
            "birmingham.yaml:21: steps.0.call.2: on_call is listed twice",
            id="rung called twice",
        ),
        pytest.param(
            ("{at: 24h, do: check_in}", "{at: 24h, do: check_in, call: [on_call]}"),
            "birmingham.yaml:21: steps.1.call: not used by a check_in step",
            id="call on a step that is not the alert",
        ),
        pytest.param(
            ("local_authority: birmingham", "local_authority: coventry"),
            "birmingham.yaml:1: local_authority: 'coventry' does not match the file name",
            id="file name mismatch",
        ),
        pytest.param(
            ("support_offers:\n", "  bham-youth:\n    name: Again\nsupport_offers:\n"),
            "birmingham.yaml:11: agencies.bham-youth: duplicate key",
            id="duplicate id in one file",
        ),
        pytest.param(
            (
                "    sharing_basis: s115-cda-1998\n    lead: bham-youth-lead",
                "    sharing_basis: s16-pcsc-2022\n    lead: bham-youth-lead",
            ),
            None,
            id="s16 basis is fine for a youth service",
        ),
    ],
)
def test_each_kind_of_error_names_file_line_and_field(tmp_path, change, expected):
    old, new = change
    assert old in MINIMAL_BIRMINGHAM
    folder = write_playbooks(tmp_path, birmingham=MINIMAL_BIRMINGHAM.replace(old, new, 1))
    if expected is None:
        load_playbooks(folder)
        return
    problems = problems_for(folder)
    assert any(expected in problem for problem in problems), problems


def test_section_16_cannot_be_the_basis_for_health_information(tmp_path):
    regional = MINIMAL_REGIONAL.replace("sector: police", "sector: health").replace(
        "s115-cda-1998", "s16-pcsc-2022"
    )
    problems = problems_for(write_playbooks(tmp_path, regional=regional))
    assert any("regional.yaml:8: agencies.wmp-test.sharing_basis: section 16" in p for p in problems), (
        problems
    )


def test_an_id_defined_in_two_files_is_reported(tmp_path):
    birmingham = (
        MINIMAL_BIRMINGHAM.replace("  bham-youth:\n", "  wmp-test:\n")
        .replace("provider: bham-youth", "provider: wmp-test")
        .replace("[wmp-test, bham-youth]", "[wmp-test]")
    )
    problems = problems_for(write_playbooks(tmp_path, birmingham=birmingham))
    assert any(
        "birmingham.yaml:6: agencies.wmp-test: agency 'wmp-test' is already defined in" in p for p in problems
    )


def test_yaml_syntax_errors_name_the_line(tmp_path):
    problems = problems_for(write_playbooks(tmp_path, birmingham=MINIMAL_BIRMINGHAM + "steps: [unclosed\n"))
    assert len(problems) == 1
    assert problems[0].startswith(f"{tmp_path / 'birmingham.yaml'}:23: (yaml): ")


def test_a_document_that_is_not_a_mapping_is_refused(tmp_path):
    problems = problems_for(write_playbooks(tmp_path, birmingham="- just\n- a list\n"))
    assert problems == [f"{tmp_path / 'birmingham.yaml'}:1: (document): a playbook must be a mapping of keys"]


def test_missing_regional_file_is_reported(tmp_path):
    write_playbooks(tmp_path)
    (tmp_path / "regional.yaml").unlink()
    problems = problems_for(tmp_path)
    assert any("regional.yaml is missing" in p for p in problems)


def test_every_problem_is_reported_not_just_the_first(tmp_path):
    broken = MINIMAL_BIRMINGHAM.replace("code: BHM", "code: bhm").replace(
        "ack_within: 15m", "ack_within: soon"
    )
    problems = problems_for(write_playbooks(tmp_path, birmingham=broken))
    assert len(problems) == 2


def test_check_command_prints_problems_and_exits_1(tmp_path, runner):
    broken = MINIMAL_BIRMINGHAM.replace("ack_within: 15m", "ack_within: 15x")
    folder = write_playbooks(tmp_path, birmingham=broken)
    result = runner.invoke(args=["playbooks", "check", str(folder)])
    assert result.exit_code == 1
    line = result.output.splitlines()[0]
    assert line.endswith(
        "birmingham.yaml:20: steps.0.ack_within: '15x' is not a duration: write a number "
        "and a unit (s, m, h, d or wd), e.g. 15m"
    )


def test_check_command_accepts_the_shipped_playbooks_and_reports_missing_contacts(runner, directory):
    result = runner.invoke(args=["playbooks", "check"])
    assert result.exit_code == 0, result.output
    assert "every role has an active contact" in result.output


def test_check_command_reports_a_role_with_no_contact(runner, directory, app):
    from responder.extensions import db
    from responder.models import Contact

    contact = db.session.query(Contact).filter_by(key="bham-youth-lead").one()
    contact.active = False
    db.session.commit()
    result = runner.invoke(args=["playbooks", "check"])
    assert result.exit_code == 1
    assert "birmingham.yaml:" in result.output
    assert "agencies.bham-youth-service.lead: no active contact for role 'bham-youth-lead'" in result.output


def test_the_app_refuses_to_start_with_an_invalid_playbook(tmp_path, database_url):
    folder = tmp_path / "playbooks"
    shutil.copytree(PLAYBOOKS, folder)
    path = folder / "coventry.yaml"
    path.write_text(path.read_text().replace("code: COV", "code: cov"))
    with pytest.raises(SystemExit) as stopped:
        create_app("testing", {"PLAYBOOKS_DIR": str(folder), "SQLALCHEMY_DATABASE_URI": database_url})
    message = str(stopped.value)
    assert "\n" not in message
    assert "coventry.yaml:" in message and "code: must be three capital letters" in message
