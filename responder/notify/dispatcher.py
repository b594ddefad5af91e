"""Sending what the outbox holds: one asyncio event loop per process, started by the first commit that needs it.

Three ways in:

* :func:`wake_dispatcher` - called after every commit that queued messages
  (responder.unit_of_work), so no service has to remember it, with the texts
  that commit claimed (responder.notify.handover), which start at once. The first call
  in a process starts its dispatcher: a thread running an event loop, with
  one database thread beside it; nothing starts at import or in
  ``create_app``. The dispatcher also wakes itself when a retry falls due or
  a lease runs out, and (in the scheduler process, ``poll_seconds``) every
  OUTBOX_SWEEP_SECONDS for messages another process left behind.
* :func:`sweep_outbox` - one synchronous pass over everything due, each
  message tried at most once: for the ``flask outbox sweep`` command and tests.
* :func:`stop_dispatcher` - for shutdown and tests.

On the hot path, between the commit and the provider, there is no write: the
texts a commit queued were claimed by the flush that wrote them, and start as
the dispatcher receives them. Anything else is claimed first, in one write
that also marks the messages handed over (responder.notify.delivery). Texts
are claimed and started before emails; up to MESSAGE_SEND_WORKERS
requests are in flight at once, over one connection pool per provider.
Outcomes are written in batches by the database thread; when the database
does not answer, they are kept and written again until it does, so a message
the provider accepted is never sent twice because its id could not be
recorded. A process that dies holding claims leaves leases that run out after
MESSAGE_LEASE_SECONDS; whoever takes such a message over asks the provider
first (responder.notify.backends, ``find_sent``).

Any number of dispatchers and sweeps may run at once, in any processes: each
message is claimed by one sender at a time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from flask import Flask, current_app

from responder.clock import as_utc, now_utc
from responder.database import is_unavailable
from responder.models import Channel
from responder.notify.backends import (
    Backend,
    DeliveryError,
    OutcomeUnknown,
    backends_from_config,
    check_backend_settings,
)
from responder.notify.delivery import (
    Claim,
    Outcome,
    Result,
    RetryPolicy,
    claim_due,
    next_due_at,
    record_outcomes,
)
from responder.notify.handover import HandedOver
from responder.unit_of_work import unit_of_work

log = logging.getLogger(__name__)

_EXTENSION_KEY = "responder.dispatcher"
_starting = threading.Lock()
# After an unexpected error in a pass (the database down, say), look again this soon.
_PAUSE_AFTER_ERROR_SECONDS = 2.0
# Outcomes that could not be written are tried again after this, doubling to the cap.
_RECORD_RETRY_SECONDS = (0.5, 10.0)
# A sweep gives up writing outcomes after this many tries (leases then run out, and the next
# sender asks the provider); a dispatcher never gives up.
_SWEEP_RECORD_TRIES = 4
# A backend that does not answer even its own timeout is abandoned after this much more.
_BACKEND_GRACE_SECONDS = 5.0

T = TypeVar("T")


@dataclass
class SweepReport:
    """How one sweep went, message by message."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0

    def add(self, result: Result) -> None:
        if result == Result.SENT:
            self.sent += 1
        elif result == Result.FAILED:
            self.failed += 1
        else:
            self.retrying += 1

    def __str__(self) -> str:
        return (
            f"{self.sent} sent, {self.retrying} to retry later, {self.failed} failed, "
            f"{self.skipped} skipped (not due, or taken by another sender)"
        )


