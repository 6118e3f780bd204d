"""SNS's delivery retry policies, as policies of the engine's kind (`engine.policy.RetryPolicy`).

AWS (docs: "Amazon SNS message delivery retries") retries a failed delivery in four phases:
immediate retries (no delay), pre-backoff retries (the minimum delay apart), backoff retries (the
delay growing from the minimum to the maximum by a backoff function), post-backoff retries (the
maximum delay apart). A client-side error (the endpoint refused the message for good: an HTTP
4xx, a queue or function that is missing or does not let SNS in) is not retried at all.

- AWS-managed endpoints (SQS, Lambda) have a fixed policy: 3 immediate, 2 one second apart, 10 with
  exponential backoff from 1 s to 20 s, then 100,000 twenty seconds apart (~23 days).
- HTTP/S endpoints follow the subscription's `DeliveryPolicy.healthyRetryPolicy`, else the topic's
  `DeliveryPolicy.http.defaultHealthyRetryPolicy` (the topic's wins when it sets
  `disableSubscriptionOverrides`), else AWS's default: 3 retries 20 s apart (linear, min = max = 20).
  A message lives at most one hour on an HTTP/S subscription.

Delays are AWS-seconds: the caller stores `clock.now() + clock.engine_seconds(delay)` as the row's
due time, so `--time-scale` compresses them and a manual clock runs them when advanced. AWS
applies jitter; Sluice does not (delays are exact, for tests). AWS does not publish the exact
curves of its four backoff functions: Sluice uses, for the k-th of n backoff retries with
t = k/(n-1): linear min+(max-min)·t, arithmetic min+(max-min)·t², geometric min·(max/min)^t,
exponential min+(max-min)·(2^(10t)-1)/(2^10-1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ...engine.policy import EVENT_AGE_EXCEEDED, RETRIES_EXHAUSTED, Decision, GiveUp, Retry
from ...protocol import safejson

MAX_HTTP_RETRY_SECONDS = 3600
HTTP_MESSAGE_LIFETIME = 3600.0  # AWS-seconds a message waits for an HTTP/S endpoint at most
DEFAULT_CONTENT_TYPE = "text/plain; charset=UTF-8"
CLIENT_ERROR = "ClientError"  # the `error` of a failure AWS does not retry (and the give-up reason)


class DeliveryPolicyError(ValueError):
    pass


def _linear(lo: float, hi: float, t: float) -> float:
    return lo + (hi - lo) * t


def _arithmetic(lo: float, hi: float, t: float) -> float:
    return lo + (hi - lo) * t * t


def _geometric(lo: float, hi: float, t: float) -> float:
    return lo * (hi / lo) ** t if lo > 0 else hi * t


def _exponential(lo: float, hi: float, t: float) -> float:
    return lo + (hi - lo) * (2 ** (10 * t) - 1) / (2**10 - 1)


# The backoff functions a delivery policy may name: (min delay, max delay, t in [0, 1]) -> delay.
BACKOFF: dict[str, Callable[[float, float, float], float]] = {
    "linear": _linear, "arithmetic": _arithmetic, "geometric": _geometric, "exponential": _exponential}
BACKOFF_FUNCTIONS = tuple(BACKOFF)


@dataclass(frozen=True)
class DeliveryRetry:
    """One delivery retry policy: AWS's four phases, and an optional age budget (AWS-seconds)."""

    min_delay: float = 20
    max_delay: float = 20
    num_retries: int = 3
    no_delay_retries: int = 0
    min_delay_retries: int = 0
    max_delay_retries: int = 0
    backoff: str = "linear"
    max_age: float | None = None

    def decide(self, attempt: int, age: float = 0.0, error: str | None = None) -> Decision:
        """What follows failed attempt number `attempt` of a message `age` AWS-seconds old."""
        if error == CLIENT_ERROR:
            return GiveUp(CLIENT_ERROR)
        delay = self.delay_before(attempt)
        if delay is None:
            return GiveUp(RETRIES_EXHAUSTED)
        if self.max_age is not None and age + delay > self.max_age:
            return GiveUp(EVENT_AGE_EXCEEDED)  # the retry could not start within the message's lifetime
        return Retry(delay)

    @property
    def backoff_retries(self) -> int:
        return max(0, self.num_retries - self.no_delay_retries - self.min_delay_retries - self.max_delay_retries)

    def delay_before(self, retry: int) -> float | None:
        """Seconds to wait before retry number `retry` (1-based); None when retries are exhausted."""
        if retry < 1 or retry > self.num_retries:
            return None
        if retry <= self.no_delay_retries:
            return 0.0
        retry -= self.no_delay_retries
        if retry <= self.min_delay_retries:
            return float(self.min_delay)
        retry -= self.min_delay_retries
        n = self.backoff_retries
        if retry <= n:
            return self._backoff(retry - 1, n)
        return float(self.max_delay)

    def _backoff(self, k: int, n: int) -> float:
        lo, hi = float(self.min_delay), float(self.max_delay)
        if n <= 1 or hi <= lo:
            return lo
        return BACKOFF.get(self.backoff, _linear)(lo, hi, k / (n - 1))

    def total_seconds(self) -> float:
        return sum(self.delay_before(i) or 0.0 for i in range(1, self.num_retries + 1))

    def as_json(self) -> dict[str, Any]:
        return {
            "minDelayTarget": _int(self.min_delay), "maxDelayTarget": _int(self.max_delay),
            "numRetries": self.num_retries, "numMaxDelayRetries": self.max_delay_retries,
            "numNoDelayRetries": self.no_delay_retries, "numMinDelayRetries": self.min_delay_retries,
            "backoffFunction": self.backoff,
        }


