"""Sending what the outbox holds, from a bounded pool of threads, as soon as it is committed.

Three ways in:

* :func:`wake_dispatcher` - call it right after a transaction that queued
  messages commits. The first call in a process starts that process's
  dispatcher (one coordinating thread and a pool of ``MESSAGE_SEND_WORKERS``
  sender threads); nothing starts at import or in ``create_app``. The
  dispatcher also wakes itself when a retry falls due.
* :func:`sweep_outbox` - one synchronous pass over everything due: for
  start-up, the scheduler's periodic job, the ``flask outbox sweep`` command
  and tests.
* :func:`send_claimed` - one claimed message, sent and recorded.

Any number of dispatchers and sweeps may run at once, in any processes: each
message is claimed by one sender at a time (see responder.notify.delivery).
"""

from __future__ import annotations

import enum
import logging
import os
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from flask import Flask, current_app

from responder.clock import as_utc, now_utc
from responder.models import Channel
from responder.notify.backends import Backend, DeliveryError, backends_from_config
from responder.notify.delivery import (
    Claim,
    RetryPolicy,
    claim_messages,
    due_message_ids,
    next_retry_at,
    record_accepted,
    record_failure,
    record_retry,
)

log = logging.getLogger(__name__)

_EXTENSION_KEY = "responder.dispatcher"
_starting = threading.Lock()
# After an unexpected error in a pass (the database down, say), look again this soon.
_PAUSE_AFTER_ERROR_SECONDS = 30.0
# At most this long do emails wait for the texts of the same pass to get going.
_TEXTS_HEAD_START_SECONDS = 1.0


class Outcome(enum.StrEnum):
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"
    SKIPPED = "skipped"  # not due any more, or another sender has it


@dataclass
class SweepReport:
    """How one sweep went, message by message."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)

    def __str__(self) -> str:
        return (
            f"{self.sent} sent, {self.retrying} to retry later, {self.failed} failed, "
            f"{self.skipped} skipped (not due, or taken by another sender)"
        )


def send_claimed(claim: Claim, backends: dict[str, Backend], policy: RetryPolicy) -> Outcome:
    """Hand one claimed message to its backend and record what happened. Needs an app context."""
    if claim.attempt > policy.max_attempts:
        # Only senders that died mid-send (expired leases) get a message this far.
        record_failure(claim, f"sending was interrupted {claim.attempt - 1} times; gave up")
        return Outcome.FAILED
    backend = backends[claim.message.channel]
    try:
        provider_id = backend.send(claim.message)
    except DeliveryError as error:
        if error.permanent:
            record_failure(claim, error.reason)
            return Outcome.FAILED
        return Outcome.RETRYING if record_retry(claim, error.reason, policy) else Outcome.FAILED
    except Exception as error:
        # A bug must not leave the message claimed until its lease runs out.
        log.exception("sending message %s failed unexpectedly", claim.message.id)
        reason = f"unexpected error ({type(error).__name__}); see the logs"
        return Outcome.RETRYING if record_retry(claim, reason, policy) else Outcome.FAILED
    record_accepted(claim, provider_id, backend.provider_name)
    return Outcome.SENT


def sweep_outbox(app: Flask | None = None) -> SweepReport:
    """Send every message that is due now, concurrently, and wait until each attempt has finished.

    "Due" means pending and past its retry time, or claimed by a sender whose
    lease has run out (it crashed mid-send). Run it when a process starts and
    periodically from the scheduler (every minute is plenty; the dispatcher
    handles the usual case within milliseconds): it is what delivers messages
    left behind by a crash, a restart or a process that never woke a
    dispatcher. Safe to run in several processes at once. One pass: a message
    that fails here and is due again at once waits for the next sweep.

    Needs no app context (scheduler jobs have none): pass the app, or call it
    inside one. Raises ``ConfigurationError`` when a backend is misconfigured.
    """
    app = app or current_app._get_current_object()
    backends = backends_from_config(app.config)
    policy = RetryPolicy.from_config(app.config)
    workers = app.config["MESSAGE_SEND_WORKERS"]
    with app.app_context():
        waiting = deque(due_message_ids())
    report = SweepReport()
    running: set[Future[Outcome]] = set()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="responder-sweep") as pool:
        while waiting or running:
            batch = [waiting.popleft() for _ in range(min(workers - len(running), len(waiting)))]
            if batch:
                with app.app_context():
                    claims = claim_messages(batch, policy)
                report.skipped += len(batch) - len(claims)
                running |= {pool.submit(_send_in_context, app, backends, policy, claim) for claim in claims}
            if running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    report.add(_outcome_of(future))
    return report


def _outcome_of(future: Future[Outcome]) -> Outcome:
    try:
        return future.result()
    except Exception:
        # Recording failed (the database went away, say): the claim stands
        # until its lease runs out, then a later sweep tries again.
        log.exception("a message could not be recorded; it will be tried again after its lease")
        return Outcome.RETRYING


def wake_dispatcher() -> None:
    """Send what was just committed, from this process, now. Call it after the commit.

    Does nothing when DISPATCH_AFTER_COMMIT is off (the test suite, which
    sweeps explicitly). Never raises: the caller's work is already committed,
    and a message that cannot go now is still delivered by the next sweep.
    """
    app = current_app._get_current_object()
    if not app.config["DISPATCH_AFTER_COMMIT"]:
        return
    try:
        _dispatcher_for(app).wake()
    except Exception:
        log.exception("could not start the message dispatcher; messages wait for the next sweep")


def stop_dispatcher(app: Flask) -> None:
    """Stop this process's dispatcher, letting sends in progress finish (tests, shutdown)."""
    dispatcher = app.extensions.pop(_EXTENSION_KEY, None)
    if dispatcher is not None:
        dispatcher.stop()


