"""Putting events on a bus: PutEvents, TestEventPattern, and the bus as a delivery target.

Accepting an event (PutEvents, `deliver` from another service or another bus, a schedule
firing) matches it against its bus's enabled rules and commits one outbox row per target of each
matching rule, in one transaction, before the caller hears of it (records.py); the engine's
outbox dispatcher does the rest (outbox.py). This is the hot path: the rules come compiled from
the cache (state.py), the event is flattened once for all of them, and metrics are counted in
memory.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from ...protocol import safejson
from ...protocol.context import RequestContext
from ..delivery import INVALID, NOT_FOUND, Delivery, DeliveryResult
from . import errors
from .patterns import PatternError, compile_pattern, flatten_event
from .records import NewDelivery, insert_deliveries
from .state import BUS_ARN, EventsState, bus_name, iso_seconds
from .transform import compact, target_input

MAX_ENTRIES = 10
MAX_REQUEST_BYTES = 256 * 1024
MAX_HOPS = 5  # bus -> bus forwarding depth before an event is refused (a loop guard)
_REQUIRED_EVENT_FIELDS = ("id", "account", "source", "time", "region", "detail-type")


@dataclass
class Accepted:
    """An event accepted on `bus`, with the trace header it came with and how many buses it
    has been forwarded across."""

    bus: str
    event: dict[str, Any]
    trace: str | None
    hops: int = 0


class PutEvents:
    def __init__(self, state: EventsState) -> None:
        self.state = state
        self.db = state.db

    # -- operations ------------------------------------------------------------------------------

    def put_events(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        Entries: list[dict[str, Any]] = params.get("Entries") or []
        if len(Entries) > MAX_ENTRIES:
            raise errors.validation(_too_many_entries(Entries))
        self.state.params("PutEvents", params)
        if sum(_entry_size(e) for e in Entries) > MAX_REQUEST_BYTES:
            raise errors.validation(errors.TOO_LARGE)
        now = self.state.clock.now()
        results: list[dict[str, str]] = []
        accepted: list[Accepted] = []
        for entry in Entries:
            problem = _entry_error(entry)
            if problem is not None:
                results.append({"ErrorCode": problem[0], "ErrorMessage": problem[1]})
                continue
            when = entry.get("Time")
            event = self.envelope(
                ctx.account_id, ctx.region, source=entry["Source"], detail_type=entry["DetailType"],
                detail=safejson.loads(entry["Detail"]), resources=entry.get("Resources") or [],
                time=when.timestamp() if isinstance(when, dt.datetime) else now)
            accepted.append(Accepted(bus_name(entry.get("EventBusName")), event, entry.get("TraceHeader")))
            results.append({"EventId": event["id"]})
        self.accept(ctx.account_id, ctx.region, accepted, now)
        return {"FailedEntryCount": sum(1 for r in results if "ErrorCode" in r), "Entries": results}

    def test_event_pattern(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        self.state.params("TestEventPattern", params)
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

    # -- a delivery target for event bus ARNs --------------------------------------------------

    def deliver(self, arn: str, delivery: Delivery) -> DeliveryResult:
        """Put `delivery` on the bus `arn`: Source, DetailType, Resources from `delivery.event`,
        Detail = `delivery.body`, as PutEvents would. Runs in a worker thread."""
        m = BUS_ARN.match(arn)
        if not m:
            return DeliveryResult.failed(INVALID, f"not an event bus ARN: {arn}")
        region, account, name = m.group(1), m.group(2), m.group(3)
        if self.state.bus(self.db.reader, account, region, name) is None:
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
        now = self.state.clock.now()
        when = now
        if ev.get("Time"):
            try:
                when = dt.datetime.strptime(ev["Time"], "%Y-%m-%dT%H:%M:%SZ").replace(
                    tzinfo=dt.timezone.utc).timestamp()
            except (TypeError, ValueError):
                when = now
        event = self.envelope(account, region, source=source, detail_type=detail_type, detail=detail,
                              resources=list(ev.get("Resources") or []), time=when, event_id=ev.get("Id"))
        trace = delivery.system_attributes.get("AWSTraceHeader")
        self.accept(account, region, [Accepted(name, event, trace, hops)], now)
        return DeliveryResult(True, event["id"])

    # -- accepting events: match rules, write the outbox ---------------------------------------

    @staticmethod
    def envelope(account: str, region: str, *, source: str, detail_type: str, detail: Any, resources: list[str],
                 time: float, event_id: str | None = None) -> dict[str, Any]:
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

    def accept(self, account: str, region: str, items: list[Accepted], now: float) -> None:
        """Match each event against its bus's rules; one committed outbox row per target."""
        rows: list[NewDelivery] = []
        for item in items:
            views = self.state.rules.rules_for(account, region, item.bus)
            if not views:
                continue
            leaves = flatten_event(item.event)
            for view in views:
                if view.pattern.matches(item.event, leaves):
                    self.state.metrics.matched(view.record.arn)
                    for target in view.targets:
                        rows.append(self.delivery(account, view.record.arn, view.record.name, target, item, now))
        if not rows:
            return
        self.db.write(lambda conn: insert_deliveries(conn, rows))
        self.state.outbox_changed()

    @staticmethod
    def delivery(account: str, rule_arn: str, rule_name: str, target: dict[str, Any], item: Accepted,
                 now: float) -> NewDelivery:
        """The outbox row for one target of a rule an event matched: what it receives, and how."""
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
        if BUS_ARN.match(arn):  # another bus gets the event itself, as PutEvents would put it
            body = compact(event["detail"])
            options["bus"] = {"Source": event["source"], "DetailType": event["detail-type"],
                              "Resources": event["resources"], "Time": event["time"], "Id": event["id"],
                              "Hops": item.hops + 1}
        else:
            body = target_input(target, event, rule_arn=rule_arn, rule_name=rule_name,
                                ingestion_time=iso_seconds(now))
            group = (target.get("SqsParameters") or {}).get("MessageGroupId")
            if group:
                options["group"] = group
                options["dedup"] = event["id"]
        return NewDelivery(account, event["id"], rule_arn, target["Id"], arn, body, compact(event), json.dumps(options),
                           now)


def _entry_size(entry: dict[str, Any]) -> int:
    """AWS's "Calculating PutEvents event entry size"."""
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        if entry.get(key):
            size += len(str(entry[key]).encode())
    for resource in entry.get("Resources") or []:
        size += len(str(resource).encode())
    return size


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