def _int(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


# SQS and Lambda: 3 immediate, 2 at 1 s, 10 backing off 1 -> 20 s, then 100,000 at 20 s.
AWS_MANAGED = DeliveryRetry(min_delay=1, max_delay=20, num_retries=100_015, no_delay_retries=3,
                            min_delay_retries=2, max_delay_retries=100_000, backoff="exponential")
HTTP_DEFAULT = DeliveryRetry(max_age=HTTP_MESSAGE_LIFETIME)


def http_retry(spec: dict[str, Any] | None) -> DeliveryRetry:
    """An HTTP/S subscription's policy from its stored `healthyRetryPolicy` JSON (AWS's default if none)."""
    return _retry_from(spec, HTTP_DEFAULT)


@dataclass(frozen=True)
class HttpDelivery:
    """What an HTTP/S subscription's deliveries follow."""
    retry: DeliveryRetry = HTTP_DEFAULT
    content_type: str = DEFAULT_CONTENT_TYPE


def effective_topic_policy(topic_policy: dict[str, Any] | None) -> dict[str, Any]:
    """The topic's EffectiveDeliveryPolicy attribute (its DeliveryPolicy over AWS's defaults)."""
    http = dict((topic_policy or {}).get("http") or {})
    retry = _retry_from(http.get("defaultHealthyRetryPolicy"), HTTP_DEFAULT)
    out: dict[str, Any] = {"defaultHealthyRetryPolicy": retry.as_json()}
    out["disableSubscriptionOverrides"] = bool(http.get("disableSubscriptionOverrides", False))
    if http.get("defaultThrottlePolicy"):
        out["defaultThrottlePolicy"] = http["defaultThrottlePolicy"]
    request = http.get("defaultRequestPolicy") or {}
    out["defaultRequestPolicy"] = {"headerContentType": request.get("headerContentType", DEFAULT_CONTENT_TYPE)}
    return {"http": out}


def effective_subscription_policy(topic_policy: dict[str, Any] | None,
                                  sub_policy: dict[str, Any] | None) -> dict[str, Any]:
    """An HTTP/S subscription's EffectiveDeliveryPolicy attribute."""
    resolved = http_delivery(topic_policy, sub_policy)
    out: dict[str, Any] = {"healthyRetryPolicy": resolved.retry.as_json()}
    throttle = (sub_policy or {}).get("throttlePolicy")
    if throttle:
        out["throttlePolicy"] = throttle
    out["requestPolicy"] = {"headerContentType": resolved.content_type}
    out["guaranteed"] = False
    return out


def http_delivery(topic_policy: dict[str, Any] | None, sub_policy: dict[str, Any] | None) -> HttpDelivery:
    http = (topic_policy or {}).get("http") or {}
    topic_retry = _retry_from(http.get("defaultHealthyRetryPolicy"), HTTP_DEFAULT)
    topic_type = (http.get("defaultRequestPolicy") or {}).get("headerContentType") or DEFAULT_CONTENT_TYPE
    if http.get("disableSubscriptionOverrides") or not sub_policy:
        return HttpDelivery(topic_retry, topic_type)
    retry = _retry_from(sub_policy.get("healthyRetryPolicy"), topic_retry)
    content_type = (sub_policy.get("requestPolicy") or {}).get("headerContentType") or topic_type
    return HttpDelivery(retry, content_type)


def _retry_from(spec: dict[str, Any] | None, base: DeliveryRetry) -> DeliveryRetry:
    if not spec:
        return base
    return replace(
        base,
        min_delay=spec.get("minDelayTarget", base.min_delay),
        max_delay=spec.get("maxDelayTarget", base.max_delay),
        num_retries=spec.get("numRetries", base.num_retries),
        no_delay_retries=spec.get("numNoDelayRetries", 0),
        min_delay_retries=spec.get("numMinDelayRetries", 0),
        max_delay_retries=spec.get("numMaxDelayRetries", 0),
        backoff=spec.get("backoffFunction", base.backoff),
    )


# -- validation ------------------------------------------------------------------------------------

_RETRY_KEYS = ("minDelayTarget", "maxDelayTarget", "numRetries", "numNoDelayRetries", "numMinDelayRetries",
               "numMaxDelayRetries", "backoffFunction")


def parse_subscription_policy(text: str) -> dict[str, Any]:
    policy = _parse(text)
    for key in policy:
        if key not in ("healthyRetryPolicy", "throttlePolicy", "requestPolicy", "guaranteed", "sicklyRetryPolicy"):
            raise DeliveryPolicyError(f"DeliveryPolicy: Unsupported key: {key}")
    _check_retry(policy.get("healthyRetryPolicy"), "healthyRetryPolicy")
    _check_throttle(policy.get("throttlePolicy"), "throttlePolicy")
    _check_request(policy.get("requestPolicy"), "requestPolicy")
    return policy


def parse_topic_policy(text: str) -> dict[str, Any]:
    policy = _parse(text)
    for protocol, section in policy.items():
        if not isinstance(section, dict):
            raise DeliveryPolicyError(f"DeliveryPolicy: {protocol} must be an object")
        if protocol != "http":
            continue  # other protocols' sections are stored as given; only HTTP/S honours them
        _check_retry(section.get("defaultHealthyRetryPolicy"), "http.defaultHealthyRetryPolicy")
        _check_throttle(section.get("defaultThrottlePolicy"), "http.defaultThrottlePolicy")
        _check_request(section.get("defaultRequestPolicy"), "http.defaultRequestPolicy")
        flag = section.get("disableSubscriptionOverrides")
        if flag is not None and not isinstance(flag, bool):
            raise DeliveryPolicyError("DeliveryPolicy: http.disableSubscriptionOverrides must be a boolean")
    return policy


def _parse(text: str) -> dict[str, Any]:
    try:
        policy = safejson.loads(text)
    except ValueError:
        raise DeliveryPolicyError("DeliveryPolicy: failed to parse JSON.") from None
    if not isinstance(policy, dict):
        raise DeliveryPolicyError("DeliveryPolicy: must be a JSON object")
    return policy


def _check_retry(spec: Any, where: str) -> None:
    if spec is None:
        return
    if not isinstance(spec, dict):
        raise DeliveryPolicyError(f"DeliveryPolicy: {where} must be an object")
    for key, value in spec.items():
        if key not in _RETRY_KEYS:
            raise DeliveryPolicyError(f"DeliveryPolicy: {where}.{key} is not a valid key")
        if key == "backoffFunction":
            if value not in BACKOFF_FUNCTIONS:
                raise DeliveryPolicyError(f"DeliveryPolicy: {where}.backoffFunction must be one of: "
                                          f"{', '.join(BACKOFF_FUNCTIONS)}")
        elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise DeliveryPolicyError(f"DeliveryPolicy: {where}.{key} must be a non-negative integer")
    policy = _retry_from(spec, HTTP_DEFAULT)
    if policy.num_retries > 100:
        raise DeliveryPolicyError(f"DeliveryPolicy: {where}.numRetries must be less than or equal to 100")
    if policy.min_delay < 1:
        raise DeliveryPolicyError(f"DeliveryPolicy: {where}.minDelayTarget must be greater than or equal to 1")
    if policy.max_delay > MAX_HTTP_RETRY_SECONDS:
        raise DeliveryPolicyError(f"DeliveryPolicy: {where}.maxDelayTarget must be less than or equal to 3600")
    if policy.min_delay > policy.max_delay:
        raise DeliveryPolicyError(f"DeliveryPolicy: {where}.minDelayTarget must be less than or equal to "
                                  "maxDelayTarget")
    phases = policy.no_delay_retries + policy.min_delay_retries + policy.max_delay_retries
    if phases > policy.num_retries:
        raise DeliveryPolicyError(f"DeliveryPolicy: {where}.numRetries must be greater than or equal to the sum "
                                  "of numNoDelayRetries, numMinDelayRetries and numMaxDelayRetries")
    if policy.total_seconds() > MAX_HTTP_RETRY_SECONDS:
        raise DeliveryPolicyError(f"DeliveryPolicy: {where}: total retry time must not exceed 3600 seconds")


def _check_throttle(spec: Any, where: str) -> None:
    if spec is None:
        return
    rate = spec.get("maxReceivesPerSecond") if isinstance(spec, dict) else None
    if not isinstance(rate, int) or isinstance(rate, bool) or rate < 1:
        raise DeliveryPolicyError(f"DeliveryPolicy: {where}.maxReceivesPerSecond must be a positive integer")


def _check_request(spec: Any, where: str) -> None:
    if spec is None:
        return
    ctype = spec.get("headerContentType") if isinstance(spec, dict) else None
    if not isinstance(ctype, str) or not ctype:
        raise DeliveryPolicyError(f"DeliveryPolicy: {where}.headerContentType must be a string")
