"""The journey of one event, rebuilt from durable records only (the journal, the Lambda queue and
outcomes, and the log lines the Logs service gives through its interface): what `sluice trace`
shows and what the OTLP export turns into spans.

A journey is a JSON-able dict:
  traceId, traceHeader,
  upload: {bucket, key, eventName, operation, requestId, size, etag, time, spanId} | None,
  notifications: [{configurationId, target, state, created, finished, attempts, deliveryId, error,
                   spanId, traceHeader, invocation | None}],
  invocation: the Lambda invocation when there is no upload (a direct Invoke, an SNS message...).
An invocation: {requestId, function, functionArn, state (queued | done), received, traceHeader,
  attempts: [{number, started, finished, durationMs, outcome, errorType, errorMessage, waitBefore,
              spanId, logStream, logs: [{timestamp, message}]}],
  nextAttemptAt (queued), end: {condition, finished, result, reason, sends: [...]} (done)}.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .xray import trace_id_of

LogGroupOf = Callable[[str], str]


class LogLine(Protocol):
    @property
    def timestamp(self) -> int: ...  # epoch milliseconds
    @property
    def message(self) -> str: ...


class LogLinesOf(Protocol):
    def __call__(self, group: str, stream: str, since_ms: int, until_ms: int) -> Sequence[LogLine]:
        """A stream's log lines with since <= timestamp <= until, in the order written
        (LogsService.lines)."""

# How far around an attempt its log lines are looked for (the runtime writes them at the end).
_LOG_SLACK_MS = 10_000


def _default_group(function: str) -> str:
    return f"/aws/lambda/{function}"


class Journeys:
    def __init__(self, reader: Callable[[], sqlite3.Connection], time_scale: float = 1.0,
                 log_group: LogGroupOf = _default_group, lines: LogLinesOf | None = None) -> None:
        """`lines`: where attempts' log lines come from; None leaves them out (spans need none)."""
        self._reader = reader
        self.time_scale = time_scale
        self.log_group = log_group
        self.lines = lines

    @property
    def conn(self) -> sqlite3.Connection:
        return self._reader()

    # -- lookups -------------------------------------------------------------------------

    def find(self, target: str, every: bool = False) -> list[dict[str, Any]]:
        """`bucket/key` (the latest change of that key, or all with `every`), an S3 request id,
        or a Lambda request id (or any id a notification was delivered as)."""
        if "/" in target:  # request ids never contain '/'
            bucket, _, key = target.removeprefix("s3://").partition("/")
            sql = "SELECT * FROM trace_uploads WHERE bucket=? AND key=? ORDER BY id"
            rows = self.conn.execute(sql + ("" if every else " DESC LIMIT 1"), (bucket, key)).fetchall()
            return [self._from_upload(r) for r in rows]
        rows = self.conn.execute("SELECT * FROM trace_uploads WHERE request_id=? ORDER BY id", (target,)).fetchall()
        if rows:
            return [self._from_upload(r) for r in rows]
        note = self.conn.execute("SELECT upload_id FROM trace_notifications WHERE delivery_id=?",
                                 (target,)).fetchone()
        if note is not None:
            upload = self.conn.execute("SELECT * FROM trace_uploads WHERE id=?", (note["upload_id"],)).fetchone()
            if upload is not None:
                return [self._from_upload(upload)]
        invocation = self.invocation(target)
        if invocation is None:
            return []
        header = invocation["traceHeader"]
        return [{"traceId": trace_id_of(header), "traceHeader": header, "upload": None, "notifications": [],
                 "invocation": invocation}]

    def for_notification(self, outbox_id: int) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT u.* FROM trace_uploads u JOIN trace_notifications n ON n.upload_id = u.id"
                                " WHERE n.outbox_id=?", (outbox_id,)).fetchone()
        return self._from_upload(row) if row is not None else None

    # -- building ------------------------------------------------------------------------

    def _from_upload(self, row: sqlite3.Row) -> dict[str, Any]:
        notes = self.conn.execute("SELECT * FROM trace_notifications WHERE upload_id=? ORDER BY outbox_id",
                                  (row["id"],)).fetchall()
        return {
            "traceId": trace_id_of(row["trace_header"]),
            "traceHeader": row["trace_header"],
            "upload": {
                "bucket": row["bucket"], "key": row["key"], "eventName": row["event_name"],
                "operation": row["operation"], "requestId": row["request_id"], "size": row["size"],
                "etag": row["etag"], "time": row["at"], "committed": row["committed"], "spanId": row["span_id"],
            },
            "notifications": [self._notification(n) for n in notes],
            "invocation": None,
        }

    def _notification(self, row: sqlite3.Row) -> dict[str, Any]:
        invocation = None
        if row["delivery_id"] and row["target_arn"].startswith("arn:aws:lambda:"):
            invocation = self.invocation(row["delivery_id"])
        header = row["trace_header"]
        return {
            "outboxId": row["outbox_id"], "configurationId": row["configuration_id"], "target": row["target_arn"],
            "state": row["state"], "created": row["created"], "finished": row["finished"],
            "attempts": row["attempts"], "deliveryId": row["delivery_id"], "error": row["error"],
            "traceHeader": header, "spanId": _parent_of(header), "invocation": invocation,
        }

    def invocation(self, request_id: str) -> dict[str, Any] | None:
        """An async Lambda event: its attempts (with their log lines) and, once it has one, its outcome."""
        conn = self.conn
        done = conn.execute("SELECT * FROM lambda_outcomes WHERE request_id=?", (request_id,)).fetchone()
        queued = None if done else conn.execute("SELECT * FROM lambda_events WHERE request_id=?",
                                                (request_id,)).fetchone()
        row = done or queued
        if row is None:
            return None
        attempts = [dict(a) for a in conn.execute("SELECT * FROM lambda_attempts WHERE request_id=? ORDER BY id",
                                                  (request_id,))]
        out: dict[str, Any] = {
            "requestId": request_id, "function": row["function"], "state": "done" if done else "queued",
            "received": row["received"], "traceHeader": row["trace_header"],
            "attempts": self._attempts(row["function"], request_id, row["received"], attempts),
        }
        if done is not None:
            out["functionArn"] = done["function_arn"]
            out["end"] = self._end(done)
        else:
            out["nextAttemptAt"] = row["next_at"]
            out["throttles"] = row["throttles"]
        return out

    def _attempts(self, function: str, request_id: str, received: float,
                  rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        blocks = self._log_blocks(function, request_id, rows) if self.lines is not None else {}
        out = []
        previous_end = received
        for row in rows:
            out.append({
                "number": row["number"], "functionArn": row["function_arn"], "started": row["started"], "finished": row["finished"],
                "durationMs": row["duration_ms"], "outcome": row["outcome"], "errorType": row["error_type"],
                "errorMessage": row["error_message"], "waitBefore": max(0.0, row["started"] - previous_end),
                "spanId": row["span_id"], "logStream": row["log_stream"], "logs": blocks.get(row["id"], []),
            })
            previous_end = row["finished"]
        return out

    def _end(self, row: sqlite3.Row) -> dict[str, Any]:
        sends = [{"kind": s["kind"], "target": s["target"], "at": s["at"], "ok": bool(s["ok"]),
                  "messageId": s["message_id"], "error": s["error"], "spanId": s["span_id"]}
                 for s in self.conn.execute("SELECT * FROM lambda_deliveries WHERE request_id=? ORDER BY id",
                                            (row["request_id"],))]
        condition = row["condition"]
        response = json.loads(row["response"]) if row["response"] else None
        return {"condition": condition, "finished": row["finished"], "attempts": row["attempts"],
                "deliveriesDone": bool(row["delivered"]), "result": _result(condition, row, sends),
                "reason": None if condition == "Success" else condition, "response": response,
                "deadLetter": row["dead_letter"], "onSuccess": row["on_success"], "onFailure": row["on_failure"],
                "sends": sends}

    # -- logs ----------------------------------------------------------------------------

    def _log_blocks(self, function: str, request_id: str,
                    attempts: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
        """Each attempt's log lines, START through REPORT: an environment runs one invocation at a
        time, so the n-th START..REPORT block of this request id in a stream is its n-th attempt there."""
        out: dict[int, list[dict[str, Any]]] = {}
        if self.lines is None:
            return out
        group = self.log_group(function)
        by_stream: dict[str, list[dict[str, Any]]] = {}
        for a in attempts:
            if a["log_stream"]:
                by_stream.setdefault(a["log_stream"], []).append(a)
        start_tag, report_tag = f"START RequestId: {request_id}", f"REPORT RequestId: {request_id}"
        for stream, mine in by_stream.items():
            since = int(mine[0]["started"] * 1000) - _LOG_SLACK_MS
            until = int(mine[-1]["finished"] * 1000) + _LOG_SLACK_MS
            blocks: list[list[dict[str, Any]]] = []
            current: list[dict[str, Any]] | None = None
            for line in self.lines(group, stream, since, until):
                message = line.message
                if message.startswith(start_tag):
                    current = []
                    blocks.append(current)
                if current is not None:
                    current.append({"timestamp": line.timestamp, "message": message.rstrip("\n")})
                    if message.startswith(report_tag):
                        current = None
            for attempt, block in zip(mine, blocks, strict=False):
                out[attempt["id"]] = block
        return out


def _parent_of(header: str) -> str | None:
    for part in header.split(";"):
        name, _, value = part.partition("=")
        if name == "Parent":
            return value
    return None


def _result(condition: str, row: sqlite3.Row, sends: list[dict[str, Any]]) -> str:
    """success | dead-letter | destination | dropped | pending (the DLQ/destination send not made yet)."""
    if condition == "Success":
        return "success"
    if not row["delivered"] and (row["dead_letter"] or row["on_failure"]):
        return "pending"
    if any(s["ok"] and s["kind"] == "dead-letter" for s in sends):
        return "dead-letter"
    if any(s["ok"] and s["kind"] == "on-failure" for s in sends):
        return "destination"
    return "dropped"
