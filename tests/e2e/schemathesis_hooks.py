"""Schemathesis hooks (loaded through SCHEMATHESIS_HOOKS by tests/e2e/test_api_schema.py).

The API refuses an ``occurred_at`` in the future (a 422 the description
documents), which no JSON Schema can say. Moving generated future times
into the past keeps the positive-data check honest for everything else; it
never turns an otherwise invalid body into a valid one.

An ``Idempotency-Key`` reused with different details is refused (a 422 the
description documents): the key belongs to one request. Generated keys are
made unique, keeping their length, so each generated request is a new one.
"""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime, timedelta

import schemathesis
from schemathesis import GenerationMode


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


@schemathesis.hook
def before_call(context, case, kwargs):
    """Every phase (coverage, fuzzing, stateful) sends through here, hooks on generation or not.

    Only valid (positive) cases: a negative case's key is left as generated, so
    what schemathesis expects of it (for example a 401 without Authorization)
    still holds.
    """
    meta = case.meta
    if meta is None or meta.generation.mode != GenerationMode.POSITIVE:
        return
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and 8 <= len(key) <= 64:
        alphabet = string.ascii_letters + string.digits
        case.headers["Idempotency-Key"] = "".join(secrets.choice(alphabet) for _ in key)
