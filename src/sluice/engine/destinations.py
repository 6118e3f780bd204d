"""Where an async event's outcome goes: the dead-letter queue and the on-success / on-failure
destinations (aws-reference §3, §4).

Outcomes are already durable rows (`lambda_outcomes`); this worker delivers each one through
Deliveries and marks it delivered, so a crash in between means a second delivery, never none.
A target that cannot take the message counts DeadLetterErrors or DestinationDeliveryFailures.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import sqlite3
import uuid
from typing import Any

from ..clock import Clock
from ..services.delivery import Deliveries, Delivery, DeliveryResult, MessageAttribute
from ..store.db import Database
from .metrics import Point, lambda_point, write_points
from .policy import SUCCESS, ZERO_RESERVED_CONCURRENCY

log = logging.getLogger("sluice.engine.destinations")

# What real AWS sent as the source of destination events in 2025 (current docs say "aws.lambda").
EVENTBRIDGE_SOURCE = "lambda"
ERROR_MESSAGE_LIMIT = 1024
SNS_LIMIT = 256 * 1024
NOT_DELIVERED_CONDITIONS = ("FunctionDeleted",)


def _iso(ts: float) -> str:
    d = dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def _json_or_text(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace")


def invocation_record(row: sqlite3.Row, drop_payloads: bool = False) -> dict[str, Any]:
    """The JSON document Lambda sends to a destination."""
    response = json.loads(row["response"]) if row["response"] else None
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": _iso(row["finished"]),
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
    response = json.loads(row["response"]) if row["response"] else {}
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
                    system_attributes=_trace(row), principal="lambda.amazonaws.com", allow_fifo=False)


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
    return Delivery(body=body, system_attributes=_trace(row), event=event, principal="lambda.amazonaws.com",
                    allow_fifo=False, source_arn=row["function_arn"], object_key=object_key)


class OutcomeDelivery:
    def __init__(self, db: Database, clock: Clock, deliveries: Deliveries) -> None:
        self.db = db
        self.clock = clock
        self.deliveries = deliveries
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sluice-outcome-delivery")

    async def shutdown(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            try:
                busy = await loop.run_in_executor(None, self.deliver_pending)
            except Exception:  # one bad row must not stop every later delivery
                log.exception("outcome delivery failed")
                busy = False
            if not busy:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=1.0)

    def deliver_pending(self, limit: int = 100) -> bool:
        """Deliver up to `limit` outcomes (in a worker thread); True if there may be more."""
        rows = self.db.query("SELECT * FROM lambda_outcomes WHERE delivered=0 ORDER BY finished LIMIT ?", (limit,))
        for row in rows:
            points = self._deliver(row)
            request_id = row["request_id"]

            def mark(conn: sqlite3.Connection, rid: str = request_id, pts: list[Point] = points) -> None:
                _mark(conn, rid, pts)

            self.db.write(mark)
        return len(rows) == limit

    def _deliver(self, row: sqlite3.Row) -> list[Point]:
        condition = row["condition"]
        if condition in NOT_DELIVERED_CONDITIONS:
            return []
        failures: list[Point] = []
        success = condition == SUCCESS
        if not success and row["dead_letter"]:
            result = self._send(row["dead_letter"], dead_letter_message(row))
            if not result.ok:
                failures.append(self._point("DeadLetterErrors", row))
        target = row["on_success"] if success else row["on_failure"]
        if target:
            result = self._send(target, destination_message(row, target, success))
            if not result.ok:
                failures.append(self._point("DestinationDeliveryFailures", row))
        return failures

    def _send(self, arn: str, delivery: Delivery) -> DeliveryResult:
        try:
            result = self.deliveries.deliver(arn, delivery)
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
