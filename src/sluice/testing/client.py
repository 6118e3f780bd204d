"""A small typed client of Sluice's testing API v1 (docs/testing-api.md), usable outside pytest.

    from sluice.testing import SluiceTesting
    sluice = SluiceTesting("http://127.0.0.1:4566")   # a `sluice up --clock manual` server
    sluice.reset()
    ...                                               # put_object, invoke, ...
    sluice.clock.advance(minutes=3)                   # the retries due in those 3 minutes run now
    assert sluice.outcome(request_id).status == "RetriesExhausted"

Only the standard library: a script or another test runner can use it without extra packages.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

API_VERSION = 1
# An advance waits for the handlers that run on the way (real time): give it room, but not forever.
DEFAULT_TIMEOUT = 300.0


class TestingApiError(Exception):
    """The server refused a testing API call: its HTTP status and JSON error."""

    __test__ = False  # not a test class, whatever pytest's collection thinks of the name

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message


@dataclass(frozen=True)
class Attempt:
    """One run of the handler for an async event; `status`: "Success", "Unhandled" (the handler
    raised), "Timeout" or "Crash"."""

    n: int
    started_at: float | None
    ended_at: float | None
    status: str | None
    error_type: str | None = None
    error_message: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Attempt:
        return cls(n=int(data.get("n", 0)), started_at=data.get("startedAt"), ended_at=data.get("endedAt"),
                   status=data.get("status"), error_type=data.get("errorType"),
                   error_message=data.get("errorMessage"))


@dataclass(frozen=True)
class Outcome:
    """An async invocation's outcome record (`GET /_sluice/outcomes/<request id>`)."""

    request_id: str
    function: str | None
    qualifier: str | None
    # "Pending" while the event waits or runs; then AWS's condition: "Success", "RetriesExhausted",
    # "EventAgeExceeded", "ZeroReservedConcurrency", ...
    status: str
    attempts: list[Attempt]
    destination: dict[str, Any] | None
    dlq: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Outcome:
        return cls(request_id=str(data.get("requestId", "")), function=data.get("function"),
                   qualifier=data.get("qualifier"), status=str(data.get("status", "")),
                   attempts=[Attempt.from_json(a) for a in data.get("attempts") or []],
                   destination=data.get("destination"), dlq=data.get("dlq"), raw=dict(data))

    @property
    def gaps(self) -> list[float]:
        """Seconds between the starts of consecutive attempts (engine time: exact on a manual clock)."""
        starts = [a.started_at for a in self.attempts if a.started_at is not None]
        return [round(b - a, 3) for a, b in zip(starts, starts[1:], strict=False)]


@dataclass(frozen=True)
class QueueMessage:
    """A message in an SQS queue, seen without receiving it."""

    body: str
    message_id: str | None
    attributes: dict[str, Any]
    message_attributes: dict[str, Any]
    receive_count: int
    visible: bool
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QueueMessage:
        return cls(body=str(data.get("Body", "")), message_id=data.get("MessageId"),
                   attributes=dict(data.get("Attributes") or {}),
                   message_attributes=dict(data.get("MessageAttributes") or {}),
                   receive_count=int(data.get("receiveCount", 0)), visible=bool(data.get("visible", True)),
                   raw=dict(data))

    def attribute(self, name: str) -> str | None:
        """A message attribute's string value (e.g. a Lambda DLQ message's `ErrorMessage`)."""
        value = self.message_attributes.get(name)
        if isinstance(value, Mapping):
            found = value.get("StringValue", value.get("stringValue"))
            return None if found is None else str(found)
        return None if value is None else str(value)


@dataclass(frozen=True)
class Advanced:
    """What an advance did: the clock's time after it, and how many due times it stepped through."""

    now: float
    steps: int


