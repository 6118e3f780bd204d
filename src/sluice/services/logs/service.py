"""CloudWatch Logs' business rules: log groups, log streams, events, filter patterns, tags.

No HTTP, no JSON: members in, members out. Two more entry points serve the rest of Sluice
without HTTP: `append` (the Lambda runtime writes function logs through it) and `tail`.

Times are epoch milliseconds, as on the wire. Events expire by the group's retention relative to
the clock, computed when reading (nothing is deleted behind the caller's back).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import sqlite3
from collections.abc import Iterable
from concurrent.futures import Future
from typing import Any

from ...clock import Clock
from ...engine.metrics import Point, write_points
from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ...settings import DEFAULT_ACCOUNT, DEFAULT_REGION
from ...store import Store
from ..base import Service
from . import errors
from .emf import extract as extract_metrics
from .patterns import FilterPattern, PatternError, compile_pattern
from .records import (
    DIGITS,
    GroupRecord,
    StreamRecord,
    ensure_group,
    ensure_stream,
    event_id,
    insert_events,
    position,
    sequence_token,
    split_position,
)

log = logging.getLogger(__name__)

GROUP_NAME = re.compile(r"[\.\-_/#A-Za-z0-9]+")
GROUP_NAME_PATTERN = r"[\.\-_/#A-Za-z0-9]+"
STREAM_NAME = re.compile(r"[^:*]*")
GROUP_CLASSES = ("STANDARD", "INFREQUENT_ACCESS", "DELIVERY", "ESSENTIALS")
_GROUP_ARN = re.compile(r"^arn:aws[a-z-]*:logs:([a-z0-9-]*):(\d*):log-group:([^:]+)(?::\*)?$")

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26  # bytes AWS adds to each event's message when sizing a batch
MAX_RESPONSE_BYTES = 1_048_576  # GetLogEvents / FilterLogEvents pages
DAY_MS = 86_400_000
EMF_FORMAT = "json/emf"  # PutLogEvents' x-amzn-logs-format asking for embedded metrics
TOO_OLD_MS = 14 * DAY_MS
TOO_NEW_MS = 2 * 3_600_000
MAX_SPAN_MS = DAY_MS
MAX_TAGS = 50
SCAN_BATCH = 1000
MAX_TIMESTAMP = 10**15  # year ~33658: keeps a position within the 56 digits of tokens and event ids
SCAN_BUDGET = 200_000  # rows FilterLogEvents examines per page before answering with a nextToken

ZERO = "0" * DIGITS


class LogsService(Service):
    name = "logs"

    def __init__(self, store: Store, clock: Clock, *, account_id: str = DEFAULT_ACCOUNT,
                 region: str = DEFAULT_REGION) -> None:
        self.store = store
        self.db = store.db
        self.clock = clock
        self.account_id = account_id
        self.region = region

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    # -- log groups --------------------------------------------------------------------------

    def create_log_group(self, ctx: RequestContext, logGroupName: str | None = None, **params: Any) -> dict[str, Any]:
        name = _group_name(logGroupName)
        tags = _validate_tags(params.get("tags") or {}, name)
        group_class = params.get("logGroupClass") or "STANDARD"
        if group_class not in GROUP_CLASSES:
            raise errors.validation(group_class, "logGroupClass",
                                    f"Member must satisfy enum value set: [{', '.join(GROUP_CLASSES)}]")
        kms = params.get("kmsKeyId")
        protect = bool(params.get("deletionProtectionEnabled"))
        now = self.now_ms()

        def txn(conn: sqlite3.Connection) -> None:
            if _group_row(conn, ctx.account_id, ctx.region, name) is not None:
                raise errors.group_exists()
            conn.execute(
                "INSERT INTO logs_groups (account, region, name, created_ms, kms_key_id, log_group_class,"
                " deletion_protection, tags) VALUES (?,?,?,?,?,?,?,?)",
                (ctx.account_id, ctx.region, name, now, kms, group_class, int(protect), json.dumps(tags)),
            )

        self.db.write(txn)
        return {}

    def delete_log_group(self, ctx: RequestContext, logGroupName: str | None = None, **_: Any) -> dict[str, Any]:
        name = _required(logGroupName, "logGroupName")

        def txn(conn: sqlite3.Connection) -> None:
            group = _group_row(conn, ctx.account_id, ctx.region, name)
            if group is None:
                raise errors.group_not_found()
            if group.deletion_protection:
                raise errors.deletion_protected()
            conn.execute("DELETE FROM logs_events WHERE group_id=?", (group.id,))
            conn.execute("DELETE FROM logs_streams WHERE group_id=?", (group.id,))
            conn.execute("DELETE FROM logs_groups WHERE id=?", (group.id,))

        self.db.write(txn)
        return {}

    def describe_log_groups(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        prefix = params.get("logGroupNamePrefix")
        pattern = params.get("logGroupNamePattern")
        if prefix is not None and pattern is not None:
            raise errors.invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
        limit = _limit(params.get("limit"), 50, 50)
        after = _decode_name_token(params.get("nextToken"))
        identifiers = params.get("logGroupIdentifiers")
        names = {self._identify(ctx, i)[2] for i in identifiers} if identifiers else None
        group_class = params.get("logGroupClass")
        sql = "SELECT * FROM logs_groups WHERE account=? AND region=? AND name > ?"
        args: list[Any] = [ctx.account_id, ctx.region, after]
        if prefix:
            sql += " AND name >= ?"
            args.append(prefix)
        sql += " ORDER BY name"
        out: list[GroupRecord] = []
        more = False
        rows = self.db.reader.execute(sql, args)
        try:
            for row in rows:
                name = row["name"]
                if prefix and not name.startswith(prefix):
                    break
                if pattern and pattern not in name:
                    continue
                if names is not None and name not in names:
                    continue
                if group_class and row["log_group_class"] != group_class:
                    continue
                if len(out) == limit:
                    more = True
                    break
                out.append(GroupRecord.from_row(row))
        finally:
            rows.close()  # end the read now rather than when the cursor is collected
        result: dict[str, Any] = {"logGroups": [g.describe(short=pattern is not None) for g in out]}
        if more:
            result["nextToken"] = _encode_name_token(out[-1].name)
        return result

    def put_retention_policy(self, ctx: RequestContext, logGroupName: str | None = None,
                             retentionInDays: int | None = None, **_: Any) -> dict[str, Any]:
        name = _required(logGroupName, "logGroupName")
        if retentionInDays not in errors.RETENTION_DAYS:
            raise errors.validation(
                retentionInDays, "retentionInDays",
                f"Member must satisfy enum value set: [{', '.join(map(str, errors.RETENTION_DAYS))}]")
        self._update_group(ctx, name, "retention_days = ?", (retentionInDays,))
        return {}

    def delete_retention_policy(self, ctx: RequestContext, logGroupName: str | None = None, **_: Any) -> dict[str, Any]:
        self._update_group(ctx, _required(logGroupName, "logGroupName"), "retention_days = NULL", ())
        return {}

    def put_log_group_deletion_protection(self, ctx: RequestContext, logGroupIdentifier: str | None = None,
                                          deletionProtectionEnabled: bool | None = None,
                                          **_: Any) -> dict[str, Any]:
        if deletionProtectionEnabled is None:
            raise errors.required("deletionProtectionEnabled")
        account, region, name = self._identify(ctx, _required(logGroupIdentifier, "logGroupIdentifier"))
        self._update_group(ctx, name, "deletion_protection = ?", (int(deletionProtectionEnabled),),
                           account=account, region=region)
        return {}

    def _update_group(self, ctx: RequestContext, name: str, assignment: str, args: tuple[Any, ...],
                      account: str | None = None, region: str | None = None) -> None:
        def txn(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                f"UPDATE logs_groups SET {assignment} WHERE account=? AND region=? AND name=?",
                (*args, account or ctx.account_id, region or ctx.region, name),
            )
            if cur.rowcount == 0:
                raise errors.group_not_found()

        self.db.write(txn)

    # -- log streams -------------------------------------------------------------------------

    def create_log_stream(self, ctx: RequestContext, logGroupName: str | None = None,
                          logStreamName: str | None = None, **_: Any) -> dict[str, Any]:
        group_name = _required(logGroupName, "logGroupName")
        stream_name = _stream_name(logStreamName)
        now = self.now_ms()

        def txn(conn: sqlite3.Connection) -> None:
            group = _group_row(conn, ctx.account_id, ctx.region, group_name)
            if group is None:
                raise errors.group_not_found()
            if conn.execute("SELECT 1 FROM logs_streams WHERE group_id=? AND name=?",
                            (group.id, stream_name)).fetchone():
                raise errors.stream_exists()
            conn.execute("INSERT INTO logs_streams (group_id, name, created_ms) VALUES (?,?,?)",
                         (group.id, stream_name, now))

        self.db.write(txn)
        return {}

    def delete_log_stream(self, ctx: RequestContext, logGroupName: str | None = None,
                          logStreamName: str | None = None, **_: Any) -> dict[str, Any]:
        group_name = _required(logGroupName, "logGroupName")
        stream_name = _required(logStreamName, "logStreamName")

        def txn(conn: sqlite3.Connection) -> None:
            group = _group_row(conn, ctx.account_id, ctx.region, group_name)
            if group is None:
                raise errors.group_not_found()
            row = conn.execute("SELECT id FROM logs_streams WHERE group_id=? AND name=?",
                               (group.id, stream_name)).fetchone()
            if row is None:
                raise errors.stream_not_found()
            if group.deletion_protection:
                raise errors.deletion_protected()
            conn.execute("DELETE FROM logs_events WHERE group_id=? AND stream_id=?", (group.id, row[0]))
            conn.execute("DELETE FROM logs_streams WHERE id=?", (row[0],))

        self.db.write(txn)
        return {}

    def describe_log_streams(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        group = self._group_for(ctx, params)
        order = params.get("orderBy") or "LogStreamName"
        if order not in ("LogStreamName", "LastEventTime"):
            raise errors.validation(order, "orderBy",
                                    "Member must satisfy enum value set: [LogStreamName, LastEventTime]")
        prefix = params.get("logStreamNamePrefix")
        if order == "LastEventTime" and prefix:
            raise errors.invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        descending = bool(params.get("descending"))
        limit = _limit(params.get("limit"), 50, 50)
        offset = _decode_offset_token(params.get("nextToken"))
        rows = self.db.query("SELECT * FROM logs_streams WHERE group_id=?", (group.id,))
        streams = [StreamRecord.from_row(r) for r in rows]
        if prefix:
            streams = [s for s in streams if s.name.startswith(prefix)]
        if order == "LogStreamName":
            streams.sort(key=lambda s: s.name, reverse=descending)
        else:
            streams.sort(key=lambda s: (s.last_event_ms if s.last_event_ms is not None else -1, s.name),
                         reverse=descending)
        page = streams[offset:offset + limit]
        result: dict[str, Any] = {"logStreams": [s.describe(group) for s in page]}
        if offset + limit < len(streams):
            result["nextToken"] = _encode_offset_token(offset + limit)
        return result

    # -- events in ---------------------------------------------------------------------------

    def put_log_events(self, ctx: RequestContext, logGroupName: str | None = None,
                       logStreamName: str | None = None, logEvents: list[dict[str, Any]] | None = None,
                       **_: Any) -> dict[str, Any]:
        group_name = _required(logGroupName, "logGroupName")
        stream_name = _required(logStreamName, "logStreamName")
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

        now = self.now_ms()
        group = self._group(ctx.account_id, ctx.region, group_name)
        accepted, rejected = _admit(events, now, group.retention_cutoff(now))
        if accepted and accepted[-1][0] - accepted[0][0] > MAX_SPAN_MS:
            raise errors.invalid("The batch of log events in a single PutLogEvents request cannot span more "
                                 "than 24 hours.")
        # Embedded metric format is read only from events sent with that header (and Lambda's).
        metrics = _metrics_of(accepted, now) if ctx.logs_format == EMF_FORMAT else []

        def txn(conn: sqlite3.Connection) -> int | None:
            grp = _group_row(conn, ctx.account_id, ctx.region, group_name)
            if grp is None:
                raise errors.group_not_found()
            row = conn.execute("SELECT id FROM logs_streams WHERE group_id=? AND name=?",
                               (grp.id, stream_name)).fetchone()
            if row is None:
                raise errors.stream_not_found()
            if not accepted:
                return None
            write_points(conn, metrics)
            return insert_events(conn, grp.id, int(row[0]), accepted, now)

        uploads = self.db.write(txn)
        result: dict[str, Any] = {}
        if uploads is not None:  # AWS leaves the token out when every event was rejected
            result["nextSequenceToken"] = sequence_token(uploads)
        if rejected:
            result["rejectedLogEventsInfo"] = rejected
        return result

    # -- events out --------------------------------------------------------------------------

    def get_log_events(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        group = self._group_for(ctx, params)
        stream_name = _required(params.get("logStreamName"), "logStreamName")
        row = self.db.query_one("SELECT id FROM logs_streams WHERE group_id=? AND name=?", (group.id, stream_name))
        if row is None:
            raise errors.stream_not_found()
        stream_id = int(row[0])
        limit = _limit(params.get("limit"), MAX_BATCH_EVENTS, MAX_BATCH_EVENTS)
        lo, hi = self._window(group, params.get("startTime"), params.get("endTime"))
        token = params.get("nextToken")
        if token:
            forward, anchor = _decode_stream_token(token)
        else:
            forward, anchor = bool(params.get("startFromHead")), None

        base = "SELECT seq, timestamp, ingestion_ms, message FROM logs_events WHERE group_id=? AND stream_id=?"
        args: list[Any] = [group.id, stream_id]
        if lo is not None:
            base += " AND timestamp >= ?"
            args.append(lo)
        if hi is not None:
            base += " AND timestamp < ?"
            args.append(hi)
        if anchor is not None:
            ts, seq = split_position(anchor)
            base += " AND (timestamp, seq) > (?, ?)" if forward else " AND (timestamp, seq) < (?, ?)"
            args += [ts, seq]
        base += " ORDER BY timestamp, seq" if forward else " ORDER BY timestamp DESC, seq DESC"
        rows = self.db.query(base + " LIMIT ?", (*args, limit))
        picked: list[sqlite3.Row] = []
        size = 0
        for r in rows:
            size += len(r["message"].encode("utf-8", "surrogatepass")) + EVENT_OVERHEAD
            if picked and size > MAX_RESPONSE_BYTES:
                break
            picked.append(r)
        if not forward:
            picked.reverse()
        events = [{"timestamp": r["timestamp"], "message": r["message"], "ingestionTime": r["ingestion_ms"]}
                  for r in picked]
        if picked:
            first = position(picked[0]["timestamp"], picked[0]["seq"])
            last = position(picked[-1]["timestamp"], picked[-1]["seq"])
            fwd, back = _stream_token("f", last), _stream_token("b", first)
        elif token and anchor is not None:
            # Nothing further in that direction: the same token comes back (AWS's end-of-stream signal).
            if forward:
                fwd, back = token, _stream_token("b", anchor + 1)
            else:
                fwd, back = _stream_token("f", max(anchor - 1, 0)), token
        else:
            fwd, back = _stream_token("f", 0), _stream_token("b", 0)
        return {"events": events, "nextForwardToken": fwd, "nextBackwardToken": back}

    def filter_log_events(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        group = self._group_for(ctx, params)
        names = params.get("logStreamNames")
        prefix = params.get("logStreamNamePrefix")
        if names and prefix:
            raise errors.invalid("Cannot specify both logStreamNames and logStreamNamePrefix.")
        pattern = _pattern(params.get("filterPattern"))
        limit = _limit(params.get("limit"), MAX_BATCH_EVENTS, MAX_BATCH_EVENTS)
        lo, hi = self._window(group, params.get("startTime"), params.get("endTime"))
        token = params.get("nextToken")
        if token:
            ascending, anchor = _decode_filter_token(token)
        else:
            # Oldest first unless startFromHead is explicitly false.
            ascending, anchor = params.get("startFromHead") is not False, None
        events, more_at = self._scan(group, pattern, lo, hi, names, prefix, ascending, anchor, limit)
        result: dict[str, Any] = {"events": events, "searchedLogStreams": []}
        if more_at is not None:
            result["nextToken"] = _encode_filter_token(ascending, more_at)
        return result

    def _scan(self, group: GroupRecord, pattern: FilterPattern, lo: int | None, hi: int | None,
              names: list[str] | None, prefix: str | None, ascending: bool, anchor: int | None,
              limit: int) -> tuple[list[dict[str, Any]], int | None]:
        """Matching events in (timestamp, seq) order after `anchor`, and where to resume if the page
        stopped early (limit, response size or scan budget)."""
        sql = ("SELECT e.seq, e.timestamp, e.ingestion_ms, e.message, s.name FROM logs_events e"
               " JOIN logs_streams s ON s.id = e.stream_id WHERE e.group_id = ?")
        args: list[Any] = [group.id]
        if lo is not None:
            sql += " AND e.timestamp >= ?"
            args.append(lo)
        if hi is not None:
            sql += " AND e.timestamp <= ?"
            args.append(hi)
        if names:
            sql += f" AND s.name IN ({','.join('?' * len(names))})"
            args += names
        if prefix:
            sql += " AND substr(s.name, 1, ?) = ?"
            args += [len(prefix), prefix]
        cmp = ">" if ascending else "<"
        order = " ORDER BY e.timestamp, e.seq" if ascending else " ORDER BY e.timestamp DESC, e.seq DESC"
        events: list[dict[str, Any]] = []
        size = scanned = 0
        cursor = anchor
        while True:
            page_sql, page_args = sql, list(args)
            if cursor is not None:
                page_sql += f" AND (e.timestamp, e.seq) {cmp} (?, ?)"
                page_args += list(split_position(cursor))
            rows = self.db.query(page_sql + order + " LIMIT ?", (*page_args, SCAN_BATCH))
            for r in rows:
                here = position(r["timestamp"], r["seq"])
                scanned += 1
                if pattern.kind == "all" or pattern.matches(r["message"]):
                    size += len(r["message"].encode("utf-8", "surrogatepass")) + EVENT_OVERHEAD
                    if len(events) == limit or (events and size > MAX_RESPONSE_BYTES):
                        return events, cursor
                    events.append({
                        "logStreamName": r["name"], "timestamp": r["timestamp"], "message": r["message"],
                        "ingestionTime": r["ingestion_ms"], "eventId": event_id(r["timestamp"], r["seq"]),
                    })
                cursor = here
                if scanned >= SCAN_BUDGET:
                    return events, cursor
            if len(rows) < SCAN_BATCH:
                return events, None

    def _window(self, group: GroupRecord, start: int | None, end: int | None) -> tuple[int | None, int | None]:
        """The timestamp bounds of a read (lo inclusive; hi is exclusive for GetLogEvents and inclusive
        for FilterLogEvents, as AWS documents them), with the group's retention applied."""
        lo = start
        cutoff = group.retention_cutoff(self.now_ms())
        if cutoff is not None:
            lo = cutoff if lo is None else max(lo, cutoff)
        return lo, end

    def test_metric_filter(self, ctx: RequestContext, filterPattern: str | None = None,
                           logEventMessages: list[str] | None = None, **_: Any) -> dict[str, Any]:
        pattern = _pattern(filterPattern)
        found = []
        for i, message in enumerate(logEventMessages or [], 1):
            values = pattern.extract(message)
            if values is not None:
                found.append({"eventNumber": i, "eventMessage": message, "extractedValues": values})
        return {"matches": found}

    # -- tags --------------------------------------------------------------------------------

    def tag_resource(self, ctx: RequestContext, resourceArn: str | None = None,
                     tags: dict[str, str] | None = None, **_: Any) -> dict[str, Any]:
        account, region, name = self._resource(ctx, resourceArn)
        self._change_tags(account, region, name, add=tags or {}, resource=_required(resourceArn, "resourceArn"))
        return {}

    def untag_resource(self, ctx: RequestContext, resourceArn: str | None = None,
                       tagKeys: list[str] | None = None, **_: Any) -> dict[str, Any]:
        account, region, name = self._resource(ctx, resourceArn)
        self._change_tags(account, region, name, remove=tagKeys or [])
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, resourceArn: str | None = None,
                               **_: Any) -> dict[str, Any]:
        account, region, name = self._resource(ctx, resourceArn)
        return {"tags": self._group(account, region, name).tags}

    def tag_log_group(self, ctx: RequestContext, logGroupName: str | None = None,
                      tags: dict[str, str] | None = None, **_: Any) -> dict[str, Any]:
        name = _required(logGroupName, "logGroupName")
        self._change_tags(ctx.account_id, ctx.region, name, add=tags or {}, resource=name)
        return {}

    def untag_log_group(self, ctx: RequestContext, logGroupName: str | None = None,
                        tags: list[str] | None = None, **_: Any) -> dict[str, Any]:
        name = _required(logGroupName, "logGroupName")
        self._change_tags(ctx.account_id, ctx.region, name, remove=tags or [])
        return {}

    def list_tags_log_group(self, ctx: RequestContext, logGroupName: str | None = None, **_: Any) -> dict[str, Any]:
        return {"tags": self._group(ctx.account_id, ctx.region, _required(logGroupName, "logGroupName")).tags}

    def _change_tags(self, account: str, region: str, name: str, add: dict[str, str] | None = None,
                     remove: Iterable[str] = (), resource: str = "") -> None:
        add = _validate_tags(add or {}, resource or name)
        drop = list(remove)

        def txn(conn: sqlite3.Connection) -> None:
            group = _group_row(conn, account, region, name)
            if group is None:
                raise errors.group_not_found()
            tags = dict(group.tags)
            tags.update(add)
            for key in drop:
                tags.pop(key, None)
            if len(tags) > MAX_TAGS:
                raise errors.too_many_tags(resource or group.arn)
            conn.execute("UPDATE logs_groups SET tags=? WHERE id=?", (json.dumps(tags), group.id))

        self.db.write(txn)

    def _resource(self, ctx: RequestContext, arn: str | None) -> tuple[str, str, str]:
        value = _required(arn, "resourceArn")
        m = _GROUP_ARN.match(value)
        if m is None:
            raise errors.invalid(f"Invalid resource ARN: {value}")  # unconfirmed wording
        return m.group(2) or ctx.account_id, m.group(1) or ctx.region, m.group(3)

    # -- lookups -----------------------------------------------------------------------------

    def _group(self, account: str, region: str, name: str) -> GroupRecord:
        row = self.db.query_one("SELECT * FROM logs_groups WHERE account=? AND region=? AND name=?",
                                (account, region, name))
        if row is None:
            raise errors.group_not_found()
        return GroupRecord.from_row(row)

    def _identify(self, ctx: RequestContext, identifier: str) -> tuple[str, str, str]:
        """A logGroupIdentifier (a name or an ARN, with or without `:*`) -> (account, region, name)."""
        if identifier.startswith("arn:"):
            m = _GROUP_ARN.match(identifier)
            if m is None:
                raise errors.group_not_found()
            return m.group(2) or ctx.account_id, m.group(1) or ctx.region, m.group(3)
        return ctx.account_id, ctx.region, identifier

    def _group_for(self, ctx: RequestContext, params: dict[str, Any]) -> GroupRecord:
        """The group named by logGroupName or logGroupIdentifier (exactly one of them)."""
        name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
        if name and identifier:
            raise errors.invalid("LogGroup name and LogGroup identifier are mutually exclusive parameters.")
        if identifier:
            return self._group(*self._identify(ctx, identifier))
        if not name:
            raise errors.invalid("Either logGroupName or logGroupIdentifier must be specified.")
        return self._group(ctx.account_id, ctx.region, name)

    # -- the internal API --------------------------------------------------------------------

    def append(self, group: str, stream: str, events: list[tuple[int, str]], *, account_id: str | None = None,
               region: str | None = None, wait: bool = True, emf: bool = False) -> Future[None] | None:
        """Write events to a stream, creating the group and the stream on first use; with `emf`,
        the metrics of embedded-metric-format events too (a Lambda function's log lines).

        One transaction (one fsync, shared with concurrent writers) per call. Events may come in any
        order; none is rejected for its age. With `wait=False` the write is queued and the returned
        future resolves once it is durable (failures are logged).
        """
        account = account_id or self.account_id
        where = region or self.region
        batch = sorted(((min(max(int(ts), 0), MAX_TIMESTAMP), str(msg)) for ts, msg in events), key=lambda e: e[0])
        now = self.now_ms()
        metrics = _metrics_of(batch, now) if emf else []

        def txn(conn: sqlite3.Connection) -> None:
            group_id = ensure_group(conn, account, where, group, now)
            stream_id = ensure_stream(conn, group_id, stream, now)
            if batch:
                insert_events(conn, group_id, stream_id, batch, now)
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
            record = self._group(account_id or self.account_id, region or self.region, group)
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