class Sending:
    """What one event loop needs to send: the providers, the database thread and the outcomes to write."""

    def __init__(self, app: Flask, *, keep_trying_to_record: bool) -> None:
        self.app = app
        self.policy = RetryPolicy.from_config(app.config)
        self.workers = app.config["MESSAGE_SEND_WORKERS"]
        self.timeout = float(app.config["MESSAGE_SEND_TIMEOUT_SECONDS"])
        self.backends: dict[str, Backend] = backends_from_config(app.config)
        self.report = SweepReport()
        self.in_flight: set[asyncio.Task] = set()
        self.slot_freed = asyncio.Event()
        # Requests at the providers at once, however the sends were started (claimed here or handed over).
        self._requests = asyncio.Semaphore(self.workers)
        # A send must start this long before its lease runs out, to finish (or time out) inside it.
        self._margin = timedelta(seconds=self.timeout + _BACKEND_GRACE_SECONDS)
        self._database = ThreadPoolExecutor(1, thread_name_prefix="responder-sender-db")
        self._unrecorded: list[Outcome] = []
        self._recording = False  # a batch is being written (or waits to be written again)
        self._outcome_ready = asyncio.Event()
        self._keep_trying = keep_trying_to_record
        self._recorder = asyncio.create_task(self._record_outcomes(), name="responder-recorder")

    # --- the database thread -------------------------------------------------------

    async def in_database(self, work: Callable[..., T], *args: Any) -> T:
        """Run ``work`` as one unit of work on the database thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._database, partial(_unit_of_work, self.app, work, *args))

    # --- claiming and sending ----------------------------------------------------------

    @property
    def free(self) -> int:
        return self.workers - len(self.in_flight)

    async def hand_out(self, exclude: Iterable[int] = ()) -> list[int]:
        """Claim due messages for the free senders, texts first; start them. Returns the ids claimed."""
        claimed: list[int] = []
        exclude = set(exclude)
        for channel in (Channel.SMS, None):
            claims = await self.in_database(
                claim_due, self.free, self.policy, channel, exclude | set(claimed)
            )
            start_by = now_utc() + timedelta(seconds=self.policy.lease_seconds) - self._margin
            for claim in claims:
                self._start(claim, start_by)
            claimed += [claim.message.id for claim in claims]
        return claimed

    def start_handed_over(self, handed: Iterable[HandedOver]) -> None:
        """Start texts a commit claimed for this sender (see :meth:`_deliver` for their lease)."""
        for text in handed:
            self._start(text.claim, as_utc(text.lease_until) - self._margin)

    def _start(self, claim: Claim, start_by: datetime) -> None:
        task = asyncio.create_task(self._deliver(claim, start_by), name=f"responder-send-{claim.message.id}")
        self.in_flight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self.in_flight.discard(task)
        self.slot_freed.set()

    async def _deliver(self, claim: Claim, start_by: datetime) -> None:
        """Send once a request slot is free, if the claim's lease still covers the send.

        A send that could not start in time is left to run out its lease:
        whoever takes the message over asks the provider first, so it is never
        sent twice.
        """
        async with self._requests:
            if now_utc() > start_by:
                log.warning(
                    "message %s could not start within its lease; it is taken over later", claim.message.id
                )
                return
            outcome = await self._attempt(claim)
        self.report.add(outcome.result)
        self._unrecorded.append(outcome)
        self._outcome_ready.set()

    async def _attempt(self, claim: Claim) -> Outcome:
        """Ask the provider first if an earlier attempt may have reached it; else send."""
        message = claim.message
        backend = self.backends[message.channel]
        name = backend.provider_name
        try:
            if claim.unknown_since is not None:
                found = await self._bounded(backend.find_sent(message, claim.unknown_since))
                if found is not None:
                    return Outcome(claim, Result.SENT, name, receipt=found, found_at_provider=True)
            receipt = await self._bounded(backend.send(message))
        except DeliveryError as error:
            if isinstance(error, OutcomeUnknown):
                result = Result.UNKNOWN
            else:
                result = Result.FAILED if error.permanent else Result.RETRY
            return Outcome(claim, result, name, reason=error.reason, provider_trouble=error.provider_trouble)
        except Exception as error:
            # A bug, here or in a backend: the request may have gone, so it is treated as unknown.
            log.exception("sending message %s failed unexpectedly", message.id)
            reason = f"unexpected error ({type(error).__name__}); see the logs"
            return Outcome(claim, Result.UNKNOWN, name, reason=reason)
        return Outcome(claim, Result.SENT, name, receipt=receipt)

    async def _bounded(self, call):
        try:
            return await asyncio.wait_for(call, self.timeout + _BACKEND_GRACE_SECONDS)
        except TimeoutError:
            raise OutcomeUnknown(f"no answer within {self.timeout:g} s") from None

    # --- recording ------------------------------------------------------------------

    async def _record_outcomes(self) -> None:
        pause, cap = _RECORD_RETRY_SECONDS
        failures = 0
        while True:
            await self._outcome_ready.wait()
            self._outcome_ready.clear()
            batch, self._unrecorded = self._unrecorded, []
            if not batch:
                continue
            self._recording = True
            try:
                await self.in_database(record_outcomes, batch, self.policy)
                failures = 0
                self._recording = False
            except Exception as error:
                failures += 1
                if self._keep_trying or failures < _SWEEP_RECORD_TRIES:
                    self._unrecorded = batch + self._unrecorded
                    level = logging.WARNING if is_unavailable(error) else logging.ERROR
                    log.log(
                        level,
                        "could not record %s message outcome(s) (%s); trying again",
                        len(batch),
                        type(error).__name__,
                        exc_info=not is_unavailable(error),
                    )
                    await asyncio.sleep(min(pause * 2 ** (failures - 1), cap))
                    self._outcome_ready.set()
                else:
                    self._recording = False
                    log.error(
                        "gave up recording %s message outcome(s); their leases run out and the provider is asked",
                        len(batch),
                    )

    async def settled(self) -> None:
        """Wait until every send in flight has finished and its outcome is written (or given up)."""
        while self.in_flight:
            await asyncio.wait(set(self.in_flight))
        while self._unrecorded or self._recording:
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        self._recorder.cancel()
        for backend in self.backends.values():
            try:
                await backend.close()
            except Exception:
                log.warning("closing a message backend failed", exc_info=True)
        self._database.shutdown(wait=True)


def _unit_of_work(app: Flask, work: Callable[..., T], *args: Any) -> T:
    with app.app_context(), unit_of_work():
        return work(*args)


# --- one pass, synchronously ----------------------------------------------------------


def sweep_outbox(app: Flask | None = None) -> SweepReport:
    """Send every message that is due now, concurrently, and wait until each attempt is recorded.

    "Due" means pending and past its retry time, or claimed by a sender whose
    lease has run out (it crashed): those are looked up at the provider before
    being sent again. One pass: each message is tried once, and one that fails
    and is due again at once waits for the next sweep. Safe to run in several
    processes at once. Needs no app context (pass the app). Raises
    ``ConfigurationError`` when a backend is misconfigured.
    """
    app = app or current_app._get_current_object()
    check_backend_settings(app.config)
    return asyncio.run(_sweep(app))


async def _sweep(app: Flask) -> SweepReport:
    sending = Sending(app, keep_trying_to_record=False)
    tried: set[int] = set()
    try:
        while True:
            claimed = await sending.hand_out(exclude=tried) if sending.free > 0 else []
            tried.update(claimed)
            if sending.in_flight and (not claimed or sending.free <= 0):
                sending.slot_freed.clear()
                await sending.slot_freed.wait()
            elif not sending.in_flight and not claimed:
                # Recording may have queued more (an email for a text that failed): one more look.
                await sending.settled()
                more = await sending.hand_out(exclude=tried)
                if not more:
                    break
                tried.update(more)
    finally:
        await sending.settled()
        await sending.close()
    return sending.report


# --- the dispatcher: one per process, woken by commits ---------------------------------


def wake_dispatcher(
    app: Flask | None = None, handed_over: list[HandedOver] | None = None, *, claim: bool = True
) -> None:
    """Send what was just committed, from this process, now (responder.unit_of_work calls it after commits).

    ``handed_over`` are the texts the commit claimed for this process's
    sender: they start first. ``claim`` says whether the commit queued
    anything else, for the sender to claim itself. Does nothing when DISPATCH_AFTER_COMMIT is off
    (the test suite, which sweeps explicitly). Never raises: the caller's
    work is already committed, and a message that cannot go now is still
    delivered by the next sweep (a claimed text once its lease runs out).
    """
    app = app or current_app._get_current_object()
    if not app.config["DISPATCH_AFTER_COMMIT"]:
        return
    try:
        _dispatcher_for(app).wake(handed_over, claim=claim)
    except Exception:
        log.exception("could not start the message dispatcher; messages wait for the next sweep")


def start_dispatcher(app: Flask, *, poll_seconds: float | None = None) -> Dispatcher:
    """This process's dispatcher, started if need be (the scheduler process starts one that polls)."""
    return _dispatcher_for(app, poll_seconds)


