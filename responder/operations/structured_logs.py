"""Structured logs: one JSON object per line, carrying the request id and incident reference.

``create_app`` calls :func:`init_app`, which installs one handler on the root
logger (once per process, however many apps are built) and gives every
request an id: the caller's ``X-Request-ID`` when it is sane, else a new one,
returned in the response's ``X-Request-ID`` header so an operator can find a
user's request in the logs. Importing this module configures nothing.

Log lines never carry link tokens (responder.operations.log_redaction runs on every
line, including tracebacks) or personal fields: services log ids and
references, never summaries, names, numbers or free text, and the database
engine is told to keep statement parameters out of its error messages
(``hide_parameters`` in config.py).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from flask import Flask, Response, current_app, g, has_request_context, request

from responder.operations.log_redaction import RedactTokens, redact

REQUEST_ID_HEADER = "X-Request-ID"
# What a proxy or client may hand us as a request id: short, and nothing that could forge a log line.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
# Fields a log call may add with ``extra=``; anything else stays out of the line.
EXTRA_FIELDS = ("method", "path", "status", "duration_ms", "action_id", "message_id")
_incident_reference: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "responder_incident_reference", default=None
)
requests_log = logging.getLogger("responder.requests")


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, request_id, incident (and allowed extras), as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None),
            "incident": getattr(record, "incident", None),
        }
        for name in EXTRA_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = redact(record.exc_text)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For a developer's terminal: the same fields, readable."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s %(incident)s]: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RequestContext(logging.Filter):
    """Adds the request id and the incident reference (where there is one) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = incident = None
        if has_request_context():
            request_id = g.get("request_id")
            incident = g.get("incident_reference") or (request.view_args or {}).get("reference")
        record.request_id = request_id
        record.incident = incident or _incident_reference.get()
        return True


class ResponderLogHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (so test capture and reloaders work)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)
        self.addFilter(RequestContext())
        self.addFilter(RedactTokens())

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr


def init_app(app: Flask) -> None:
    """Send every logger's records through one handler in the configured format; add request ids."""
    configure_logging(app.config)
    app.before_request(_start_request)
    app.after_request(_finish_request)


def configure_logging(config) -> None:
    """One handler on the root logger (added once per process), in the configured format and level."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, ResponderLogHandler)), None)
    if handler is None:
        handler = ResponderLogHandler()
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if config["LOG_FORMAT"] == "json" else TextFormatter())
    root.setLevel(config["LOG_LEVEL"].upper())


@contextmanager
def incident_context(reference: str | None) -> Iterator[None]:
    """Outside a request (the scheduler, the command line): tag log lines with this incident."""
    token = _incident_reference.set(reference)
    try:
        yield
    finally:
        _incident_reference.reset(token)


def request_id_from(header: str | None) -> str:
    """The caller's request id if it is sane, else a fresh one."""
    if header and _SANE_REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


def _start_request() -> None:
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    g.request_started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    if current_app.config.get("LOG_REQUESTS") and "request_started" in g:
        took = round((time.perf_counter() - g.request_started) * 1000, 1)
        # The path only: query strings may carry anything, and tokens are redacted from paths.
        requests_log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": redact(request.path),
                "status": response.status_code,
                "duration_ms": took,
            },
        )
    return response
