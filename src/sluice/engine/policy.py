"""Retry policies: one vocabulary for every "try again later, or give up?" in Sluice.

A policy is a small, pure, frozen object with one method,

    decide(attempt, age=0.0, error=None) -> Retry(delay) | GiveUp(reason)

- `attempt`: how many attempts (or throttles, or failures) there have been so far, >= 1: the
  decision is about what follows attempt number `attempt`.
- `age`: how old the work is, in AWS-seconds (the clock's `engine_elapsed`), for age budgets.
- `error`: the kind of failure, for policies that give up at once on some errors.

`Retry.delay` is in AWS-seconds; the caller stores `clock.now() + clock.engine_seconds(delay)` as
the row's due time, and the engine's dispatcher runs it then. Policies never look at a clock.

The policies here: Lambda's asynchronous retries (aws-reference §2), exponential `Backoff`
(Lambda throttles and system errors, SQS event source mapping errors, a crashed engine loop).
SNS delivery policies and EventBridge target retries implement the same method in their services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

RETRIES_EXHAUSTED = "RetriesExhausted"
EVENT_AGE_EXCEEDED = "EventAgeExceeded"
ZERO_RESERVED_CONCURRENCY = "ZeroReservedConcurrency"
SUCCESS = "Success"

DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_AGE = 21_600.0  # six hours, Lambda's default MaximumEventAgeInSeconds


@dataclass(frozen=True)
class Retry:
    """A policy's decision to try again after `delay`."""

    delay: float  # AWS-seconds


@dataclass(frozen=True)
class GiveUp:
    """A policy's decision to stop trying."""

    reason: str | None = None  # e.g. RetriesExhausted, EventAgeExceeded; None: not retried at all


Decision = Retry | GiveUp


class RetryPolicy(Protocol):
    def decide(self, attempt: int, age: float = 0.0, error: str | None = None) -> Decision:
        """What follows attempt number `attempt` (>= 1) of work `age` AWS-seconds old."""
        ...


def _within_age(delay: float, age: float, max_age: float | None, reason: str) -> Decision:
    """Retry after `delay`, unless the next attempt could not start within the age budget."""
    if max_age is not None and age + delay > max_age:
        return GiveUp(reason)
    return Retry(delay)


@dataclass(frozen=True)
class LambdaAsyncRetry:
    """Lambda's retries of a function error: after 1 minute, then 2, up to MaximumRetryAttempts.

    The event-age check looks ahead: if the next attempt could not start within
    MaximumEventAgeInSeconds, the event fails now with EventAgeExceeded (measured on AWS: max
    age 60 s -> one attempt, then EventAgeExceeded)."""

    max_retries: int = DEFAULT_MAX_RETRIES
    max_age: float = DEFAULT_MAX_AGE
    delays: tuple[float, ...] = (60.0, 120.0)

    def decide(self, attempt: int, age: float = 0.0, error: str | None = None) -> Decision:
        if attempt > self.max_retries:
            return GiveUp(RETRIES_EXHAUSTED)
        delay = self.delays[min(attempt, len(self.delays)) - 1]
        return _within_age(delay, age, self.max_age, EVENT_AGE_EXCEEDED)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: `initial` after the first failure, doubling up to `maximum`, for as
    many attempts as it takes (attempts are not used up), within an optional age budget."""

    initial: float = 1.0
    maximum: float = 300.0
    max_age: float | None = None
    age_reason: str = EVENT_AGE_EXCEEDED

    def decide(self, attempt: int, age: float = 0.0, error: str | None = None) -> Decision:
        delay = min(self.maximum, self.initial * 2 ** (max(1, attempt) - 1))
        return _within_age(delay, age, self.max_age, self.age_reason)


def lambda_throttle(max_age: float) -> Backoff:
    """Lambda's backoff for throttles and system errors: 1 s doubling to 5 minutes, within the
    event's MaximumEventAgeInSeconds; these retries do not use up MaximumRetryAttempts."""
    return Backoff(1.0, 300.0, max_age)


# An SQS event source mapping whose poll or invoke fails (queue deleted, function gone): 1 s
# doubling to a minute, for ever (the mapping keeps trying until it is deleted or fixed).
ESM_BACKOFF = Backoff(1.0, 60.0)

# An engine loop that crashed is restarted after 1 s, doubling to a minute.
RESTART_BACKOFF = Backoff(1.0, 60.0)


def expired(age: float, max_age: float) -> bool:
    """Whether an event `age` AWS-seconds old is past its MaximumEventAgeInSeconds."""
    return age > max_age
