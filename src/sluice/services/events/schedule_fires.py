"""Schedule rules as due work: when each fires next, and what one fire writes.

A schedule rule with State ENABLED has a `next_fire` (clock time). The engine's schedule
dispatcher (engine/eventbridge.py) asks `ScheduleFires` for the rules due now (`fetch_due`) and
when the next one is (`next_due`), and calls `fire` for each: in one transaction the fire's outbox
rows and the rule's following fire time, so a fire is neither lost nor repeated across a crash.

Times are on the Sluice clock (`Timeline`): a rate fires every `seconds / time_scale` seconds, so
`--time-scale 600` makes `rate(1 minute)` fire every 0.1 s, and a ManualClock advanced by N
seconds fires exactly the fires due in those N seconds. The expressions are parsed in schedule.py.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

from ...clock import Clock
from .put_events import Accepted, PutEvents
from .records import (
    RuleRecord,
    due_schedules,
    insert_deliveries,
    next_fire_after,
    rule_row,
    schedule_rules,
    set_next_fire,
    targets_of,
)
from .state import EventsState


class Timeline:
    """The clock time of a schedule's fires."""

    def __init__(self, clock: Clock, origin: float) -> None:
        self.clock = clock
        self.origin = origin  # the scaled timeline of cron expressions starts here

    def next_fire(self, expression: str, now: float, after: float | None = None) -> float | None:
        """The clock time of a schedule's next fire.

        A rate fires every `seconds / time_scale` seconds (after `after`, or `now` when it is
        behind). A cron expression is evaluated on a timeline that starts at this server's start
        and runs `time_scale` times faster than real time (at scale 1, the real UTC time).
        """
        # The expressions' parser (with its dataclasses) is imported by the first schedule rule.
        from .schedule import Cron, Rate, ScheduleError, parse_schedule

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
        engine_now = self.origin + (now - self.origin) * scale
        when = schedule.next_after(dt.datetime.fromtimestamp(engine_now, tz=dt.timezone.utc))
        if when is None:
            return None
        return self.origin + (when.timestamp() - self.origin) / scale


class ScheduleFires:
    """The schedule dispatcher's DueSource (rules whose fire is due) and handler (`fire`)."""

    def __init__(self, state: EventsState, timeline: Timeline, put_events: PutEvents) -> None:
        self.state = state
        self.db = state.db
        self.timeline = timeline
        self.put_events = put_events
        self.reconcile()

    def reconcile(self) -> None:
        """At start: a fire missed while down happens now (once); a future fire computed at
        another time scale is brought within one period of now."""
        now = self.state.clock.now()

        def txn(conn: sqlite3.Connection) -> None:
            for rule in schedule_rules(conn):
                if not rule.enabled or rule.schedule is None:
                    continue
                fresh = self.timeline.next_fire(rule.schedule, now)
                if rule.next_fire is not None and (rule.next_fire <= now or fresh is None):
                    continue
                nxt = fresh if rule.next_fire is None else min(rule.next_fire, fresh or rule.next_fire)
                set_next_fire(conn, rule.key, nxt)

        self.db.write(txn)

    # -- a DueSource ---------------------------------------------------------------------------

    def fetch_due(self, now: float, limit: int) -> list[RuleRecord]:
        return due_schedules(self.db.reader, now, limit)

    def next_due(self, now: float) -> float | None:
        return next_fire_after(self.db.reader, now)

    @staticmethod
    def key(rule: RuleRecord) -> tuple[str, str, str, str]:
        return rule.key

    # -- the handler ---------------------------------------------------------------------------

    def fire(self, rule: RuleRecord) -> None:
        """One fire of a schedule rule (in a worker thread): its targets' outbox rows and its
        next fire time, together. A rule changed since it was read is left for the next look."""
        assert rule.schedule is not None
        now = self.state.clock.now()
        event = self.put_events.envelope(rule.account, rule.region, source="aws.events", detail_type="Scheduled Event",
                                         detail={}, resources=[rule.arn], time=now)
        nxt = self.timeline.next_fire(rule.schedule, now, after=rule.next_fire)
        item = Accepted(rule.bus, event, None)

        def txn(conn: sqlite3.Connection) -> bool:
            current = rule_row(conn, *rule.key)
            if current is None or current.next_fire != rule.next_fire or not current.enabled:
                return False
            targets = targets_of(conn, *rule.key)
            insert_deliveries(conn, [self.put_events.delivery(rule.account, rule.arn, rule.name, t, item, now)
                                     for t in targets])
            set_next_fire(conn, rule.key, nxt)
            return True

        if self.db.write(txn):
            self.state.metrics.scheduled(rule.arn)
            self.state.outbox_changed()
