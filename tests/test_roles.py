"""Who may do what, checked for every route and every role, not a few examples.

A new route fails this test until it is given a minimum role here.
"""

from __future__ import annotations

import pytest

from responder.extensions import db

PUBLIC = "public"
MINIMUM_ROLE = {
    # Public by design: sign-in, health, static files, agency leads' scoped links
    # (their token is the credential), Twilio webhooks (signed), Notify callbacks (their bearer
    # token: tests/test_notify_callbacks.py) and the bearer-token API.
    "static": PUBLIC,
    "auth.login": PUBLIC,
    # Half-way through signing in (the session holds a short-lived note, not a user).
    "two_factor.code": PUBLIC,
    "two_factor.set_up": PUBLIC,
    "single_sign_on.start": PUBLIC,
    "single_sign_on.callback": PUBLIC,
    "health.healthz": PUBLIC,
    "metrics.metrics": PUBLIC,  # loopback or METRICS_TOKEN: tests/test_observability.py
    "acks.confirm_page": PUBLIC,
    "acks.respond": PUBLIC,
    "check_ins.form_page": PUBLIC,
    "check_ins.submit": PUBLIC,
    "webhooks.twilio_status": PUBLIC,
    "sms_inbound.inbound_sms": PUBLIC,
    "voice_calls.answer": PUBLIC,
    "voice_calls.key": PUBLIC,
    "voice_calls.status": PUBLIC,
    "callouts.confirm_page": PUBLIC,  # a role holder's call-out test link
    "callouts.confirm": PUBLIC,
    "notify_callbacks.notify_status": PUBLIC,
    "notify_callbacks.notify_inbound": PUBLIC,
    "api.create_incident": PUBLIC,
    "api.incident_detail": PUBLIC,
    "api.close_incident": PUBLIC,
    "api.openapi_description": PUBLIC,
    "auth.logout": "officer",
    "dev.outbox": "officer",
    "incidents.dashboard": "officer",
    "incidents.index": "officer",
    "incidents.new": "officer",
    "incidents.show": "officer",
    "incidents.live": "officer",
    "incident_actions.manage": "officer",
    "incident_actions.post_update": "officer",
    "incident_actions.change_tension": "officer",
    "incident_actions.record_meeting": "officer",
    "incident_actions.add_playbook_agency": "officer",
    "incident_actions.add_ad_hoc_agency": "officer",
    "incident_actions.add_offer": "officer",
    "incident_actions.add_area": "officer",
    "incident_actions.resend": "officer",
    "incident_actions.not_applicable": "officer",
    "incident_actions.stand_down": "officer",
    "incident_actions.resume": "officer",
    "incident_actions.close": "manager",
    "incident_actions.audit": "manager",
    "sharing.record": "manager",
    "sharing.record_csv": "manager",
    "exports.chronology": "manager",
    "exports.incident_data": "manager",
    "exports.report_document": "manager",
    "exports.report_page": "manager",
    "exports.regional": "manager",
    "insights.index": "manager",
    "insights.figure_csv": "manager",
    "exports.share": "manager",
    "reviews.edit": "manager",
    "reviews.update_action": "manager",
    "account.show": "officer",
    "account.end_other_sessions": "officer",
    "account.new_recovery_codes": "officer",
    "admin.contacts": "admin",
    "admin_users.index": "admin",
    "admin_users.new": "admin",
    "admin_users.show": "admin",
    "admin_users.deactivate": "admin",
    "admin_users.reactivate": "admin",
    "admin_users.reset_two_factor": "admin",
    "admin_users.unlock": "admin",
    "admin_users.revoke_token": "admin",
    "admin.edit_contact": "admin",
    "callouts.index": "admin",
    "callouts.start": "admin",
    "callouts.show": "admin",
    "callouts.report_csv": "admin",
    "admin_rotas.index": "admin",
    "admin_rotas.add": "admin",
    "admin_rotas.remove": "admin",
    "readiness.page": "manager",
    "deadlines.mark_done": "officer",
}
RANK = {"anonymous": 0, "officer": 1, "manager": 2, "admin": 3}


def requests_for(app, incident):
    """One request per route and method, with real values in the path."""
    values = {
        "reference": incident.reference,
        "activation_id": incident.activations[0].id,
        "contact_id": incident.activations[0].lead_contact_id,
        "action_id": 1,
        "raw": "not-a-real-token",
        "filename": "app.js",
        "user_id": incident.opened_by_id,
        "token_id": 1,
        "test_id": 1,
        "deadline_id": 1,
        "role": "bham-vru-duty",
        "shift_id": 1,
    }
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            path = rule.rule
            for name, value in values.items():
                for converter in ("", "int:", "path:"):
                    path = path.replace(f"<{converter}{name}>", str(value))
            yield rule.endpoint, method, path


def test_every_route_has_a_minimum_role(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - set(MINIMUM_ROLE) == set(), "give each new route a minimum role in MINIMUM_ROLE"


@pytest.mark.parametrize("role", ["anonymous", "officer", "manager", "admin"])
def test_the_role_by_route_matrix(app, make_incident, make_user, role):
    incident = make_incident()
    client = app.test_client()
    if role != "anonymous":
        user = make_user(role)
        assert (
            client.post("/login", data={"email": user.email, "password": "correct-horse-battery"}).status_code
            == 302
        )
    for endpoint, method, path in requests_for(app, incident):
        needed = MINIMUM_ROLE[endpoint]
        if needed == PUBLIC or endpoint == "auth.logout":
            continue
        response = client.open(path, method=method, data={})
        response.close()  # streamed exports must be closed even when not read
        where = f"{role} {method} {path}"
        if role == "anonymous":
            assert response.status_code == 302 and response.headers["Location"].startswith("/login"), where
        elif RANK[role] < RANK[needed]:
            assert response.status_code == 403, where
        else:
            assert response.status_code not in (302, 401, 403), where
            assert response.status_code < 500, where
        db.session.rollback()


def test_an_officer_limited_to_one_area_sees_only_its_incidents(client, make_incident, make_user, login):
    birmingham = make_incident(local_authority="birmingham")
    coventry = make_incident(local_authority="coventry")
    officer = make_user("officer")
    officer.local_authorities = ["coventry"]
    db.session.commit()
    login(officer)
    # Another area's incident is as absent as one that does not exist: references cannot be probed.
    assert client.get(f"/incidents/{birmingham.reference}").status_code == 404
    assert client.get("/incidents/BHM-2026-9999").status_code == 404
    assert client.get(f"/incidents/{coventry.reference}").status_code == 200
    assert client.post(f"/incidents/{birmingham.reference}/updates", data={"text": "x"}).status_code == 404
    dashboard = client.get("/").get_data(as_text=True)
    assert coventry.reference in dashboard and birmingham.reference not in dashboard
    form = client.get("/incidents/new").get_data(as_text=True)
    assert 'value="coventry"' in form and 'value="birmingham"' not in form


def test_agency_leads_never_sign_in(client, make_incident):
    """The directory has no passwords: a lead's only way in is a scoped link."""
    incident = make_incident()
    email = incident.activations[0].lead_contact.email
    response = client.post("/login", data={"email": email, "password": "anything-at-all"})
    assert response.status_code == 401
