"""Pull the plugs: every alert is delivered once, through crashes, timeouts and database outages.

Each drill counts the texts the fake Twilio created, by recipient and text
(Twilio creates a message when the request arrives, whether or not its answer
gets back): none lost, none doubled. The time bounds are correctness limits,
set generously (a takeover waits for MESSAGE_LEASE_SECONDS), not speed figures.
"""

from __future__ import annotations

import threading
import time

import pytest

from .conftest import DEPUTY_PHONES, LEAD_PHONES, Stack

pytestmark = pytest.mark.slow

# A text a crash left unsent reaches its lead within this of the restart.
RESTART_BOUND_SECONDS = 30
# Everything recorded (nothing pending or being sent) within this of the fault's end.
SETTLE_BOUND_SECONDS = 60


def assert_each_texted_once(stack: Stack, numbers: set[str]) -> None:
    counts = stack.texts_to(numbers)
    lost = sorted(number for number, count in counts.items() if count == 0)
    doubled = {number: count for number, count in counts.items() if count > 1}
    assert not lost, f"{len(lost)} of {len(numbers)} never texted: {lost[:5]}"
    assert not doubled, f"{len(doubled)} texted more than once: {doubled}"
    assert stack.twilio.duplicates() == {}


def assert_all_recorded_sent(stack: Stack) -> None:
    states = stack.wait_until_settled(SETTLE_BOUND_SECONDS)
    assert set(states) <= {"sent", "delivered"}, f"messages not all sent: {states}"


def texts_begun(stack: Stack, numbers: set[str], at_least: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for count in stack.texts_to(numbers).values() if count) >= at_least:
            return
        time.sleep(0.02)
    raise AssertionError("the texts never started")


@pytest.mark.parametrize(
    ("provider_ms", "kill_after"),
    [(2000, 1.0), (200, 0.15)],
    ids=["provider-2s", "provider-200ms"],
)
def test_web_process_killed_mid_fan_out(stack, provider_ms, kill_after):
    stack.twilio.set_delay(provider_ms)
    stack.start_web()
    stack.start_scheduler()
    stack.open_incident()
    time.sleep(kill_after)
    stack.kill(stack.web)
    stack.start_web()
    restarted = time.monotonic()

    took = stack.wait_for_texts(LEAD_PHONES, timeout=RESTART_BOUND_SECONDS + 5)
    assert took is not None, "some leads were never texted"
    assert time.monotonic() - restarted <= RESTART_BOUND_SECONDS or took <= RESTART_BOUND_SECONDS
    assert_all_recorded_sent(stack)
    assert_each_texted_once(stack, LEAD_PHONES)


def test_provider_answering_after_the_send_timeout(stack):
    stack.twilio.set_delay(int((int(stack.env.get("MESSAGE_SEND_TIMEOUT_SECONDS", 10)) + 7) * 1000))
    stack.start_web()
    stack.start_scheduler()
    stack.open_incident()
    texts_begun(stack, LEAD_PHONES, at_least=len(LEAD_PHONES))
    time.sleep(12)  # past the send timeout: every text's outcome is unknown to Responder
    stack.twilio.set_delay(0)
    assert_all_recorded_sent(stack)
    assert_each_texted_once(stack, LEAD_PHONES)


def test_leading_scheduler_killed_mid_batch(stack):
    stack.twilio.set_delay(2000)
    stack.start_web()
    stack.open_incident()
    stack.wait_for_texts(LEAD_PHONES, timeout=30)
    stack.wait_until_settled(SETTLE_BOUND_SECONDS)
    leader = stack.start_scheduler()
    time.sleep(3)  # the first leads
    stack.start_scheduler()  # the standby
    assert stack.bring_escalations_forward() == len(DEPUTY_PHONES)
    texts_begun(stack, DEPUTY_PHONES, at_least=1)
    stack.kill(leader)

    took = stack.wait_for_texts(DEPUTY_PHONES, timeout=90)
    assert took is not None, "some deputies were never texted"
    assert_all_recorded_sent(stack)
    assert_each_texted_once(stack, DEPUTY_PHONES)
    assert_each_texted_once(stack, LEAD_PHONES)
    # Emails cannot be looked up: one interrupted mid-send may come twice, with the same Message-ID.
    for address, copies in stack.smtp_copies().items():
        assert len(set(copies)) == 1, f"{address} got different emails for one message: {copies}"


def test_database_stopped_for_40_seconds(stack):
    stack.twilio.set_delay(500)
    stack.start_web()
    stack.start_scheduler()
    stack.open_incident()
    texts_begun(stack, LEAD_PHONES, at_least=1)
    stack.cluster.stop()
    try:
        time.sleep(5)
        status, took, _ = stack.get("/healthz", timeout=10)
        assert status == 503 and took < 3
        status, _, _ = stack.get("/login")  # what needs no database still works
        assert status == 200
        time.sleep(35)
    finally:
        stack.cluster.start()
    assert_all_recorded_sent(stack)
    assert_each_texted_once(stack, LEAD_PHONES)


def test_database_frozen_for_40_seconds(stack):
    stack.twilio.set_delay(500)
    stack.start_web()
    stack.start_scheduler()
    stack.open_incident()
    texts_begun(stack, LEAD_PHONES, at_least=1)
    stack.cluster.freeze()
    try:
        for _ in range(3):
            status, took, _ = stack.get("/healthz", timeout=10)
            assert status == 503 and took < 2.5, f"/healthz took {took:.1f} s (status {status})"
            time.sleep(5)
        time.sleep(25)
    finally:
        stack.cluster.thaw()
    assert_all_recorded_sent(stack)
    assert_each_texted_once(stack, LEAD_PHONES)


def test_a_long_provider_outage(stack):
    stack.env.update(
        PROVIDER_DOWN_AFTER_SECONDS="15", MESSAGE_RETRY_BASE_SECONDS="1", MESSAGE_RETRY_MAX_SECONDS="4"
    )
    stack.twilio.fail_next(10**6, status=503)
    stack.start_web()
    stack.start_scheduler()
    stack.open_incident()
    degraded = threading.Event()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not degraded.is_set():
        status, _, body = stack.get("/healthz")
        if status == 503 and b"failing" in body:
            degraded.set()
        time.sleep(1)
    assert degraded.is_set(), "/healthz never said the SMS provider was failing"
    assert stack.texts_to(LEAD_PHONES) == dict.fromkeys(LEAD_PHONES, 0)
    stack.twilio.fail_next(0)
    took = stack.wait_for_texts(LEAD_PHONES, timeout=30)
    assert took is not None, "texts were given up during the outage"
    assert_all_recorded_sent(stack)
    assert_each_texted_once(stack, LEAD_PHONES)
    status, _, _ = stack.get("/healthz")
    assert status == 200
