"""``/metrics`` without its token: only a loopback request that no proxy touched (issue 17, item 8)."""

from __future__ import annotations

import pytest

PROXY_HEADERS = [
    "X-Forwarded-For",
    "X-Real-IP",
    "Forwarded",
    "X-Forwarded-Host",
    "X-Forwarded-Proto",
    "X-Client-IP",
    "True-Client-IP",
    "CF-Connecting-IP",
    "X-Cluster-Client-IP",
    "Via",
]


@pytest.mark.parametrize("header", PROXY_HEADERS)
def test_a_request_carrying_any_proxy_header_is_not_local(client, header):
    """The finding: X-Real-IP from another proxy got through; so would any header but X-Forwarded-For."""
    assert client.get("/metrics", headers={header: "203.0.113.7"}).status_code == 403


def test_a_plain_loopback_request_may_read_metrics_outside_production(client):
    assert client.get("/metrics").status_code == 200


def test_production_needs_the_token_even_from_loopback(app, client):
    app.config.update(ENV_NAME="production", METRICS_TOKEN=None)
    assert client.get("/metrics").status_code == 403
    app.config.update(METRICS_TOKEN="metrics-token-5d1e")
    assert client.get("/metrics").status_code == 403
    answer = client.get("/metrics", headers={"Authorization": "Bearer metrics-token-5d1e"})
    assert answer.status_code == 200
