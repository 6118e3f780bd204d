"""S3's notification retry policy: pure decisions, in AWS-seconds (no clock, no server)."""

from __future__ import annotations

import dataclasses

import pytest

from sluice.engine.policy import EVENT_AGE_EXCEEDED, GiveUp, Retry
from sluice.services.s3.outbox import MAX_EVENT_AGE, NotificationRetry


def test_failed_deliveries_back_off_from_one_second_doubling_to_five_minutes() -> None:
    policy = NotificationRetry()
    delays = [policy.decide(attempt) for attempt in range(1, 12)]
    assert delays == [Retry(1.0), Retry(2.0), Retry(4.0), Retry(8.0), Retry(16.0), Retry(32.0), Retry(64.0),
                      Retry(128.0), Retry(256.0), Retry(300.0), Retry(300.0)]
    assert policy.decide(1000) == Retry(300.0)  # attempts are never used up


def test_an_event_older_than_a_day_is_given_up_at_its_next_failure() -> None:
    policy = NotificationRetry()
    assert MAX_EVENT_AGE == 86_400.0
    assert policy.decide(290, age=MAX_EVENT_AGE) == Retry(300.0)  # a day old exactly: still tried
    assert policy.decide(290, age=MAX_EVENT_AGE + 0.001) == GiveUp(EVENT_AGE_EXCEEDED)
    assert policy.decide(1, age=10 * MAX_EVENT_AGE, error="NotFound") == GiveUp(EVENT_AGE_EXCEEDED)


def test_the_policy_is_a_value() -> None:
    policy = NotificationRetry(initial=2.0, maximum=10.0, max_age=60.0)
    assert [policy.decide(n) for n in (1, 2, 3, 4)] == [Retry(2.0), Retry(4.0), Retry(8.0), Retry(10.0)]
    assert policy.decide(1, age=61.0) == GiveUp(EVENT_AGE_EXCEEDED)
    assert policy == NotificationRetry(2.0, 10.0, 60.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.initial = 5.0  # type: ignore[misc]
