"""What the parts of the EventBridge service share: the store, the clock, the settings, the
metrics, the compiled rules each bus matches events against, and the wake-ups it gives the engine.

The engine owns *when* (engine/eventbridge.py): after committing outbox rows a part calls
`outbox_changed()`, after changing a schedule `schedules_changed()`, and the engine's dispatchers
look again. Both are safe to call from any thread.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...clock import Clock
from ...protocol import safejson
from ...protocol.models import service_model
from ...settings import Settings
from ...store.db import Database
from . import errors
from .metrics import EventsMetrics
from .patterns import EventPattern, PatternError, compile_pattern
from .records import BusRecord, RuleRecord, bus_row, pattern_rules, targets_of

DEFAULT_BUS = "default"
PRINCIPAL = "events.amazonaws.com"  # who EventBridge delivers as (resource policies see it)

BUS_ARN = re.compile(r"^arn:aws[\w-]*:events:([a-z0-9-]*):(\d*):event-bus/(.+)$")
RULE_ARN = re.compile(r"^arn:aws[\w-]*:events:([a-z0-9-]*):(\d*):rule/(.+)$")


def bus_name(value: str | None) -> str:
    """The bus an EventBusName member names: a name or an ARN; none is the default bus."""
    if not value:
        return DEFAULT_BUS
    m = BUS_ARN.match(value)
    return m.group(3) if m else value


def iso_seconds(t: float) -> str:
    """Event times: ISO 8601, UTC, second precision, as AWS writes them."""
    return dt.datetime.fromtimestamp(t, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_token(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def decode_token(token: str | None) -> Any:
    if token is None:
        return None
    try:
        return safejson.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error):
        raise errors.invalid_token() from None


@dataclass
class RuleView:
    """An enabled rule with an event pattern, as PutEvents matches it."""

    record: RuleRecord
    pattern: EventPattern
    targets: list[dict[str, Any]]


class RuleCache:
    """Each bus's enabled pattern rules with their targets, compiled once; any change to buses,
    rules or targets drops them all (`invalidate`), and the next event reads them again."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._views: dict[tuple[str, str, str], list[RuleView]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._views.clear()
            self._generation += 1

    def rules_for(self, account: str, region: str, bus: str) -> list[RuleView]:
        key = (account, region, bus)
        with self._lock:
            cached = self._views.get(key)
            generation = self._generation
        if cached is not None:
            return cached
        conn = self.db.reader
        views = []
        for rule in pattern_rules(conn, account, region, bus):
            if not rule.enabled or rule.pattern is None:
                continue
            try:
                pattern = compile_pattern(rule.pattern)
            except PatternError:  # stored before a stricter check: it matches nothing
                continue
            views.append(RuleView(rule, pattern, targets_of(conn, account, region, bus, rule.name)))
        with self._lock:
            if generation == self._generation:  # nothing changed while we read
                self._views[key] = views
        return views


def _nothing() -> None:
    pass


class EventsState:
    def __init__(self, db: Database, clock: Clock, settings: Settings, metrics: EventsMetrics, *,
                 outbox_changed: Callable[[], None] = _nothing,
                 schedules_changed: Callable[[], None] = _nothing, origin: float | None = None) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.metrics = metrics
        # The default bus's creation time, and the schedules' timeline start: the server's start
        # (given when the service is built later than that, sluice/late.py).
        self.origin = clock.now() if origin is None else origin
        self.rules = RuleCache(db)
        self.outbox_changed = outbox_changed
        self.schedules_changed = schedules_changed

    def bus(self, conn: sqlite3.Connection, account: str, region: str, name: str) -> BusRecord | None:
        bus = bus_row(conn, account, region, name)
        if bus is None and name == DEFAULT_BUS:  # the default bus always exists
            return BusRecord(account, region, DEFAULT_BUS, self.origin, self.origin)
        return bus

    def params(self, operation: str, params: dict[str, Any], skip: tuple[str, ...] = ()) -> dict[str, Any]:
        """`params` once they satisfy the model: required members, lengths, ranges, enums, patterns."""
        errors.validate_input(params, service_model("events").operation_model(operation).input_shape, skip)
        return params
