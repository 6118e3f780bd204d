"""S3 event records: what an object change sends to each matching destination.

`EventRecorder.record` runs inside the object change's own write transaction and writes one
outbox row per destination (and the upload's trace journal), so a change the client saw
acknowledged always produces its events, even if the server dies right after the response.

Choices where AWS's behaviour is unconfirmed (keep them easy to change):
- `userIdentity.principalId` / `ownerIdentity.principalId`: the bucket owner's account id.
- Deleting a key that does not exist produces no event (`EMIT_ON_MISSING_DELETE`).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ...clock import Clock
from ...engine import journal, xray
from ...protocol.context import RequestContext
from ...protocol.values import iso8601
from . import notification_config as config
from .records import notifications as outbox
from .records.models import WriteTarget

EMIT_ON_MISSING_DELETE = False

# EventBridge's "reason": the operation that made the change.
_REASONS = {
    "ObjectCreated:Put": "PutObject", "ObjectCreated:Copy": "CopyObject",
    "ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload", "ObjectCreated:Post": "PostObject",
    "LifecycleExpiration:Delete": "Lifecycle Expiration", "LifecycleExpiration:DeleteMarkerCreated": "Lifecycle Expiration",
}


@dataclass(frozen=True)
class ObjectEvent:
    """One change to one object, as its notifications describe it."""

    bucket: str
    account: str  # the bucket's owner
    region: str
    name: str  # e.g. "ObjectCreated:Put"
    key: str
    size: int | None
    etag: str | None
    when: float  # the event time (the object's Last-Modified)
    version_id: str | None  # versioned buckets only
    sequencer: str
    request_id: str
    host_id: str
    source_ip: str
    operation: str

    @property
    def removed(self) -> bool:
        return self.name.startswith(("ObjectRemoved", "LifecycleExpiration"))

    @property
    def requester(self) -> str:
        """Who made the change: S3 itself for lifecycle actions (as AWS's records say), else the
        bucket owner's account."""
        return "s3.amazonaws.com" if self.name.startswith("Lifecycle") else self.account

    @property
    def source_arn(self) -> str:
        return f"arn:aws:s3:::{self.bucket}"


def s3_record(event: ObjectEvent, configuration_id: str) -> dict[str, Any]:
    """The message an SQS, SNS or Lambda destination receives: {"Records": [this]}."""
    obj: dict[str, Any] = {"key": config.encode_key(event.key)}
    if not event.removed:
        obj.update({"size": event.size, "eTag": event.etag})
    if event.version_id is not None:
        obj["versionId"] = event.version_id
    obj["sequencer"] = event.sequencer
    return {
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": event.region, "eventTime": iso8601(event.when),
        "eventName": event.name, "userIdentity": {"principalId": event.requester},
        "requestParameters": {"sourceIPAddress": event.source_ip},
        "responseElements": {"x-amz-request-id": event.request_id, "x-amz-id-2": event.host_id},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": configuration_id,
               "bucket": {"name": event.bucket, "ownerIdentity": {"principalId": event.account},
                          "arn": event.source_arn},
               "object": obj},
    }


def eventbridge_event(event: ObjectEvent) -> tuple[dict[str, Any], dict[str, Any]]:
    """The event the default bus receives: (its detail, its Source / DetailType / Resources)."""
    obj: dict[str, Any] = {"key": event.key}
    if not event.removed:
        obj.update({"size": event.size, "etag": event.etag})
    if event.version_id is not None:
        obj["version-id"] = event.version_id
    obj["sequencer"] = event.sequencer
    detail: dict[str, Any] = {
        "version": "0", "bucket": {"name": event.bucket}, "object": obj, "request-id": event.request_id,
        "requester": event.requester, "source-ip-address": event.source_ip,
        "reason": _REASONS.get(event.name) or event.operation or "DeleteObject",
    }
    if event.removed:
        detail["deletion-type"] = ("Delete Marker Created" if event.name.endswith("DeleteMarkerCreated")
                                   else "Permanently Deleted")
    fields = {"Source": "aws.s3", "DetailType": "Object Deleted" if event.removed else "Object Created",
              "Resources": [event.source_arn]}
    return detail, fields