# -- helpers --------------------------------------------------------------------------------------

def _log_failure(future: Future[None]) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("writing log events failed: %s", exc)


def _required(value: Any, member: str) -> Any:
    if value is None or value == "":
        raise errors.required(member)
    return value


def _group_name(value: str | None) -> str:
    name = _required(value, "logGroupName")
    if len(name) > 512:
        raise errors.validation(name, "logGroupName", "Member must have length less than or equal to 512")
    if not GROUP_NAME.fullmatch(name):
        raise errors.validation(name, "logGroupName",
                                f"Member must satisfy regular expression pattern: {GROUP_NAME_PATTERN}")
    return str(name)


def _stream_name(value: str | None) -> str:
    name = _required(value, "logStreamName")
    if len(name) > 512:
        raise errors.validation(name, "logStreamName", "Member must have length less than or equal to 512")
    if not STREAM_NAME.fullmatch(name):
        raise errors.validation(name, "logStreamName", "Member must satisfy regular expression pattern: [^:*]*")
    return str(name)


def _validate_tags(tags: dict[str, str], resource: str) -> dict[str, str]:
    if len(tags) > MAX_TAGS:
        raise errors.too_many_tags(resource)
    for key, value in tags.items():
        if not 1 <= len(key) <= 128:
            raise errors.validation(key, "tags", "Map keys must satisfy constraint: [Member must have length "
                                                 "less than or equal to 128, Member must have length greater "
                                                 "than or equal to 1]")
        if len(value) > 256:
            raise errors.validation(value, "tags", "Map value must satisfy constraint: [Member must have length "
                                                   "less than or equal to 256]")
    return dict(tags)


