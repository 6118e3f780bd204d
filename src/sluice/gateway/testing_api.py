"""Sluice's testing API v1 (docs/testing-api.md): the clock, reset, outcomes and queue peeks over
HTTP, so tests in any language drive a `sluice up --clock manual` server.

Every answer is JSON and carries `"api": 1`. Endpoints that change anything are POST only and
refuse what a browser on another site could send them: a request whose `Origin` is not the
server's own (or marked `Sec-Fetch-Site: cross-site`) gets 403, and a body must be
`application/json` (an HTML form cannot send that without a CORS preflight, which is never
granted). The read-only endpoints answer GET.

Errors are `{"api": 1, "error": <code>, "message": <text>}`; the codes are stable.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from ..clock import Clock, ManualClock
from ..protocol.http import HttpRequest, HttpResponse
from .bodies import read_up_to

API_VERSION = 1
PREFIX = "/_sluice/"
RESET_PATH = "/_sluice/reset"
CLOCK_PATH = "/_sluice/clock"
ADVANCE_PATH = "/_sluice/clock/advance"
IDLE_PATH = "/_sluice/clock/run-until-idle"
OUTCOMES_PREFIX = "/_sluice/outcomes/"
QUEUE_MESSAGES_PATH = "/_sluice/queues/messages"

MUTATING = (RESET_PATH, ADVANCE_PATH, IDLE_PATH)
_BODY_LIMIT = 64 * 1024  # a control request is a few bytes of JSON
# The longest single advance: a year of engine time (the 6 h event-age edge cases need far less);
# beyond that a typo (milliseconds for seconds) would step through every periodic task for hours.
MAX_ADVANCE_SECONDS = 366 * 24 * 3600.0

JsonBody = dict[str, Any]


@dataclass
class TestingHooks:
    """What the testing API reaches into, given by the composition root (server.py).

    `reset` runs on the event loop and returns how long it took in ms; `outcome` and
    `queue_messages` may block (they read the store) and run in a worker thread: `outcome`
    returns None for an unknown request id, `queue_messages` raises LookupError for an unknown
    queue."""

    reset: Callable[[], Awaitable[float]]
    outcome: Callable[[str], JsonBody | None]
    queue_messages: Callable[[str], JsonBody]


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []


def answer(status: int, body: JsonBody, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                                 *(headers or [])],
                        json.dumps({"api": API_VERSION, **body}).encode())


def error(status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    return answer(status, {"error": code, "message": message}, headers)


class TestingApi:
    def __init__(self, clock: Clock, hooks: TestingHooks, run_blocking: Callable[..., Awaitable[Any]]) -> None:
        """`run_blocking(fn, *args)`: runs a blocking read off the event loop (the gateway's pool)."""
        self.clock = clock
        self.hooks = hooks
        self._run_blocking = run_blocking
        # One driver of time at a time: two advances interleaving would step past each other's targets.
        self._driving = asyncio.Lock()

    @property
    def mode(self) -> str:
        return "manual" if isinstance(self.clock, ManualClock) else "real"

    @staticmethod
    def handles(path: str) -> bool:
        return (path in MUTATING or path in (CLOCK_PATH, QUEUE_MESSAGES_PATH)
                or path.startswith(OUTCOMES_PREFIX))

    async def handle(self, req: HttpRequest, receive: Any) -> HttpResponse:
        try:
            if req.path in MUTATING:
                body = await self._mutation_body(req, receive)
                if req.path == RESET_PATH:
                    return await self._reset()
                if req.path == ADVANCE_PATH:
                    return await self._advance(_seconds(body))
                return await self._advance(0.0)
            if req.method not in ("GET", "HEAD"):
                raise _Refused(405, "MethodNotAllowed", f"{req.path} answers GET only", [("Allow", "GET, HEAD")])
            if req.path == CLOCK_PATH:
                return self._clock_view()
            if req.path == QUEUE_MESSAGES_PATH:
                return await self._queue_messages(req)
            return await self._outcome(unquote(req.path[len(OUTCOMES_PREFIX):]))
        except _Refused as refused:
            return error(refused.status, refused.code, refused.message, refused.headers)

    # -- the guard of mutating endpoints ------------------------------------------------------

    async def _mutation_body(self, req: HttpRequest, receive: Any) -> JsonBody:
        if req.method != "POST":
            raise _Refused(405, "MethodNotAllowed", f"{req.path} answers POST only", [("Allow", "POST")])
        _refuse_cross_origin(req)
        length = req.content_length
        chunked = "transfer-encoding" in req.headers
        if length is None and req.headers.get("content-length") is not None:
            raise _Refused(400, "InvalidRequest", "Content-Length is not a number")
        has_body = chunked or bool(length)
        content_type = req.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type and content_type != "application/json":
            # A form (urlencoded, multipart, text/plain) is what another site's page can POST
            # without a preflight: refused whatever it holds.
            raise _Refused(415, "UnsupportedMediaType", "the body must be application/json")
        if not has_body:
            return {}
        if not content_type:
            raise _Refused(415, "UnsupportedMediaType", "a body needs Content-Type: application/json")
        raw = await read_up_to(receive, _BODY_LIMIT)
        if raw is None:
            raise _Refused(413, "RequestTooLarge", f"the body is over {_BODY_LIMIT} bytes")
        if not raw.strip():
            return {}
        try:
            parsed = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise _Refused(400, "InvalidJson", "the body is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise _Refused(400, "InvalidJson", "the body must be a JSON object")
        return parsed

    # -- endpoints --------------------------------------------------------------------------

    async def _reset(self) -> HttpResponse:
        async with self._driving:  # not in the middle of an advance: its steps would run on emptied state
            elapsed = await self.hooks.reset()
        return answer(200, {"reset_ms": round(elapsed, 3)})

    def _manual(self) -> ManualClock:
        if not isinstance(self.clock, ManualClock):
            raise _Refused(409, "ClockNotManual",
                           "this server runs on the real clock; start it with `sluice up --clock manual` to drive time")
        return self.clock

    async def _advance(self, seconds: float) -> HttpResponse:
        clock = self._manual()
        async with self._driving:
            try:
                steps = await clock.advance(seconds) if seconds > 0 else await _idle(clock)
            except TimeoutError as exc:  # a handler that never ends (ManualClock's hang guard)
                return error(504, "EngineBusy", str(exc))
        return answer(200, {"now": clock.now(), "steps": steps})

    def _clock_view(self) -> HttpResponse:
        clock = self.clock
        next_due = clock.next_deadline() if isinstance(clock, ManualClock) else None
        return answer(200, {"mode": self.mode, "now": clock.now(), "next_due": next_due})

    async def _outcome(self, request_id: str) -> HttpResponse:
        if not request_id or "/" in request_id:
            raise _Refused(404, "NotFound", "give /_sluice/outcomes/<request id>")
        found = await self._run_blocking(self.hooks.outcome, request_id)
        if found is None:
            raise _Refused(404, "OutcomeNotFound", f"no async invocation {request_id} is recorded")
        return answer(200, found)

    async def _queue_messages(self, req: HttpRequest) -> HttpResponse:
        queue = req.query_value("queue")
        if not queue:
            raise _Refused(400, "MissingParameter", "give ?queue=<queue name, URL or ARN>")
        try:
            found = await self._run_blocking(self.hooks.queue_messages, queue)
        except LookupError:
            raise _Refused(404, "QueueNotFound", f"no queue {queue}") from None
        return answer(200, found)


async def _idle(clock: ManualClock) -> int:
    await clock.run_until_idle()
    return 0


def _seconds(body: JsonBody) -> float:
    seconds = body.get("seconds")
    # bool is an int in Python, and `true` seconds is a mistake, not 1.
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise _Refused(400, "InvalidParameter", 'give {"seconds": <number of seconds, 0 to run until idle>}')
    if not math.isfinite(seconds) or seconds < 0:
        raise _Refused(400, "InvalidParameter", "seconds must be a finite number, 0 or more (a clock does not go back)")
    if seconds > MAX_ADVANCE_SECONDS:
        raise _Refused(400, "InvalidParameter", f"seconds must be at most {MAX_ADVANCE_SECONDS:g} (a year)")
    return float(seconds)


def _refuse_cross_origin(req: HttpRequest) -> None:
    """403 for a request a browser made on behalf of another site's page."""
    if req.headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
        raise _Refused(403, "CrossOriginRefused", "cross-site requests may not change Sluice's state")
    origin = req.headers.get("origin")
    if origin is None:
        return  # not from a browser page (curl, boto3, a test): nothing to refuse
    if origin.strip().lower() != own_origin(req):
        raise _Refused(403, "CrossOriginRefused", f"requests from {origin} may not change Sluice's state")


def own_origin(req: HttpRequest) -> str:
    """The origin a page served by this server has: the scheme and the Host it was reached by."""
    host = req.host.strip().lower()
    default_port = {"http": 80, "https": 443}.get(req.scheme)
    try:
        parts = urlsplit(f"{req.scheme}://{host}")
        port = parts.port if parts.port is not None else default_port
    except ValueError:  # a Host urllib cannot read ("[", a port that is not one): no Origin can match it
        return ""
    netloc = parts.hostname or ""
    if ":" in netloc:  # an IPv6 literal keeps its brackets in an origin
        netloc = f"[{netloc}]"
    return f"{req.scheme}://{netloc}" + ("" if port == default_port else f":{port}")