@lru_cache(maxsize=64)
def _parsed(document: str) -> dict[str, Any]:
    """A bucket's notification configuration, parsed once for all the events it is read for (the
    same text until the configuration changes). Shared: only read, never changed."""
    value: dict[str, Any] = json.loads(document)
    return value


class EventRecorder:
    def __init__(self, clock: Clock, sample_traces: bool = False) -> None:
        """`sample_traces`: whether new trace headers are sampled (an OTLP export is on)."""
        self.clock = clock
        self.sample_traces = sample_traces

    def record(self, conn: sqlite3.Connection, ctx: RequestContext | None, bucket: str, event_name: str,
               key: str, size: int | None = None, etag: str | None = None, when: float | None = None,
               version_id: str | None = None, target: WriteTarget | None = None) -> list[str]:
        """Write the outbox rows for one event in `conn`'s transaction; return the destinations
        they go to. `version_id` only for versioned buckets (records of unversioned ones carry none).
        `target`: the bucket as the transaction already read it (saves reading it again)."""
        if target is None:
            found = outbox.notifying(conn, bucket)
        elif target.notifications is None:
            found = None
        else:
            found = outbox.NotifyingBucket(_parsed(target.notifications), target.account, target.region)
        if found is None:
            return []
        destinations = config.targets(found.config, event_name, config.encode_key(key))
        bridge = config.EVENTBRIDGE in found.config
        if not destinations and not bridge:
            return []
        now = self.clock.now()
        event = ObjectEvent(
            bucket=bucket, account=found.account, region=found.region, name=event_name, key=key, size=size,
            etag=etag, when=now if when is None else when, version_id=version_id,
            sequencer=f"{outbox.next_sequencer(conn, bucket):016X}", request_id=ctx.request_id if ctx else "",
            host_id=ctx.host_id if ctx else "", source_ip=ctx.source_ip if ctx else "127.0.0.1",
            operation=ctx.operation if ctx else "")
        upload_id, trace = self._journal_upload(conn, ctx, event, now)
        for config_id, arn in destinations:
            entry = outbox.add(conn, bucket, event.account, arn, json.dumps({"Records": [s3_record(event, config_id)]}),
                               None, now)
            journal.add_notification(conn, entry, upload_id, config_id, arn, str(trace.child_of(xray.new_span_id())),
                                     now)
        if bridge:
            detail, fields = eventbridge_event(event)
            bus = f"arn:aws:events:{event.region}:{event.account}:event-bus/default"
            entry = outbox.add(conn, bucket, event.account, bus, json.dumps(detail), json.dumps(fields), now)
            journal.add_notification(conn, entry, upload_id, config.EVENTBRIDGE, bus,
                                     str(trace.child_of(xray.new_span_id())), now)
        return [arn for _, arn in destinations] + ([bus] if bridge else [])

    def removed(self, conn: sqlite3.Connection, ctx: RequestContext | None, bucket: str, key: str,
                existed: bool) -> list[str]:
        """A key deleted from an unversioned bucket."""
        if not existed and not EMIT_ON_MISSING_DELETE:
            return []
        return self.record(conn, ctx, bucket, "ObjectRemoved:Delete", key)

    def _journal_upload(self, conn: sqlite3.Connection, ctx: RequestContext | None, event: ObjectEvent,
                        now: float) -> tuple[int, xray.TraceHeader]:
        """The trace starts at the upload: the client's X-Amzn-Trace-Id root when it sent one, else a
        new root. Returns the journal row and the header of the S3 request's span."""
        client = xray.parse(ctx.trace_header) if ctx else None
        upload = client or xray.new_header(now, self.sample_traces)
        span_id = xray.new_span_id()
        row = journal.Upload(
            trace_header=str(upload if client else xray.TraceHeader(upload.root, None, upload.sampled)),
            span_id=span_id, bucket=event.bucket, key=event.key, event_name=event.name, operation=event.operation,
            request_id=event.request_id, size=event.size, etag=event.etag, at=event.when, committed=now)
        return journal.add_upload(conn, row), upload.child_of(span_id)