def _limit(value: int | None, default: int, maximum: int) -> int:
    if value is None:
        return default
    if value < 1:
        raise errors.validation(value, "limit", "Member must have value greater than or equal to 1")
    if value > maximum:
        raise errors.validation(value, "limit", f"Member must have value less than or equal to {maximum}")
    return int(value)


def _pattern(text: str | None) -> FilterPattern:
    try:
        return compile_pattern(text)
    except PatternError:
        raise errors.invalid_pattern() from None


def _group_row(conn: sqlite3.Connection, account: str, region: str, name: str) -> GroupRecord | None:
    row = conn.execute("SELECT * FROM logs_groups WHERE account=? AND region=? AND name=?",
                       (account, region, name)).fetchone()
    return GroupRecord.from_row(row) if row is not None else None


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


def _stream_token(direction: str, pos: int) -> str:
    return f"{direction}/{pos:0{DIGITS}d}/s"


_STREAM_TOKEN = re.compile(r"^([fb])/(\d{1,56})(?:/s)?$")


def _decode_stream_token(token: str) -> tuple[bool, int]:
    m = _STREAM_TOKEN.match(token)
    if m is None:
        raise errors.invalid_token()
    return m.group(1) == "f", int(m.group(2))


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise errors.invalid_token() from None


def _encode_filter_token(ascending: bool, pos: int) -> str:
    return _b64(f"{'a' if ascending else 'd'}/{pos:0{DIGITS}d}")


def _decode_filter_token(token: str) -> tuple[bool, int]:
    text = _unb64(token)
    m = re.fullmatch(r"([ad])/(\d{1,56})", text)
    if m is None:
        raise errors.invalid_token()
    return m.group(1) == "a", int(m.group(2))


def _encode_name_token(name: str) -> str:
    return _b64("n/" + name)


def _decode_name_token(token: str | None) -> str:
    if not token:
        return ""
    text = _unb64(token)
    if not text.startswith("n/"):
        raise errors.invalid_token()
    return text[2:]


def _encode_offset_token(offset: int) -> str:
    return _b64(f"o/{offset}")


def _decode_offset_token(token: str | None) -> int:
    if not token:
        return 0
    text = _unb64(token)
    if not re.fullmatch(r"o/\d+", text):
        raise errors.invalid_token()
    return int(text[2:])


def _metrics_of(events: list[tuple[int, str]], now_ms: int) -> list[Point]:
    return [point for _, message in events for point in extract_metrics(message, now_ms / 1000)]
