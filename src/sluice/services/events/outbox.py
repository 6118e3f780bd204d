"""The outbox of target deliveries, as the engine's outbox dispatcher sees it.

`Outbox` is the dispatcher's DueSource (rows whose `next_at` has come) and its handler
(`deliver`: one attempt, and its outcome recorded). The engine decides when (engine/eventbridge.py);
this module decides what an attempt is and what follows it:

- delivered: the row is deleted (an Invocations metric);
- failed, and the target's retry policy (retry.py) says retry: the row is due again after the
  policy's delay, on the Sluice clock;
- failed for good: the event goes to the target's dead-letter queue, if it has one, with AWS's
  RULE_ARN / TARGET_ARN / ERROR_CODE / ... attributes, and the row is deleted.

An attempt cut short (a crash, a stop) left its row due: it runs again after the restart.
"""

from __future__ import annotations

import logging
import sqlite3

from ...engine.policy import GiveUp
from ...protocol.errors import ServiceError
from ..delivery import Deliveries, Delivery, DeliveryResult, MessageAttribute
from .records import (
    Backlog,
    OutboxRow,
    backlogs,
    delete_delivery,
    due_deliveries,
    next_delivery_after,
    pending_deliveries,
    retry_delivery,
)
from .retry import ERROR_CODES, TargetRetryPolicy
from .state import PRINCIPAL, EventsState

log = logging.getLogger(__name__)

# What a target may raise instead of answering a DeliveryResult: its store, the file system, a
# Lambda enqueue that timed out, an error of its own API. A failed attempt, retried by the policy.
TARGET_ERRORS = (ServiceError, sqlite3.Error, OSError, TimeoutError, ValueError)


class Outbox:
    def __init__(self, state: EventsState, deliveries: Deliveries) -> None:
        self.state = state
        self.db = state.db
        self.clock = state.clock
        self.deliveries = deliveries

    # -- a DueSource ---------------------------------------------------------------------------

    def fetch_due(self, now: float, limit: int) -> list[OutboxRow]:
        return due_deliveries(self.db.reader, now, limit)

    def next_due(self, now: float) -> float | None:
        return next_delivery_after(self.db.reader, now)

    @staticmethod
    def key(row: OutboxRow) -> int:
        return row.id

    def pending(self) -> int:
        """Deliveries not yet made (due now or waiting for a retry)."""
        return pending_deliveries(self.db.reader)

    def backlogs(self) -> list[Backlog]:
        """Deliveries not yet made, per rule (for `sluice status`)."""
        return backlogs(self.db.reader)

    # -- the handler ---------------------------------------------------------------------------

    def deliver(self, row: OutboxRow) -> None:
        """One attempt at a row's delivery, and its outcome recorded (in a worker thread)."""
        self._record(row, self._attempt(row))

    def _attempt(self, row: OutboxRow) -> DeliveryResult:
        options = row.options  # "bus" for a bus target, "group"/"dedup" for a FIFO queue: never both
        delivery = Delivery(body=row.body, event=options.get("bus") or {}, group_id=options.get("group"),
                            deduplication_id=options.get("dedup"), system_attributes=options.get("attrs") or {},
                            source_arn=row.rule_arn, source_account=row.account, principal=PRINCIPAL)
        try:
            return self.deliveries.deliver(row.target_arn, delivery)
        except TARGET_ERRORS as exc:  # a target's failure is an outcome, never the dispatcher's
            log.exception("delivering to %s raised", row.target_arn)
            return DeliveryResult.failed("InternalError", str(exc))

    def _record(self, row: OutboxRow, result: DeliveryResult) -> None:
        metrics = self.state.metrics
        if result.ok:
            self.db.write(lambda conn: delete_delivery(conn, row.id))
            metrics.delivered(row.rule_arn)
            return
        attempts = row.attempts + 1
        policy = TargetRetryPolicy.of(row.options.get("retry"))
        decision = policy.decide(attempts, self.clock.engine_elapsed(row.created), result.error)
        error = f"{result.error}: {result.detail}" if result.detail else str(result.error)
        if not isinstance(decision, GiveUp):
            next_at = self.clock.now() + self.clock.engine_seconds(decision.delay)
            self.db.write(lambda conn: retry_delivery(conn, row.id, attempts, next_at, error))
            return
        dlq = row.options.get("dlq")
        metrics.failed(row.rule_arn, self._dead_letter(row, dlq, result, decision, attempts) if dlq else None)
        if not dlq:
            log.warning("EventBridge dropped event %s for target %s (%s) after %d attempt(s): %s",
                        row.event_id, row.target_id, row.target_arn, attempts, error)
        self.db.write(lambda conn: delete_delivery(conn, row.id))

    def _dead_letter(self, row: OutboxRow, dlq: str, result: DeliveryResult, decision: GiveUp,
                     attempts: int) -> bool:
        """Send the event to the target's dead-letter queue; True if it took it."""
        attrs = {
            "RULE_ARN": row.rule_arn,
            "TARGET_ARN": row.target_arn,
            "ERROR_CODE": ERROR_CODES.get(result.error or "", "INTERNAL_ERROR"),
            "ERROR_MESSAGE": (result.detail or str(result.error))[:1024],
            "RETRY_ATTEMPTS": str(attempts - 1),
        }
        if decision.reason:
            attrs["EXHAUSTED_RETRY_CONDITION"] = decision.reason
        delivery = Delivery(
            body=row.event,
            attributes={k: MessageAttribute("String", v) for k, v in attrs.items()},
            source_arn=row.rule_arn, source_account=row.account, principal=PRINCIPAL, allow_fifo=False)
        try:
            sent = self.deliveries.deliver(dlq, delivery)
        except TARGET_ERRORS as exc:
            sent = DeliveryResult.failed("InternalError", str(exc))
        if not sent.ok:
            log.warning("EventBridge could not send event %s to its dead-letter queue %s: %s %s",
                        row.event_id, dlq, sent.error, sent.detail)
        return sent.ok
