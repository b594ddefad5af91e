"""Property tests: whatever arrives, parsers answer with a value or a clear error, never a crash."""

from __future__ import annotations

import string

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from responder.directory.contacts import ContactError, import_contacts, normalise_phone
from responder.notify.sms_text import GSM7_BASIC, GSM7_EXTENDED, septets, to_gsm7
from responder.playbooks import PlaybookError, load_playbooks, parse_duration
from responder.playbooks.source import YamlSyntaxError, read_yaml
from responder.responses.reply_codes import parse_reply

from .test_playbook_validation import MINIMAL_BIRMINGHAM, MINIMAL_REGIONAL

KEYS = st.sampled_from(
    [
        "local_authority",
        "name",
        "code",
        "duty_manager",
        "agencies",
        "support_offers",
        "activation",
        "steps",
        "when",
        "type",
        "at",
        "do",
        "ack_within",
        "lead",
        "deputy",
        "sector",
        "sharing_basis",
        "provider",
        "x",
    ]
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10_000), st.floats(allow_nan=True), st.text(max_size=20)
)
YAMLISH = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=5)),
    max_leaves=25,
)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(YAMLISH)
def test_any_yaml_shaped_playbook_loads_or_gives_problems(tmp_path_factory, document):
    folder = tmp_path_factory.mktemp("playbooks")
    (folder / "regional.yaml").write_text(MINIMAL_REGIONAL)
    (folder / "birmingham.yaml").write_text(yaml.safe_dump(document))
    try:
        load_playbooks(folder)
    except PlaybookError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.file.endswith("birmingham.yaml") and problem.line >= 0 and problem.message


@FAST
@given(st.text(max_size=300))
def test_any_text_parses_as_yaml_or_names_a_line(text):
    try:
        read_yaml(text)
    except YamlSyntaxError as error:
        assert error.line >= 1


@FAST
@given(st.text(alphabet=string.ascii_letters + string.digits + " :\n-[]{}", max_size=200))
def test_mutated_playbooks_never_crash_the_loader(tmp_path_factory, noise):
    folder = tmp_path_factory.mktemp("mutated")
    (folder / "regional.yaml").write_text(MINIMAL_REGIONAL)
    cut = len(noise) % len(MINIMAL_BIRMINGHAM)
    (folder / "birmingham.yaml").write_text(MINIMAL_BIRMINGHAM[:cut] + noise + MINIMAL_BIRMINGHAM[cut:])
    try:
        load_playbooks(folder)
    except PlaybookError as error:
        assert error.problems


@FAST
@given(st.one_of(st.text(max_size=12), st.integers(), st.none()))
def test_durations_parse_or_explain(value):
    try:
        duration = parse_duration(value)
    except ValueError as error:
        assert "duration" in str(error)
    else:
        assert duration.amount >= 0 and duration.unit in {"s", "m", "h", "d", "wd"}


@given(st.integers(0, 999_999), st.sampled_from(["s", "m", "h", "d", "wd"]))
def test_valid_durations_round_trip(amount, unit):
    assert str(parse_duration(f"{amount}{unit}")) == f"{amount}{unit}"


@FAST
@given(st.text(max_size=200))
def test_reply_parsing_never_crashes_and_codes_are_four_digits(text):
    reply = parse_reply(text)
    if reply is not None:
        assert reply.verb in {"acknowledge", "decline"}
        assert reply.code is None or (len(reply.code) == 4 and reply.code.isdigit())


@given(
    st.sampled_from(["yes", "YES", "Yes", "ack", "ACK", "y"]),
    st.integers(1000, 9999),
    st.text(" \t", max_size=3),
)
def test_acknowledgements_with_a_code_are_understood_whatever_the_case_and_spacing(word, code, space):
    reply = parse_reply(f"{space}{word}{space} {code}{space}")
    assert reply is not None and reply.verb == "acknowledge" and reply.code == str(code)


@FAST
@given(
    st.text(
        alphabet=st.sampled_from([*sorted(GSM7_BASIC | GSM7_EXTENDED), "’", "–", "ç", "☃", "東"]), max_size=60
    )
)
def test_any_text_folds_to_gsm7_and_is_counted_a_septet_or_two_a_character(text):
    folded = to_gsm7(text)
    assert set(folded) <= GSM7_BASIC | GSM7_EXTENDED
    assert septets(folded) == sum(2 if char in GSM7_EXTENDED else 1 for char in folded)
    if set(text) <= GSM7_BASIC | GSM7_EXTENDED:
        assert folded == text


@FAST
@given(st.text(max_size=30))
def test_phone_normalisation_gives_e164_or_a_field_error(raw):
    try:
        phone = normalise_phone(raw)
    except ContactError as error:
        assert str(error).startswith("phone:")
    else:
        assert phone.startswith("+") and phone[1:].isdigit()


@given(st.integers(900000, 900999))
def test_every_drama_number_is_accepted(number):
    assert normalise_phone(f"07700 {number}") == f"+447700{number}"


ROW_VALUES = st.text(alphabet=string.printable, max_size=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(ROW_VALUES, ROW_VALUES, ROW_VALUES, ROW_VALUES, ROW_VALUES), max_size=5))
def test_csv_import_keeps_good_rows_and_reports_the_rest(app, rows):
    import csv
    import io

    from responder.extensions import db
    from responder.models import Contact

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["key", "name", "phone", "email", "local_authority"])
    writer.writerows(rows)
    result = import_contacts(buffer.getvalue(), "fuzz.csv")
    assert result.created + result.updated + result.unchanged + len(result.problems) <= len(rows) + 1
    assert all(problem.startswith("fuzz.csv:") for problem in result.problems)
    db.session.query(Contact).delete()
    db.session.commit()