def _dispatcher_for(app: Flask) -> Dispatcher:
    with _starting:
        dispatcher = app.extensions.get(_EXTENSION_KEY)
        # After a fork (gunicorn --preload) the child has the object but not its threads.
        if dispatcher is None or not dispatcher.running_here():
            dispatcher = Dispatcher(app)
            app.extensions[_EXTENSION_KEY] = dispatcher
        return dispatcher


def _send_in_context(app: Flask, backends: dict[str, Backend], policy: RetryPolicy, claim: Claim) -> Outcome:
    with app.app_context():
        return send_claimed(claim, backends, policy)


class Dispatcher:
    """One per process: a coordinating thread that claims due messages for a pool of senders."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._backends = backends_from_config(app.config)
        self._policy = RetryPolicy.from_config(app.config)
        self._workers = app.config["MESSAGE_SEND_WORKERS"]
        self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="responder-send")
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._busy = 0  # claims handed to the pool and not yet finished
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="responder-dispatcher", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def running_here(self) -> bool:
        return self._pid == os.getpid() and self._thread.is_alive()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join()
        self._pool.shutdown(wait=True)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                timeout = self._hand_out_due_messages()
            except Exception:
                log.exception("message dispatcher pass failed; trying again shortly")
                timeout = _PAUSE_AFTER_ERROR_SECONDS
            self._wake.wait(timeout)
            self._wake.clear()

    def _hand_out_due_messages(self) -> float | None:
        """Give due messages to idle senders, texts first; return seconds until the next retry."""
        # Emails start once every text has a sender running: building and
        # sending them takes the same interpreter, and would slow the texts.
        texts_started = self._hand_out(Channel.SMS)
        give_up_at = time.monotonic() + _TEXTS_HEAD_START_SECONDS
        for started in texts_started:
            started.wait(max(give_up_at - time.monotonic(), 0))
        self._hand_out(None)
        with self._app.app_context():
            retry_at = next_retry_at()
        if retry_at is None:
            return None
        return max((as_utc(retry_at) - now_utc()).total_seconds(), 0.0)

    def _hand_out(self, channel: str | None) -> list[threading.Event]:
        """Claim due messages (of ``channel``, or any) for idle senders; an event per claim, set on start."""
        with self._lock:
            idle = self._workers - self._busy
        if idle <= 0:
            return []
        with self._app.app_context():
            claims = claim_messages(due_message_ids(limit=idle, channel=channel), self._policy)
        with self._lock:
            self._busy += len(claims)
        started = [threading.Event() for _ in claims]
        for claim, event in zip(claims, started, strict=True):
            self._pool.submit(self._send, claim, event)
        return started

    def _send(self, claim: Claim, started: threading.Event) -> None:
        started.set()
        try:
            _send_in_context(self._app, self._backends, self._policy, claim)
        except Exception:
            log.exception("message %s: recording the send failed", claim.message.id)
        finally:
            with self._lock:
                self._busy -= 1
            # A sender is free (more may be due) or a retry was scheduled: look again.
            self._wake.set()
