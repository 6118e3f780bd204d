"""S3 event notifications: bucket configuration, event records, and a durable outbox.

An object change and the outbox rows for its events are written in the same SQLite transaction
(`Notifier.record` runs inside the caller's `Database.write`), so a change the client saw
acknowledged always produces its events, even if the server dies right after the response. A
background task delivers outbox rows through `Deliveries` and deletes them once delivered;
failures are retried with a backoff on the engine clock.

Choices where AWS's behaviour is unconfirmed (keep them easy to change):
- `userIdentity.principalId` / `ownerIdentity.principalId`: the account id (`PRINCIPAL_ID`).
- Deleting a key that does not exist produces no event (`_EMIT_ON_MISSING_DELETE`).
- A failed delivery is retried with backoff 1, 2, 4 ... 300 AWS-seconds and dropped after
  `MAX_EVENT_AGE` AWS-seconds.
- Lambda destinations are validated by resolving the function (no resource-policy check yet);
  SQS and SNS destinations by delivering the s3:TestEvent to them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import logging
import sqlite3
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote_plus

from ...clock import Clock
from ...engine import journal, xray
from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ...store.db import Database
from ..delivery import Deliveries, Delivery, DeliveryResult
from . import errors

log = logging.getLogger("sluice.s3.notifications")

PRINCIPAL = "s3.amazonaws.com"
MAX_EVENT_AGE = 24 * 3600.0
MAX_BACKOFF = 300.0
BATCH = 100
_EMIT_ON_MISSING_DELETE = False

EVENT_TYPES = frozenset({
    "s3:ReducedRedundancyLostObject", "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy", "s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated", "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post", "s3:ObjectRestore:Completed", "s3:ObjectRestore:Delete", "s3:Replication:*",
    "s3:Replication:OperationFailedReplication", "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold", "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:LifecycleExpiration:*", "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated", "s3:LifecycleTransition", "s3:IntelligentTiering",
    "s3:ObjectTagging:*", "s3:ObjectTagging:Put", "s3:ObjectTagging:Delete", "s3:ObjectAcl:Put",
})

# (configuration list member, ARN member, XML element name for errors, ARN service)
KINDS = (
    ("LambdaFunctionConfigurations", "LambdaFunctionArn", "CloudFunction", "lambda"),
    ("QueueConfigurations", "QueueArn", "Queue", "sqs"),
    ("TopicConfigurations", "TopicArn", "Topic", "sns"),
)

OVERLAP = ("Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the "
           "prefixes are overlapping for the same event type.")


def encode_key(key: str) -> str:
    """Form-encoding with '/' kept: `dir/a b@c+d.txt` -> `dir/a+b%40c%2Bd.txt`."""
    return quote_plus(key, safe="/")


def iso_ms(t: float) -> str:
    d = dt.datetime.fromtimestamp(t, tz=dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def _new_id() -> str:
    return base64.b64encode(str(uuid.uuid4()).encode()).decode().rstrip("=")


def _parse_arn(arn: Any, service: str) -> list[str] | None:
    if not isinstance(arn, str):
        return None
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or parts[2] != service or not parts[5]:
        return None
    if service in ("sqs", "sns", "lambda") and (not parts[3] or not parts[4]):
        return None
    return parts


def _filter_rules(conf: dict[str, Any]) -> dict[str, str]:
    rules = ((conf.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
    out: dict[str, str] = {}
    for rule in rules:
        name = str(rule.get("Name") or "").lower()
        if name not in ("prefix", "suffix"):
            raise errors.invalid_argument("filter rule name must be either prefix or suffix",
                                          "FilterRule.Name", str(rule.get("Name")))
        label = name.capitalize()
        if label in out:
            raise errors.invalid_argument("Cannot specify more than one " + name + " rule in a filter.",
                                          "FilterRule.Name", str(rule.get("Name")))
        out[label] = str(rule.get("Value") or "")
    return out


def _events_overlap(a: str, b: str) -> bool:
    return a == b or any(x.endswith(":*") and y.startswith(x[:-1]) for x, y in ((a, b), (b, a)))


def _affix_overlap(a: str, b: str, suffix: bool) -> bool:
    if suffix:
        return a.endswith(b) or b.endswith(a)
    return a.startswith(b) or b.startswith(a)


def _overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if not any(_events_overlap(x, y) for x in a["Events"] for y in b["Events"]):
        return False
    fa, fb = a.get("_rules", {}), b.get("_rules", {})
    return (_affix_overlap(fa.get("Prefix", ""), fb.get("Prefix", ""), False)
            and _affix_overlap(fa.get("Suffix", ""), fb.get("Suffix", ""), True))


def normalize(conf: dict[str, Any]) -> dict[str, Any]:
    """Validate a NotificationConfiguration; return the form that is stored and returned."""
    out: dict[str, Any] = {}
    every: list[dict[str, Any]] = []
    for member, arn_member, element, service in KINDS:
        items = []
        for item in conf.get(member) or []:
            arn = item.get(arn_member)
            if _parse_arn(arn, service) is None:
                raise errors.invalid_argument("The ARN could not be parsed", element, str(arn))
            events = list(item.get("Events") or [])
            if not events:
                raise errors.invalid_argument("At least one event must be specified", "Event", "")
            for event in events:
                if event not in EVENT_TYPES:
                    raise errors.invalid_argument("The event is not supported for notifications", "Event", event)
            rules = _filter_rules(item)
            stored: dict[str, Any] = {"Id": item.get("Id") or _new_id(), arn_member: arn, "Events": events}
            if rules:
                stored["Filter"] = {"Key": {"FilterRules": [{"Name": k, "Value": v} for k, v in rules.items()]}}
            items.append(stored)
            every.append({**stored, "_rules": rules})
        if items:
            out[member] = items
    for i, a in enumerate(every):
        for b in every[i + 1:]:
            if _overlaps(a, b):
                raise errors.invalid_argument(OVERLAP, "FilterRule", "")
    if conf.get("EventBridgeConfiguration") is not None:
        out["EventBridgeConfiguration"] = {}
    return out


def _matches(item: dict[str, Any], event_name: str, encoded_key: str) -> bool:
    full = "s3:" + event_name
    if not any(e == full or (e.endswith(":*") and full.startswith(e[:-1])) for e in item["Events"]):
        return False
    for rule in ((item.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []:
        if rule["Name"] == "Prefix" and not encoded_key.startswith(rule["Value"]):
            return False
        if rule["Name"] == "Suffix" and not encoded_key.endswith(rule["Value"]):
            return False
    return True


_REASONS = {
    "ObjectCreated:Put": "PutObject", "ObjectCreated:Copy": "CopyObject",
    "ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload", "ObjectCreated:Post": "PostObject",
}


class Notifier:
    """Bucket notification configuration, the outbox, and its dispatcher."""

    def __init__(self, db: Database, clock: Clock, deliveries: Deliveries | None) -> None:
        self.db = db
        self.clock = clock
        self.deliveries = deliveries
        # Set by the composition root: raises ServiceError when the function does not exist.
        self.resolve_function: Callable[[str], Any] | None = None
        # Set by the composition root: (function ARN, principal, source ARN, source account) -> allowed?
        self.may_invoke: Callable[[str, str, str, str], bool] | None = None
        # Tracing: whether new trace headers are sampled (an OTLP export is on), and who hears of a
        # notification that reached its end (delivered or dropped), by outbox id.
        self.sample_traces = False
        self.on_notified: Callable[[int], None] = lambda outbox_id: None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake_event: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None

    # -- configuration -------------------------------------------------------------------

    def configure(self, ctx: RequestContext, bucket: str, conf: dict[str, Any], skip_validation: bool) -> None:
        stored = normalize(conf or {})
        if not skip_validation:
            self._validate_destinations(ctx, bucket, stored)

        def txn(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM s3_buckets WHERE name=?", (bucket,)).fetchone() is None:
                raise errors.no_such_bucket(bucket)
            if stored:
                conn.execute("INSERT OR REPLACE INTO s3_notifications (bucket, config) VALUES (?,?)",
                             (bucket, json.dumps(stored)))
            else:
                conn.execute("DELETE FROM s3_notifications WHERE bucket=?", (bucket,))

        self.db.write(txn)

    def configuration(self, bucket: str) -> dict[str, Any]:
        row = self.db.query_one("SELECT config FROM s3_notifications WHERE bucket=?", (bucket,))
        return json.loads(row["config"]) if row else {}

    def _validate_destinations(self, ctx: RequestContext, bucket: str, stored: dict[str, Any]) -> None:
        failed: list[tuple[str, str]] = []
        test_body = json.dumps({
            "Service": "Amazon S3", "Event": "s3:TestEvent", "Time": iso_ms(self.clock.now()), "Bucket": bucket,
            "RequestId": ctx.request_id, "HostId": ctx.host_id,
        })
        for member, arn_member, _element, service in KINDS:
            for item in stored.get(member, []):
                arn = item[arn_member]
                if service == "lambda":
                    if self.resolve_function is None:
                        continue
                    try:
                        self.resolve_function(arn)
                    except ServiceError:
                        failed.append((arn, f"Not authorized to invoke function [{arn}]"))
                        continue
                    # S3 may invoke only what the function's resource policy lets s3.amazonaws.com invoke.
                    if self.may_invoke and not self.may_invoke(arn, PRINCIPAL, f"arn:aws:s3:::{bucket}",
                                                               ctx.account_id):
                        failed.append((arn, f"Not authorized to invoke function [{arn}]"))
                    continue
                if self.deliveries is None:
                    continue
                result = self._safe_deliver(arn, Delivery(
                    body=test_body, principal=PRINCIPAL, source_arn=f"arn:aws:s3:::{bucket}",
                    source_account=ctx.account_id, subject="Amazon S3 Notification"))
                if not result.ok:
                    what = "queue" if service == "sqs" else "topic"
                    failed.append((arn, f"Permissions on the destination {what} do not allow S3 to publish "
                                        f"notifications from this bucket"))
        if failed:
            raise ServiceError("InvalidArgument", "Unable to validate the following destination configurations",
                               400, ArgumentName=failed[0][0], ArgumentValue=failed[0][1])

    def _safe_deliver(self, arn: str, delivery: Delivery) -> DeliveryResult:
        assert self.deliveries is not None
        try:
            return self.deliveries.deliver(arn, delivery)
        except Exception as exc:  # a target's failure is an outcome, never ours
            log.exception("delivering to %s raised", arn)
            return DeliveryResult.failed("InternalError", str(exc))

    # -- events (inside the object's write transaction) ----------------------------------

    def record(self, conn: sqlite3.Connection, ctx: RequestContext | None, bucket: str, event_name: str,
               key: str, size: int | None = None, etag: str | None = None, when: float | None = None,
               version_id: str | None = None) -> bool:
        """Write the outbox rows for one event; return whether any were written. `version_id` only
        for versioned buckets (records of unversioned ones carry none)."""
        row = conn.execute(
            "SELECT n.config, b.account, b.region FROM s3_notifications n JOIN s3_buckets b ON b.name = n.bucket"
            " WHERE n.bucket=?", (bucket,)).fetchone()
        if row is None:
            return False
        config = json.loads(row["config"])
        encoded = encode_key(key)
        targets: list[tuple[str, str]] = []  # (configuration id, target arn)
        for member, arn_member, _element, _service in KINDS:
            for item in config.get(member, []):
                if _matches(item, event_name, encoded):
                    targets.append((item["Id"], item[arn_member]))
        bridge = "EventBridgeConfiguration" in config
        if not targets and not bridge:
            return False
        conn.execute("INSERT INTO s3_sequencers (bucket, value) VALUES (?, 1)"
                     " ON CONFLICT(bucket) DO UPDATE SET value = value + 1", (bucket,))
        seq = conn.execute("SELECT value FROM s3_sequencers WHERE bucket=?", (bucket,)).fetchone()[0]
        sequencer = f"{seq:016X}"
        now = self.clock.now()
        when = now if when is None else when
        account, region = row["account"], row["region"]
        removed = event_name.startswith("ObjectRemoved")
        obj: dict[str, Any] = {"key": encoded}
        if not removed:
            obj.update({"size": size, "eTag": etag})
        if version_id is not None:
            obj["versionId"] = version_id
        obj["sequencer"] = sequencer
        request_id = ctx.request_id if ctx else ""
        host_id = ctx.host_id if ctx else ""
        source_ip = ctx.source_ip if ctx else "127.0.0.1"
        source_arn = f"arn:aws:s3:::{bucket}"
        upload_id, trace = self._journal_upload(conn, ctx, bucket, key, event_name, size, etag, when, now)
        for config_id, arn in targets:
            record = {
                "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": region, "eventTime": iso_ms(when),
                "eventName": event_name, "userIdentity": {"principalId": account},
                "requestParameters": {"sourceIPAddress": source_ip},
                "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": host_id},
                "s3": {"s3SchemaVersion": "1.0", "configurationId": config_id,
                       "bucket": {"name": bucket, "ownerIdentity": {"principalId": account}, "arn": source_arn},
                       "object": obj},
            }
            cur = conn.execute(
                "INSERT INTO s3_outbox (bucket, account, target_arn, body, event, created, next_at)"
                " VALUES (?,?,?,?,?,?,?)",
                (bucket, account, arn, json.dumps({"Records": [record]}), None, now, now))
            journal.add_notification(conn, int(cur.lastrowid or 0), upload_id, config_id, arn,
                                     str(trace.child_of(xray.new_span_id())), now)
        if bridge:
            detail_obj: dict[str, Any] = {"key": key}
            if not removed:
                detail_obj.update({"size": size, "etag": etag})
            if version_id is not None:
                detail_obj["version-id"] = version_id
            detail_obj["sequencer"] = sequencer
            detail: dict[str, Any] = {
                "version": "0", "bucket": {"name": bucket}, "object": detail_obj, "request-id": request_id,
                "requester": account, "source-ip-address": source_ip,
                "reason": _REASONS.get(event_name) or (ctx.operation if ctx and ctx.operation else "DeleteObject"),
            }
            if removed:
                detail["deletion-type"] = ("Delete Marker Created" if event_name.endswith("DeleteMarkerCreated")
                                           else "Permanently Deleted")
            event = {"Source": "aws.s3", "DetailType": "Object Deleted" if removed else "Object Created",
                     "Resources": [source_arn]}
            bus = f"arn:aws:events:{region}:{account}:event-bus/default"
            cur = conn.execute(
                "INSERT INTO s3_outbox (bucket, account, target_arn, body, event, created, next_at)"
                " VALUES (?,?,?,?,?,?,?)",
                (bucket, account, bus, json.dumps(detail), json.dumps(event), now, now))
            journal.add_notification(conn, int(cur.lastrowid or 0), upload_id, "EventBridgeConfiguration", bus,
                                     str(trace.child_of(xray.new_span_id())), now)
        return True

    def _journal_upload(self, conn: sqlite3.Connection, ctx: RequestContext | None, bucket: str, key: str,
                        event_name: str, size: int | None, etag: str | None, when: float,
                        now: float) -> tuple[int, xray.TraceHeader]:
        """The trace starts at the upload: the client's X-Amzn-Trace-Id root when it sent one, else a
        new root. Returns the journal row and the header of the S3 request's span."""
        client = xray.parse(ctx.headers.get("x-amzn-trace-id")) if ctx else None
        upload = client or xray.new_header(now, self.sample_traces)
        span_id = xray.new_span_id()
        row = journal.Upload(
            trace_header=str(upload if client else xray.TraceHeader(upload.root, None, upload.sampled)),
            span_id=span_id, bucket=bucket, key=key, event_name=event_name,
            operation=(ctx.operation if ctx and ctx.operation else ""), request_id=ctx.request_id if ctx else "",
            size=size, etag=etag, at=when, committed=now)
        return journal.add_upload(conn, row), upload.child_of(span_id)

    def removed(self, conn: sqlite3.Connection, ctx: RequestContext | None, bucket: str, key: str,
                existed: bool) -> bool:
        if not existed and not _EMIT_ON_MISSING_DELETE:
            return False
        return self.record(conn, ctx, bucket, "ObjectRemoved:Delete", key)

    # -- the dispatcher ------------------------------------------------------------------

    def wake(self) -> None:
        loop, event = self._loop, self._wake_event
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(event.set)

    async def start(self) -> None:
        if self.deliveries is None:
            return
        self._loop = asyncio.get_running_loop()
        self._wake_event = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="sluice-s3-notify")
        self._task = asyncio.create_task(self._run(), name="s3-notifications")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        executor, self._executor = self._executor, None
        if executor is not None:
            loop = asyncio.get_running_loop()
            done = loop.run_in_executor(None, lambda: executor.shutdown(wait=True, cancel_futures=True))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(done, 5.0)

    async def _run(self) -> None:
        assert self._wake_event is not None
        loop = asyncio.get_running_loop()
        while True:
            self._wake_event.clear()
            try:
                next_at = await loop.run_in_executor(self._executor, self._drain)
            except Exception:
                log.exception("S3 notification dispatch failed")
                next_at = self.clock.now() + 1.0
            timeout = None if next_at is None else max(0.0, next_at - self.clock.now())
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake_event.wait(), timeout)

    def _drain(self) -> float | None:
        """Deliver every due row (in order); return when the next one is due, if any."""
        while True:
            now = self.clock.now()
            rows = self.db.query("SELECT * FROM s3_outbox WHERE next_at <= ? ORDER BY id LIMIT ?", (now, BATCH))
            for row in rows:
                self._deliver_row(row)
            if len(rows) < BATCH:
                break
        head = self.db.query_one("SELECT MIN(next_at) AS n FROM s3_outbox")
        return head["n"] if head is not None else None

    def _deliver_row(self, row: sqlite3.Row) -> None:
        event = json.loads(row["event"]) if row["event"] else {}
        subject = "Amazon S3 Notification" if row["target_arn"].startswith("arn:aws:sns:") else None
        rid = row["id"]
        trace = journal.notification_header(self.db.reader, rid)
        delivery = Delivery(body=row["body"], event=event, principal=PRINCIPAL, subject=subject,
                            source_arn=f"arn:aws:s3:::{row['bucket']}", source_account=row["account"],
                            system_attributes={"AWSTraceHeader": trace} if trace else {})
        result = self._safe_deliver(row["target_arn"], delivery)
        attempts = row["attempts"] + 1
        now = self.clock.now()
        if result.ok:
            def delivered(conn: sqlite3.Connection) -> None:
                conn.execute("DELETE FROM s3_outbox WHERE id=?", (rid,))
                journal.notification_done(conn, rid, "delivered", attempts, now, result.message_id, None)

            self.db.write(delivered)
            self.on_notified(rid)
            return
        error = f"{result.error}: {result.detail}" if result.detail else str(result.error)
        if self.clock.engine_elapsed(row["created"]) > MAX_EVENT_AGE:
            log.warning("S3 dropped a notification for %s to %s after %d attempt(s): %s",
                        row["bucket"], row["target_arn"], attempts, error)

            def dropped(conn: sqlite3.Connection) -> None:
                conn.execute("DELETE FROM s3_outbox WHERE id=?", (rid,))
                journal.notification_done(conn, rid, "dropped", attempts, now, None, error)

            self.db.write(dropped)
            self.on_notified(rid)
            return
        delay = min(MAX_BACKOFF, 2.0 ** (attempts - 1))
        next_at = now + self.clock.engine_seconds(delay)

        def retry(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE s3_outbox SET attempts=?, next_at=?, last_error=? WHERE id=?",
                         (attempts, next_at, error, rid))
            journal.notification_done(conn, rid, "pending", attempts, now, None, error)

        self.db.write(retry)
