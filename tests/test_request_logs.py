"""No server, development or production, writes a query string to its log (issue 17, item 8)."""

from __future__ import annotations

import contextlib
import threading
import urllib.request

import pytest
from werkzeug.serving import make_server

from responder.operations.log_redaction import redact
from tests.serving import POLL_SECONDS

CANARY = "QUERY-CANARY-5521"


@pytest.fixture
def dev_server(app):
    """The development server (`flask run` serves with it), in a thread on 127.0.0.1."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(POLL_SECONDS,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def test_the_development_server_logs_paths_without_their_query_strings(dev_server, capfd):
    """The finding: werkzeug's request log line carried the whole query string."""
    for path in (f"/healthz?purpose={CANARY}", f"/admin/contacts?q={CANARY}"):
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(dev_server + path, timeout=10).close()  # noqa: S310 - our own server
    written = capfd.readouterr().err
    assert "/healthz" in written and "/admin/contacts" in written
    assert CANARY not in written


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '"GET /export.pdf?basis=x&purpose=secret HTTP/1.1" 200 -',
            '"GET /export.pdf?[redacted] HTTP/1.1" 200 -',
        ),
        (
            "Bad request syntax ('POST /login?next=/x HTTP/1.1')",
            "Bad request syntax ('POST /login?[redacted] HTTP/1.1')",
        ),
        ("GET /healthz 200", "GET /healthz 200"),
        (
            '"GET /static/app.css HTTP/1.1" 200 "https://r.example/x?q=secret"',
            '"GET /static/app.css HTTP/1.1" 200 "https://r.example/x?[redacted]"',
        ),
        ("a question? yes", "a question? yes"),
    ],
)
def test_request_lines_lose_their_query_strings(line, expected):
    assert redact(line) == expected
