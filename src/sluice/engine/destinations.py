"""Where an async event's outcome goes: the dead-letter queue and the on-success / on-failure
destinations (aws-reference §3, §4).

Outcomes are already durable rows (`lambda_outcomes`); this worker delivers each one through
Deliveries and marks it delivered, so a crash in between means a second delivery, never none.
A target that cannot take the message counts DeadLetterErrors or DestinationDeliveryFailures.
Deliveries are made as the function's execution role: with IAM enforcement, `authorize` checks
the role's policies and the target's resource policy first (aws-reference §8).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any

from ..clock import Clock
from ..protocol import safejson
from ..protocol.values import iso8601
from ..services.delivery import Deliveries, Delivery, DeliveryResult, MessageAttribute
from ..store.db import Database
from . import journal
from .dispatcher import OutboxDispatcher, in_executor_each
from .metrics import Point, lambda_point, write_points
from .policy import SUCCESS, ZERO_RESERVED_CONCURRENCY
from .xray import new_span_id

log = logging.getLogger("sluice.engine.destinations")

# What real AWS sent as the source of destination events in 2025 (current docs say "aws.lambda").
EVENTBRIDGE_SOURCE = "lambda"
ERROR_MESSAGE_LIMIT = 1024
SNS_LIMIT = 256 * 1024
NOT_DELIVERED_CONDITIONS = ("FunctionDeleted",)


def _json_or_text(raw: bytes | None) -> Any:
    """A payload as JSON; as text if it is not JSON or nests deeper than Sluice parses (a
    handler's output is untrusted: json.loads would raise RecursionError)."""
    if raw is None:
        return None
    try:
        return safejson.loads(raw)
    except ValueError:  # safejson's JsonError, for bytes that are not UTF-8 too
        return raw.decode("utf-8", "replace")


def invocation_record(row: sqlite3.Row, drop_payloads: bool = False) -> dict[str, Any]:
    """The JSON document Lambda sends to a destination."""
    response = safejson.loads(row["response"]) if row["response"] else None
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": iso8601(row["finished"]),
        "requestContext": {
            "requestId": row["request_id"],
            "functionArn": row["function_arn"],
            "condition": row["condition"],
            "approximateInvokeCount": row["attempts"],
        },
        "requestPayload": None if drop_payloads else _json_or_text(row["request_payload"]),
    }
    if response is not None and row["condition"] != ZERO_RESERVED_CONCURRENCY:
        context: dict[str, Any] = {"statusCode": response.get("statusCode", 200),
                                   "executedVersion": row["function_arn"].rsplit(":", 1)[-1]}
        if response.get("functionError"):
            context["functionError"] = response["functionError"]
        record["responseContext"] = context
        record["responsePayload"] = None if drop_payloads else _json_or_text(row["response_payload"])
    return record


def dead_letter_message(row: sqlite3.Row) -> Delivery:
    """The DLQ message: the event unchanged, with RequestID / ErrorCode / ErrorMessage."""
    response = safejson.loads(row["response"]) if row["response"] else {}
    if row["condition"] == ZERO_RESERVED_CONCURRENCY:
        # No attempt was made: the throttle that would have answered is what the DLQ records.
        code, message = "429", "Rate Exceeded."
    else:
        code = str(response.get("statusCode", 200))
        message = response.get("errorMessage") or response.get("errorType") or ""
    attributes = {
        "RequestID": MessageAttribute("String", row["request_id"]),
        "ErrorCode": MessageAttribute("Number", code),
        "ErrorMessage": MessageAttribute("String", message.encode()[:ERROR_MESSAGE_LIMIT].decode("utf-8", "ignore")),
    }
    return Delivery(body=(row["request_payload"] or b"").decode("utf-8", "replace"), attributes=attributes,
                    system_attributes=_trace(row), allow_fifo=False)


def _trace(row: sqlite3.Row) -> dict[str, str]:
    return {"AWSTraceHeader": row["trace_header"]} if row["trace_header"] else {}


def destination_message(row: sqlite3.Row, target: str, success: bool) -> Delivery:
    service = target.split(":")[2] if target.count(":") >= 5 else ""
    record = invocation_record(row)
    body = json.dumps(record)
    if service == "sns" and len(body.encode()) > SNS_LIMIT:
        body = json.dumps(invocation_record(row, drop_payloads=True))  # AWS drops the payloads
    event: dict[str, Any] = {}
    object_key = None
    if service == "s3":
        # aws/lambda/async/<function-name>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid> (aws-reference §4)
        when = dt.datetime.fromtimestamp(row["finished"], tz=dt.timezone.utc)
        name = row["function"]
        object_key = (f"aws/lambda/async/{name}/{when:%Y/%m/%d}/{when:%Y-%m-%dT%H.%M.%S}-{uuid.uuid4()}")
    if service == "events":
        kind = "Success" if success else "Failure"
        event = {"Source": EVENTBRIDGE_SOURCE, "DetailType": f"Lambda Function Invocation Result - {kind}",
                 "Resources": [target, row["function_arn"]]}
    return Delivery(body=body, system_attributes=_trace(row), event=event, allow_fifo=False,
                    source_arn=row["function_arn"], object_key=object_key)


Authorize = Callable[[str, str, Delivery], DeliveryResult | None]


Batch = tuple[sqlite3.Row, ...]
BATCH = 100  # outcomes delivered per turn of the dispatcher (one thread hop, not one per outcome)


