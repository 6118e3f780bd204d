"""How EventBridge retries a target: a `RetryPolicy` of the engine's vocabulary (engine/policy.py).

AWS: "By default, EventBridge retries sending the event for 24 hours and up to 185 times with an
exponential back off and jitter". A target's `RetryPolicy` sets `MaximumRetryAttempts` (0-185)
and `MaximumEventAgeInSeconds` (60-86400). Errors that retrying cannot fix (the target does not
exist, access is denied, the message is refused) are not retried: the event goes straight to the
target's dead-letter queue, if it has one.

The backoff here doubles from 1 s up to 8 minutes, so that 185 retries take about 24 hours
(1+2+...+256 s, then 176 x 480 s = 23.6 h): AWS's two defaults meet, as they do on AWS. There is
no jitter: a local emulator has no thundering herd to spread, and tests on a scaled or manual
clock see the same gaps every run. All delays are AWS-seconds (the clock scales them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...engine.policy import Decision, GiveUp, Retry
from ..delivery import ACCESS_DENIED, FIFO_NOT_ALLOWED, INVALID, NOT_FOUND, TOO_LARGE

DEFAULT_MAX_RETRIES = 185
DEFAULT_MAX_AGE = 86_400.0

# What each delivery failure is called in a dead-letter message's ERROR_CODE attribute.
ERROR_CODES = {
    NOT_FOUND: "NO_RESOURCE",
    ACCESS_DENIED: "NO_PERMISSIONS",
    TOO_LARGE: "INVALID_PARAMETER",
    FIFO_NOT_ALLOWED: "INVALID_PARAMETER",
    INVALID: "INVALID_PARAMETER",
}
NOT_RETRIED = frozenset(ERROR_CODES)

# A GiveUp's reason: the dead-letter message's EXHAUSTED_RETRY_CONDITION (None: not retried at all).
RETRIES_EXHAUSTED = "MaximumRetryAttempts"
AGE_EXHAUSTED = "MaximumEventAgeInSeconds"


@dataclass(frozen=True)
class TargetRetryPolicy:
    """A target's RetryPolicy, with the backoff between its retries."""

    max_retries: int = DEFAULT_MAX_RETRIES
    max_age: float = DEFAULT_MAX_AGE
    initial_delay: float = 1.0
    max_delay: float = 480.0

    @classmethod
    def of(cls, retry_policy: dict[str, Any] | None) -> TargetRetryPolicy:
        """The policy a target's RetryPolicy member asks for (AWS's defaults for what it omits)."""
        rp = retry_policy or {}
        return cls(
            max_retries=int(rp.get("MaximumRetryAttempts", DEFAULT_MAX_RETRIES)),
            max_age=float(rp.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE)),
        )

    def delay(self, retry: int) -> float:
        """The wait before retry number `retry` (1-based)."""
        return min(self.max_delay, self.initial_delay * 2 ** (retry - 1))

    def decide(self, attempt: int, age: float = 0.0, error: str | None = None) -> Decision:
        """After failed attempt number `attempt` (>= 1) of an event `age` AWS-seconds old."""
        if error in NOT_RETRIED:
            return GiveUp(None)
        if attempt - 1 >= self.max_retries:
            return GiveUp(RETRIES_EXHAUSTED)
        delay = self.delay(attempt)
        if age + delay > self.max_age:
            return GiveUp(AGE_EXHAUSTED)
        return Retry(delay)
