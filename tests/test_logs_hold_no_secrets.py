"""A whole response through the web, the Twilio SDK and SMTP, and then its logs searched
for every secret, link token, password and personal field it handled.

The search reads what the app's log handlers actually wrote (standard output
and error, at the file-descriptor level), in whatever format they use, so the
test holds however logging is configured. tests/e2e/test_server_log.py does
the same for a real gunicorn process driven by a browser.
"""

from __future__ import annotations

import re
from datetime import timedelta

from freezegun import freeze_time

from responder.clock import now_utc, to_local
from responder.scheduling.firing import fire_due_actions

from .conftest import PASSWORD, TWILIO_AUTH_TOKEN, incident_by_reference, new_api_token

CANARIES = {
    "summary": "CANARY-SUMMARY the boy is 15 and at Holte School",
    "location": "CANARY-LOCATION 14 Heathfield Road",
    "acknowledgement note": "CANARY-ACK-NOTE arriving 22:30",
    "decline detail": "CANARY-DECLINE-DETAIL on leave until Monday",
    "check-in update": "CANARY-CHECK-IN detached team on Soho Road",
    "check-in needs": "CANARY-NEEDS rumours of retaliation",
    "tension reason": "CANARY-TENSION videos posted online",
    "wrong password": "CANARY-WRONG-PASSWORD-hunter2",
}
LINK = re.compile(r"/(?P<kind>[ac])/(?P<token>[A-Za-z0-9_\-]{16,})")


def links_sent(fake_twilio) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"a": [], "c": []}
    for request in fake_twilio.accepted:
        for match in LINK.finditer(request.form.get("Body", "")):
            found[match["kind"]].append(match["token"])
    return found


def link_for(fake_twilio, phone: str, kind: str) -> str:
    bodies = [r.form["Body"] for r in fake_twilio.sent_to(phone)]
    tokens = [m["token"] for body in bodies for m in LINK.finditer(body) if m["kind"] == kind]
    assert tokens, f"no /{kind}/ link texted to {phone}"
    return f"/{kind}/{tokens[-1]}"


def new_incident_form() -> dict[str, object]:
    happened = to_local(now_utc() - timedelta(minutes=40))
    return {
        "local_authority": "birmingham",
        "type": "stabbing",
        "occurred_date": [str(happened.day), str(happened.month), str(happened.year)],
        "occurred_time": happened.strftime("%H:%M"),
        "location": CANARIES["location"],
        "summary": CANARIES["summary"],
        "youngest_age": "15",
        "school_link": "y",
        "tension": "medium",
    }


def test_a_whole_response_leaves_no_secret_token_password_or_personal_field_in_the_logs(
    app, real_providers, client, directory, make_user, send_outbox, fake_twilio, capfd
):
    capfd.readouterr()  # only what this response writes
    officer, manager = make_user("officer"), make_user("manager")
    api_token = new_api_token(manager)

    # Staff sign in (one wrong password first) and open the incident through the form.
    assert (
        client.post(
            "/login", data={"email": officer.email, "password": CANARIES["wrong password"]}
        ).status_code
        == 401
    )
    assert client.post("/login", data={"email": officer.email, "password": PASSWORD}).status_code == 302
    opened = client.post("/incidents/new", data=new_incident_form())
    assert opened.status_code == 303, opened.get_data(as_text=True)
    reference = opened.headers["Location"].rsplit("/", 1)[-1]
    send_outbox()

    # Leads answer from their phones: one acknowledges with a note, one declines with a reason.
    incident = incident_by_reference(reference)
    phones = {a.agency_key: a.lead_contact.phone for a in incident.activations if a.lead_contact}
    lead = app.test_client()
    ack = link_for(fake_twilio, phones["bham-youth-service"], "a")
    assert lead.get(ack).status_code == 200
    assert (
        lead.post(
            ack, data={"action": "acknowledge", "ack-note": CANARIES["acknowledgement note"]}
        ).status_code
        == 303
    )
    decline = link_for(fake_twilio, phones["bham-csp"], "a")
    declined = lead.post(
        decline,
        data={"action": "decline", "decline-reason": "other", "decline-detail": CANARIES["decline detail"]},
    )
    assert declined.status_code == 303
    send_outbox()

    # The 4-hour check-in goes out, and the youth service answers it.
    with freeze_time(now_utc() + timedelta(hours=4, minutes=1)):
        fire_due_actions()
        send_outbox()
        check_in = link_for(fake_twilio, phones["bham-youth-service"], "c")
        assert lead.get(check_in).status_code == 200
        answer = {
            "status_update": CANARIES["check-in update"],
            "tension": "high",
            "needs": CANARIES["check-in needs"],
        }
        assert lead.post(check_in, data=answer).status_code == 303

    # The officer changes tension; a manager reads the incident by API and exports it.
    changed = client.post(
        f"/incidents/{reference}/tension",
        data={"level": "critical", "reason": CANARIES["tension reason"]},
    )
    assert changed.status_code == 303
    bearer = {"Authorization": f"Bearer {api_token}"}
    assert client.get(f"/api/v1/incidents/{reference}", headers=bearer).status_code == 200
    client.post("/logout")
    assert client.post("/login", data={"email": manager.email, "password": PASSWORD}).status_code == 302
    exported = client.get(f"/incidents/{reference}/export.json")
    assert exported.status_code == 200 and CANARIES["summary"] in exported.get_data(as_text=True)

    out, err = capfd.readouterr()
    logs = out + err
    assert reference in logs, "nothing was logged: the search below would prove nothing"

    tokens = links_sent(fake_twilio)
    assert tokens["a"] and tokens["c"]
    secrets = {
        "SECRET_KEY": app.config["SECRET_KEY"],
        "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
        "the staff password": PASSWORD,
        "the API token": api_token,
        **{f"link token {token[:6]}…": token for kind in tokens.values() for token in kind},
        **CANARIES,
    }
    leaked = [name for name, secret in secrets.items() if secret in logs]
    assert not leaked, f"the logs hold: {', '.join(leaked)}"
