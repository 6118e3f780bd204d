"""EventBridge's background work on the engine: target deliveries and schedule rules.

The service keeps *what*: the outbox of target deliveries (`events.outbox`: due rows, one
attempt and its outcome, the target's retry policy) and the schedule rules (`events.schedules`:
due fires, what a fire writes). Here are the two outbox dispatchers that decide *when*, each
waiting on the Clock: a ManualClock advanced by N seconds runs exactly the retries and fires due
in those N seconds; `--time-scale` compresses both.

    outbox_due, schedules_due = Signal(), Signal()
    events = EventsService(..., outbox_changed=outbox_due.set, schedules_changed=schedules_due.set)
    for worker in eventbridge_workers(clock, events, outbox_due, schedules_due):
        engine.add(worker)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..clock import Clock
from .dispatcher import OutboxDispatcher, in_executor_each
from .lifecycle import Signal, Worker

if TYPE_CHECKING:
    from ..late import LateEvents
    from ..services.events.records import OutboxRow, RuleRecord
    from ..services.events.service import EventsService

OUTBOX_CONCURRENCY = 16  # target deliveries under way at once (each blocks a worker thread)


def eventbridge_workers(clock: Clock, events: EventsService | LateEvents, outbox_due: Signal,
                        schedules_due: Signal) -> list[Worker]:
    """The engine workers of `events`, in the order to add them: the metrics flush first, so that
    it stops last and flushes what the deliveries counted."""
    outbox = events.outbox
    schedules = events.schedules
    deliveries: OutboxDispatcher[OutboxRow] = OutboxDispatcher(
        "events-outbox", clock, outbox, in_executor_each(outbox.deliver), key=outbox.key,
        concurrency=OUTBOX_CONCURRENCY, wake=outbox_due)
    # One fire at a time, in due order: each writes its outbox rows and the rule's next fire.
    fires: OutboxDispatcher[RuleRecord] = OutboxDispatcher(
        "events-schedules", clock, schedules, in_executor_each(schedules.fire), key=schedules.key,
        concurrency=1, wake=schedules_due)
    return [events.metrics.buffer.task("events-metric-flush"), deliveries, fires]
