"""Delivering S3 event notifications: the outbox as the engine's work, one delivery per row.

The engine's OutboxDispatcher (built in server.py) owns *when*: it asks `NotificationOutbox` for
the destinations with notifications due and runs `deliver` for each, never two for one
destination at once (the destination is the dispatcher's key), so that each destination gets its
events in order while different destinations are served side by side. An upload hands the
dispatcher the destinations it wrote rows for, so their delivery starts without waiting for a
look. This module owns *what*: the message each destination gets, and the outcome of each
attempt, recorded durably: delivered (the row goes), retried later (`NotificationRetry` says
when) or dropped once the event is too old.

Choices where AWS's behaviour is unconfirmed (keep them easy to change): a failed delivery is
retried after 1, 2, 4 ... 300 AWS-seconds and dropped once the event is older than a day.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from ...clock import Clock
from ...engine import journal
from ...engine.policy import EVENT_AGE_EXCEEDED, Decision, GiveUp, Retry
from ...protocol.errors import ServiceError
from ...store.db import Database
from ..delivery import Deliveries, Delivery, DeliveryResult
from .notification_config import PRINCIPAL, SUBJECT, deliver
from .records import notifications as outbox
from .records.notifications import OutboxEntry

log = logging.getLogger("sluice.s3.notifications")

MAX_EVENT_AGE = 24 * 3600.0
MAX_BACKOFF = 300.0
RUN = 100  # rows of one destination delivered by one handler (then the dispatcher looks again)


@dataclass(frozen=True)
class NotificationRetry:
    """After a failed delivery: retry after `initial` AWS-seconds, doubling up to `maximum`, for
    as long as the event is at most `max_age` old (checked when an attempt fails)."""

    initial: float = 1.0
    maximum: float = MAX_BACKOFF
    max_age: float = MAX_EVENT_AGE

    def decide(self, attempt: int, age: float = 0.0, error: str | None = None) -> Decision:
        if age > self.max_age:
            return GiveUp(EVENT_AGE_EXCEEDED)
        return Retry(min(self.maximum, self.initial * 2.0 ** (max(1, attempt) - 1)))


class NotificationOutbox:
    """The s3_outbox rows as a DueSource of destinations, and the handler that delivers what is
    due for one of them."""

    def __init__(self, db: Database, clock: Clock, deliveries: Deliveries, *,
                 policy: NotificationRetry | None = None,
                 on_notified: Callable[[int], None] = lambda entry_id: None) -> None:
        """`on_notified`: a notification reached its end (delivered or dropped), by outbox id."""
        self.db = db
        self.clock = clock
        self.deliveries = deliveries
        self.policy = policy or NotificationRetry()
        self.on_notified = on_notified

    # -- DueSource -------------------------------------------------------------------------

    def fetch_due(self, now: float, limit: int) -> list[str]:
        """Up to `limit` destinations with notifications due, the most overdue first."""
        return outbox.due_targets(self.db.reader, now, limit)

    def next_due(self, now: float) -> float | None:
        return outbox.next_due(self.db.reader, now)

    # -- the handler (blocking: the dispatcher runs it in an executor) ------------------------

    def deliver(self, target_arn: str) -> None:
        """Deliver the destination's due notifications (up to RUN of them) in the order they were
        written. Only one handler runs per destination, so what it reads is what is left to
        deliver. A destination that takes a run at once (Lambda queues it in one transaction)
        gets it so, and the run's outcomes commit together: a crash in between delivers the run
        again (at least once). Others get one message at a time, each outcome queued to the
        writer right after its delivery without waiting for its fsync: the one writer commits
        it no later than the next delivery's own write, so a crash still repeats at most the
        last delivery, as when each outcome was waited for."""
        entries = outbox.due_for(self.db.reader, target_arn, self.clock.now(), RUN)
        if not entries:
            return
        if self.deliveries.takes_runs(target_arn):
            self._deliver_run(target_arn, entries)
            return
        pending: list[tuple[Future[None], int | None]] = []
        for entry in entries:
            result = deliver(self.deliveries, target_arn, self._delivery(entry))
            write, ended = self._outcome(entry, result, self.clock.now())
            pending.append((self.db.submit(write), entry.id if ended else None))
        for future, ended_id in pending:
            future.result()
            if ended_id is not None:
                self.on_notified(ended_id)

    def _deliver_run(self, target_arn: str, entries: list[OutboxEntry]) -> None:
        try:
            results = self.deliveries.deliver_all(target_arn, [self._delivery(entry) for entry in entries])
        except ServiceError as err:  # the target's AWS error is a failed delivery, not ours
            results = [DeliveryResult.failed(err.code, err.message) for _ in entries]
        now = self.clock.now()
        finished: list[int] = []
        writes: list[Callable[[sqlite3.Connection], None]] = []
        for entry, result in zip(entries, results, strict=True):
            write, ended = self._outcome(entry, result, now)
            writes.append(write)
            if ended:
                finished.append(entry.id)

        def record(conn: sqlite3.Connection) -> None:
            for write in writes:
                write(conn)

        self.db.write(record)
        for entry_id in finished:
            self.on_notified(entry_id)

    def _delivery(self, entry: OutboxEntry) -> Delivery:
        trace = journal.notification_header(self.db.reader, entry.id)
        return Delivery(
            body=entry.body, event=json.loads(entry.event) if entry.event else {}, principal=PRINCIPAL,
            subject=SUBJECT if entry.target_arn.startswith("arn:aws:sns:") else None,
            source_arn=f"arn:aws:s3:::{entry.bucket}", source_account=entry.account,
            system_attributes={"AWSTraceHeader": trace} if trace else {})

    def _outcome(self, entry: OutboxEntry, result: DeliveryResult,
                 now: float) -> tuple[Callable[[sqlite3.Connection], None], bool]:
        """The write recording one attempt's outcome, and whether the notification reached its
        end (delivered or dropped: the row goes) rather than waiting for its next attempt."""
        attempts = entry.attempts + 1
        if result.ok:
            return self._done(entry, "delivered", attempts, now, result.message_id, None), True
        error = f"{result.error}: {result.detail}" if result.detail else str(result.error)
        decision = self.policy.decide(attempts, self.clock.engine_elapsed(entry.created), result.error)
        if isinstance(decision, GiveUp):
            log.warning("S3 dropped a notification for %s to %s after %d attempt(s): %s",
                        entry.bucket, entry.target_arn, attempts, error)
            return self._done(entry, "dropped", attempts, now, None, error), True
        next_at = now + self.clock.engine_seconds(decision.delay)

        def retry(conn: sqlite3.Connection) -> None:
            outbox.reschedule(conn, entry.id, attempts, next_at, error)
            journal.notification_done(conn, entry.id, "pending", attempts, now, None, error)

        return retry, False

    @staticmethod
    def _done(entry: OutboxEntry, state: str, attempts: int, now: float, message_id: str | None,
              error: str | None) -> Callable[[sqlite3.Connection], None]:
        def done(conn: sqlite3.Connection) -> None:
            outbox.remove(conn, entry.id)
            journal.notification_done(conn, entry.id, state, attempts, now, message_id, error)

        return done
