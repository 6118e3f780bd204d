"""`sluice status`: each function's async backlog and recent error rate, each DLQ's depth, and
each EventBridge rule's target deliveries not yet made."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..protocol.errors import ServiceError
from .metrics import MetricStore
from .types import ResolvedFunction

ERROR_WINDOW = 300.0  # seconds: "error rate over the last 5 minutes"


class QueueDepthOf(Protocol):
    def __call__(self, arn: str) -> Any: ...  # a QueueDepth (visible, in_flight, delayed) or None


class RuleBacklog(Protocol):
    """An EventBridge rule's deliveries not yet made (services/events/records.py's Backlog)."""

    @property
    def rule_arn(self) -> str: ...
    @property
    def pending(self) -> int: ...
    @property
    def retrying(self) -> int: ...
    @property
    def oldest(self) -> float: ...


def _no_backlogs() -> list[RuleBacklog]:
    return []


@dataclass
class StatusSources:
    """What `sluice status` reads, handed in by the server."""

    reader: Callable[[], sqlite3.Connection]
    now: Callable[[], float]
    time_scale: float
    function_names: Callable[[], list[str]]
    resolve: Callable[[str], ResolvedFunction]
    running: Callable[[], Counter[str]]  # executions per function, sync and async
    running_async: Callable[[], Counter[str]]  # async events being run, per function
    queue_depth: QueueDepthOf
    metrics: MetricStore
    event_backlogs: Callable[[], Sequence[RuleBacklog]] = _no_backlogs  # EventBridge, per rule


def status(src: StatusSources) -> dict[str, Any]:
    conn = src.reader()
    now = src.now()
    backlog = {r["function"]: r for r in conn.execute(
        "SELECT function, COUNT(*) AS n, MIN(received) AS oldest FROM lambda_events GROUP BY function")}
    # Errors is published for every invocation (0 or 1) whatever its dimensions: sum them all.
    counts = src.metrics.totals("AWS/Lambda", ("Invocations", "Errors"), "FunctionName", now - ERROR_WINDOW)
    running, running_async = src.running(), src.running_async()
    functions = []
    dlqs: dict[str, list[dict[str, str]]] = {}
    names = sorted(set(src.function_names()) | set(backlog))
    for name in names:
        row = backlog.get(name)
        queued = int(row["n"]) if row else 0
        invocations = counts.get((name, "Invocations"), 0.0)
        errors = counts.get((name, "Errors"), 0.0)
        functions.append({
            "name": name,
            "queued": max(0, queued - running_async.get(name, 0)),
            "inFlight": running.get(name, 0),
            "oldestEventAgeSeconds": round(now - float(row["oldest"]), 3) if row else None,
            "invocations5m": int(invocations),
            "errors5m": int(errors),
            "errorRate5m": round(errors / invocations, 4) if invocations else None,
        })
        try:
            fn = src.resolve(name)
        except ServiceError:  # deleted while we looked, or a backlog of a deleted function
            continue
        if fn.spec.runtime_note:
            functions[-1]["runtimeNote"] = fn.spec.runtime_note
        for arn, role in ((fn.dead_letter_arn, "DeadLetterConfig"), (fn.invoke_config.on_failure, "OnFailure")):
            if arn and arn.startswith("arn:aws:sqs:"):
                dlqs.setdefault(arn, []).append({"function": name, "as": role})
    queues = []
    for arn, users in sorted(dlqs.items()):
        depth = src.queue_depth(arn)
        queues.append({
            "arn": arn, "name": arn.rsplit(":", 1)[-1], "exists": depth is not None,
            "messages": depth.visible if depth is not None else None,
            "messagesInFlight": depth.in_flight if depth is not None else None,
            "usedBy": users,
        })
    rules = [{"rule": b.rule_arn, "pending": b.pending, "retrying": b.retrying,
              "oldestEventAgeSeconds": round(now - b.oldest, 3)} for b in src.event_backlogs()]
    return {"time": now, "timeScale": src.time_scale, "functions": functions, "deadLetterQueues": queues,
            "eventBridge": rules}

