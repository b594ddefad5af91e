"""Alert texts stay within two GSM-7 segments, whatever the agency is called and wherever Responder lives."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from responder.extensions import db
from responder.models import Channel, Message
from responder.notify.outbox import rendered_body
from responder.notify.sms_text import segment_count, septets, shorten_to_fit
from responder.playbooks import load_playbooks
from responder.responses.access_tokens import link_for

from .conftest import PLAYBOOKS

LONG_NAME = (
    "Birmingham City Council’s “Youth Service” – detached, outreach and centre-based youth work "
    "for young people aged 11–25 across all ten constituencies, including the Lozells partnership"
)
LONG_BASE_URL = (
    "https://responder.west-midlands-violence-reduction-partnership.example.gov.uk/serious-youth-violence"
)


@pytest.fixture
def long_names(app, tmp_path):
    """Birmingham's youth service renamed to something long, with curly quotes and en dashes."""
    folder = tmp_path / "playbooks"
    shutil.copytree(PLAYBOOKS, folder)
    path = folder / "birmingham.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("name: Birmingham Youth Service", f"name: {LONG_NAME}"), encoding="utf-8")
    app.extensions["responder.playbooks"] = load_playbooks(folder)
    return app


@pytest.fixture
def long_url(long_names):
    long_names.config["PUBLIC_BASE_URL"] = LONG_BASE_URL
    return long_names


def alert_texts() -> list[tuple[Message, str]]:
    rows = db.session.scalars(select(Message).where(Message.channel == Channel.SMS)).all()
    return [(message, rendered_body(message)) for message in rows]


@pytest.mark.parametrize("exercise", [False, True])
def test_every_alert_fits_in_two_gsm7_segments(long_url, make_incident, exercise):
    make_incident(exercise=exercise)
    texts = alert_texts()
    assert len(texts) == 10
    for message, text in texts:
        assert segment_count(text) <= 2, text  # septets() would raise on any non-GSM character
        assert text.endswith(link_for(message.access_token)) or link_for(message.access_token) + " " in text


def test_a_long_agency_name_is_cut_short_and_folded_to_gsm7(long_names, make_incident):
    make_incident()
    [(_, text)] = [(m, t) for m, t in alert_texts() if "Birmingham City Council" in t]
    assert 'Birmingham City Council\'s "Youth Service" - detached' in text
    assert "..." in text and "Lozells" not in text
    assert not any(char in text for char in "’“”–")


def test_short_agency_names_are_left_whole(long_names, make_incident):
    make_incident()
    texts = [text for _, text in alert_texts()]
    assert any("West Midlands Police - Birmingham local policing area is activated" in t for t in texts)


def test_the_text_twilio_receives_is_the_text_that_was_measured(
    long_url, real_providers, make_incident, send_outbox, fake_twilio
):
    make_incident()
    send_outbox()
    bodies = sorted(r.form["Body"] for r in fake_twilio.accepted)
    assert bodies == sorted(text for _, text in alert_texts())
    assert all(segment_count(body) <= 2 for body in bodies)


def test_shortening_counts_two_septets_for_extension_characters():
    def render(value: str) -> str:
        return f"Alert for {value}. Open: {{link}}"

    link = "https://example.org/a/" + "x" * 32
    text = shorten_to_fit(render, "€" * 200, as_sent=lambda t: t.replace("{link}", link))
    sent = text.replace("{link}", link)
    assert segment_count(sent) == 2 and septets(sent) >= 2 * 153 - 1
    assert text.startswith("Alert for €") and "..." in text


def test_a_long_address_for_responder_still_fits(long_url, make_incident):
    make_incident()
    [(_, text)] = [(m, t) for m, t in alert_texts() if "Birmingham City Council" in t]
    assert segment_count(text) == 2
    assert LONG_BASE_URL + "/a/" in text
