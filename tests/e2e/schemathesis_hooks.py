"""Schemathesis hooks (loaded through SCHEMATHESIS_HOOKS by tests/e2e/test_api_schema.py).

The API refuses an ``occurred_at`` in the future (a 422 the description
documents), which no JSON Schema can say. Moving generated future times
into the past keeps the positive-data check honest for everything else; it
never turns an otherwise invalid body into a valid one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import schemathesis


@schemathesis.hook
def map_body(context, body):
    if not isinstance(body, dict) or not isinstance(body.get("occurred_at"), str):
        return body
    try:
        occurred = datetime.fromisoformat(body["occurred_at"].replace("Z", "+00:00"))
    except ValueError:
        return body
    if occurred.tzinfo is not None and occurred > datetime.now(UTC):
        body = {**body, "occurred_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}
    return body
