"""OpenTelemetry export: the path of each event as spans, over OTLP/HTTP with the JSON encoding.

The pipeline only drops a note ("this notification ended", "this attempt committed", "this
outcome was delivered") into a bounded queue; a background thread turns notes into spans from the
durable journal, batches them and POSTs `<endpoint>/v1/traces`. A full queue or a dead collector
drops spans (logged at debug): the pipeline never waits for telemetry.

Spans (trace id = the X-Ray root's 32 hex digits, span ids = the journal's):
  S3.<operation> (server)        the upload; parent: the client's span when it sent X-Amzn-Trace-Id
  S3.Notification (producer)     child of the upload
  <function> (consumer)          one per Lambda attempt, child of the notification (the Parent of
                                 the event's trace header)
  Lambda.DeadLetter / Lambda.Destination (producer)  child of the last attempt
"""

from __future__ import annotations

import json
import logging
import queue
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..clock import Clock
from .journey import Journeys
from .lifecycle import Signal
from .periodic import PeriodicTask, in_executor
from .xray import parse

log = logging.getLogger("sluice.otlp")

SERVER, PRODUCER, CONSUMER = 2, 4, 5  # Span.SpanKind
STATUS_UNSET, STATUS_ERROR = 0, 2  # Status.StatusCode
SERVICE_NAME = "sluice"


@dataclass
class Span:
    """One span of an event's trace, as the OTLP export sends it."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: int
    start: float
    end: float
    attributes: dict[str, str | int | float | bool] = field(default_factory=dict)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "traceId": self.trace_id, "spanId": self.span_id, "name": self.name, "kind": self.kind,
            "startTimeUnixNano": str(int(self.start * 1e9)),
            "endTimeUnixNano": str(int(max(self.end, self.start) * 1e9)),
            "attributes": [{"key": k, "value": _value(v)} for k, v in self.attributes.items()],
            "status": {"code": STATUS_ERROR, "message": self.error} if self.error else {"code": STATUS_UNSET},
        }
        if self.parent_id:
            out["parentSpanId"] = self.parent_id
        return out


def _value(v: str | int | float | bool) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}  # int64: a decimal string in the JSON mapping
    if isinstance(v, float):
        return {"doubleValue": v}
    return {"stringValue": v}


def export_body(spans: list[Span]) -> dict[str, Any]:
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": SERVICE_NAME}},
                                    {"key": "service.version", "value": {"stringValue": __version__}}]},
        "scopeSpans": [{"scope": {"name": "sluice", "version": __version__},
                        "spans": [s.to_json() for s in spans]}],
    }]}


def traces_url(endpoint: str) -> str:
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


# -- spans from the journal ------------------------------------------------------------------


def notification_spans(journeys: Journeys, outbox_id: int) -> list[Span]:
    """The notification's span, and the upload's with the upload's first notification."""
    journey = journeys.for_notification(outbox_id)
    if journey is None or journey["traceId"] is None:
        return []
    upload = journey["upload"]
    client = parse(journey["traceHeader"])
    spans = []
    notes = journey["notifications"]
    if notes and notes[0]["outboxId"] == outbox_id:
        spans.append(Span(
            journey["traceId"], upload["spanId"], client.parent if client else None,
            f"S3.{upload['operation'] or 'PutObject'}", SERVER, upload["time"], upload["committed"],
            {"rpc.system": "aws-api", "rpc.service": "S3", "rpc.method": upload["operation"] or "PutObject",
             "aws.request_id": upload["requestId"], "aws.s3.bucket": upload["bucket"],
             "aws.s3.key": upload["key"], "aws.s3.event": upload["eventName"],
             **({"aws.s3.object.size": int(upload["size"])} if upload["size"] is not None else {}),
             **({"aws.s3.object.etag": upload["etag"]} if upload["etag"] else {})}))
    for note in notes:
        if note["outboxId"] != outbox_id or not note["spanId"]:
            continue
        attrs: dict[str, str | int | float | bool] = {
            "aws.s3.bucket": upload["bucket"], "aws.s3.key": upload["key"],
            "aws.s3.notification.configuration_id": note["configurationId"],
            "messaging.destination.name": note["target"], "aws.s3.notification.state": note["state"],
            "aws.s3.notification.attempts": int(note["attempts"])}
        if note["deliveryId"]:
            attrs["messaging.message.id"] = note["deliveryId"]
        spans.append(Span(journey["traceId"], note["spanId"], upload["spanId"], "S3.Notification", PRODUCER,
                          note["created"], note["finished"] or note["created"], attrs,
                          error=f"dropped: {note['error']}" if note["state"] == "dropped" else None))
    return spans


