"""EventBridge's business rules: buses, rules, targets, PutEvents, patterns, schedules, tags.

No HTTP, no JSON wire details: members in, members out. Besides its API, the service is a
delivery target for event bus ARNs (`deliver`), so Lambda destinations, S3 notifications and
other rules can put events on a bus.

Accepting an event (PutEvents, `deliver`, a schedule firing) matches it against the bus's enabled
rules and writes one outbox row per target in one transaction (see records.py). Two background
tasks on the event loop do the rest: the dispatcher hands due rows to `Deliveries` (in worker
threads) and applies the retry policy (retry.py) on failure; the scheduler fires schedule rules
on the Sluice clock, so `--time-scale N` makes `rate(1 minute)` fire every 60/N seconds.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime as dt
import json
import logging
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from ...clock import Clock
from ...protocol import safejson
from ...protocol.context import RequestContext
from ...protocol.models import service_model
from ...settings import Settings
from ...store import Store
from ..base import Service
from ..delivery import INVALID, NOT_FOUND, Deliveries, Delivery, DeliveryResult, MessageAttribute
from . import errors
from .metrics import EventsMetrics
from .patterns import EventPattern, PatternError, compile_pattern, flatten_event
from .records import (
    BusRecord,
    RuleRecord,
    bus_arn,
    bus_row,
    rule_arn,
    rule_row,
    targets_of,
)
from .retry import ERROR_CODES, GiveUp, TargetRetryPolicy
from .schedule import Cron, Rate, ScheduleError, parse_schedule
from .transform import PREDEFINED, TransformError, compact, parse_path, placeholders, target_input

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_BUS = "default"
MAX_ENTRIES = 10
MAX_REQUEST_BYTES = 256 * 1024
MAX_TARGETS_PER_RULE = 5
MAX_HOPS = 5  # bus -> bus forwarding depth before an event is refused (a loop guard)
PRINCIPAL = "events.amazonaws.com"
DISPATCH_CONCURRENCY = 16
DISPATCH_BATCH = 256
SCHEDULER_IDLE = 30.0  # seconds between scheduler wake-ups when nothing is due
STOP_GRACE = 10.0  # seconds a stopping server gives deliveries under way

_BUS_ARN = re.compile(r"^arn:aws[\w-]*:events:([a-z0-9-]*):(\d*):event-bus/(.+)$")
_RULE_ARN = re.compile(r"^arn:aws[\w-]*:events:([a-z0-9-]*):(\d*):rule/(.+)$")
_TARGET_ARN = re.compile(r"^arn:aws[\w-]*:[a-z0-9-]+:[a-z0-9-]*:\d*:.+$")
_REQUIRED_EVENT_FIELDS = ("id", "account", "source", "time", "region", "detail-type")


def iso_seconds(t: float) -> str:
    """Event times: ISO 8601, UTC, second precision, as AWS writes them."""
    return dt.datetime.fromtimestamp(t, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _encode_token(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def _decode_token(token: str | None) -> Any:
    if token is None:
        return None
    try:
        return safejson.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error):
        raise errors.invalid_token() from None


@dataclass
class _RuleView:
    """An enabled rule with an event pattern, as PutEvents matches it (cached per bus)."""

    record: RuleRecord
    pattern: EventPattern
    targets: list[dict[str, Any]]


class EventsService(Service):
    name = "events"

    def __init__(self, store: Store, clock: Clock, settings: Settings, deliveries: Deliveries) -> None:
        self.store = store
        self.db = store.db
        self.clock = clock
        self.settings = settings
        self.deliveries = deliveries
        self._origin = clock.now()  # the scaled schedule timeline starts here (see _next_fire)
        self._cache: dict[tuple[str, str, str], list[_RuleView]] = {}
        self._cache_generation = 0
        self._cache_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dispatch_wake: asyncio.Event | None = None
        self._schedule_wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._attempts: set[asyncio.Task[None]] = set()
        self._inflight: set[int] = set()  # outbox rows being delivered (touched on the loop only)
        self._finished: set[int] = set()  # rows finished since the dispatcher last read the outbox
        self._executor: ThreadPoolExecutor | None = None
        self.metrics = EventsMetrics(self.db, clock)
        self._ensure_default_bus(settings.account_id, settings.region)

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        # Deliveries block (a target's commit, a Lambda enqueue): they get threads of their own.
        self._executor = ThreadPoolExecutor(DISPATCH_CONCURRENCY + 2, thread_name_prefix="sluice-events")
        self._dispatch_wake = asyncio.Event()
        self._schedule_wake = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._dispatch_loop(), name="events-dispatch"),
            asyncio.create_task(self._schedule_loop(), name="events-schedule"),
        ]
        self.metrics.buffer.start()

    async def stop(self) -> None:
        """Stop taking work; let deliveries under way record their outcome (a little while), so
        that they are not repeated after the restart; leave the rest in the outbox."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._attempts:
            await asyncio.wait(list(self._attempts), timeout=STOP_GRACE)
        for task in list(self._attempts):
            task.cancel()
        executor, self._executor = self._executor, None
        if executor is not None:
            # Threads still delivering must finish before the store closes under them; the loop
            # stays free meanwhile (a Lambda delivery needs it).
            loop = asyncio.get_running_loop()
            done = loop.run_in_executor(None, lambda: executor.shutdown(wait=True, cancel_futures=True))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(done, STOP_GRACE)
        await self.metrics.buffer.stop()

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    def _wake(self, event: asyncio.Event | None) -> None:
        loop = self._loop
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(event.set)

    # -- buses ---------------------------------------------------------------------------------

    def _ensure_default_bus(self, account: str, region: str) -> None:
        now = self.clock.now()
        self.db.write(lambda conn: conn.execute(
            "INSERT OR IGNORE INTO events_buses (account, region, name, created, modified) VALUES (?,?,?,?,?)",
            (account, region, DEFAULT_BUS, now, now)))

    def _bus(self, conn: sqlite3.Connection, account: str, region: str, name: str) -> BusRecord | None:
        bus = bus_row(conn, account, region, name)
        if bus is None and name == DEFAULT_BUS:  # the default bus always exists
            return BusRecord(account, region, DEFAULT_BUS, self._origin, self._origin)
        return bus

    @staticmethod
    def _bus_name(value: str | None) -> str:
        if not value:
            return DEFAULT_BUS
        m = _BUS_ARN.match(value)
        return m.group(3) if m else value

    def _params(self, operation: str, params: dict[str, Any], skip: tuple[str, ...] = ()) -> dict[str, Any]:
        """`params` once they satisfy the model: required members, lengths, ranges, enums, patterns."""
        errors.validate_input(params, service_model(self.name).operation_model(operation).input_shape, skip)
        return params

    def create_event_bus(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        Name = self._params("CreateEventBus", params)["Name"]
        if "/" in Name and not params.get("EventSourceName"):
            raise errors.validation("Event bus name must not contain '/'.")  # unconfirmed
        if params.get("EventSourceName"):
            raise errors.validation("Sluice does not support partner event sources.")
        tags = {t["Key"]: t["Value"] for t in params.get("Tags") or []}
        now = self.clock.now()

        def txn(conn: sqlite3.Connection) -> None:
            if self._bus(conn, ctx.account_id, ctx.region, Name) is not None:
                raise errors.bus_exists(Name)
            conn.execute(
                "INSERT INTO events_buses (account, region, name, created, modified, description, tags)"
                " VALUES (?,?,?,?,?,?,?)",
                (ctx.account_id, ctx.region, Name, now, now, params.get("Description"), json.dumps(tags)))

        self.db.write(txn)
        out: dict[str, Any] = {"EventBusArn": bus_arn(ctx.region, ctx.account_id, Name)}
        for key in ("Description", "KmsKeyIdentifier", "DeadLetterConfig", "LogConfig"):
            if params.get(key) is not None:
                out[key] = params[key]
        return out

    def delete_event_bus(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        Name = self._params("DeleteEventBus", params)["Name"]
        if Name == DEFAULT_BUS:
            raise errors.validation(errors.CANNOT_DELETE_DEFAULT)
        key = (ctx.account_id, ctx.region, Name)

        def txn(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM events_targets WHERE account=? AND region=? AND bus=?", key)
            conn.execute("DELETE FROM events_rules WHERE account=? AND region=? AND bus=?", key)
            conn.execute("DELETE FROM events_buses WHERE account=? AND region=? AND name=?", key)

        self.db.write(txn)  # deleting a bus that does not exist succeeds, as on AWS
        self._invalidate()
        return {}

    def describe_event_bus(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        name = self._bus_name(self._params("DescribeEventBus", params).get("Name"))
        bus = self._bus(self.db.reader, ctx.account_id, ctx.region, name)
        if bus is None:
            raise errors.bus_not_found(name)
        return bus.describe()

    def list_event_buses(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        self._params("ListEventBuses", params)
        prefix = params.get("NamePrefix") or ""
        limit = params.get("Limit") or 100
        after = _decode_token(params.get("NextToken")) or ""
        rows = self.db.query(
            "SELECT * FROM events_buses WHERE account=? AND region=? AND name > ? ORDER BY name",
            (ctx.account_id, ctx.region, after))
        buses = [BusRecord.from_row(r) for r in rows if r["name"].startswith(prefix)]
        if DEFAULT_BUS.startswith(prefix) and after < DEFAULT_BUS and all(b.name != DEFAULT_BUS for b in buses):
            default = self._bus(self.db.reader, ctx.account_id, ctx.region, DEFAULT_BUS)
            assert default is not None
            buses = sorted([*buses, default], key=lambda b: b.name)
        out: dict[str, Any] = {"EventBuses": [b.describe() for b in buses[:limit]]}
        if len(buses) > limit:
            out["NextToken"] = _encode_token(buses[limit - 1].name)
        return out

    # -- rules ---------------------------------------------------------------------------------

    def put_rule(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        Name = self._params("PutRule", params)["Name"]
        bus = self._bus_name(params.get("EventBusName"))
        pattern = params.get("EventPattern")
        schedule = params.get("ScheduleExpression")
        if not pattern and not schedule:
            raise errors.validation(errors.PATTERN_OR_SCHEDULE)
        if pattern:
            try:
                compile_pattern(pattern)
            except PatternError as exc:
                raise errors.invalid_pattern(exc.message) from None
        if schedule:
            if bus != DEFAULT_BUS:
                raise errors.validation(errors.SCHEDULE_DEFAULT_BUS_ONLY)
            try:
                parse_schedule(schedule)
            except ScheduleError:
                raise errors.validation(errors.SCHEDULE_INVALID) from None
        state = params.get("State") or "ENABLED"
        tags = {t["Key"]: t["Value"] for t in params.get("Tags") or []}
        now = self.clock.now()

        def txn(conn: sqlite3.Connection) -> None:
            if self._bus(conn, ctx.account_id, ctx.region, bus) is None:
                raise errors.bus_not_found(bus)
            old = rule_row(conn, ctx.account_id, ctx.region, bus, Name)
            next_fire = None
            if schedule and state == "ENABLED":
                keep = old is not None and old.schedule == schedule and old.enabled and old.next_fire is not None
                next_fire = old.next_fire if keep and old is not None else self._next_fire(schedule, now)
            if old is None:
                conn.execute(
                    "INSERT INTO events_rules (account, region, bus, name, pattern, schedule, state, description,"
                    " role_arn, created, tags, next_fire) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (ctx.account_id, ctx.region, bus, Name, pattern or None, schedule or None, state,
                     params.get("Description"), params.get("RoleArn"), now, json.dumps(tags), next_fire))
            else:  # PutRule replaces the rule; tags are kept (TagResource changes those)
                conn.execute(
                    "UPDATE events_rules SET pattern=?, schedule=?, state=?, description=?, role_arn=?, next_fire=?"
                    " WHERE account=? AND region=? AND bus=? AND name=?",
                    (pattern or None, schedule or None, state, params.get("Description"), params.get("RoleArn"),
                     next_fire, ctx.account_id, ctx.region, bus, Name))

        self.db.write(txn)
        self._invalidate()
        self._wake(self._schedule_wake)
        return {"RuleArn": rule_arn(ctx.region, ctx.account_id, bus, Name)}

    def _rule(self, ctx: RequestContext, name: str, bus: str, conn: sqlite3.Connection | None = None) -> RuleRecord:
        rule = rule_row(conn or self.db.reader, ctx.account_id, ctx.region, bus, name)
        if rule is None:
            raise errors.rule_not_found(name, bus)
        return rule

    def describe_rule(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        p = self._params("DescribeRule", params)
        return self._rule(ctx, p["Name"], self._bus_name(p.get("EventBusName"))).describe()

    def list_rules(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        self._params("ListRules", params)
        bus = self._bus_name(params.get("EventBusName"))
        if self._bus(self.db.reader, ctx.account_id, ctx.region, bus) is None:
            raise errors.bus_not_found(bus)
        prefix = params.get("NamePrefix") or ""
        limit = params.get("Limit") or 100
        after = _decode_token(params.get("NextToken")) or ""
        rows = self.db.query(
            "SELECT * FROM events_rules WHERE account=? AND region=? AND bus=? AND name > ? AND name >= ?"
            " ORDER BY name LIMIT ?",  # names with the prefix come first, together
            (ctx.account_id, ctx.region, bus, after, prefix, limit + 1))
        rules = [RuleRecord.from_row(r) for r in rows if r["name"].startswith(prefix)]
        out: dict[str, Any] = {"Rules": [r.describe(full=False) for r in rules[:limit]]}
        if len(rules) > limit:
            out["NextToken"] = _encode_token(rules[limit - 1].name)
        return out

    def _set_state(self, ctx: RequestContext, name: str, bus_value: str | None, state: str) -> None:
        bus = self._bus_name(bus_value)
        now = self.clock.now()

        def txn(conn: sqlite3.Connection) -> None:
            rule = self._rule(ctx, name, bus, conn)
            next_fire = rule.next_fire
            if state == "DISABLED":
                next_fire = None
            elif rule.schedule and (next_fire is None or not rule.enabled):
                next_fire = self._next_fire(rule.schedule, now)
            conn.execute("UPDATE events_rules SET state=?, next_fire=? WHERE account=? AND region=? AND bus=?"
                         " AND name=?", (state, next_fire, ctx.account_id, ctx.region, bus, name))

        self.db.write(txn)
        self._invalidate()
        self._wake(self._schedule_wake)

    def enable_rule(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        p = self._params("EnableRule", params)
        self._set_state(ctx, p["Name"], p.get("EventBusName"), "ENABLED")
        return {}

    def disable_rule(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        p = self._params("DisableRule", params)
        self._set_state(ctx, p["Name"], p.get("EventBusName"), "DISABLED")
        return {}

    def delete_rule(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        p = self._params("DeleteRule", params)
        bus = self._bus_name(p.get("EventBusName"))
        key = (ctx.account_id, ctx.region, bus, p["Name"])

        def txn(conn: sqlite3.Connection) -> None:
            if rule_row(conn, *key) is None:
                return  # deleting a rule that does not exist succeeds, as on AWS
            if conn.execute("SELECT 1 FROM events_targets WHERE account=? AND region=? AND bus=? AND rule=?"
                            " LIMIT 1", key).fetchone():
                raise errors.validation(errors.RULE_HAS_TARGETS)
            conn.execute("DELETE FROM events_rules WHERE account=? AND region=? AND bus=? AND name=?", key)

        self.db.write(txn)
        self._invalidate()
        return {}

    # -- targets -------------------------------------------------------------------------------

    def _check_target(self, target: dict[str, Any]) -> None:
        tid, arn = target["Id"], target["Arn"]
        if not _TARGET_ARN.match(arn):
            raise errors.bad_target_arn(arn)
        given = [k for k in ("Input", "InputPath", "InputTransformer") if target.get(k) is not None]
        if len(given) > 1:
            raise errors.one_input_only(tid)
        if target.get("InputPath") is not None:
            try:
                parse_path(target["InputPath"])
            except TransformError:
                raise errors.invalid_input_path(tid, target["InputPath"]) from None
        transformer = target.get("InputTransformer")
        if transformer:
            paths = transformer.get("InputPathsMap") or {}
            for path in paths.values():
                try:
                    parse_path(path)
                except TransformError:
                    raise errors.invalid_input_path(tid, path) from None
            for name in placeholders(transformer.get("InputTemplate", "")):
                if name not in paths and name not in PREDEFINED:
                    raise errors.invalid_placeholder(tid, name)
        parts = arn.split(":")
        if parts[2] == "sqs" and arn.endswith(".fifo") and not (target.get("SqsParameters") or {}).get("MessageGroupId"):
            raise errors.validation(errors.FIFO_NEEDS_GROUP)

    def put_targets(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        self._params("PutTargets", params)
        Rule: str = params["Rule"]
        Targets: list[dict[str, Any]] = params["Targets"]
        bus = self._bus_name(params.get("EventBusName"))
        for target in Targets:
            self._check_target(target)
        failed: list[dict[str, Any]] = []

        def txn(conn: sqlite3.Connection) -> None:
            self._rule(ctx, Rule, bus, conn)
            key = (ctx.account_id, ctx.region, bus, Rule)
            existing = {r["id"]: r["seq"] for r in conn.execute(
                "SELECT id, seq FROM events_targets WHERE account=? AND region=? AND bus=? AND rule=?", key)}
            new_ids = {t["Id"] for t in Targets} - set(existing)
            if len(existing) + len(new_ids) > MAX_TARGETS_PER_RULE:
                raise errors.limit_exceeded()
            seq = max(existing.values(), default=0)
            for target in Targets:
                if target["Id"] in existing:
                    order = existing[target["Id"]]
                else:
                    seq += 1
                    order = existing[target["Id"]] = seq
                conn.execute(
                    "INSERT OR REPLACE INTO events_targets (account, region, bus, rule, id, seq, arn, config)"
                    " VALUES (?,?,?,?,?,?,?,?)", (*key, target["Id"], order, target["Arn"], json.dumps(target)))

        self.db.write(txn)
        self._invalidate()
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    def remove_targets(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        self._params("RemoveTargets", params)
        Rule: str = params["Rule"]
        Ids: list[str] = params["Ids"]
        bus = self._bus_name(params.get("EventBusName"))

        def txn(conn: sqlite3.Connection) -> None:
            self._rule(ctx, Rule, bus, conn)
            conn.executemany(
                "DELETE FROM events_targets WHERE account=? AND region=? AND bus=? AND rule=? AND id=?",
                [(ctx.account_id, ctx.region, bus, Rule, i) for i in Ids])

        self.db.write(txn)
        self._invalidate()
        return {"FailedEntryCount": 0, "FailedEntries": []}

    def list_targets_by_rule(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        Rule = self._params("ListTargetsByRule", params)["Rule"]
        bus = self._bus_name(params.get("EventBusName"))
        self._rule(ctx, Rule, bus)
        targets = targets_of(self.db.reader, ctx.account_id, ctx.region, bus, Rule)
        start = int(_decode_token(params.get("NextToken")) or 0)
        limit = params.get("Limit") or 100
        out: dict[str, Any] = {"Targets": targets[start:start + limit]}
        if start + limit < len(targets):
            out["NextToken"] = _encode_token(start + limit)
        return out

    def list_rule_names_by_target(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        TargetArn = self._params("ListRuleNamesByTarget", params)["TargetArn"]
        bus = self._bus_name(params.get("EventBusName"))
        if self._bus(self.db.reader, ctx.account_id, ctx.region, bus) is None:
            raise errors.bus_not_found(bus)
        rows = self.db.query(
            "SELECT DISTINCT rule FROM events_targets WHERE account=? AND region=? AND bus=? AND arn=? ORDER BY rule",
            (ctx.account_id, ctx.region, bus, TargetArn))
        names = [r["rule"] for r in rows]
        after = _decode_token(params.get("NextToken")) or ""
        names = [n for n in names if n > after]
        limit = params.get("Limit") or 100
        out: dict[str, Any] = {"RuleNames": names[:limit]}
        if len(names) > limit:
            out["NextToken"] = _encode_token(names[limit - 1])
        return out

    # -- events --------------------------------------------------------------------------------

    @staticmethod
    def _entry_size(entry: dict[str, Any]) -> int:
        """AWS's "Calculating PutEvents event entry size"."""
        size = 14 if entry.get("Time") is not None else 0
        for key in ("Source", "DetailType", "Detail"):
            if entry.get(key):
                size += len(str(entry[key]).encode())
        for resource in entry.get("Resources") or []:
            size += len(str(resource).encode())
        return size

    @staticmethod
    def _entry_error(entry: dict[str, Any]) -> tuple[str, str] | None:
        for key in ("Source", "DetailType", "Detail"):
            if not entry.get(key):
                return "InvalidArgument", f"Parameter {key} is not valid. Reason: {key} is a required argument."
        if str(entry["Source"]).startswith("aws."):
            return "NotAuthorizedForSourceException", "Not authorized for the source."
        try:
            detail = safejson.loads(entry["Detail"])
        except ValueError:
            detail = None
        if not isinstance(detail, dict):
            return "MalformedDetail", "Detail is malformed."
        return None

    def _envelope(self, account: str, region: str, *, source: str, detail_type: str, detail: Any,
                  resources: list[str], time: float, event_id: str | None = None) -> dict[str, Any]:
        return {
            "version": "0",
            "id": event_id or str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": account,
            "time": iso_seconds(time),
            "region": region,
            "resources": list(resources),
            "detail": detail,
        }

    def put_events(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        Entries: list[dict[str, Any]] = params.get("Entries") or []
        if len(Entries) > MAX_ENTRIES:
            raise errors.validation(_too_many_entries(Entries))
        self._params("PutEvents", params)
        if sum(self._entry_size(e) for e in Entries) > MAX_REQUEST_BYTES:
            raise errors.validation(errors.TOO_LARGE)
        now = self.clock.now()
        results: list[dict[str, str]] = []
        accepted: list[_Accepted] = []
        for entry in Entries:
            problem = self._entry_error(entry)
            if problem is not None:
                results.append({"ErrorCode": problem[0], "ErrorMessage": problem[1]})
                continue
            when = entry.get("Time")
            event = self._envelope(
                ctx.account_id, ctx.region, source=entry["Source"], detail_type=entry["DetailType"],
                detail=safejson.loads(entry["Detail"]), resources=entry.get("Resources") or [],
                time=when.timestamp() if isinstance(when, dt.datetime) else now)
            accepted.append(_Accepted(self._bus_name(entry.get("EventBusName")), event, entry.get("TraceHeader")))
            results.append({"EventId": event["id"]})
        self._accept(ctx.account_id, ctx.region, accepted, now)
        return {"FailedEntryCount": sum(1 for r in results if "ErrorCode" in r), "Entries": results}

    def test_event_pattern(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        self._params("TestEventPattern", params)
        EventPattern: str = params["EventPattern"]
        Event: str = params["Event"]
        try:
            pattern = compile_pattern(EventPattern)
        except PatternError as exc:
            raise errors.invalid_pattern(exc.message) from None
        try:
            event = safejson.loads(Event)
        except ValueError:
            event = None
        if not isinstance(event, dict) or any(k not in event for k in _REQUIRED_EVENT_FIELDS):
            raise errors.validation(errors.EVENT_INVALID)
        return {"Result": pattern.matches(event)}

    # -- accepting events: match rules, write the outbox ---------------------------------------

    def _invalidate(self) -> None:
        with self._cache_lock:
            self._cache.clear()
            self._cache_generation += 1

    def _rules_for(self, account: str, region: str, bus: str) -> list[_RuleView]:
        key = (account, region, bus)
        with self._cache_lock:
            cached = self._cache.get(key)
            generation = self._cache_generation
        if cached is not None:
            return cached
        conn = self.db.reader
        views = []
        rows = conn.execute("SELECT * FROM events_rules WHERE account=? AND region=? AND bus=? AND pattern IS NOT NULL",
                            key).fetchall()
        for row in rows:
            rule = RuleRecord.from_row(row)
            if not rule.enabled or rule.pattern is None:
                continue
            try:
                pattern = compile_pattern(rule.pattern)
            except PatternError:
                continue
            views.append(_RuleView(rule, pattern, targets_of(conn, account, region, bus, rule.name)))
        with self._cache_lock:
            if generation == self._cache_generation:
                self._cache[key] = views
        return views

    def _accept(self, account: str, region: str, items: list[_Accepted], now: float) -> None:
        """Match each event against its bus's rules; one committed outbox row per target."""
        rows: list[tuple[Any, ...]] = []
        for item in items:
            views = self._rules_for(account, region, item.bus)
            if not views:
                continue
            leaves = flatten_event(item.event)
            for view in views:
                if view.pattern.matches(item.event, leaves):
                    self.metrics.matched(view.record.arn)
                    for target in view.targets:
                        rows.append(self._outbox_row(account, view.record.arn, view.record.name, target, item, now))
        if not rows:
            return
        self.db.write(lambda conn: conn.executemany(
            "INSERT INTO events_outbox (account, event_id, rule_arn, target_id, target_arn, body, event, options,"
            " created, next_at) VALUES (?,?,?,?,?,?,?,?,?,?)", rows))
        self._wake(self._dispatch_wake)

    def _outbox_row(self, account: str, rule_arn_: str, rule_name: str, target: dict[str, Any], item: _Accepted,
                    now: float) -> tuple[Any, ...]:
        event = item.event
        arn = target["Arn"]
        options: dict[str, Any] = {}
        if item.trace:
            options["attrs"] = {"AWSTraceHeader": item.trace}
        if target.get("RetryPolicy"):
            options["retry"] = target["RetryPolicy"]
        dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
        if dlq:
            options["dlq"] = dlq
        if _BUS_ARN.match(arn):  # another bus gets the event itself, as PutEvents would put it
            body = compact(event["detail"])
            options["bus"] = {"Source": event["source"], "DetailType": event["detail-type"],
                              "Resources": event["resources"], "Time": event["time"], "Id": event["id"],
                              "Hops": item.hops + 1}
        else:
            body = target_input(target, event, rule_arn=rule_arn_, rule_name=rule_name,
                                ingestion_time=iso_seconds(now))
            group = (target.get("SqsParameters") or {}).get("MessageGroupId")
            if group:
                options["group"] = group
                options["dedup"] = event["id"]
        return (account, event["id"], rule_arn_, target["Id"], arn, body, compact(event), json.dumps(options),
                now, now)

    # -- a delivery target for event bus ARNs --------------------------------------------------

    def deliver(self, arn: str, delivery: Delivery) -> DeliveryResult:
        """Put `delivery` on the bus `arn`: Source, DetailType, Resources from `delivery.event`,
        Detail = `delivery.body`, as PutEvents would. Runs in a worker thread."""
        m = _BUS_ARN.match(arn)
        if not m:
            return DeliveryResult.failed(INVALID, f"not an event bus ARN: {arn}")
        region, account, name = m.group(1), m.group(2), m.group(3)
        if self._bus(self.db.reader, account, region, name) is None:
            return DeliveryResult.failed(NOT_FOUND, f"Event bus {name} does not exist.")
        ev = delivery.event
        source, detail_type = ev.get("Source"), ev.get("DetailType")
        if not source or not detail_type:
            return DeliveryResult.failed(INVALID, "Source and DetailType are required.")
        try:
            detail = safejson.loads(delivery.body)
        except ValueError:
            detail = None
        if not isinstance(detail, dict):
            return DeliveryResult.failed(INVALID, "Detail is malformed.")
        hops = int(ev.get("Hops") or 0)
        if hops > MAX_HOPS:
            return DeliveryResult.failed(INVALID, f"event forwarded across more than {MAX_HOPS} buses")
        now = self.clock.now()
        when = now
        if ev.get("Time"):
            try:
                when = dt.datetime.strptime(ev["Time"], "%Y-%m-%dT%H:%M:%SZ").replace(
                    tzinfo=dt.timezone.utc).timestamp()
            except (TypeError, ValueError):
                when = now
        event = self._envelope(account, region, source=source, detail_type=detail_type, detail=detail,
                               resources=list(ev.get("Resources") or []), time=when, event_id=ev.get("Id"))
        trace = delivery.system_attributes.get("AWSTraceHeader")
        self._accept(account, region, [_Accepted(name, event, trace, hops)], now)
        return DeliveryResult(True, event["id"])

    # -- the dispatcher: outbox rows -> targets, with retries and dead-letter queues -----------

    async def _dispatch_loop(self) -> None:
        assert self._dispatch_wake is not None
        limit = asyncio.Semaphore(DISPATCH_CONCURRENCY)
        while True:
            self._dispatch_wake.clear()
            self._finished.clear()
            next_at: float | None = None
            try:
                rows = await self._run(self._outbox_head)
            except Exception:
                log.exception("reading the EventBridge outbox failed")
                rows, next_at = [], self.clock.now() + 1.0
            # A row that finished while the outbox was being read may still be in `rows`:
            # `_finished` keeps it from being sent twice.
            now = self.clock.now()
            for row in rows:
                if row["id"] in self._inflight or row["id"] in self._finished:
                    continue
                if row["next_at"] > now:
                    next_at = row["next_at"]
                    break
                self._inflight.add(row["id"])
                task = asyncio.create_task(self._attempt(row, limit))
                self._attempts.add(task)
                task.add_done_callback(self._attempts.discard)
            timeout = None if next_at is None else max(0.0, next_at - self.clock.now())
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._dispatch_wake.wait(), timeout)

    def _outbox_head(self) -> list[sqlite3.Row]:
        return self.db.query("SELECT * FROM events_outbox ORDER BY next_at LIMIT ?", (DISPATCH_BATCH,))

    async def _attempt(self, row: sqlite3.Row, limit: asyncio.Semaphore) -> None:
        try:
            async with limit:
                result = await self._run(self._deliver_row, row)
                await self._run(self._record_outcome, row, result)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("EventBridge delivery of outbox row %s failed", row["id"])
        finally:
            self._inflight.discard(row["id"])
            self._finished.add(row["id"])
            if self._dispatch_wake is not None:
                self._dispatch_wake.set()

    def _deliver_row(self, row: sqlite3.Row) -> DeliveryResult:
        options = json.loads(row["options"])
        common: dict[str, Any] = {
            "system_attributes": options.get("attrs") or {},
            "source_arn": row["rule_arn"], "source_account": row["account"], "principal": PRINCIPAL,
        }
        if "bus" in options:
            delivery = Delivery(body=row["body"], event=options["bus"], **common)
        else:
            delivery = Delivery(body=row["body"], group_id=options.get("group"),
                                deduplication_id=options.get("dedup"), **common)
        try:
            return self.deliveries.deliver(row["target_arn"], delivery)
        except Exception as exc:  # a target's failure is an outcome, never the dispatcher's
            log.exception("delivering to %s raised", row["target_arn"])
            return DeliveryResult.failed("InternalError", str(exc))

    def _record_outcome(self, row: sqlite3.Row, result: DeliveryResult) -> None:
        rid = row["id"]
        if result.ok:
            self.db.write(lambda conn: conn.execute("DELETE FROM events_outbox WHERE id=?", (rid,)))
            self.metrics.delivered(row["rule_arn"])
            return
        options = json.loads(row["options"])
        attempts = row["attempts"] + 1
        policy = TargetRetryPolicy.of(options.get("retry"))
        decision = policy.after_failure(attempts, self.clock.engine_elapsed(row["created"]), result.error)
        error = f"{result.error}: {result.detail}" if result.detail else str(result.error)
        if not isinstance(decision, GiveUp):
            next_at = self.clock.now() + self.clock.engine_seconds(decision.delay)
            self.db.write(lambda conn: conn.execute(
                "UPDATE events_outbox SET attempts=?, next_at=?, last_error=? WHERE id=?",
                (attempts, next_at, error, rid)))
            return
        dlq = options.get("dlq")
        self.metrics.failed(row["rule_arn"], self._dead_letter(row, dlq, result, decision, attempts) if dlq else None)
        if not dlq:
            log.warning("EventBridge dropped event %s for target %s (%s) after %d attempt(s): %s",
                        row["event_id"], row["target_id"], row["target_arn"], attempts, error)
        self.db.write(lambda conn: conn.execute("DELETE FROM events_outbox WHERE id=?", (rid,)))

    def _dead_letter(self, row: sqlite3.Row, dlq: str, result: DeliveryResult, decision: GiveUp,
                     attempts: int) -> bool:
        """Send the event to the target's dead-letter queue; True if it took it."""
        attrs = {
            "RULE_ARN": row["rule_arn"],
            "TARGET_ARN": row["target_arn"],
            "ERROR_CODE": ERROR_CODES.get(result.error or "", "INTERNAL_ERROR"),
            "ERROR_MESSAGE": (result.detail or str(result.error))[:1024],
            "RETRY_ATTEMPTS": str(attempts - 1),
        }
        if decision.condition:
            attrs["EXHAUSTED_RETRY_CONDITION"] = decision.condition
        delivery = Delivery(
            body=row["event"],
            attributes={k: MessageAttribute("String", v) for k, v in attrs.items()},
            source_arn=row["rule_arn"], source_account=row["account"], principal=PRINCIPAL, allow_fifo=False)
        try:
            sent = self.deliveries.deliver(dlq, delivery)
        except Exception as exc:
            sent = DeliveryResult.failed("InternalError", str(exc))
        if not sent.ok:
            log.warning("EventBridge could not send event %s to its dead-letter queue %s: %s %s",
                        row["event_id"], dlq, sent.error, sent.detail)
        return sent.ok

    # -- schedules -----------------------------------------------------------------------------

    def _next_fire(self, expression: str, now: float, after: float | None = None) -> float | None:
        """The wall-clock time of a schedule's next fire, on the Sluice clock.

        A rate fires every `seconds / time_scale` real seconds (after `after`, or `now` when it
        is behind). A cron expression is evaluated on a timeline that starts at this server's
        start and runs `time_scale` times faster than real time (at scale 1, the real UTC time).
        """
        try:
            schedule = parse_schedule(expression)
        except ScheduleError:
            return None
        if isinstance(schedule, Rate):
            step = self.clock.engine_seconds(schedule.seconds)
            nxt = (after if after is not None else now) + step
            return nxt if nxt > now else now + step
        assert isinstance(schedule, Cron)
        scale = self.clock.time_scale
        engine_now = self._origin + (now - self._origin) * scale
        when = schedule.next_after(dt.datetime.fromtimestamp(engine_now, tz=dt.timezone.utc))
        if when is None:
            return None
        return self._origin + (when.timestamp() - self._origin) / scale

    async def _schedule_loop(self) -> None:
        assert self._schedule_wake is not None
        try:
            await self._run(self._reconcile_schedules)
        except Exception:
            log.exception("reconciling EventBridge schedules failed")
        while True:
            self._schedule_wake.clear()
            try:
                fired, next_fire = await self._run(self._fire_due)
                if fired:
                    self._wake(self._dispatch_wake)
            except Exception:
                log.exception("firing EventBridge schedules failed")
                next_fire = self.clock.now() + 1.0
            timeout = SCHEDULER_IDLE if next_fire is None else min(SCHEDULER_IDLE, max(0.0, next_fire - self.clock.now()))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._schedule_wake.wait(), timeout)

    def _reconcile_schedules(self) -> None:
        """At start: a fire missed while down happens now (once); a future fire computed at another
        time scale is brought within one period of now."""
        now = self.clock.now()

        def txn(conn: sqlite3.Connection) -> None:
            for row in conn.execute("SELECT * FROM events_rules WHERE schedule IS NOT NULL").fetchall():
                rule = RuleRecord.from_row(row)
                if not rule.enabled or rule.schedule is None:
                    continue
                fresh = self._next_fire(rule.schedule, now)
                if rule.next_fire is not None and (rule.next_fire <= now or fresh is None):
                    continue
                nxt = fresh if rule.next_fire is None else min(rule.next_fire, fresh or rule.next_fire)
                conn.execute("UPDATE events_rules SET next_fire=? WHERE account=? AND region=? AND bus=? AND name=?",
                             (nxt, rule.account, rule.region, rule.bus, rule.name))

        self.db.write(txn)

    def _fire_due(self) -> tuple[int, float | None]:
        now = self.clock.now()
        rows = self.db.query("SELECT * FROM events_rules WHERE next_fire IS NOT NULL AND next_fire <= ?", (now,))
        fired = 0
        for row in rows:
            rule = RuleRecord.from_row(row)
            if self._fire(rule, now):
                self.metrics.scheduled(rule.arn)
                fired += 1
        nxt = self.db.query_one("SELECT MIN(next_fire) AS t FROM events_rules WHERE next_fire IS NOT NULL")
        return fired, (nxt["t"] if nxt is not None else None)

    def _fire(self, rule: RuleRecord, now: float) -> int:
        """One fire of a schedule rule: its targets' outbox rows and its next fire time, together."""
        assert rule.schedule is not None
        event = self._envelope(rule.account, rule.region, source="aws.events", detail_type="Scheduled Event",
                               detail={}, resources=[rule.arn], time=now)
        nxt = self._next_fire(rule.schedule, now, after=rule.next_fire)
        item = _Accepted(rule.bus, event, None)

        def txn(conn: sqlite3.Connection) -> int:
            current = rule_row(conn, rule.account, rule.region, rule.bus, rule.name)
            if current is None or current.next_fire != rule.next_fire or not current.enabled:
                return 0  # changed meanwhile: the scheduler will look again
            targets = targets_of(conn, rule.account, rule.region, rule.bus, rule.name)
            conn.executemany(
                "INSERT INTO events_outbox (account, event_id, rule_arn, target_id, target_arn, body, event,"
                " options, created, next_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [self._outbox_row(rule.account, rule.arn, rule.name, t, item, now) for t in targets])
            conn.execute("UPDATE events_rules SET next_fire=? WHERE account=? AND region=? AND bus=? AND name=?",
                         (nxt, rule.account, rule.region, rule.bus, rule.name))
            return 1

        return self.db.write(txn)

    # -- tags ----------------------------------------------------------------------------------

    def _tagged(self, ctx: RequestContext, arn: str) -> tuple[str, tuple[Any, ...]]:
        """The table and key of the rule or bus an ARN names."""
        m = _BUS_ARN.match(arn)
        if m:
            return "events_buses", (m.group(2), m.group(1), m.group(3))
        m = _RULE_ARN.match(arn)
        if m:
            bus, _, name = m.group(3).rpartition("/")
            return "events_rules", (m.group(2), m.group(1), bus or DEFAULT_BUS, name)
        raise errors.resource_not_found(arn)

    def _tags_txn(self, ctx: RequestContext, arn: str, change: Any) -> dict[str, str]:
        table, key = self._tagged(ctx, arn)

        def txn(conn: sqlite3.Connection) -> dict[str, str]:
            if table == "events_buses":
                if self._bus(conn, *key) is None:
                    raise errors.bus_not_found(key[2])
                row = conn.execute("SELECT tags FROM events_buses WHERE account=? AND region=? AND name=?",
                                   key).fetchone()
                tags: dict[str, str] = {}
                if row is None and change is not None:  # the default bus, not yet written
                    conn.execute("INSERT INTO events_buses (account, region, name, created, modified)"
                                 " VALUES (?,?,?,?,?)", (*key, self._origin, self._origin))
                elif row is not None:
                    tags = json.loads(row["tags"])
                where = "account=? AND region=? AND name=?"
            else:
                rule = rule_row(conn, *key)
                if rule is None:
                    raise errors.rule_not_found(key[3], key[2])
                tags = rule.tags
                where = "account=? AND region=? AND bus=? AND name=?"
            if change is not None:
                change(tags)
                conn.execute(f"UPDATE {table} SET tags=? WHERE {where}", (json.dumps(tags), *key))
            return tags

        return self.db.write(txn) if change is not None else txn(self.db.reader)

    def tag_resource(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        p = self._params("TagResource", params)
        self._tags_txn(ctx, p["ResourceARN"], lambda tags: tags.update({t["Key"]: t["Value"] for t in p["Tags"]}))
        return {}

    def untag_resource(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        p = self._params("UntagResource", params)
        ResourceARN: str = p["ResourceARN"]
        TagKeys: list[str] = p["TagKeys"]

        def change(tags: dict[str, str]) -> None:
            for k in TagKeys:
                tags.pop(k, None)

        self._tags_txn(ctx, ResourceARN, change)
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        tags = self._tags_txn(ctx, self._params("ListTagsForResource", params)["ResourceARN"], None)
        return {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}


@dataclass
class _Accepted:
    bus: str
    event: dict[str, Any]
    trace: str | None
    hops: int = 0


def _java_date(value: Any) -> str:
    if not isinstance(value, dt.datetime):
        return "null"
    return value.astimezone(dt.timezone.utc).strftime("%a %b %d %H:%M:%S UTC %Y")


def _too_many_entries(entries: list[dict[str, Any]]) -> str:
    """AWS's message shows the request's entries as its Java service prints them."""

    def show(v: Any) -> str:
        if v is None:
            return "null"
        if isinstance(v, list):
            return "[" + ", ".join(str(x) for x in v) + "]"
        return str(v)

    items = ", ".join(
        f"PutEventsRequestEntry(time={_java_date(e.get('Time'))}, source={show(e.get('Source'))}, "
        f"resources={show(e.get('Resources'))}, detailType={show(e.get('DetailType'))}, "
        f"detail={show(e.get('Detail'))}, eventBusName={show(e.get('EventBusName'))}, "
        f"traceHeader={show(e.get('TraceHeader'))}, kmsKeyIdentifier=null, internalMetadata=null)"
        for e in entries)
    return (f"1 validation error detected: Value '[{items}]' at 'entries' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_ENTRIES}")