class _Http:
    def __init__(self, endpoint: str, timeout: float) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None,
             timeout: float | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.endpoint + path, data=data, method=method)
        if method == "POST":
            # The testing API takes JSON bodies only (a browser's cross-site form post cannot).
            request.add_header("Content-Type", "application/json")
            if data is None:
                request.data = b"{}"
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as exc:
            raise _api_error(exc) from None
        if not isinstance(answer, dict):
            raise TestingApiError(200, "UnexpectedAnswer", f"{method} {path} answered {answer!r}")
        return answer


def _api_error(exc: urllib.error.HTTPError) -> TestingApiError:
    try:
        body = json.load(exc)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return TestingApiError(exc.code, str(body.get("error", exc.reason)), str(body.get("message", body.get("error", ""))))


class ClockControl:
    """The server's manual clock: engine time moves only when advanced (`sluice up --clock manual`)."""

    def __init__(self, http: _Http) -> None:
        self._http = http
        self._ticker: _Ticker | None = None

    def _state(self) -> dict[str, Any]:
        return self._http.call("GET", "/_sluice/clock")

    @property
    def now(self) -> float:
        """The engine's time, seconds since the epoch."""
        return float(self._state()["now"])

    @property
    def next_due(self) -> float | None:
        """When the earliest waiting engine work is due (None: nothing waits on time)."""
        due = self._state().get("next_due")
        return None if due is None else float(due)

    def advance(self, seconds: float = 0, *, minutes: float = 0, hours: float = 0) -> Advanced:
        """Move engine time on and run, step by step and in order, exactly the work due on the way
        (retries, backoffs, event-age expiries, schedules, alarm evaluations), waiting at each step
        for the handlers running then; returns when done. Nothing given: run until idle."""
        total = seconds + 60 * minutes + 3600 * hours
        if total < 0:
            raise ValueError("a clock does not go back")
        answer = self._http.call("POST", "/_sluice/clock/advance", {"seconds": total})
        return Advanced(now=float(answer["now"]), steps=int(answer.get("steps", 0)))

    def run_until_idle(self) -> Advanced:
        """Run everything due now (and what it wakes) until the engine is idle; time stays."""
        answer = self._http.call("POST", "/_sluice/clock/run-until-idle", {})
        return Advanced(now=float(answer["now"]), steps=int(answer.get("steps", 0)))

    @contextlib.contextmanager
    def scaled(self, factor: float, tick: float = 0.05) -> Iterator[None]:
        """Inside the block, engine time runs `factor` times faster than real time (60: a minute a
        second), for tests that prefer to wait on outcomes; the clock is manual again after it."""
        if factor <= 0:
            raise ValueError("a time scale must be positive")
        if self._ticker is not None:
            raise RuntimeError("the clock is already running scaled")
        self._ticker = _Ticker(self, factor, tick)
        self._ticker.start()
        try:
            yield
        finally:
            ticker, self._ticker = self._ticker, None
            ticker.stop()

    def stop_scaling(self) -> None:
        """End a `scaled` run started elsewhere (the pytest plugin calls it at a test's end)."""
        if self._ticker is not None:
            ticker, self._ticker = self._ticker, None
            ticker.stop()


class _Ticker(threading.Thread):
    """Advances the manual clock by the real time elapsed times a factor, every `tick` seconds."""

    def __init__(self, clock: ClockControl, factor: float, tick: float) -> None:
        super().__init__(name="sluice-clock-scaled", daemon=True)
        self.clock = clock
        self.factor = factor
        self.tick = tick
        self.halt = threading.Event()
        self.failure: TestingApiError | OSError | None = None

    def run(self) -> None:
        last = time.monotonic()  # real time, by design: this is what the scale multiplies
        while not self.halt.wait(self.tick):
            now = time.monotonic()
            try:
                self.clock.advance((now - last) * self.factor)
            except (TestingApiError, OSError) as exc:  # the server went away: the test will say so
                self.failure = exc
                return
            last = now

    def stop(self) -> None:
        self.halt.set()
        self.join()
        if self.failure is not None:
            raise self.failure


