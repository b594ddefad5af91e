"""Error summaries lead to their fields, and every page's ids are unique (so each label finds its box).

axe-core (tests/e2e) no longer reports duplicate ids, and a link to a missing
id fails silently, so these are checked here on the pages people correct.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from responder.clock import now_utc
from responder.extensions import db
from responder.models import AccessToken, CheckIn, ResponseChannel, TokenPurpose
from responder.responses import acknowledgements as acks
from responder.responses.access_tokens import token_value
from responder.scheduling.firing import fire_due_actions

ERROR_LINK = re.compile(r'<div class="govuk-error-summary.*?</div>\s*</div>', re.S)


@pytest.fixture
def links(make_incident):
    with freeze_time(now_utc() - timedelta(hours=5)):
        incident = make_incident()
        covered = next(a for a in incident.activations if a.agency_key == "bham-youth-service")
        acks.acknowledge(covered, covered.lead_contact, ResponseChannel.LINK)
    fire_due_actions()
    db.session.expire_all()
    alerted = next(a for a in incident.activations if a.agency_key == "bham-csp")
    ack = db.session.scalar(
        select(AccessToken).where(
            AccessToken.activation_id == alerted.id, AccessToken.purpose == TokenPurpose.ACKNOWLEDGE
        )
    )
    check_in = db.session.scalar(select(CheckIn).where(CheckIn.incident_id == incident.id))
    return {
        "reference": incident.reference,
        "ack": f"/a/{token_value(ack)}",
        "check_in": f"/c/{token_value(check_in.access_token)}",
    }


def ids(page: str) -> Counter:
    return Counter(re.findall(r'\sid="([^"]+)"', page))


def error_targets(page: str) -> list[str]:
    summary = ERROR_LINK.search(page)
    assert summary, "no error summary"
    return re.findall(r'href="#([^"]+)"', summary.group(0))


def assert_links_land(page: str, expected: int) -> None:
    counted = ids(page)
    duplicated = sorted(name for name, count in counted.items() if count > 1)
    assert not duplicated, f"ids used more than once: {duplicated}"
    targets = error_targets(page)
    assert len(targets) >= expected, targets
    missing = [target for target in targets if target not in counted]
    assert not missing, f"error links to nothing: {missing}"


def test_the_new_incident_form_links_every_error_to_its_field(client, login, make_user, directory):
    login(make_user("officer"))
    page = client.post("/incidents/new", data={"occurred_date": ["", "", ""]}).get_data(as_text=True)
    assert_links_land(page, expected=5)
    assert "type" in error_targets(page) and "occurred_date-day" in error_targets(page)


def test_the_decline_form_links_to_its_reasons(client, links):
    page = client.post(links["ack"], data={"action": "decline"}).get_data(as_text=True)
    assert_links_land(page, expected=1)
    assert error_targets(page) == ["decline-reason"]


def test_the_check_in_form_links_every_error_to_its_field(client, links):
    page = client.post(links["check_in"], data={}).get_data(as_text=True)
    assert_links_land(page, expected=2)


@pytest.mark.parametrize("action", ["stand-down", "tension", "updates", "meetings"])
def test_the_run_this_response_page_links_each_error_to_its_own_form(client, login, make_user, links, action):
    login(make_user("manager"))
    page = client.post(f"/incidents/{links['reference']}/{action}", data={}).get_data(as_text=True)
    assert_links_land(page, expected=1)


def test_each_reason_box_on_the_run_this_response_page_has_its_own_label(client, login, make_user, links):
    login(make_user("manager"))
    page = client.get(f"/incidents/{links['reference']}/manage").get_data(as_text=True)
    assert not [name for name, count in ids(page).items() if count > 1]
    labels = dict(re.findall(r'<label class="govuk-label[^"]*" for="([^"]+)">\s*([^<]+?)\s*</label>', page))
    assert labels["stand_down-reason"] == "Why stand down now?"
    assert labels["close-reason"] == "Why close it?"