def attempt_spans(journeys: Journeys, request_id: str, number: int) -> list[Span]:
    invocation = journeys.invocation(request_id)
    header = parse(invocation["traceHeader"]) if invocation else None
    if invocation is None or header is None:
        return []
    spans = []
    for a in invocation["attempts"]:
        if a["number"] != number:
            continue
        error = None
        if a["outcome"] != "success":
            error = f"{a['errorType']}: {a['errorMessage']}" if a["errorMessage"] else (a["errorType"] or "error")
        spans.append(Span(header.trace_id, a["spanId"], header.parent, invocation["function"], CONSUMER,
                          a["started"], a["finished"], {
                              "faas.name": invocation["function"], "faas.invocation_id": request_id,
                              "faas.trigger": "datasource", "faas.invoked_provider": "aws",
                              "cloud.provider": "aws", "aws.lambda.invoked_arn": a["functionArn"],
                              "aws.request_id": request_id, "aws.lambda.attempt": int(a["number"]),
                              "aws.lambda.outcome": a["outcome"],
                              "aws.lambda.duration_ms": float(a["durationMs"]),
                              **({"error.type": a["errorType"]} if a["errorType"] else {})},
                          error=error))
    return spans


def outcome_spans(journeys: Journeys, request_id: str) -> list[Span]:
    invocation = journeys.invocation(request_id)
    header = parse(invocation["traceHeader"]) if invocation else None
    if invocation is None or header is None or "end" not in invocation:
        return []
    attempts = invocation["attempts"]
    parent = attempts[-1]["spanId"] if attempts else header.parent
    end = invocation["end"]
    spans = []
    for s in end["sends"]:
        name = "Lambda.DeadLetter" if s["kind"] == "dead-letter" else "Lambda.Destination"
        service = s["target"].split(":")[2] if s["target"].count(":") >= 5 else ""
        attrs: dict[str, str | int | float | bool] = {
            "messaging.system": f"aws_{service}" if service in ("sqs", "sns") else service,
            "messaging.destination.name": s["target"].rsplit(":", 1)[-1], "cloud.resource_id": s["target"],
            "aws.lambda.destination": s["kind"], "aws.lambda.condition": end["condition"],
            "faas.invocation_id": request_id}
        if s["messageId"]:
            attrs["messaging.message.id"] = s["messageId"]
        spans.append(Span(header.trace_id, s["spanId"], parent, name, PRODUCER, end["finished"], s["at"], attrs,
                          error=s["error"] if not s["ok"] else None))
    return spans


# -- the exporter ----------------------------------------------------------------------------


Note = tuple[str, str, int]  # (kind, key, attempt number)


class OtlpExporter:
    """An engine Worker: notes from the pipeline (any thread, never blocking) are turned into
    spans and posted every `interval` real seconds (telemetry batching, not an AWS duration), or
    at once when a batch's worth is waiting; what is left is exported when the engine stops."""

    name = "otlp-export"

    def __init__(self, endpoint: str, journeys: Journeys, clock: Clock, *, max_queue: int = 4096, batch: int = 256,
                 interval: float = 1.0, timeout: float = 2.0) -> None:
        self.url = traces_url(endpoint)
        self.journeys = journeys
        self.batch = batch
        self.timeout = timeout  # real seconds: the collector's HTTP timeout
        self._notes: queue.Queue[Note] = queue.Queue(maxsize=max_queue)
        self._full = Signal()
        self.task = PeriodicTask(self.name, clock, interval, in_executor(self.export_pending), real_time=True,
                                 run_first=False, run_last=True, wake=self._full.event)

    # -- notes from the pipeline (any thread; never blocks) --

    def notification_done(self, outbox_id: int) -> None:
        self._put(("notification", str(outbox_id), 0))

    def attempt_done(self, request_id: str, number: int) -> None:
        self._put(("attempt", request_id, number))

    def outcome_delivered(self, request_id: str) -> None:
        self._put(("outcome", request_id, 0))

    def _put(self, note: Note) -> None:
        try:
            self._notes.put_nowait(note)
        except queue.Full:
            log.debug("OTLP queue full: dropped %s %s", note[0], note[1])
        if self._notes.qsize() >= self.batch:
            self._full.set()

    # -- a Worker of the engine --

    async def start(self) -> None:
        self._full.bind()
        await self.task.start()

    def request_stop(self) -> None:
        self.task.request_stop()

    async def stop(self, grace: float) -> None:
        await self.task.stop(grace)

    def export_pending(self) -> None:
        """Turn every queued note into spans and post them, `batch` spans at a time (in a thread)."""
        pending: list[Span] = []
        while True:
            try:
                note = self._notes.get_nowait()
            except queue.Empty:
                break
            pending.extend(self._spans(note))
            if len(pending) >= self.batch:
                self._post(pending)
                pending = []
        self._post(pending)

    def _spans(self, note: Note) -> list[Span]:
        kind, key, number = note
        try:
            if kind == "notification":
                return notification_spans(self.journeys, int(key))
            if kind == "attempt":
                return attempt_spans(self.journeys, key, number)
            return outcome_spans(self.journeys, key)
        except Exception:  # telemetry must never take the pipeline down
            log.debug("building spans for %s %s failed", kind, key, exc_info=True)
            return []

    def _post(self, spans: list[Span]) -> None:
        if not spans:
            return
        body = json.dumps(export_body(spans)).encode()
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (user's URL)
                response.read()
        except (OSError, urllib.error.URLError, ValueError) as exc:
            log.debug("OTLP export of %d span(s) to %s failed: %s", len(spans), self.url, exc)
