"""SNS's delivery retry policies, as the engine's `RetryPolicy` (decide -> Retry | GiveUp), against
AWS's documented phases ("Amazon SNS message delivery retries")."""

from __future__ import annotations

from typing import Any

import pytest

from sluice.engine.policy import EVENT_AGE_EXCEEDED, RETRIES_EXHAUSTED, GiveUp, Retry, RetryPolicy
from sluice.services.sns.retry import (
    AWS_MANAGED,
    BACKOFF_FUNCTIONS,
    CLIENT_ERROR,
    HTTP_DEFAULT,
    HTTP_MESSAGE_LIFETIME,
    DeliveryRetry,
    http_delivery,
    http_retry,
)


def delays(policy: RetryPolicy, n: int, age: float = 0.0) -> list[float | None]:
    """The delay `decide` gives after each of the first n failures (None: it gives up)."""
    out: list[float | None] = []
    for attempt in range(1, n + 1):
        decision = policy.decide(attempt, age)
        out.append(decision.delay if isinstance(decision, Retry) else None)
    return out


def test_the_policies_are_the_engines_kind() -> None:
    policy: RetryPolicy = HTTP_DEFAULT  # a structural check: mypy fails this file otherwise
    assert policy.decide(1) == Retry(20.0)


def test_http_default_retry_policy_is_three_retries_twenty_seconds_apart() -> None:
    assert delays(HTTP_DEFAULT, 4) == [20, 20, 20, None]
    assert HTTP_DEFAULT.decide(4) == GiveUp(RETRIES_EXHAUSTED)
    assert delays(DeliveryRetry(min_delay=20, max_delay=40), 4) == [20, 30, 40, None]  # AWS's own example


def test_http_retry_phases_and_overrides() -> None:
    policy = DeliveryRetry(min_delay=1, max_delay=10, num_retries=6, no_delay_retries=1, min_delay_retries=1,
                           max_delay_retries=1)
    assert delays(policy, 7) == [0, 1, 1, 5.5, 10, 10, None]
    topic: dict[str, dict[str, Any]] = {
        "http": {"defaultHealthyRetryPolicy": {"numRetries": 5, "minDelayTarget": 2, "maxDelayTarget": 2}}}
    sub = {"healthyRetryPolicy": {"numRetries": 1}}
    assert http_delivery(topic, sub).retry.num_retries == 1
    assert http_delivery(topic, sub).retry.min_delay == 2
    topic["http"]["disableSubscriptionOverrides"] = True
    assert http_delivery(topic, sub).retry.num_retries == 5
    assert http_delivery(None, None).retry == HTTP_DEFAULT


def test_aws_managed_retry_policy_for_sqs_and_lambda() -> None:
    first = delays(AWS_MANAGED, 16)
    assert first[:5] == [0, 0, 0, 1, 1]  # 3 immediate, 2 one second apart
    backoff = [d for d in first[5:15] if d is not None]
    assert len(backoff) == 10  # no give-up before the last retry
    assert backoff[0] == 1 and backoff[-1] == 20 and backoff == sorted(backoff)  # 10 backing off 1 -> 20 s
    assert first[15] == 20
    assert AWS_MANAGED.decide(100_015) == Retry(20.0)
    assert AWS_MANAGED.decide(100_016) == GiveUp(RETRIES_EXHAUSTED)
    # No age budget: a message waits as long as its ~23 days of retries take.
    assert AWS_MANAGED.decide(100_015, age=30 * 86_400.0) == Retry(20.0)


@pytest.mark.parametrize("backoff", BACKOFF_FUNCTIONS)
def test_each_backoff_function_goes_from_the_minimum_to_the_maximum(backoff: str) -> None:
    policy = DeliveryRetry(min_delay=2, max_delay=40, num_retries=8, backoff=backoff)
    curve = delays(policy, 9)
    assert curve[0] == 2 and curve[7] == 40 and curve[8] is None
    steps = [d for d in curve if d is not None]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)  # strictly growing


def test_backoff_functions_differ_in_shape() -> None:
    middle = {b: delays(DeliveryRetry(min_delay=1, max_delay=101, num_retries=3, backoff=b), 3)[1]
              for b in BACKOFF_FUNCTIONS}
    assert middle["linear"] == 51  # min + (max - min) * t, t = 1/2
    assert middle["arithmetic"] == 26  # min + (max - min) * t²
    assert middle["geometric"] == pytest.approx(101 ** 0.5)  # min * (max / min) ** t
    assert middle["exponential"] == pytest.approx(1 + 100 * 31 / 1023)  # 2^(10t) - 1 over 2^10 - 1


def test_a_client_side_error_is_not_retried() -> None:
    assert HTTP_DEFAULT.decide(1, error=CLIENT_ERROR) == GiveUp(CLIENT_ERROR)
    assert AWS_MANAGED.decide(1, error=CLIENT_ERROR) == GiveUp(CLIENT_ERROR)
    assert HTTP_DEFAULT.decide(1, error="ConnectionError") == Retry(20.0)  # server-side: retried


def test_an_http_message_lives_at_most_an_hour() -> None:
    policy = http_retry({"numRetries": 100, "minDelayTarget": 30, "maxDelayTarget": 30})
    assert policy.max_age == HTTP_MESSAGE_LIFETIME
    assert policy.decide(5, age=HTTP_MESSAGE_LIFETIME - 30) == Retry(30.0)  # starts just within the hour
    assert policy.decide(5, age=HTTP_MESSAGE_LIFETIME - 29) == GiveUp(EVENT_AGE_EXCEEDED)


def test_the_stored_policy_round_trips() -> None:
    policy = DeliveryRetry(min_delay=3, max_delay=30, num_retries=7, no_delay_retries=1, min_delay_retries=2,
                           max_delay_retries=1, backoff="geometric")
    assert http_retry(policy.as_json()) == DeliveryRetry(**{**policy.__dict__, "max_age": HTTP_MESSAGE_LIFETIME})
    assert http_retry(None) == HTTP_DEFAULT
