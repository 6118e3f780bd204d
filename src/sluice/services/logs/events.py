"""CloudWatch Logs' events: PutLogEvents in, GetLogEvents and FilterLogEvents (with filter
patterns) out, TestMetricFilter; and the internal API the rest of Sluice uses without HTTP:
`append` (the Lambda runtime writes function logs through it), `tail`, and `lines` (an
invocation's log lines, for `sluice trace`).

Times are epoch milliseconds, as on the wire. Events expire by the group's retention relative to
the clock, computed when reading (nothing is deleted behind the caller's back).
"""

from __future__ import annotations

import logging
import sqlite3
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from ...engine.metrics import Point, write_points
from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from . import errors, records
from .common import Shared, filter_pattern, page_limit, required
from .emf import extract as extract_metrics
from .patterns import FilterPattern, compile_pattern
from .records import (
    EventRow,
    GroupRecord,
    event_id,
    find_group,
    find_stream,
    sequence_token,
)
from .tokens import decode_filter_token, decode_stream_token, encode_filter_token, stream_token

log = logging.getLogger(__name__)

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26  # bytes AWS adds to each event's message when sizing a batch
MAX_RESPONSE_BYTES = 1_048_576  # GetLogEvents / FilterLogEvents pages
DAY_MS = 86_400_000
EMF_FORMAT = "json/emf"  # PutLogEvents' x-amzn-logs-format asking for embedded metrics
TOO_OLD_MS = 14 * DAY_MS
TOO_NEW_MS = 2 * 3_600_000
MAX_SPAN_MS = DAY_MS
SCAN_BATCH = 1000
MAX_TIMESTAMP = 10**15  # year ~33658: keeps a position within the 56 digits of tokens and event ids
SCAN_BUDGET = 200_000  # rows FilterLogEvents examines per page before answering with a nextToken


@dataclass(frozen=True)
class LogLine:
    """A stored event as `lines` hands it out (an invocation's log line, for `sluice trace`)."""

    timestamp: int  # epoch milliseconds
    message: str


