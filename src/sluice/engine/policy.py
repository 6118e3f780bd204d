"""Lambda's asynchronous retry rules as explicit policies (aws-reference §2).

Function errors retry after 1 minute, then 2, up to MaximumRetryAttempts. Throttles and system
errors back off exponentially from 1 s to 5 min without using up attempts. The event-age check
looks ahead: if the next attempt could not start within MaximumEventAgeInSeconds, the event fails
now with EventAgeExceeded (real AWS, max age 60 s: one attempt, then EventAgeExceeded).
"""

from __future__ import annotations

from dataclasses import dataclass

RETRIES_EXHAUSTED = "RetriesExhausted"
EVENT_AGE_EXCEEDED = "EventAgeExceeded"
ZERO_RESERVED_CONCURRENCY = "ZeroReservedConcurrency"
SUCCESS = "Success"


@dataclass(frozen=True)
class Retry:
    delay: float  # AWS-seconds


@dataclass(frozen=True)
class Fail:
    condition: str


@dataclass(frozen=True)
class RetryPolicy:
    function_error_delays: tuple[float, ...] = (60.0, 120.0)
    throttle_initial: float = 1.0
    throttle_max: float = 300.0

    def after_function_error(self, attempts: int, max_retries: int, age: float, max_age: float) -> Retry | Fail:
        """`attempts` made so far (>= 1); `age` in AWS-seconds since the event was queued."""
        if attempts > max_retries:
            return Fail(RETRIES_EXHAUSTED)
        delay = self.function_error_delays[min(attempts, len(self.function_error_delays)) - 1]
        if age + delay > max_age:
            return Fail(EVENT_AGE_EXCEEDED)
        return Retry(delay)

    def after_throttle(self, throttles: int, age: float, max_age: float) -> Retry | Fail:
        """`throttles` so far (>= 1); these do not use up retry attempts."""
        delay = min(self.throttle_max, self.throttle_initial * 2 ** (throttles - 1))
        if age + delay > max_age:
            return Fail(EVENT_AGE_EXCEEDED)
        return Retry(delay)

    @staticmethod
    def expired(age: float, max_age: float) -> bool:
        return age > max_age
