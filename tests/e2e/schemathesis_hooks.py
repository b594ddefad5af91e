"""Schemathesis hooks (loaded through SCHEMATHESIS_HOOKS by tests/e2e/test_api_schema.py).

The API refuses an ``occurred_at`` in the future or more than a year ago
(a 422 the description documents), which no JSON Schema can say. Moving
the times of valid (positive) cases outside that year into the past hour,
in every phase, keeps the positive-data check honest for everything else;
a negative case is left as generated.

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

from responder.web.incident_forms import OLDEST_OCCURRENCE


@schemathesis.hook
def before_call(context, case, kwargs):
    """Every phase (coverage, fuzzing, stateful) sends through here, hooks on generation or not.

    Only valid (positive) cases get an ``occurred_at`` in the last year and a
    key of their own: a negative case is left as generated, so what
    schemathesis expects of it (for example a 401 without Authorization)
    still holds.
    """
    meta = case.meta
    if meta is None or meta.generation.mode != GenerationMode.POSITIVE:
        return
    case.body = _occurred_in_the_last_year(case.body)
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and 8 <= len(key) <= 64:
        alphabet = string.ascii_letters + string.digits
        case.headers["Idempotency-Key"] = "".join(secrets.choice(alphabet) for _ in key)


def _occurred_in_the_last_year(body):
    if not isinstance(body, dict) or not isinstance(body.get("occurred_at"), str):
        return body
    try:
        occurred = datetime.fromisoformat(body["occurred_at"].replace("Z", "+00:00"))
    except ValueError:
        return body
    now = datetime.now(UTC)
    if occurred.tzinfo is not None and not now - OLDEST_OCCURRENCE < occurred <= now:
        body = {**body, "occurred_at": (now - timedelta(hours=1)).isoformat()}
    return body
