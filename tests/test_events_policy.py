"""EventBridge's target retry policy, a pure `RetryPolicy` of the engine's vocabulary.

AWS: by default EventBridge retries a target for 24 hours and up to 185 times, with exponential
backoff; a target's RetryPolicy lowers MaximumRetryAttempts (0-185) and MaximumEventAgeInSeconds
(60-86400); a delivery that cannot succeed (no such target, no permission, a refused message) is
not retried. Sluice's backoff: 1 s doubling to 8 minutes, so the two defaults meet (no jitter).
"""

from __future__ import annotations

import pytest

from sluice.engine.policy import GiveUp, Retry, RetryPolicy
from sluice.services.delivery import ACCESS_DENIED, FIFO_NOT_ALLOWED, INVALID, NOT_FOUND, TOO_LARGE
from sluice.services.events.retry import (
    AGE_EXHAUSTED,
    DEFAULT_MAX_AGE,
    DEFAULT_MAX_RETRIES,
    ERROR_CODES,
    RETRIES_EXHAUSTED,
    TargetRetryPolicy,
)


def run_failures(policy: RetryPolicy, error: str = "InternalError") -> tuple[int, str | None, list[float]]:
    """An event whose every attempt fails at once: (attempts, the GiveUp reason, start times)."""
    t, starts = 0.0, []
    while True:
        starts.append(t)
        decision = policy.decide(len(starts), t, error)
        if isinstance(decision, GiveUp):
            return len(starts), decision.reason, starts
        t += decision.delay


def test_defaults_are_awss() -> None:
    assert (DEFAULT_MAX_RETRIES, DEFAULT_MAX_AGE) == (185, 86_400.0)
    assert TargetRetryPolicy.of(None) == TargetRetryPolicy.of({}) == TargetRetryPolicy()


def test_backoff_doubles_from_one_second_to_eight_minutes() -> None:
    policy = TargetRetryPolicy()
    assert [policy.delay(n) for n in (1, 2, 3, 9, 10, 100, 185)] == [1, 2, 4, 256, 480, 480, 480]
    assert [policy.decide(n, 0.0, "InternalError") for n in (1, 2, 3, 4)] == [Retry(1), Retry(2), Retry(4), Retry(8)]


def test_default_policy_retries_185_times_in_about_24_hours() -> None:
    attempts, reason, starts = run_failures(TargetRetryPolicy())
    assert (attempts, reason) == (186, RETRIES_EXHAUSTED)  # the first attempt and 185 retries
    assert starts[-1] == pytest.approx(84_991)  # 23.6 h: the retry budget runs out before the age budget
    assert all(b - a <= 480 for a, b in zip(starts, starts[1:], strict=False))


def test_maximum_retry_attempts() -> None:
    assert run_failures(TargetRetryPolicy.of({"MaximumRetryAttempts": 0}))[:2] == (1, RETRIES_EXHAUSTED)
    custom = TargetRetryPolicy.of({"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60})
    assert custom.decide(1, 0.0, "InternalError") == Retry(1)
    assert custom.decide(2, 1.0, "InternalError") == Retry(2)
    assert custom.decide(3, 3.0, "InternalError") == GiveUp(RETRIES_EXHAUSTED)
    assert run_failures(custom)[:2] == (3, RETRIES_EXHAUSTED)


def test_maximum_event_age_looks_ahead() -> None:
    """The event is given up when the next attempt could not start within its age budget."""
    policy = TargetRetryPolicy()
    assert policy.decide(5, 86_384.0, "InternalError") == Retry(16)  # starts at exactly 24 h
    assert policy.decide(5, 86_399.0, "InternalError") == GiveUp(AGE_EXHAUSTED)
    attempts, reason, starts = run_failures(TargetRetryPolicy.of({"MaximumEventAgeInSeconds": 60}))
    assert (attempts, reason, starts) == (6, AGE_EXHAUSTED, [0, 1, 3, 7, 15, 31])


@pytest.mark.parametrize("error", [NOT_FOUND, ACCESS_DENIED, TOO_LARGE, FIFO_NOT_ALLOWED, INVALID])
def test_errors_retrying_cannot_fix_are_not_retried(error: str) -> None:
    assert TargetRetryPolicy().decide(1, 0.0, error) == GiveUp(None)  # straight to the dead-letter queue
    assert error in ERROR_CODES


@pytest.mark.parametrize("error", ["InternalError", "Throttled", "Unavailable", None])
def test_other_errors_are_retried(error: str | None) -> None:
    assert TargetRetryPolicy().decide(1, 0.0, error) == Retry(1)
