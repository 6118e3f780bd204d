"""Lambda invocations: synchronous calls and the durable asynchronous queue with its scheduler.

An async event is a row in `lambda_events` from the moment Invoke(Event) answers 202 until it
reaches an outcome; the outcome row (`lambda_outcomes`) is written in the same transaction that
removes the event, so every event ends in exactly one recorded outcome. Attempts are counted
when they finish: an attempt cut short by a crash is run again after restart (at least once).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..clock import Clock
from ..protocol.errors import ServiceError
from ..runtime import EnvironmentPool, InvocationRequest, InvocationResult
from ..store.db import Database, Migration
from . import journal
from .dispatcher import OutboxDispatcher
from .metrics import Point, lambda_point, write_points
from .policy import (
    EVENT_AGE_EXCEEDED,
    RETRIES_EXHAUSTED,
    SUCCESS,
    ZERO_RESERVED_CONCURRENCY,
    GiveUp,
    LambdaAsyncRetry,
    expired,
    lambda_throttle,
)
from .types import ResolvedFunction
from .xray import new_span_id

log = logging.getLogger("sluice.engine")

FUNCTION_DELETED = "FunctionDeleted"

_LAMBDA_EVENTS_0001 = Migration(
    "lambda-events-0001",
    """
    CREATE TABLE lambda_events (
        request_id TEXT PRIMARY KEY,
        function TEXT NOT NULL,
        qualifier TEXT,
        payload BLOB NOT NULL,
        trace_header TEXT NOT NULL DEFAULT '',
        received REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        throttles INTEGER NOT NULL DEFAULT 0,
        run_seconds REAL NOT NULL DEFAULT 0,   -- real time spent running attempts
        next_at REAL NOT NULL,
        last_result TEXT
    );
    CREATE INDEX lambda_events_due ON lambda_events(next_at);
    CREATE TABLE lambda_outcomes (
        request_id TEXT PRIMARY KEY,
        function TEXT NOT NULL,
        function_arn TEXT NOT NULL,
        condition TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        request_payload BLOB NOT NULL,
        response TEXT,              -- JSON: statusCode, functionError, errorType, errorMessage
        response_payload BLOB,
        trace_header TEXT NOT NULL DEFAULT '',
        received REAL NOT NULL,
        finished REAL NOT NULL,
        on_success TEXT,
        on_failure TEXT,
        dead_letter TEXT,
        delivered INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX lambda_outcomes_undelivered ON lambda_outcomes(delivered, finished);
    """,
)
MIGRATIONS = (_LAMBDA_EVENTS_0001,)


class TooManyRequests(ServiceError):
    def __init__(self) -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.", 429,
                         Reason="ReservedFunctionConcurrentInvocationLimitExceeded", Type="User")


@dataclass
class _Event:
    """An asynchronous invocation's row in `lambda_events`, as the dispatcher runs it."""

    request_id: str
    function: str
    qualifier: str | None
    payload: bytes
    trace_header: str
    received: float
    attempts: int
    throttles: int
    run_seconds: float
    last_result: dict[str, Any] | None  # the previous failed attempt, for an outcome without a new one


class Functions(Protocol):
    """What the invoker needs from Lambda's function records (LambdaService provides it)."""

    def resolve(self, FunctionName: str, Qualifier: str | None = None) -> ResolvedFunction: ...  # noqa: N803

    def reserved_total(self, except_name: str | None = None) -> int: ...


class EventQueue:
    """`lambda_events` as the dispatcher's DueSource: events whose next attempt is due."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def fetch_due(self, now: float, limit: int) -> list[_Event]:
        rows = self.db.query(
            "SELECT request_id, function, qualifier, payload, trace_header, received, attempts, throttles,"
            " run_seconds, last_result FROM lambda_events WHERE next_at <= ? ORDER BY next_at LIMIT ?",
            (now, limit))
        return [_Event(r["request_id"], r["function"], r["qualifier"], r["payload"], r["trace_header"],
                       r["received"], r["attempts"], r["throttles"], r["run_seconds"],
                       json.loads(r["last_result"]) if r["last_result"] else None) for r in rows]

    def next_due(self, now: float) -> float | None:
        row = self.db.query_one("SELECT MIN(next_at) AS n FROM lambda_events WHERE next_at > ?", (now,))
        return float(row["n"]) if row is not None and row["n"] is not None else None


class Invoker:
    """Runs invocations: sync calls directly, async events through the `dispatcher` (an engine
    Worker the composition root starts and stops with the others)."""

    def __init__(self, db: Database, clock: Clock, pool: EnvironmentPool, functions: Functions, *,
                 account_concurrency: int = 1000, local_capacity: int = 8,
                 on_outcome: Callable[[], None] = lambda: None,
                 on_attempt: Callable[[str, int], None] = lambda request_id, number: None) -> None:
        """`on_outcome`: an event reached its outcome (e.g. wake the destination delivery);
        `on_attempt`: an attempt's journal row committed (request id, attempt number)."""
        self.db = db
        self.clock = clock
        self.pool = pool
        self.functions = functions
        self.account_concurrency = account_concurrency
        self.local_capacity = local_capacity
        self.on_outcome = on_outcome
        self.on_attempt = on_attempt
        self.running: Counter[str] = Counter()  # executions per function, sync and async
        self._reserved: set[str] = set()  # functions with reserved concurrency seen running
        self._inflight: dict[str, str] = {}  # async request ids being run now -> function name
        # Recheck: a safety net, as before (every wake-up that matters is explicit). Its reads
        # (a few rows by the next_at index) run on the loop, as they always did: the hot path.
        self.dispatcher: OutboxDispatcher[_Event] = OutboxDispatcher(
            "lambda-async-invoker", clock, EventQueue(db), self._run_event, key=lambda e: e.request_id,
            concurrency=local_capacity, recheck=60.0, inline_reads=True,
            pause_grace=0.0)  # a reset cancels attempts at once: a handler may run for minutes

    # -- concurrency ---------------------------------------------------------------------

    def _may_run(self, fn: ResolvedFunction) -> bool:
        reserved = fn.reserved_concurrency
        if reserved is not None:
            return self.running[fn.name] < reserved
        unreserved_running = sum(n for name, n in self.running.items() if name not in self._reserved)
        return unreserved_running < self.account_concurrency - self.functions.reserved_total()

    def _start(self, fn: ResolvedFunction) -> float:
        if fn.reserved_concurrency is not None:
            self._reserved.add(fn.name)
        else:
            self._reserved.discard(fn.name)
        self.running[fn.name] += 1
        return float(self.running[fn.name])

    def _finish(self, fn: ResolvedFunction) -> None:
        self.running[fn.name] -= 1
        if self.running[fn.name] <= 0:
            del self.running[fn.name]

    # -- synchronous ---------------------------------------------------------------------

    async def invoke_sync(self, fn: ResolvedFunction, request: InvocationRequest) -> InvocationResult:
        if not self._may_run(fn):
            self.db.submit(lambda conn: write_points(conn, [self._point("Throttles", fn, 1, "Count")]))
            raise TooManyRequests()
        concurrent = self._start(fn)
        started_at = self.clock.now()
        try:
            result = await self.pool.invoke(fn.spec, request)
        finally:
            self._finish(fn)
        points = self._invocation_points(fn, result, concurrent, started_at)
        self.db.submit(lambda conn: write_points(conn, points))
        return result

    # -- asynchronous: queueing ----------------------------------------------------------

    async def enqueue(self, fn: ResolvedFunction, request_id: str, payload: bytes, trace_header: str) -> None:
        """Durably queue an event; returns once it is committed (then Invoke answers 202)."""
        await self.enqueue_many(fn, [(request_id, payload, trace_header)])

    async def enqueue_many(self, fn: ResolvedFunction, events: Sequence[tuple[str, bytes, str]]) -> None:
        """Durably queue events (request id, payload, trace header) for one function, in this
        order, in one transaction; returns once it is committed. A service delivering a run of
        events (S3 notifications) waits for one commit, not one per event."""
        now = self.clock.now()
        qualifier = fn.invoked_arn.split(":")[7] if fn.invoked_arn.count(":") == 7 else None
        received = [self._point("AsyncEventsReceived", fn, 1, "Count") for _ in events]
        rows = [(request_id, fn.name, qualifier, payload, trace_header, now, now)
                for request_id, payload, trace_header in events]

        def txn(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO lambda_events (request_id, function, qualifier, payload, trace_header, received, next_at)"
                " VALUES (?,?,?,?,?,?,?)", rows)
            write_points(conn, received)

        committed = self.db.submit(txn)
        # Start them while their commit is in flight: the one writer commits the events before
        # anything their attempts write, and the caller still hears 202 only once they are durable.
        waiting = False
        for request_id, payload, trace_header in events:
            event = _Event(request_id, fn.name, qualifier, payload, trace_header, now, 0, 0, 0.0, None)
            waiting = not self.dispatcher.offer(event) or waiting
        await asyncio.wrap_future(committed)
        if waiting:
            self.dispatcher.wake.set()  # no free slot now: the dispatcher takes them as slots free

    def pending(self, function: str | None = None) -> int:
        if function:
            row = self.db.query_one("SELECT COUNT(*) AS n FROM lambda_events WHERE function=?", (function,))
        else:
            row = self.db.query_one("SELECT COUNT(*) AS n FROM lambda_events")
        return int(row["n"]) if row else 0

    def running_async(self) -> Counter[str]:
        """Async events being run now, per function (the rest of `lambda_events` is waiting)."""
        return Counter(list(self._inflight.values()))  # list(): one step, safe from another thread

    # -- asynchronous: one event's turn ----------------------------------------------------

    async def _run_event(self, event: _Event) -> None:
        """The dispatcher's handler: run the event's next attempt, or settle it without one."""
        try:
            fn = self.functions.resolve(event.function, event.qualifier)
        except ServiceError:
            # The function (or its alias/version) was deleted: AWS discards its queued events.
            # Sluice records that as the event's outcome rather than losing it silently.
            await self._settle(event, None, FUNCTION_DELETED, None, event.last_result)
            return
        age = self._age(event)
        if fn.reserved_concurrency == 0:
            await self._settle(event, fn, ZERO_RESERVED_CONCURRENCY, None, None)
            return
        if expired(age, fn.invoke_config.max_age):
            await self._settle(event, fn, EVENT_AGE_EXCEEDED, None, event.last_result)
            return
        if not self._may_run(fn):
            await self._throttle(event, fn, age)
            return
        self._inflight[event.request_id] = event.function
        try:
            await self._attempt(event, fn, age, self._start(fn))
        finally:
            self._inflight.pop(event.request_id, None)

    async def _throttle(self, event: _Event, fn: ResolvedFunction, age: float) -> None:
        decision = lambda_throttle(fn.invoke_config.max_age).decide(event.throttles + 1, age)
        throttled = self._point("Throttles", fn, 1, "Count")
        if isinstance(decision, GiveUp):
            await self._settle(event, fn, decision.reason or EVENT_AGE_EXCEEDED, None, event.last_result, extra=[throttled])
            return
        next_at = self.clock.now() + self.clock.engine_seconds(decision.delay)

        def txn(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE lambda_events SET throttles = throttles + 1, next_at=? WHERE request_id=?",
                         (next_at, event.request_id))
            write_points(conn, [throttled])

        await asyncio.wrap_future(self.db.submit(txn))

    async def _attempt(self, event: _Event, fn: ResolvedFunction, age: float, concurrent: float) -> None:
        request = InvocationRequest(request_id=event.request_id, payload=event.payload,
                                    invoked_arn=fn.invoked_arn, trace_header=event.trace_header)
        points = [self._point("AsyncEventAge", fn, max(0.0, age * 1000), "Milliseconds")]
        started = self.clock.monotonic()
        started_at = self.clock.now()
        try:
            result = await self.pool.invoke(fn.spec, request)
        except asyncio.CancelledError:  # stopping: nothing recorded, so it runs again after restart
            self._finish(fn)
            raise
        except Exception:  # a system error: back to the queue, as AWS retries those with backoff
            log.exception("system error running %s", event.request_id)
            self._finish(fn)
            await self._throttle(event, fn, self._age(event))
            return
        self._finish(fn)
        # The environment is free again: the next event may start while this one's outcome
        # commits (its fsync would otherwise leave an environment idle).
        self.dispatcher.release_slot(event.request_id)
        event.run_seconds += self.clock.monotonic() - started
        points += self._invocation_points(fn, result, concurrent, started_at)
        attempts = event.attempts + 1
        record = journal.Attempt(
            request_id=event.request_id, number=attempts, function_arn=fn.invoked_arn, span_id=new_span_id(),
            started=started_at, finished=self.clock.now(), duration_ms=result.duration_ms,
            outcome=journal.attempt_outcome(result.ok, result.error_type),
            error_type=result.error_type, error_message=result.error_message, log_stream=result.log_stream or None)
        if result.ok:
            await self._settle(event, fn, SUCCESS, result, None, attempts=attempts, extra=points, attempt=record)
            return
        policy = LambdaAsyncRetry(fn.invoke_config.max_retries, fn.invoke_config.max_age)
        decision = policy.decide(attempts, self._age(event))
        if isinstance(decision, GiveUp):
            await self._settle(event, fn, decision.reason or RETRIES_EXHAUSTED, result, None, attempts=attempts,
                               extra=points, attempt=record)
            return
        next_at = self.clock.now() + self.clock.engine_seconds(decision.delay)
        last = json.dumps(_result_record(result))

        def txn(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE lambda_events SET attempts=?, next_at=?, last_result=?, run_seconds=?"
                         " WHERE request_id=?", (attempts, next_at, last, event.run_seconds, event.request_id))
            journal.add_attempt(conn, record)
            write_points(conn, points)

        await asyncio.wrap_future(self.db.submit(txn))
        self.on_attempt(event.request_id, attempts)

    async def _settle(self, event: _Event, fn: ResolvedFunction | None, condition: str,
                      result: InvocationResult | None, last: dict[str, Any] | None, *,
                      attempts: int | None = None, extra: list[Point] | None = None,
                      attempt: journal.Attempt | None = None) -> None:
        """Record the event's one outcome and remove it from the queue, in one transaction."""
        attempts = event.attempts if attempts is None else attempts
        response = _result_record(result) if result is not None else last
        payload = result.payload if result is not None else None
        if payload is None and last is not None:
            payload = last.get("payload", "").encode() if last.get("payload") else None
        now = self.clock.now()
        points = list(extra or [])
        if fn is not None and condition != SUCCESS:
            points.append(self._point("AsyncEventsDropped", fn, 1, "Count"))
        arn = fn.qualified_arn if fn else f"{event.function}:{event.qualifier or '$LATEST'}"
        cfg = fn.invoke_config if fn else None

        def txn(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM lambda_events WHERE request_id=?", (event.request_id,))
            conn.execute(
                "INSERT OR REPLACE INTO lambda_outcomes (request_id, function, function_arn, condition, attempts,"
                " request_payload, response, response_payload, trace_header, received, finished, on_success,"
                " on_failure, dead_letter) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (event.request_id, event.function, arn, condition, attempts, event.payload,
                 json.dumps(response) if response else None, payload, event.trace_header, event.received, now,
                 cfg.on_success if cfg else None, cfg.on_failure if cfg else None,
                 fn.dead_letter_arn if fn else None),
            )
            if attempt is not None:
                journal.add_attempt(conn, attempt)
            write_points(conn, points)

        await asyncio.wrap_future(self.db.submit(txn))
        if attempt is not None:
            self.on_attempt(event.request_id, attempt.number)
        self.on_outcome()
        log.debug("event %s -> %s after %d attempt(s)", event.request_id, condition, attempts)

    def _age(self, event: _Event) -> float:
        """The event's age in AWS-seconds: time spent waiting runs on the scaled clock, time spent
        running attempts is real (handlers run in real time), so a fast clock does not inflate work."""
        waiting = max(0.0, self.clock.now() - event.received - event.run_seconds)
        return waiting * self.clock.time_scale + event.run_seconds

    # -- metrics -------------------------------------------------------------------------

    def _point(self, name: str, fn: ResolvedFunction, value: float, unit: str, ts: float | None = None) -> Point:
        # Resource: what was invoked (the function, a version or an alias); ExecutedVersion only
        # for an alias, the version it resolved to, as AWS publishes them.
        qualifier = fn.invoked_arn.split(":")[7] if fn.invoked_arn.count(":") == 7 else None
        resource = f"{fn.name}:{qualifier}" if qualifier else fn.name
        alias = qualifier is not None and qualifier != "$LATEST" and not qualifier.isdigit()
        return lambda_point(name, fn.name, resource, fn.executed_version if alias else None, value, unit,
                            self.clock.now() if ts is None else ts)

    def _invocation_points(self, fn: ResolvedFunction, result: InvocationResult, concurrent: float,
                           started_at: float) -> list[Point]:
        # Errors is a 0/1 indicator of every invocation's outcome, as AWS publishes it: a minute
        # of successes has an Errors datapoint of 0 (an alarm sees it and returns to OK), and its
        # SampleCount equals Invocations (its Average is the error rate). All are stamped with
        # the time the invocation started, not ended, as AWS stamps them.
        return [
            self._point(name, fn, value, unit, started_at) for name, value, unit in (
                ("Invocations", 1, "Count"),
                ("Errors", 0 if result.ok else 1, "Count"),
                ("Duration", result.duration_ms, "Milliseconds"),
                ("ConcurrentExecutions", concurrent, "Count"))
        ]


def _result_record(result: InvocationResult) -> dict[str, Any]:
    return {"statusCode": 200, "ok": result.ok, "functionError": result.function_error,
            "errorType": result.error_type, "errorMessage": result.error_message,
            "payload": result.payload.decode("utf-8", "replace")}