def dispatcher_running(app: Flask) -> bool:
    """Whether this process's dispatcher is running (a commit's texts can be handed to it)."""
    dispatcher = app.extensions.get(_EXTENSION_KEY)
    return dispatcher is not None and dispatcher.running_here()


def stop_dispatcher(app: Flask) -> None:
    """Stop this process's dispatcher, letting sends in progress finish and be recorded (tests, shutdown)."""
    dispatcher = app.extensions.pop(_EXTENSION_KEY, None)
    if dispatcher is not None:
        dispatcher.stop()


def _dispatcher_for(app: Flask, poll_seconds: float | None = None) -> Dispatcher:
    with _starting:
        dispatcher = app.extensions.get(_EXTENSION_KEY)
        # After a fork (gunicorn --preload) the child has the object but not its thread.
        if dispatcher is None or not dispatcher.running_here():
            dispatcher = Dispatcher(app, poll_seconds)
            app.extensions[_EXTENSION_KEY] = dispatcher
        elif poll_seconds is not None:
            dispatcher.poll_seconds = poll_seconds
        return dispatcher


class Dispatcher:
    """A thread running the sender's event loop until stopped."""

    def __init__(self, app: Flask, poll_seconds: float | None = None) -> None:
        self._app = app
        self.poll_seconds = poll_seconds
        self._pid = os.getpid()
        self._loop = asyncio.new_event_loop()
        self._wake: asyncio.Event | None = None
        self._sending: Sending | None = None
        self._stopping = False
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="responder-dispatcher", daemon=True)
        self._thread.start()
        self._ready.wait()

    def wake(self, handed_over: list[HandedOver] | None = None, *, claim: bool = True) -> None:
        if handed_over:
            # Before the wake-up, so these texts are under way before anything else is claimed.
            self._loop.call_soon_threadsafe(self._sending.start_handed_over, handed_over)
        if claim:
            self._loop.call_soon_threadsafe(self._wake.set)

    def running_here(self) -> bool:
        return self._pid == os.getpid() and self._thread.is_alive()

    def stop(self) -> None:
        def request_stop() -> None:
            self._stopping = True
            self._wake.set()

        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(request_stop)
            self._thread.join()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._wake = asyncio.Event()
        try:
            sending = self._sending = Sending(self._app, keep_trying_to_record=True)
        finally:
            self._ready.set()
        try:
            while not self._stopping:
                try:
                    await sending.hand_out()
                    timeout = await self._next_look(sending)
                except Exception as error:
                    level = logging.WARNING if is_unavailable(error) else logging.ERROR
                    log.log(level, "message dispatcher pass failed; trying again shortly", exc_info=True)
                    timeout = _PAUSE_AFTER_ERROR_SECONDS
                waiters = {
                    asyncio.ensure_future(self._wake.wait()),
                    asyncio.ensure_future(sending.slot_freed.wait()),
                }
                _, pending = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                for waiter in pending:
                    waiter.cancel()
                self._wake.clear()
                sending.slot_freed.clear()
            await sending.settled()
        finally:
            await sending.close()

    async def _next_look(self, sending: Sending) -> float | None:
        """Seconds until a retry or lease falls due (or the next poll), whichever is sooner."""
        due: datetime | None = await sending.in_database(next_due_at)
        waits = [] if due is None else [max((as_utc(due) - now_utc()).total_seconds(), 0.0)]
        if self.poll_seconds:
            waits.append(self.poll_seconds)
        return min(waits) if waits else None
