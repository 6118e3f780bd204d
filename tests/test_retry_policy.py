"""The async retry policy against AWS's documented and measured behaviour (aws-reference §2)."""

from __future__ import annotations

import pytest

from sluice.engine.policy import (
    ESM_BACKOFF,
    EVENT_AGE_EXCEEDED,
    RESTART_BACKOFF,
    RETRIES_EXHAUSTED,
    Backoff,
    GiveUp,
    LambdaAsyncRetry,
    Retry,
    RetryPolicy,
    expired,
    lambda_throttle,
)


def run_failures(max_retries: int, max_age: float, duration: float = 1.0) -> tuple[int, str, list[float]]:
    """Simulate an event whose every attempt fails after `duration` s: (attempts, condition, start times)."""
    t = 0.0
    starts = []
    attempts = 0
    while True:
        starts.append(t)
        t += duration
        attempts += 1
        decision = LambdaAsyncRetry(max_retries, max_age).decide(attempts, t)
        if isinstance(decision, GiveUp):
            assert decision.reason is not None
            return attempts, decision.reason, starts
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
    assert lambda_throttle(21600).decide(throttles, 0.0) == Retry(delay)


def test_throttle_backoff_stops_at_max_age() -> None:
    assert lambda_throttle(60).decide(1, 59.5) == GiveUp(EVENT_AGE_EXCEEDED)


def test_lambda_retry_delays_follow_attempts_and_the_age_budget() -> None:
    policy = LambdaAsyncRetry(max_retries=2, max_age=21600)
    assert [policy.decide(n, 0.0) for n in (1, 2, 3)] == [Retry(60.0), Retry(120.0), GiveUp(RETRIES_EXHAUSTED)]
    assert LambdaAsyncRetry(max_retries=5).decide(4, 0.0) == Retry(120.0)  # 2 minutes apart from then on
    assert policy.decide(1, 21540.0) == Retry(60.0)  # the next attempt starts just within the budget
    assert policy.decide(1, 21540.5) == GiveUp(EVENT_AGE_EXCEEDED)


def test_event_age_expiry_is_strictly_past_the_maximum() -> None:
    assert not expired(60.0, 60.0)
    assert expired(60.001, 60.0)


@pytest.mark.parametrize("failures,delay", [(1, 1.0), (2, 2.0), (6, 32.0), (7, 60.0), (1000, 60.0)])
def test_esm_and_restart_backoff_double_from_one_second_to_a_minute_for_ever(failures: int, delay: float) -> None:
    assert ESM_BACKOFF.decide(failures) == Retry(delay)
    assert RESTART_BACKOFF.decide(failures) == Retry(delay)


def test_backoff_gives_up_only_for_its_age_budget_with_its_reason() -> None:
    policy = Backoff(initial=2.0, maximum=10.0, max_age=100.0, age_reason="MaximumEventAgeInSeconds")
    assert [policy.decide(n) for n in (1, 2, 3, 4)] == [Retry(2.0), Retry(4.0), Retry(8.0), Retry(10.0)]
    assert policy.decide(3, age=92.0) == Retry(8.0)
    assert policy.decide(3, age=92.5) == GiveUp("MaximumEventAgeInSeconds")


def test_every_policy_speaks_the_one_protocol() -> None:
    policies: list[RetryPolicy] = [LambdaAsyncRetry(), lambda_throttle(60.0), ESM_BACKOFF, RESTART_BACKOFF]
    for policy in policies:
        assert isinstance(policy.decide(1, 0.0, None), Retry | GiveUp)
