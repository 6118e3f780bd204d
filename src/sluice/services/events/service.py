"""EventBridge: buses, rules, targets, PutEvents, patterns, schedules, tags.

No HTTP, no JSON wire details: members in, members out. The service is split by subject, one
module each, sharing one `EventsState` (state.py):

  buses.py        CreateEventBus & co.          rules.py          PutRule & co.
  targets.py      PutTargets & co.              put_events.py     PutEvents, TestEventPattern, and
  tags.py         TagResource & co.                               the bus as a delivery target
  outbox.py       target deliveries: one attempt and its outcome (retry.py, dead-letter queues)
  schedule_fires.py  schedule rules: when each fires, what a fire writes (schedule.py parses them)
  records.py      the tables and every statement run on them
  patterns/       the event pattern language

Besides its API, the service is a delivery target for event bus ARNs (`deliver`), so Lambda
destinations, S3 notifications and other rules can put events on a bus. Its background work (the
outbox and the schedules) runs on the engine (engine/eventbridge.py): the service says what is
due and what to do with it; the engine says when.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from ...clock import Clock
from ...settings import Settings
from ...store import Store
from ..base import Service
from ..delivery import Deliveries, Delivery, DeliveryResult
from .buses import Buses
from .metrics import EventsMetrics
from .outbox import Outbox
from .put_events import PutEvents
from .rules import Rules
from .schedule_fires import ScheduleFires, Timeline
from .state import EventsState
from .tags import Tags
from .targets import Targets


def _nothing() -> None:
    pass


class EventsService(Service):
    name = "events"

    def __init__(self, store: Store, clock: Clock, settings: Settings, deliveries: Deliveries, *,
                 outbox_changed: Callable[[], None] = _nothing,
                 schedules_changed: Callable[[], None] = _nothing, metrics: EventsMetrics | None = None,
                 origin: float | None = None) -> None:
        """`outbox_changed` / `schedules_changed`: tell the engine that outbox rows were committed
        / a schedule changed (called from any thread). `metrics` and `origin` (the clock's time
        its schedules count from): made at the server's start when the service is built later."""
        self.metrics = metrics if metrics is not None else EventsMetrics(store.db, clock)
        state = EventsState(store.db, clock, settings, self.metrics, outbox_changed=outbox_changed,
                            schedules_changed=schedules_changed, origin=origin)
        timeline = Timeline(clock, state.origin)
        self.buses = Buses(state)
        self.rules = Rules(state, timeline)
        self.targets = Targets(state, self.rules)
        self.intake = PutEvents(state)
        self.tags = Tags(state)
        self.outbox = Outbox(state, deliveries)
        self.schedules = ScheduleFires(state, timeline, self.intake)

    def operation_owners(self) -> Sequence[object]:
        return (self.buses, self.rules, self.targets, self.intake, self.tags)

    def fresh_rows(self, conn: sqlite3.Connection) -> None:
        self.buses.write_default(conn)  # the default bus always exists, as on a fresh server

    def reset(self) -> None:
        self.buses.state.rules.invalidate()
        self.metrics.buffer.discard()

    def deliver(self, arn: str, delivery: Delivery) -> DeliveryResult:
        """Put `delivery` on the bus `arn` (see PutEvents.deliver)."""
        return self.intake.deliver(arn, delivery)