class SluiceTesting:
    """Sluice's testing API: reset, the manual clock, outcomes, journeys, queue contents."""

    __test__ = False

    def __init__(self, endpoint: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._http = _Http(endpoint, timeout)
        self.clock = ClockControl(self._http)

    @property
    def endpoint(self) -> str:
        return self._http.endpoint

    def health(self) -> dict[str, Any]:
        """`GET /_sluice/health`: version, services, the clock's mode, the testing API's version."""
        return self._http.call("GET", "/_sluice/health")

    def reset(self) -> float:
        """Empty every service's state (all accounts); the server keeps running on the same clock.
        Returns how long the server took, in milliseconds."""
        return float(self._http.call("POST", "/_sluice/reset", {}).get("reset_ms", 0.0))

    def outcome(self, request_id: str) -> Outcome:
        """The async invocation `request_id`'s outcome so far (status "Pending" until it ends)."""
        quoted = urllib.parse.quote(request_id, safe="")
        return Outcome.from_json(self._http.call("GET", f"/_sluice/outcomes/{quoted}"))

    def wait_outcome(self, request_id: str, timeout: float = 30.0, interval: float = 0.02) -> Outcome:
        """The outcome once it is no longer "Pending", waiting in real time: for a server on the real
        clock or a test running the clock `scaled`. (On the manual clock, advance instead.)"""
        deadline = time.monotonic() + timeout  # real time: what passes while the engine works
        while True:
            found = self.outcome(request_id)
            if found.status != "Pending" or time.monotonic() >= deadline:
                return found
            time.sleep(interval)

    def journeys(self, target: str, every: bool = False) -> list[dict[str, Any]]:
        """What `sluice trace` shows, as JSON: `bucket/key` (its latest upload; every=True: all of
        them), an S3 request id or a Lambda request id."""
        query = urllib.parse.urlencode({"target": target, **({"all": "1"} if every else {})})
        return list(self._http.call("GET", f"/_sluice/trace?{query}").get("journeys") or [])

    def journey(self, target: str) -> dict[str, Any]:
        """The latest journey of `target` (see `journeys`)."""
        found = self.journeys(target)
        if not found:
            raise TestingApiError(404, "NotFound", f"nothing recorded for {target}")
        return found[-1]

    def request_ids(self, target: str) -> list[str]:
        """The Lambda request ids the latest upload of `bucket/key` was delivered as (one per
        function notified), or the id of a Lambda request given as `target`."""
        journey = self.journey(target)
        found = [n["invocation"]["requestId"] for n in journey.get("notifications") or []
                 if n.get("invocation")]
        if not found and journey.get("invocation"):
            found.append(journey["invocation"]["requestId"])
        return found

    def event_outcome(self, target: str) -> Outcome:
        """The outcome of the async event an upload (`bucket/key`) sent to a function."""
        ids = self.request_ids(target)
        if not ids:
            # Client-side: the journey exists but no notification has reached a function yet.
            raise TestingApiError(404, "NotInvokedYet", f"no function invocation is recorded for {target} yet "
                                  "(its notification is delivered by the engine: run the clock until idle first)")
        if len(ids) > 1:
            raise TestingApiError(409, "Ambiguous", f"{target} was delivered as {len(ids)} invocations {ids}: "
                                  "ask for one with outcome(request_id)")
        return self.outcome(ids[0])

    def attempts(self, target: str) -> list[Attempt]:
        """The attempts of the async event an upload (`bucket/key`) or a request id started."""
        if "/" in target:
            return self.event_outcome(target).attempts
        return self.outcome(target).attempts

    def queue_messages(self, queue: str) -> list[QueueMessage]:
        """Every message in a queue (name, URL or ARN), visible or in flight, without receiving them."""
        query = urllib.parse.urlencode({"queue": queue})
        answer = self._http.call("GET", f"/_sluice/queues/messages?{query}")
        return [QueueMessage.from_json(m) for m in answer.get("messages") or []]
