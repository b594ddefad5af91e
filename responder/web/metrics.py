"""``GET /metrics``: the service's state in Prometheus text format, for operators' dashboards and alerts.

Read from the database at each scrape (responder.operations.service_state), so every
web process gives the same answer. Protected: with ``METRICS_TOKEN`` set, a
scraper sends ``Authorization: Bearer <token>``. Production answers nobody
without it; elsewhere, without one, only a request made directly from this
machine's loopback and carrying no proxy header at all is answered.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric

from responder.clock import now_utc
from responder.models import Channel
from responder.operations import service_state

bp = Blueprint("metrics", __name__)

# Headers that reverse proxies add (standard and vendor ones). Behind any proxy every
# request comes from loopback, so a request carrying one is never "local".
PROXY_HEADERS = frozenset(
    {
        "forwarded",
        "via",
        "x-real-ip",
        "x-client-ip",
        "client-ip",
        "true-client-ip",
        "cf-connecting-ip",
        "fastly-client-ip",
        "x-cluster-client-ip",
        "x-original-forwarded-for",
        "x-proxyuser-ip",
    }
)

# Seconds: an acknowledgement within a minute ... and the tail past the usual 15-minute target.
ACK_BUCKETS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)


@bp.get("/metrics")
def metrics():
    if not _may_read_metrics():
        abort(403)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector())
    return Response(
        generate_latest(registry), content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"}
    )


def _may_read_metrics() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    if current_app.config.get("ENV_NAME") == "production":
        return False
    if any(_is_proxy_header(name) for name, _value in request.headers.items()):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def _is_proxy_header(name: str) -> bool:
    name = name.lower()
    return name in PROXY_HEADERS or name.startswith(("x-forwarded-", "x-original-"))


class ServiceCollector:
    """Builds every metric family from the database at collection time."""

    def collect(self) -> Iterator[Metric]:
        now = now_utc()
        yield from _outbox(now)
        yield from _scheduler(now)
        yield from _incidents()
        yield _acknowledgement_latency()


def _outbox(now) -> Iterator[Metric]:
    backlog = service_state.outbox_backlog()
    pending = GaugeMetricFamily(
        "responder_messages_pending",
        "Messages not yet handed to a provider (waiting, retrying or sending).",
        labels=["channel"],
    )
    failed = GaugeMetricFamily(
        "responder_messages_failed", "Messages that failed for good, after every attempt.", labels=["channel"]
    )
    for channel in Channel:
        pending.add_metric([channel], backlog.pending_by_channel.get(channel, 0))
        failed.add_metric([channel], backlog.failed_by_channel.get(channel, 0))
    age = backlog.oldest_pending_age(now)
    oldest = GaugeMetricFamily(
        "responder_oldest_pending_message_age_seconds",
        "Age of the oldest message not yet handed to a provider (0 when none is waiting).",
        value=max(0.0, age.total_seconds()) if age is not None else 0.0,
    )
    calls = GaugeMetricFamily(
        "responder_calls",
        "Phone calls to the last rungs by what became of them (acknowledged, declined, no_key, no_answer, "
        "busy, voicemail, failed; placed: no outcome yet).",
        labels=["outcome"],
    )
    for outcome, count in sorted(service_state.calls_by_outcome().items()):
        calls.add_metric([outcome], count)
    return [pending, failed, oldest, calls]


def _scheduler(now) -> Iterator[Metric]:
    overdue = GaugeMetricFamily(
        "responder_timed_actions_overdue",
        "Escalations, check-ins, reminders and deadlines still pending over a minute after they fell due.",
        value=service_state.overdue_actions(now),
    )
    yield overdue
    heartbeat = service_state.scheduler_heartbeat()
    if heartbeat is not None:
        yield GaugeMetricFamily(
            "responder_scheduler_heartbeat_age_seconds",
            "Seconds since the leading scheduler last renewed its lease.",
            value=max(0.0, heartbeat.age(now).total_seconds()),
        )
    yield GaugeMetricFamily(
        "responder_scheduler_lease_held",
        "1 while a scheduler holds an unexpired lease, else 0.",
        value=1 if heartbeat is not None and heartbeat.expires_at > now else 0,
    )


def _incidents() -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "responder_incidents_open",
        "Incidents not yet closed, by local authority (exercises apart).",
        labels=["local_authority", "exercise"],
    )
    for (local_authority, exercise), count in sorted(
        service_state.open_incidents_by_local_authority().items()
    ):
        family.add_metric([local_authority, "true" if exercise else "false"], count)
    yield family


def _acknowledgement_latency() -> Metric:
    family = HistogramMetricFamily(
        "responder_acknowledgement_latency_seconds",
        "Time from an agency's alert to its acknowledgement.",
        labels=["exercise"],
    )
    for histogram in service_state.acknowledgement_histograms(ACK_BUCKETS):
        buckets = [(str(float(bound)), n) for bound, n in zip(ACK_BUCKETS, histogram.cumulative, strict=True)]
        buckets.append(("+Inf", histogram.count))
        family.add_metric(
            ["true" if histogram.exercise else "false"], buckets, sum_value=histogram.total_seconds
        )
    return family
