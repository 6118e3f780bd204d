"""A stack's events sent to its NotificationARNs (SNS topics), in CloudFormation's message format.

After each run of an operation the deployer sends the events recorded since the last ones sent,
oldest first, then moves the stack's cursor: at least once (a crash between the two sends again)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..protocol.values import iso8601
from ..services.delivery import Deliveries, Delivery
from ..store.db import Database

if TYPE_CHECKING:
    from ..services.cloudformation.records import Event, Stack

log = logging.getLogger("sluice.engine")

SUBJECT = "AWS CloudFormation Notification"
BATCH = 500


class StackNotices:
    def __init__(self, db: Database, deliveries: Deliveries) -> None:
        self.db = db
        self.deliveries = deliveries

    def send(self, stack_id: str) -> None:
        # After a stack operation ran: CloudFormation's records are imported by then.
        from ..services.cloudformation import records

        stack = records.stack_by_id(self.db.reader, stack_id)
        if stack is None or not stack.options.get("NotificationARNs"):
            return
        while True:
            pending = records.events_to_notify(self.db.reader, stack_id, BATCH)
            if not pending:
                return
            for event in pending:
                body = message(stack, event)
                for arn in stack.options["NotificationARNs"]:
                    result = self.deliveries.deliver(arn, Delivery(body=body, subject=SUBJECT,
                                                                   source_arn=stack.stack_id,
                                                                   source_account=stack.account))
                    if not result.ok:  # AWS drops it too: the stack's work does not wait on its topics
                        log.warning("cloudformation: notification to %s failed: %s", arn, result.detail or result.error)
            self._sent(stack_id, pending[-1].seq)


    def _sent(self, stack_id: str, seq: int) -> None:
        from ..services.cloudformation import records

        self.db.write(lambda conn: records.set_notified(conn, stack_id, seq))


def message(stack: Stack, event: Event) -> str:
    """One event as CloudFormation writes it to SNS: `Key='value'` lines."""
    when = iso8601(event.ts)
    fields = [
        ("StackId", stack.stack_id), ("Timestamp", when), ("EventId", event.event_id),
        ("LogicalResourceId", event.logical_id), ("Namespace", stack.account),
        ("PhysicalResourceId", event.physical_id or ""), ("PrincipalId", stack.account),
        ("ResourceProperties", event.properties or "null"), ("ResourceStatus", event.status),
        ("ResourceStatusReason", event.reason or ""), ("ResourceType", event.type), ("StackName", stack.name),
        ("ClientRequestToken", "null"),
    ]
    return "".join(f"{key}='{value}'\n" for key, value in fields)