class Undelivered:
    """`lambda_outcomes` not yet delivered, as the dispatcher's DueSource: due as soon as
    recorded, taken a batch at a time (the oldest first), so one item is one batch."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def fetch_due(self, now: float, limit: int) -> list[Batch]:
        rows = self.db.query("SELECT * FROM lambda_outcomes WHERE delivered=0 ORDER BY finished LIMIT ?",
                             (BATCH * limit,))
        return [tuple(rows[i:i + BATCH]) for i in range(0, len(rows), BATCH)]

    def next_due(self, now: float) -> float | None:
        return None  # an outcome is due when it is recorded, and recording it wakes the dispatcher


class OutcomeDelivery:
    def __init__(self, db: Database, clock: Clock, deliveries: Deliveries, *, wake: asyncio.Event | None = None,
                 authorize: Authorize | None = None,
                 on_delivered: Callable[[str], None] = lambda request_id: None) -> None:
        """`wake`: set when an outcome is recorded; `authorize` (with IAM enforcement): (function
        name, target ARN, delivery) -> None if the execution role may deliver, else the failed
        result; `on_delivered`: an outcome's sends committed."""
        self.db = db
        self.clock = clock
        self.deliveries = deliveries
        self.authorize = authorize
        self.on_delivered = on_delivered
        # One batch at a time, oldest first, as before: deliveries reach a DLQ in outcome order.
        # The look is one indexed read (on the loop); the deliveries block (in the executor).
        self.dispatcher: OutboxDispatcher[Batch] = OutboxDispatcher(
            "lambda-outcome-delivery", clock, Undelivered(db), in_executor_each(self.deliver_batch),
            key=lambda batch: batch[0]["request_id"], concurrency=1, wake=wake, inline_reads=True)

    def deliver_batch(self, rows: Batch) -> None:
        """Deliver a batch of outcomes, oldest first (in a worker thread). An outcome that sent
        something is marked delivered right after its sends, as before (a crash in between means
        a second delivery); the marks of outcomes with nothing to send (no DLQ, no destination:
        most of them) join the next commit, so a batch of those costs one commit, not one each."""
        marks: list[tuple[str, list[Point], list[journal.Sent]]] = []
        for row in rows:
            points, sent = self._deliver(row)
            marks.append((row["request_id"], points, sent))
            if sent:
                self._mark_all(marks)
                marks = []
        if marks:
            self._mark_all(marks)

    def deliver(self, row: sqlite3.Row) -> None:
        """Deliver one outcome and mark it delivered (in a worker thread)."""
        self.deliver_batch((row,))

    def _mark_all(self, marks: list[tuple[str, list[Point], list[journal.Sent]]]) -> None:
        def mark(conn: sqlite3.Connection) -> None:
            for request_id, points, sent in marks:
                _mark(conn, request_id, points)
                for item in sent:
                    journal.add_sent(conn, item)

        self.db.write(mark)
        for request_id, _, _ in marks:
            self.on_delivered(request_id)

    def _deliver(self, row: sqlite3.Row) -> tuple[list[Point], list[journal.Sent]]:
        condition = row["condition"]
        if condition in NOT_DELIVERED_CONDITIONS:
            return [], []
        failures: list[Point] = []
        sent: list[journal.Sent] = []
        success = condition == SUCCESS
        if not success and row["dead_letter"]:
            result = self._send(row["function"], row["dead_letter"], dead_letter_message(row))
            sent.append(self._sent(row, "dead-letter", row["dead_letter"], result))
            if not result.ok:
                failures.append(self._point("DeadLetterErrors", row))
        target = row["on_success"] if success else row["on_failure"]
        if target:
            result = self._send(row["function"], target, destination_message(row, target, success))
            sent.append(self._sent(row, "on-success" if success else "on-failure", target, result))
            if not result.ok:
                failures.append(self._point("DestinationDeliveryFailures", row))
        return failures, sent

    def _sent(self, row: sqlite3.Row, kind: str, target: str, result: DeliveryResult) -> journal.Sent:
        error = None if result.ok else (f"{result.error}: {result.detail}" if result.detail else str(result.error))
        return journal.Sent(row["request_id"], kind, target, new_span_id(), self.clock.now(), result.ok,
                            result.message_id, error)

    def _send(self, function: str, arn: str, delivery: Delivery) -> DeliveryResult:
        try:
            denied = self.authorize(function, arn, delivery) if self.authorize is not None else None
            result = denied or self.deliveries.deliver(arn, delivery)
        except Exception as exc:  # a target's bug is a delivery failure, not a lost outcome
            log.exception("delivery to %s failed", arn)
            return DeliveryResult.failed("Invalid", str(exc))
        if not result.ok:
            log.info("could not deliver to %s: %s %s", arn, result.error, result.detail)
        return result

    def _point(self, name: str, row: sqlite3.Row) -> Point:
        # The Resource is what the event was invoked on: the function, or its alias or version.
        qualifier = str(row["function_arn"]).rsplit(":", 1)[-1]
        resource = row["function"] if qualifier in ("$LATEST", row["function"]) else f"{row['function']}:{qualifier}"
        return lambda_point(name, row["function"], resource, None, 1, "Count", self.clock.now())


def _mark(conn: sqlite3.Connection, request_id: str, points: list[Point]) -> None:
    conn.execute("UPDATE lambda_outcomes SET delivered=1 WHERE request_id=?", (request_id,))
    write_points(conn, points)
