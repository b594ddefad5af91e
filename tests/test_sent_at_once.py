"""What a person does on the incident page reaches the provider at once, not at the next sweep.

The sender is woken by the commit that queued the messages (responder.unit_of_work),
so no action can forget it. Two seconds is a correctness bound that only a missing
wake-up can break (the sweep runs every few seconds or more), not a speed figure.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from responder.extensions import db
from responder.models import Activation, Contact

WITHIN_SECONDS = 2.0


@pytest.fixture
def live(real_providers, make_incident, send_outbox, login, make_user, fake_twilio):
    """An incident whose first alerts have gone; from here on the dispatcher sends after each commit."""
    incident = make_incident()
    send_outbox()
    real_providers.config["DISPATCH_AFTER_COMMIT"] = True
    login(make_user("officer"))
    fake_twilio.reset()
    return incident


def texts_within(fake_twilio, to: set[str], seconds: float = WITHIN_SECONDS) -> set[str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reached = {request.form.get("To") for request in fake_twilio.accepted} & to
        if reached == to:
            return reached
        time.sleep(0.02)
    return {request.form.get("To") for request in fake_twilio.accepted} & to


def phone(key: str) -> str:
    return db.session.scalar(select(Contact.phone).where(Contact.key == key))


def activation(incident, agency_key: str) -> Activation:
    return next(a for a in incident.activations if a.agency_key == agency_key)


def test_a_re_sent_alert(live, client, fake_twilio):
    youth = activation(live, "bham-youth-service")
    response = client.post(f"/incidents/{live.reference}/activations/{youth.id}/resend")
    assert response.status_code == 303
    assert texts_within(fake_twilio, {phone("bham-youth-lead")}) == {phone("bham-youth-lead")}


def test_a_stand_down_notice(live, client, fake_twilio):
    youth = activation(live, "bham-youth-service")
    from responder.models import ResponseChannel
    from responder.responses.acknowledgements import acknowledge

    acknowledge(youth, youth.lead_contact, ResponseChannel.LINK)
    db.session.commit()
    fake_twilio.reset()
    response = client.post(f"/incidents/{live.reference}/stand-down", data={"reason": "Quiet for a week"})
    assert response.status_code == 303
    assert texts_within(fake_twilio, {phone("bham-youth-lead")}) == {phone("bham-youth-lead")}


def test_an_agency_added_from_the_playbooks(live, client, fake_twilio):
    response = client.post(
        f"/incidents/{live.reference}/agencies",
        data={"agency_key": "bham-housing", "reason": "A family move may be needed"},
    )
    assert response.status_code == 303
    assert texts_within(fake_twilio, {phone("bham-housing-lead")}) == {phone("bham-housing-lead")}


def test_a_local_authority_added_across_the_border(live, client, fake_twilio):
    response = client.post(
        f"/incidents/{live.reference}/areas",
        data={"local_authority": "sandwell", "reason": "The young person lives in Sandwell"},
    )
    assert response.status_code == 303
    db.session.expire_all()
    sandwell = {
        a.lead_contact.phone
        for a in db.session.get(type(live), live.id).activations
        if a.source == "sandwell"
    }
    assert sandwell and texts_within(fake_twilio, sandwell) == sandwell