class LogEvents:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.db = shared.db

    # -- events in ---------------------------------------------------------------------------

    def put_log_events(self, ctx: RequestContext, logGroupName: str | None = None,
                       logStreamName: str | None = None, logEvents: list[dict[str, Any]] | None = None,
                       **_: Any) -> dict[str, Any]:
        group_name = required(logGroupName, "logGroupName")
        stream_name = required(logStreamName, "logStreamName")
        if logEvents is None:
            raise errors.required("logEvents")
        if not 1 <= len(logEvents) <= MAX_BATCH_EVENTS:
            bound = "greater than or equal to 1" if not logEvents else f"less than or equal to {MAX_BATCH_EVENTS}"
            raise errors.validation("[...]", "logEvents", f"Member must have length {bound}")
        events: list[tuple[int, str]] = []
        total = 0
        for i, ev in enumerate(logEvents, 1):
            ts, msg = ev.get("timestamp"), ev.get("message")
            if ts is None:
                raise errors.required(f"logEvents.{i}.member.timestamp")
            if msg is None:
                raise errors.required(f"logEvents.{i}.member.message")
            if not msg:
                raise errors.validation("", f"logEvents.{i}.member.message",
                                        "Member must have length greater than or equal to 1")
            size = len(msg.encode("utf-8", "surrogatepass")) + EVENT_OVERHEAD
            if size > MAX_BATCH_BYTES:
                raise errors.invalid(f"Log event too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}")
            total += size
            events.append((int(ts), msg))
        if total > MAX_BATCH_BYTES:
            raise errors.invalid(f"Upload too large: {total} bytes exceeds limit of {MAX_BATCH_BYTES}")
        if any(events[i][0] > events[i + 1][0] for i in range(len(events) - 1)):
            raise errors.invalid("Log events in a single PutLogEvents request must be in chronological order.")

        now = self.shared.now_ms()
        group = self.shared.group(ctx.account_id, ctx.region, group_name)
        accepted, rejected = _admit(events, now, group.retention_cutoff(now))
        if accepted and accepted[-1][0] - accepted[0][0] > MAX_SPAN_MS:
            raise errors.invalid("The batch of log events in a single PutLogEvents request cannot span more "
                                 "than 24 hours.")
        # Embedded metric format is read only from events sent with that header (and Lambda's).
        metrics = _metrics_of(accepted, now) if ctx.logs_format == EMF_FORMAT else []

        def txn(conn: sqlite3.Connection) -> int | None:
            grp = find_group(conn, ctx.account_id, ctx.region, group_name)
            if grp is None:
                raise errors.group_not_found()
            stream_id = find_stream(conn, grp.id, stream_name)
            if stream_id is None:
                raise errors.stream_not_found()
            if not accepted:
                return None
            write_points(conn, metrics)
            return records.insert_events(conn, grp.id, stream_id, accepted, now)

        uploads = self.db.write(txn)
        result: dict[str, Any] = {}
        if uploads is not None:  # AWS leaves the token out when every event was rejected
            result["nextSequenceToken"] = sequence_token(uploads)
        if rejected:
            result["rejectedLogEventsInfo"] = rejected
        return result

    # -- events out --------------------------------------------------------------------------

    def get_log_events(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        group = self.shared.group_for(ctx, params)
        stream_name = required(params.get("logStreamName"), "logStreamName")
        stream_id = find_stream(self.db.reader, group.id, stream_name)
        if stream_id is None:
            raise errors.stream_not_found()
        limit = page_limit(params.get("limit"), MAX_BATCH_EVENTS, MAX_BATCH_EVENTS)
        lo, hi = self._window(group, params.get("startTime"), params.get("endTime"))
        token = params.get("nextToken")
        if token:
            forward, anchor = decode_stream_token(token)
        else:
            forward, anchor = bool(params.get("startFromHead")), None
        rows = records.stream_events(self.db.reader, group.id, stream_id, lo, hi, anchor, forward, limit)
        picked: list[EventRow] = []
        size = 0
        for r in rows:
            size += len(r.message.encode("utf-8", "surrogatepass")) + EVENT_OVERHEAD
            if picked and size > MAX_RESPONSE_BYTES:
                break
            picked.append(r)
        if not forward:
            picked.reverse()
        events = [{"timestamp": r.timestamp, "message": r.message, "ingestionTime": r.ingestion_ms} for r in picked]
        if picked:
            fwd, back = stream_token("f", picked[-1].position), stream_token("b", picked[0].position)
        elif token and anchor is not None:
            # Nothing further in that direction: the same token comes back (AWS's end-of-stream signal).
            if forward:
                fwd, back = token, stream_token("b", anchor + 1)
            else:
                fwd, back = stream_token("f", max(anchor - 1, 0)), token
        else:
            fwd, back = stream_token("f", 0), stream_token("b", 0)
        return {"events": events, "nextForwardToken": fwd, "nextBackwardToken": back}

    def filter_log_events(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        group = self.shared.group_for(ctx, params)
        names = params.get("logStreamNames")
        prefix = params.get("logStreamNamePrefix")
        if names and prefix:
            raise errors.invalid("Cannot specify both logStreamNames and logStreamNamePrefix.")
        pattern = filter_pattern(params.get("filterPattern"))
        limit = page_limit(params.get("limit"), MAX_BATCH_EVENTS, MAX_BATCH_EVENTS)
        lo, hi = self._window(group, params.get("startTime"), params.get("endTime"))
        token = params.get("nextToken")
        if token:
            ascending, anchor = decode_filter_token(token)
        else:
            # Oldest first unless startFromHead is explicitly false.
            ascending, anchor = params.get("startFromHead") is not False, None
        events, more_at = self._scan(group, pattern, lo, hi, names, prefix, ascending, anchor, limit)
        result: dict[str, Any] = {"events": events, "searchedLogStreams": []}
        if more_at is not None:
            result["nextToken"] = encode_filter_token(ascending, more_at)
        return result

    def _scan(self, group: GroupRecord, pattern: FilterPattern, lo: int | None, hi: int | None,
              names: list[str] | None, prefix: str | None, ascending: bool, anchor: int | None,
              limit: int) -> tuple[list[dict[str, Any]], int | None]:
        """Matching events in (timestamp, seq) order after `anchor`, and where to resume if the page
        stopped early (limit, response size or scan budget)."""
        events: list[dict[str, Any]] = []
        size = scanned = 0
        cursor = anchor
        while True:
            rows = records.group_events(self.db.reader, group.id, lo, hi, names, prefix, ascending, cursor,
                                        SCAN_BATCH)
            for r in rows:
                scanned += 1
                if pattern.kind == "all" or pattern.matches(r.message):
                    size += len(r.message.encode("utf-8", "surrogatepass")) + EVENT_OVERHEAD
                    if len(events) == limit or (events and size > MAX_RESPONSE_BYTES):
                        return events, cursor
                    events.append({
                        "logStreamName": r.stream, "timestamp": r.timestamp, "message": r.message,
                        "ingestionTime": r.ingestion_ms, "eventId": event_id(r.timestamp, r.seq),
                    })
                cursor = r.position
                if scanned >= SCAN_BUDGET:
                    return events, cursor
            if len(rows) < SCAN_BATCH:
                return events, None

    def _window(self, group: GroupRecord, start: int | None, end: int | None) -> tuple[int | None, int | None]:
        """The timestamp bounds of a read (lo inclusive; hi is exclusive for GetLogEvents and inclusive
        for FilterLogEvents, as AWS documents them), with the group's retention applied."""
        lo = start
        cutoff = group.retention_cutoff(self.shared.now_ms())
        if cutoff is not None:
            lo = cutoff if lo is None else max(lo, cutoff)
        return lo, end

    def test_metric_filter(self, ctx: RequestContext, filterPattern: str | None = None,
                           logEventMessages: list[str] | None = None, **_: Any) -> dict[str, Any]:
        pattern = filter_pattern(filterPattern)
        found = []
        for i, message in enumerate(logEventMessages or [], 1):
            values = pattern.extract(message)
            if values is not None:
                found.append({"eventNumber": i, "eventMessage": message, "extractedValues": values})
        return {"matches": found}

    # -- the internal API --------------------------------------------------------------------

    def append(self, group: str, stream: str, events: list[tuple[int, str]], *, account_id: str | None = None,
               region: str | None = None, wait: bool = True, emf: bool = False) -> Future[None] | None:
        """Write events to a stream, creating the group and the stream on first use; with `emf`,
        the metrics of embedded-metric-format events too (a Lambda function's log lines).

        One transaction (one fsync, shared with concurrent writers) per call. Events may come in any
        order; none is rejected for its age. With `wait=False` the write is queued and the returned
        future resolves once it is durable (failures are logged).
        """
        account = account_id or self.shared.account_id
        where = region or self.shared.region
        batch = sorted(((min(max(int(ts), 0), MAX_TIMESTAMP), str(msg)) for ts, msg in events), key=lambda e: e[0])
        now = self.shared.now_ms()
        metrics = _metrics_of(batch, now) if emf else []

        def txn(conn: sqlite3.Connection) -> None:
            group_id = records.ensure_group(conn, account, where, group, now)
            stream_id = records.ensure_stream(conn, group_id, stream, now)
            if batch:
                records.insert_events(conn, group_id, stream_id, batch, now)
            write_points(conn, metrics)

        if wait:
            self.db.write(txn)
            return None
        future = self.db.submit(txn)
        future.add_done_callback(_log_failure)
        return future

    def tail(self, group: str, stream_prefix: str | None = None, since_ms: int | None = None, *,
             filter_pattern: str | None = None, limit: int = MAX_BATCH_EVENTS, account_id: str | None = None,
             region: str | None = None) -> list[dict[str, Any]]:
        """The group's events (oldest first), as FilterLogEvents shapes them; [] if the group is absent."""
        try:
            record = self.shared.group(account_id or self.shared.account_id, region or self.shared.region, group)
        except ServiceError:
            return []
        lo, hi = self._window(record, since_ms, None)
        out: list[dict[str, Any]] = []
        anchor: int | None = None
        pattern = compile_pattern(filter_pattern)
        while len(out) < limit:
            events, anchor = self._scan(record, pattern, lo, hi, None, stream_prefix, True, anchor, limit - len(out))
            out += events
            if anchor is None:
                break
        return out

    def lines(self, group: str, stream: str, since_ms: int, until_ms: int) -> list[LogLine]:
        """A stream's events with since <= timestamp <= until in the order they were written (the
        internal API's account and region; no retention applied: a trace shows what is stored)."""
        rows = records.lines_between(self.db.reader, self.shared.account_id, self.shared.region, group, stream,
                                     since_ms, until_ms)
        return [LogLine(r.timestamp, r.message) for r in rows]


def _log_failure(future: Future[None]) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("writing log events failed: %s", exc)


def _metrics_of(events: list[tuple[int, str]], now_ms: int) -> list[Point]:
    return [point for _, message in events for point in extract_metrics(message, now_ms / 1000)]


def _admit(events: list[tuple[int, str]], now: int,
           retention_cutoff: int | None) -> tuple[list[tuple[int, str]], dict[str, int]]:
    """Split a chronological batch into accepted events and RejectedLogEventsInfo.

    Indexes are as AWS reports them: a rejected prefix is [0, tooOldLogEventEndIndex) and a
    rejected suffix is [tooNewLogEventStartIndex, n) (a batch of one too-old event answers
    tooOldLogEventEndIndex 1). Events older than 14 days are too old; younger events that precede
    the group's retention period are expired (expiredLogEventEndIndex).
    """
    too_old_before = now - TOO_OLD_MS
    too_new_after = now + TOO_NEW_MS
    n = len(events)
    old_end = 0
    while old_end < n and events[old_end][0] < too_old_before:
        old_end += 1
    expired_end = old_end
    if retention_cutoff is not None:
        while expired_end < n and events[expired_end][0] < retention_cutoff:
            expired_end += 1
    new_start = n
    while new_start > expired_end and events[new_start - 1][0] > too_new_after:
        new_start -= 1
    info: dict[str, int] = {}
    if new_start < n:
        info["tooNewLogEventStartIndex"] = new_start
    if old_end:
        info["tooOldLogEventEndIndex"] = old_end
    if expired_end > old_end:
        info["expiredLogEventEndIndex"] = expired_end
    return events[expired_end:new_start], info


