"""The async retry policy against AWS's documented and measured behaviour (aws-reference §2)."""

from __future__ import annotations

import pytest

from sluice.engine.policy import EVENT_AGE_EXCEEDED, RETRIES_EXHAUSTED, Fail, Retry, RetryPolicy

policy = RetryPolicy()


def run_failures(max_retries: int, max_age: float, duration: float = 1.0) -> tuple[int, str, list[float]]:
    """Simulate an event whose every attempt fails after `duration` s: (attempts, condition, start times)."""
    t = 0.0
    starts = []
    attempts = 0
    while True:
        starts.append(t)
        t += duration
        attempts += 1
        decision = policy.after_function_error(attempts, max_retries, t, max_age)
        if isinstance(decision, Fail):
            return attempts, decision.condition, starts
        t += decision.delay


def test_default_three_attempts_one_then_two_minutes_apart() -> None:
    attempts, condition, starts = run_failures(2, 21600)
    assert (attempts, condition) == (3, RETRIES_EXHAUSTED)
    assert starts == [0.0, 61.0, 182.0]


def test_zero_retries_one_attempt() -> None:
    assert run_failures(0, 21600)[:2] == (1, RETRIES_EXHAUSTED)


def test_max_age_60_one_attempt_then_age_exceeded() -> None:
    # Measured on AWS: max age 60 s, 2 retries -> 1 attempt, condition EventAgeExceeded.
    assert run_failures(2, 60)[:2] == (1, EVENT_AGE_EXCEEDED)


def test_max_age_90_two_attempts() -> None:
    assert run_failures(2, 90)[:2] == (2, EVENT_AGE_EXCEEDED)


@pytest.mark.parametrize("throttles,delay", [(1, 1.0), (2, 2.0), (3, 4.0), (9, 256.0), (10, 300.0), (30, 300.0)])
def test_throttle_backoff_doubles_from_one_second_to_five_minutes(throttles: int, delay: float) -> None:
    assert policy.after_throttle(throttles, 0.0, 21600) == Retry(delay)


def test_throttle_backoff_stops_at_max_age() -> None:
    assert policy.after_throttle(1, 59.5, 60) == Fail(EVENT_AGE_EXCEEDED)
