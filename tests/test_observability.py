"""What operators see: JSON log lines with request ids (and no tokens or personal data),
Prometheus metrics, and a health check that degrades when alerts stop flowing."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from freezegun import freeze_time
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from responder.clock import now_utc
from responder.extensions import db
from responder.models import Message, ResponseChannel, SchedulerLease
from responder.notify.outbox import rendered_body
from responder.responses import acknowledgements as acks
from responder.scheduling.firing import fire_due_actions
from responder.scheduling.job_store import JOBS_TABLE
from responder.scheduling.runtime import SchedulerRuntime

from .conftest import PASSWORD, incident_by_reference, new_api_token

OPENED = datetime(2026, 11, 24, 21, 50, tzinfo=UTC)
SUMMARY_CANARY = "SUMMARY-CANARY-LOGS-5521"
LOCATION_CANARY = "LOCATION-CANARY-LOGS-7812"
ANSWER_CANARY = "CHECKIN-CANARY-LOGS-3390"
NOTE_CANARY = "NOTE-CANARY-LOGS-1187"


def link(incident, agency_key: str, kind: str, pattern: str) -> str:
    activation = next(a for a in incident.activations if a.agency_key == agency_key)
    sms = db.session.scalars(
        select(Message)
        .where(Message.activation_id == activation.id, Message.channel == "sms", Message.kind == kind)
        .order_by(Message.id.desc())
    ).first()
    return re.search(rf"http://responder\.test({pattern}\S+)", rendered_body(sms)).group(1)


def log_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    return [json.loads(line) for line in lines]  # every line is one JSON object


def metric_families(client, **kwargs) -> dict:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.get_data(as_text=True))}


def sample(families: dict, name: str, suffix: str = "", **labels) -> float:
    family = families[name]
    for found in family.samples:
        if found.name == name + suffix and all(found.labels.get(k) == v for k, v in labels.items()):
            return found.value
    raise AssertionError(f"no sample {name}{suffix} {labels}")


# --- logs ----------------------------------------------------------------------------


def test_a_journey_logs_json_lines_with_request_ids_and_no_tokens_or_personal_data(
    app, client, directory, make_user, capsys, send_outbox
):
    officer = make_user("officer")
    api_token = new_api_token(officer)
    capsys.readouterr()

    with freeze_time(OPENED):
        signed_in = client.post("/login", data={"email": officer.email, "password": PASSWORD})
        assert signed_in.status_code == 302
        created = client.post(
            "/api/v1/incidents",
            json={
                "local_authority": "birmingham",
                "type": "stabbing",
                "occurred_at": (OPENED - timedelta(minutes=20)).isoformat(),
                "location": LOCATION_CANARY,
                "summary": SUMMARY_CANARY,
                "youngest_age": 16,
                "school_link": True,
                "tension": "high",
                "exercise": False,
            },
            headers={"Authorization": f"Bearer {api_token}", "X-Request-ID": "proxy-4f2a-0001"},
        )
        assert created.status_code == 201
        assert created.headers["X-Request-ID"] == "proxy-4f2a-0001"
        reference = created.json["reference"]
        send_outbox()
        page = client.get(f"/incidents/{reference}")
        assert page.status_code == 200

    incident = incident_by_reference(reference)
    ack_path = link(incident, "bham-youth-service", "alert", "/a/")
    with freeze_time(OPENED + timedelta(minutes=5)):
        assert client.get(ack_path).status_code == 200
        assert client.post(ack_path, data={"action": "acknowledge", "note": NOTE_CANARY}).status_code in (
            200,
            303,
        )
        assert client.get("/a/not-a-real-token-at-all").status_code == 404
    with freeze_time(OPENED + timedelta(hours=4)):
        fire_due_actions()
        db.session.expire_all()
        check_in_path = link(incident, "bham-youth-service", "check_in", "/c/")
        answer = {"status_update": ANSWER_CANARY, "tension": "high", "needs": ANSWER_CANARY}
        assert client.post(check_in_path, data=answer).status_code in (200, 303)
        send_outbox()

    captured = capsys.readouterr()
    lines = log_lines(captured.err)
    for line in lines:
        assert {"time", "level", "logger", "message", "request_id", "incident"} <= set(line)
        datetime.fromisoformat(line["time"])
    requests = [line for line in lines if line["logger"] == "responder.requests"]
    assert len(requests) >= 7 and all(
        re.fullmatch(r"[A-Za-z0-9._:-]+", line["request_id"]) for line in requests
    )
    assert len({line["request_id"] for line in requests}) == len(requests)  # one id per request
    assert any(line["request_id"] == "proxy-4f2a-0001" and line["status"] == 201 for line in requests)
    assert any(
        line["incident"] == reference and line["path"] == f"/incidents/{reference}" for line in requests
    )
    assert any(line["path"] == "/a/[redacted]" for line in requests)
    assert any(line["path"] == "/c/[redacted]" for line in requests)

    everything = captured.err + captured.out
    secrets = {
        "ack token": ack_path.removeprefix("/a/"),
        "check-in token": check_in_path.removeprefix("/c/"),
        "API token": api_token,
        "password": PASSWORD,
    }
    for what, secret in secrets.items():
        assert secret not in everything, f"the {what} reached the logs"
    for canary in (SUMMARY_CANARY, LOCATION_CANARY, ANSWER_CANARY, NOTE_CANARY):
        assert canary not in everything
    lead = next(a for a in incident.activations if a.agency_key == "bham-youth-service").lead_contact
    assert lead.phone not in everything and lead.email not in everything and lead.name not in everything


def test_an_insane_request_id_is_replaced(client):
    response = client.get("/healthz", headers={"X-Request-ID": "x" * 200})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    forged = client.get("/healthz", headers={"X-Request-ID": '"} {"level": "CRITICAL'})
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["X-Request-ID"])


def test_exceptions_in_logs_carry_no_tokens(app, capsys):
    import logging

    capsys.readouterr()
    try:
        raise ValueError("failed at /a/abcdefghijklmnopqrstuvwxyz0123456789")
    except ValueError:
        logging.getLogger("responder.test").exception("while handling /c/abcdefghijklmnopqrstuvwxyz012345")
    (line,) = log_lines(capsys.readouterr().err)
    assert "abcdefghijklmnop" not in json.dumps(line)
    assert line["message"] == "while handling /c/[redacted]" and "/a/[redacted]" in line["exception"]


# --- metrics ---------------------------------------------------------------------------


def test_metrics_parse_and_report_the_outbox_incidents_and_acknowledgements(
    app, client, make_incident, send_outbox
):
    with freeze_time(OPENED):
        incident = make_incident()
        make_incident(local_authority="coventry", exercise=True)
    pending = db.session.scalar(select(func.count()).select_from(Message).where(Message.state == "pending"))
    with freeze_time(OPENED + timedelta(minutes=3)):
        families = metric_families(client)
    sms = sample(families, "responder_messages_pending", channel="sms")
    assert sms + sample(families, "responder_messages_pending", channel="email") == pending > 0
    assert sample(families, "responder_oldest_pending_message_age_seconds") == pytest.approx(180)
    assert sample(families, "responder_incidents_open", local_authority="birmingham", exercise="false") == 1
    assert sample(families, "responder_incidents_open", local_authority="coventry", exercise="true") == 1
    assert sample(families, "responder_acknowledgement_latency_seconds", "_count", exercise="false") == 0
    assert sample(families, "responder_scheduler_lease_held") == 0
    assert "responder_scheduler_heartbeat_age_seconds" not in families  # no scheduler has ever run

    with freeze_time(OPENED + timedelta(minutes=4)):
        send_outbox()
    youth = next(a for a in incident.activations if a.agency_key == "bham-youth-service")
    with freeze_time(OPENED + timedelta(minutes=7)):
        acks.acknowledge(youth, youth.lead_contact, ResponseChannel.LINK)
        send_outbox()  # the notices the acknowledgement queued
    with freeze_time(OPENED + timedelta(minutes=40)):
        families = metric_families(client)
    assert sample(families, "responder_messages_pending", channel="sms") == 0
    assert sample(families, "responder_oldest_pending_message_age_seconds") == 0
    assert sample(families, "responder_acknowledgement_latency_seconds", "_count", exercise="false") == 1
    assert sample(families, "responder_acknowledgement_latency_seconds", "_sum", exercise="false") == 420
    assert (
        sample(families, "responder_acknowledgement_latency_seconds", "_bucket", exercise="false", le="300.0")
        == 0
    )
    assert (
        sample(families, "responder_acknowledgement_latency_seconds", "_bucket", exercise="false", le="600.0")
        == 1
    )
    # Escalations were due at 15 minutes and nobody has fired them.
    assert sample(families, "responder_timed_actions_overdue") > 0
    assert sample(families, "responder_messages_failed", channel="sms") == 0


def test_the_scheduler_heartbeat_age_comes_from_the_lease_row(app, client):
    renewed = now_utc()
    db.session.add(
        SchedulerLease(
            name="timed-actions",
            holder="host:1:abc",
            acquired_at=renewed,
            renewed_at=renewed,
            expires_at=renewed + timedelta(seconds=10),
        )
    )
    db.session.commit()
    with freeze_time(renewed + timedelta(seconds=4)):
        families = metric_families(client)
    assert sample(families, "responder_scheduler_heartbeat_age_seconds") == pytest.approx(4, abs=0.01)
    assert sample(families, "responder_scheduler_lease_held") == 1


def test_metrics_are_only_for_loopback_or_the_configured_token(app, client, make_app):
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 403
    # Through a reverse proxy every request comes from loopback: forwarded requests are not local.
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 403

    guarded = make_app(METRICS_TOKEN="metrics-token-8c1f")
    with guarded.app_context():
        scraper = guarded.test_client()
        assert scraper.get("/metrics").status_code == 403
        assert scraper.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        remote = {"REMOTE_ADDR": "203.0.113.7"}
        allowed = scraper.get(
            "/metrics", headers={"Authorization": "Bearer metrics-token-8c1f"}, environ_base=remote
        )
        assert allowed.status_code == 200 and b"responder_messages_pending" in allowed.data


# --- health ----------------------------------------------------------------------------


@pytest.fixture
def job_store(app):
    def empty():
        if sa.inspect(db.engine).has_table(JOBS_TABLE):
            with db.engine.begin() as conn:
                conn.execute(sa.text(f"DELETE FROM {JOBS_TABLE}"))  # noqa: S608 - a constant

    empty()
    yield
    empty()


def wait_until(condition, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_healthz_degrades_when_the_scheduler_stops(app, client, job_store):
    app.config.update(
        HEALTH_EXPECT_SCHEDULER=True,
        HEALTH_SCHEDULER_STALE_SECONDS=30,
        SCHEDULER_RECONCILE_SECONDS=1,
        SCHEDULER_LEASE_SECONDS=3,
        OUTBOX_SWEEP_SECONDS=3600,
    )
    missing = client.get("/healthz")
    assert missing.status_code == 503 and missing.json["scheduler"] == "missing"

    runtime = SchedulerRuntime(app)
    thread = threading.Thread(target=runtime.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: runtime.state == "leader", what="the scheduler to lead")
        healthy = client.get("/healthz")
        assert healthy.status_code == 200, healthy.json
        assert healthy.json["status"] == "ok" and healthy.json["scheduler"] == "ok"
        assert healthy.json["scheduler_heartbeat_age_seconds"] <= 30
    finally:
        runtime.stop()
        thread.join(timeout=30)
    assert not thread.is_alive()

    with freeze_time(now_utc() + timedelta(seconds=31)):
        stale = client.get("/healthz")
    assert stale.status_code == 503
    assert stale.json["status"] == "degraded" and stale.json["scheduler"] == "stale"


def test_healthz_degrades_when_the_oldest_unsent_message_is_too_old(app, client, make_incident, send_outbox):
    with freeze_time(OPENED):
        make_incident()
    with freeze_time(OPENED + timedelta(seconds=app.config["HEALTH_OUTBOX_MAX_AGE_SECONDS"] - 5)):
        assert client.get("/healthz").status_code == 200
    with freeze_time(OPENED + timedelta(seconds=app.config["HEALTH_OUTBOX_MAX_AGE_SECONDS"] + 5)):
        backlog = client.get("/healthz")
        assert backlog.status_code == 503 and backlog.json["outbox"] == "backlog"
        send_outbox()
        assert client.get("/healthz").status_code == 200
