"""A fake GOV.UK Notify API on 127.0.0.1, reached through the real client via NOTIFY_BASE_URL.

It answers ``POST /v2/notifications/sms`` and ``/email`` the way Notify
does (JSON in and out, 201 with the notification's ``id``), after checking
the JSON Web Token the client signs with the API key's secret (``iss`` the
service id, ``iat`` within 30 s: Notify's own rules, with the client
library's own checker); a bad or missing token gets Notify's 403. Like
Notify, it creates the notification as the request arrives, before it
answers: a request answered late, or whose connection is cut, has still
created it. ``GET /v2/notifications?reference=...`` lists notifications
newest first, filtered by reference, template_type and status, as Notify's
does (the sender asks it before sending a message whose outcome is unknown).

Tell it to be slow (``set_delay``), to answer the next N requests with an
error (``fail_next(n, status=429)``), to create the next N notifications and
cut the connection without answering (``drop_after_create(n)``), or to refuse
a recipient with Notify's 400 (``reject_recipient(to)``).

As a process of its own (the browser journeys):

    python -m tests.fake_notify [--port 0]

prints its base URL, then serves (API_KEY and the template ids below are the
ones it accepts); ``GET /_fake/created`` returns what it created.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from notifications_python_client.authentication import decode_jwt_token, get_token_issuer
from notifications_python_client.errors import TokenError

from tests.serving import POLL_SECONDS

SERVICE_ID = "8b3aa916-ec82-434e-b0c5-d5d9b371d6a3"
KEY_SECRET = "0f6f4c5a-2b6e-4f0e-9c1d-3a7b5e2d9f10"
API_KEY = f"responder_test-{SERVICE_ID}-{KEY_SECRET}"
SMS_TEMPLATE_ID = "2d5b7f3c-1a9e-4c6d-8b0f-6e4a3c2b1d9e"
EMAIL_TEMPLATE_ID = "7e1c9a4b-5d3f-4e2a-9b8c-0f6d2e4a1c3b"

# Notify's answers for a recipient it refuses (https://docs.notifications.service.gov.uk/python.html).
RECIPIENT_ERRORS = {
    "sms": "phone_number Not a UK mobile number",
    "email": "email_address Not a valid email address",
}


class _Server(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A client that gave up before a late answer: expected in these tests, not worth a traceback.
        pass


@dataclass(frozen=True)
class Notification:
    """A notification the fake created: what a phone or inbox would receive."""

    id: str
    type: str  # "sms" or "email"
    to: str
    template_id: str
    personalisation: dict
    reference: str | None
    created_at: str

    @property
    def body(self) -> str:
        return self.personalisation.get("body", "")

    def resource(self) -> dict:
        recipient = {"phone_number": self.to} if self.type == "sms" else {"email_address": self.to}
        return {
            "id": self.id,
            "reference": self.reference,
            "type": self.type,
            "status": "created",
            "template": {"id": self.template_id, "version": 1, "uri": ""},
            "body": self.body,
            "subject": self.personalisation.get("subject"),
            "created_at": self.created_at,
            "sent_at": None,
            "completed_at": None,
            **recipient,
        }


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    status: int  # what the fake answered (0: it cut the connection)
    received_at: float


@dataclass
class _Behaviour:
    delay_ms: int = 0
    failures_left: int = 0
    failure_status: int = 500
    drops_left: int = 0
    rejected: set[str] = field(default_factory=set)


class FakeNotify:
    """Start with ``start()`` (or use as a context manager); ``base_url`` is where it listens."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        service_id: str = SERVICE_ID,
        secret: str = KEY_SECRET,
        templates: dict[str, str] | None = None,
    ) -> None:
        self.service_id = service_id
        self.secret = secret
        self.templates = templates or {SMS_TEMPLATE_ID: "sms", EMAIL_TEMPLATE_ID: "email"}
        # A template's (body, subject) when it is not the generic one.
        self.template_text: dict[str, tuple[str, str | None]] = {}
        self._lock = threading.Lock()
        self._behaviour = _Behaviour()
        self._requests: list[RecordedRequest] = []
        self._created: list[Notification] = []
        self._server = _Server((host, port), self._handler_class())

    # --- life cycle --------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeNotify:
        threading.Thread(
            target=self._server.serve_forever, args=(POLL_SECONDS,), name="fake-notify", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeNotify:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- behaviour ---------------------------------------------------------------

    def set_delay(self, milliseconds: int) -> None:
        """Answer every request after this long (a notification is still created at once)."""
        with self._lock:
            self._behaviour.delay_ms = milliseconds

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next ``count`` requests with HTTP ``status`` (429, 500, 503...), creating nothing."""
        with self._lock:
            self._behaviour.failures_left = count
            self._behaviour.failure_status = status

    def drop_after_create(self, count: int) -> None:
        """Create the next ``count`` notifications, then close the connection without an answer."""
        with self._lock:
            self._behaviour.drops_left = count

    def reject_recipient(self, to: str) -> None:
        """Refuse every notification to ``to`` with Notify's 400 ValidationError."""
        with self._lock:
            self._behaviour.rejected.add(to)

    # --- what happened -----------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def created(self) -> list[Notification]:
        """Every notification created, answered or not."""
        with self._lock:
            return list(self._created)

    def sent_to(self, to: str) -> list[Notification]:
        return [n for n in self.created if n.to == to]

    def duplicates(self) -> dict[tuple[str, str], int]:
        """(recipient, body) pairs created more than once, and how many times."""
        counts: dict[tuple[str, str], int] = {}
        for notification in self.created:
            key = (notification.to, notification.body)
            counts[key] = counts.get(key, 0) + 1
        return {key: count for key, count in counts.items() if count > 1}

    # --- the server --------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the client's session expects

            def do_POST(self) -> None:
                fake._answer(self)

            def do_GET(self) -> None:
                if self.path == "/_fake/created":
                    fake._reply(self, 200, [asdict(n) for n in fake.created])
                else:
                    fake._answer(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        received_at = time.monotonic()
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        if not self._authorised(handler.headers.get("Authorization", "")):
            self._finish(handler, received_at, 403, _error(403, "AuthError", "Invalid token: signature"))
            return
        with self._lock:
            behaviour = self._behaviour
            failing = behaviour.failures_left > 0
            if failing:
                behaviour.failures_left -= 1
            delay_ms = behaviour.delay_ms
        if failing:
            kind = "RateLimitError" if behaviour.failure_status == 429 else "Exception"
            words = (
                "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds"
                if behaviour.failure_status == 429
                else "Internal server error"
            )
            self._finish(
                handler, received_at, behaviour.failure_status, _error(behaviour.failure_status, kind, words)
            )
            return
        path = urlsplit(handler.path)
        if handler.command == "GET" and path.path == "/v2/notifications":
            status, body = 200, self._list(parse_qs(path.query))
        elif handler.command == "GET" and path.path.startswith("/v2/template/"):
            status, body = self._template(path.path.removeprefix("/v2/template/"))
        elif handler.command == "POST" and path.path in ("/v2/notifications/sms", "/v2/notifications/email"):
            status, body = self._create(path.path.rsplit("/", 1)[1], json.loads(raw or b"{}"))
            if status == 201 and self._dropping():
                self._record(handler, received_at, 0)
                handler.close_connection = True
                handler.connection.shutdown(2)
                return
        else:
            status, body = 404, _error(404, "NotFound", "Not found")
        if delay_ms:
            time.sleep(delay_ms / 1000)
        self._finish(handler, received_at, status, body)

    def _authorised(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token:
            return False
        try:
            return get_token_issuer(token) == self.service_id and decode_jwt_token(token, self.secret)
        except TokenError:
            return False

    def _dropping(self) -> bool:
        with self._lock:
            if self._behaviour.drops_left > 0:
                self._behaviour.drops_left -= 1
                return True
        return False

    def _create(self, kind: str, payload: dict) -> tuple[int, dict]:
        to = payload.get("phone_number" if kind == "sms" else "email_address") or ""
        template_id = payload.get("template_id")
        if self.templates.get(template_id) != kind:
            return 400, _error(400, "BadRequestError", "Template not found")
        personalisation = payload.get("personalisation") or {}
        needed = ["body"] + (["subject"] if kind == "email" else [])
        if missing := [name for name in needed if name not in personalisation]:
            return 400, _error(400, "BadRequestError", f"Missing personalisation: {', '.join(missing)}")
        with self._lock:
            rejected = to in self._behaviour.rejected
        if rejected:
            return 400, _error(400, "ValidationError", RECIPIENT_ERRORS[kind])
        notification = Notification(
            id=str(uuid.uuid4()),
            type=kind,
            to=to,
            template_id=template_id,
            personalisation=personalisation,
            reference=payload.get("reference"),
            created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )
        with self._lock:
            self._created.append(notification)
        content = {"body": notification.body}
        if kind == "email":
            content["subject"] = personalisation["subject"]
        return 201, {
            "id": notification.id,
            "reference": notification.reference,
            "content": content,
            "uri": f"{self.base_url}/v2/notifications/{notification.id}",
            "template": {"id": template_id, "version": 1, "uri": ""},
        }

    def _template(self, template_id: str) -> tuple[int, dict]:
        """A template as Notify describes it; the generic ones hold ((body)) (and ((subject)))."""
        kind = self.templates.get(template_id)
        if kind is None:
            return 404, _error(404, "NoResultFound", "No result found")
        body, subject = self.template_text.get(
            template_id, ("((body))", "((subject))" if kind == "email" else None)
        )
        return 200, {
            "id": template_id,
            "type": kind,
            "version": 1,
            "name": "Responder",
            "body": body,
            "subject": subject,
        }

    def _list(self, query: dict[str, list[str]]) -> dict:
        """Newest first, filtered as Notify filters (reference, template_type, status)."""
        wanted = {key: values[-1] for key, values in query.items()}
        with self._lock:
            found = [
                n.resource()
                for n in reversed(self._created)
                if n.reference == wanted.get("reference", n.reference)
                and n.type == wanted.get("template_type", n.type)
                and wanted.get("status", "created") == "created"
            ]
        return {"notifications": found[:250], "links": {"current": f"{self.base_url}/v2/notifications"}}

    def _finish(self, handler, received_at: float, status: int, body: object) -> None:
        self._record(handler, received_at, status)
        self._reply(handler, status, body)

    def _record(self, handler, received_at: float, status: int) -> None:
        with self._lock:
            self._requests.append(RecordedRequest(handler.command, handler.path, status, received_at))

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, body: object) -> None:
        payload = json.dumps(body).encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)


def _error(status: int, kind: str, message: str) -> dict:
    return {"status_code": status, "errors": [{"error": kind, "message": message}]}


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake GOV.UK Notify API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    fake = FakeNotify(args.host, args.port)
    print(fake.base_url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        fake._server.serve_forever()


if __name__ == "__main__":
    main()
