"""A fake Twilio Messages API on 127.0.0.1, reached through the real SDK via TWILIO_API_BASE_URL.

It answers ``POST /2010-04-01/Accounts/{sid}/Messages.json`` the way Twilio
does (form-encoded in, JSON out, ``sid`` ``SM...``, ``status: queued``) and
records every request, including the Basic auth header and StatusCallback.
Like Twilio, it creates the message as the request arrives, before it
answers: a request that is answered late, or whose connection is cut, has
still created its message. ``GET .../Messages.json?To=...`` lists the
messages created for a number, newest first, a page of ``PageSize``, as
Twilio's list does (the sender asks it before sending a message again).
Tell it to be slow (``delay_ms``), to be down for the next N requests
(``fail_next(n, status=500)``), to create the next N messages and then cut
the connection without answering (``drop_after_create(n)``), or to refuse a
number with Twilio's JSON error (``reject_number(to, 21211)``).

Phone calls: ``POST .../Calls.json`` creates a call (``sid`` ``CA...``) the
same way, under the same behaviours, recording its ``Url`` and
``StatusCallback``. ``play_call(call, deliver, keys="1")`` then acts as
Twilio and the person called: it answers (posting the ``Url`` with
``AnsweredBy``), reads the TwiML, presses the keys into each ``<Gather>`` in
turn (posting its ``action`` with ``Digits``), and reports how the call
ended to the ``StatusCallback``; or the line is ``busy``, ``no-answer`` or
``failed``, or a machine answers (``answered_by="machine_start"``). Every
webhook is signed with ``auth_token`` as Twilio signs them; ``deliver(url,
form, headers)`` carries each one (the Flask test client, or HTTP) and
returns the answer's text.

Used as the ``fake_twilio`` fixture (tests/conftest.py); a browser test can
start one beside a real server process and pass ``base_url`` to it. It also
runs on its own, as Twilio would, in another process:

    python -m tests.fake_twilio [--port 0] [--delay-ms 200]

prints its base URL, then serves; ``GET /_fake/requests`` returns what it
recorded and ``POST /_fake/behaviour`` (JSON ``{"delay_ms": 200}``,
``{"reset": true}``) changes it.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import re
import secrets
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from twilio.request_validator import RequestValidator

from tests.serving import POLL_SECONDS

_ACCOUNT_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)\.json$")
_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)/Messages\.json(?:\?(?P<query>.*))?$")
_CREATE_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)/(?P<what>Messages|Calls)\.json$")
# The keys of a list page that are not its list (twilio.base.page.Page.META_KEYS).
_PAGE_META = {
    "first_page_uri",
    "next_page_uri",
    "previous_page_uri",
    "page",
    "page_size",
    "start",
    "end",
    "uri",
}

# What Twilio answers for the errors the tests use (https://www.twilio.com/docs/api/errors).
TWILIO_ERROR_MESSAGES = {
    21211: "The 'To' number {to} is not a valid phone number.",
    21614: "'To' number {to} is not a valid mobile number",
    21610: "Attempt to send to unsubscribed recipient",
}


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 would make a burst of forty senders wait for
    # TCP retransmits instead of for the fake.
    request_queue_size = 128
    daemon_threads = True


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    account_sid: str | None
    authorization: str
    form: dict[str, str]
    received_at: float  # time.monotonic() when the request arrived
    answered_at: float  # time.monotonic() just before the response was written
    status: int  # the HTTP status the fake answered (0: it cut the connection instead)

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        if not self.authorization.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(self.authorization[6:]).decode().partition(":")
        return user, password

    @property
    def accepted(self) -> bool:
        return self.status == 201


@dataclass
class _Behaviour:
    delay_ms: int = 0
    failures_left: int = 0
    failure_status: int = 500
    drops_left: int = 0
    rejected: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CreatedMessage:
    """A message the fake created: what a phone would receive."""

    sid: str
    to: str
    body: str
    created_at: float  # time.time()
    resource: dict


@dataclass(frozen=True)
class CreatedCall:
    """A call the fake placed: where Twilio would ask what to say, and report how it ended."""

    sid: str
    to: str
    caller: str
    url: str
    status_callback: str
    machine_detection: str
    created_at: float  # time.time()
    resource: dict


# (url, form, headers) -> the text of the answer: how a webhook reaches the app under test.
Deliver = Callable[[str, dict[str, str], dict[str, str]], str]


class FakeTwilio:
    """Start with ``start()`` (or use as a context manager); ``base_url`` is where it listens."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._behaviour = _Behaviour()
        self._requests: list[RecordedRequest] = []
        self._created: list[CreatedMessage] = []
        self._calls: list[CreatedCall] = []
        # The number each list of messages was asked for (how a sender looks up an unknown outcome).
        self._lookups: list[str] = []
        # Signs the webhooks play_call sends, as Twilio signs them with the account's auth token.
        self.auth_token: str | None = None
        self._server = _Server((host, port), self._handler_class())
        self._thread: threading.Thread | None = None
        # The account fetch (`providers check`) checks Basic auth against these, when they are set.
        self.credentials: tuple[str, str] | None = None
        self.account_status = "active"

    # --- life cycle --------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeTwilio:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(POLL_SECONDS,), name="fake-twilio", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread (running as a process of its own)."""
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- behaviour ---------------------------------------------------------------

    def set_delay(self, milliseconds: int) -> None:
        """Answer every request after this long, as a slow provider would."""
        with self._lock:
            self._behaviour.delay_ms = milliseconds

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next ``count`` requests with HTTP ``status`` (500, 503, 429...)."""
        with self._lock:
            self._behaviour.failures_left = count
            self._behaviour.failure_status = status

    def drop_after_create(self, count: int) -> None:
        """Create the next ``count`` messages, then close the connection without an answer."""
        with self._lock:
            self._behaviour.drops_left = count

    def reject_number(self, to: str, code: int = 21211) -> None:
        """Refuse every message to ``to`` with Twilio's JSON error ``code`` (HTTP 400)."""
        with self._lock:
            self._behaviour.rejected[to] = code

    def reset(self) -> None:
        with self._lock:
            self._behaviour = _Behaviour()
            self._requests.clear()
            self._created.clear()
            self._calls.clear()
            self._lookups.clear()

    # --- what happened -----------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def accepted(self) -> list[RecordedRequest]:
        """Requests answered with a created message (texts only: calls are in ``calls``)."""
        return [r for r in self.requests if r.accepted and r.path.endswith("/Messages.json")]

    @property
    def lookups(self) -> list[str]:
        """The ``To`` of each list of messages asked for, in order."""
        with self._lock:
            return list(self._lookups)

    def sent_to(self, number: str) -> list[RecordedRequest]:
        return [r for r in self.accepted if r.form.get("To") == number]

    @property
    def created(self) -> list[CreatedMessage]:
        """Every message created, answered or not: what phones received."""
        with self._lock:
            return list(self._created)

    @property
    def calls(self) -> list[CreatedCall]:
        """Every call placed, answered or not."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, number: str) -> list[CreatedCall]:
        return [call for call in self.calls if call.to == number]

    def play_call(
        self,
        call: CreatedCall,
        deliver: Deliver,
        *,
        keys: str = "",
        answered_by: str = "human",
        line: str = "answered",
    ) -> list[str]:
        """Be Twilio and the person called, for one call; returns the TwiML Responder answered with.

        ``line`` is ``answered`` (then ``answered_by`` says who: ``human``, or
        ``machine_start`` for voicemail), ``busy``, ``no-answer`` or ``failed``.
        Each of ``keys`` is pressed into the next ``<Gather>`` the call reaches; a
        ``<Gather>`` with no key left times out, as on a real call.
        """
        base = {
            "CallSid": call.sid,
            "AccountSid": call.resource["account_sid"],
            "From": call.caller,
            "To": call.to,
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
        }
        if line != "answered":
            self._webhook(deliver, call.status_callback, {**base, "CallStatus": line, "CallDuration": "0"})
            return []
        answered = {**base, "CallStatus": "in-progress", "AnsweredBy": answered_by}
        answers = [self._webhook(deliver, call.url, answered)]
        pending = list(keys)
        while pending:
            twiml = ElementTree.fromstring(answers[-1])  # noqa: S314 - the app under test wrote it
            gathers = [verb for verb in twiml if verb.tag == "Gather"]
            if not gathers:
                break
            digits = pending.pop(0)
            answers.append(
                self._webhook(deliver, gathers[0].attrib["action"], {**answered, "Digits": digits})
            )
        ended = {**base, "CallStatus": "completed", "AnsweredBy": answered_by, "CallDuration": "25"}
        self._webhook(deliver, call.status_callback, ended)
        return answers

    def _webhook(self, deliver: Deliver, url: str, form: dict[str, str]) -> str:
        headers = {}
        if self.auth_token:
            headers["X-Twilio-Signature"] = RequestValidator(self.auth_token).compute_signature(url, form)
        return deliver(url, form, headers)

    def duplicates(self) -> dict[tuple[str, str], int]:
        """(number, text) pairs created more than once, and how many times."""
        counts: dict[tuple[str, str], int] = {}
        for message in self.created:
            counts[(message.to, message.body)] = counts.get((message.to, message.body), 0) + 1
        return {key: count for key, count in counts.items() if count > 1}

    # --- the server --------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keeps connections open, as Twilio's API does

            def do_POST(self) -> None:
                if self.path == "/_fake/behaviour":
                    fake._control(self)
                else:
                    fake._answer(self)

            def do_GET(self) -> None:
                if self.path == "/_fake/requests":
                    fake._reply(self, 200, [asdict(r) for r in fake.requests])
                elif self.path == "/_fake/created":
                    fake._reply(self, 200, [asdict(m) for m in fake.created])
                elif (match := _MESSAGES_PATH.match(self.path)) is not None:
                    fake._list(self, match)
                elif (match := _ACCOUNT_PATH.match(self.path)) is not None:
                    fake._account(self, match)
                else:
                    fake._reply(self, 404, {"message": "not found"})

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output quiet

        return Handler

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        received_at = time.monotonic()
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode("utf-8")
        form = {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}
        match = _CREATE_PATH.match(handler.path)
        with self._lock:
            behaviour = self._behaviour
            delay_ms = behaviour.delay_ms
            failing = behaviour.failures_left > 0
            if failing:
                behaviour.failures_left -= 1
            rejected_code = behaviour.rejected.get(form.get("To", ""))
            dropping = not failing and rejected_code is None and behaviour.drops_left > 0
            if dropping:
                behaviour.drops_left -= 1
        if match is None:
            status, body = (
                404,
                {"code": 20404, "message": "The requested resource was not found", "status": 404},
            )
        elif failing:
            status, body = behaviour.failure_status, {"message": "Service unavailable"}
        elif rejected_code is not None:
            message = TWILIO_ERROR_MESSAGES.get(rejected_code, "Error").format(to=form.get("To"))
            status, body = 400, {"code": rejected_code, "message": message, "status": 400}
        else:
            # Created now, as Twilio does, whenever (and whether) the answer arrives.
            create = self._create if match["what"] == "Messages" else self._create_call
            status, body = 201, create(match["account"], form)
        if dropping:
            self._record(handler, match, form, received_at, 0)
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        if delay_ms:
            time.sleep(delay_ms / 1000)
        self._record(handler, match, form, received_at, status)
        self._reply(handler, status, body)

    def _account(self, handler: BaseHTTPRequestHandler, match: re.Match) -> None:
        """The account resource, as GET /2010-04-01/Accounts/{sid}.json answers it (20003 for bad credentials)."""
        authorization = handler.headers.get("Authorization", "")
        given = RecordedRequest("GET", handler.path, None, authorization, {}, 0, 0, 0).basic_auth
        if self.credentials is not None and given != self.credentials:
            self._reply(handler, 401, {"code": 20003, "message": "Authenticate", "status": 401})
            return
        sid = match["account"]
        self._reply(
            handler,
            200,
            {
                "sid": sid,
                "friendly_name": "Responder test account",
                "status": self.account_status,
                "type": "Full",
                "uri": f"/2010-04-01/Accounts/{sid}.json",
            },
        )

    def _control(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        settings = json.loads(handler.rfile.read(length) or b"{}")
        if settings.get("reset"):
            self.reset()
        if "delay_ms" in settings:
            self.set_delay(int(settings["delay_ms"]))
        self._reply(handler, 200, {"ok": True})

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, body: object) -> None:
        payload = json.dumps(body).encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _record(self, handler, match, form, received_at: float, status: int) -> None:
        with self._lock:
            self._requests.append(
                RecordedRequest(
                    method=handler.command,
                    path=handler.path,
                    account_sid=match["account"] if match else None,
                    authorization=handler.headers.get("Authorization", ""),
                    form=form,
                    received_at=received_at,
                    answered_at=time.monotonic(),
                    status=status,
                )
            )

    def _create(self, account_sid: str, form: dict[str, str]) -> dict[str, object]:
        resource = self._resource(account_sid, form)
        with self._lock:
            self._created.append(
                CreatedMessage(
                    resource["sid"], form.get("To", ""), form.get("Body", ""), time.time(), resource
                )
            )
        return resource

    def _create_call(self, account_sid: str, form: dict[str, str]) -> dict[str, object]:
        sid = "CA" + secrets.token_hex(16)
        resource = {
            "sid": sid,
            "account_sid": account_sid,
            "to": form.get("To"),
            "from": form.get("From"),
            "status": "queued",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "date_created": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
            "uri": f"/2010-04-01/Accounts/{account_sid}/Calls/{sid}.json",
        }
        call = CreatedCall(
            sid=sid,
            to=form.get("To", ""),
            caller=form.get("From", ""),
            url=form.get("Url", ""),
            status_callback=form.get("StatusCallback", ""),
            machine_detection=form.get("MachineDetection", ""),
            created_at=time.time(),
            resource=resource,
        )
        with self._lock:
            self._calls.append(call)
        return resource

    def _list(self, handler: BaseHTTPRequestHandler, match: re.Match) -> None:
        """Messages to ``To`` (and from ``From``), newest first, one page of ``PageSize``."""
        query = {key: values[-1] for key, values in parse_qs(match["query"] or "").items()}
        size = int(query.get("PageSize", 50))
        with self._lock:
            self._lookups.append(query.get("To", ""))
            found = [
                m.resource
                for m in reversed(self._created)
                if m.to == query.get("To", m.to)
                and m.resource["from"] == query.get("From", m.resource["from"])
            ]
        uri = handler.path
        page = {
            "messages": found[:size],
            "page": 0,
            "page_size": size,
            "start": 0,
            "end": min(size, len(found)) - 1,
        }
        page.update(first_page_uri=uri, next_page_uri=None, previous_page_uri=None, uri=uri)
        assert set(page) - {"messages"} <= _PAGE_META
        self._reply(handler, 200, page)

    @staticmethod
    def _resource(account_sid: str, form: dict[str, str]) -> dict[str, object]:
        sid = "SM" + secrets.token_hex(16)
        return {
            "sid": sid,
            "account_sid": account_sid,
            "to": form.get("To"),
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form.get("Body"),
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "date_created": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
        }


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake Twilio Messages API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=int, default=0)
    args = parser.parse_args()
    fake = FakeTwilio(args.host, args.port)
    fake.set_delay(args.delay_ms)
    print(fake.base_url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        fake.serve_forever()


if __name__ == "__main__":
    main()
