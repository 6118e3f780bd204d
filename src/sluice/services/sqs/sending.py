"""Sending: SendMessage, SendMessageBatch, and deliveries from the rest of Sluice.

A send validates on the event loop and hands one transaction to the store's group-committing
writer. On a standard queue with a parked long poll, the send *claims* the poll inside its own
transaction and inserts the message already received by it (see waiters.py): one commit from
send to receive.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

from ...auth.resources import checks_service_principal, service_may_send
from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ..delivery import (
    ACCESS_DENIED,
    FIFO_NOT_ALLOWED,
    INVALID,
    NOT_FOUND,
    TOO_LARGE,
    Delivery,
    DeliveryResult,
)
from . import attributes as qattrs
from . import errors
from . import messages as m
from .message_records import NewMessage, Received, SendOutcome, handed_over, insert_message
from .records import Queue
from .state import SqsState
from .waiters import Waiter

MAX_DELAY = 900


def _answer(msg: NewMessage, outcome: SendOutcome) -> dict[str, Any]:
    out: dict[str, Any] = {"MD5OfMessageBody": msg.md5_body}
    if msg.md5_attributes:
        out["MD5OfMessageAttributes"] = msg.md5_attributes
    if msg.md5_system:
        out["MD5OfMessageSystemAttributes"] = msg.md5_system
    out["MessageId"] = outcome.message_id
    if outcome.sequence:
        out["SequenceNumber"] = outcome.sequence
    return out


class Sending:
    def __init__(self, state: SqsState) -> None:
        self.state = state

    # -- the rules of a message ----------------------------------------------------------------

    def prepare(self, queue: Queue, sender: str, body: str | None, delay: int | None,
                attributes: dict[str, Any] | None, system: dict[str, Any] | None, dedup_id: str | None,
                group_id: str | None, trace_header: str | None = None) -> NewMessage:
        """Validate one message for `queue` and digest it, ready to insert."""
        text = m.validate_body(body)
        attrs = m.validate_attributes(attributes)
        sysattrs = m.validate_system_attributes(system)
        encoded = text.encode("utf-8", "surrogatepass")  # once: for the size and the digest
        size = len(encoded) + m.attributes_size(attrs) if attrs else len(encoded)
        if size > queue.max_message_size:
            raise errors.message_too_long(queue.max_message_size)
        if delay is not None:
            errors.check_range(delay, 0, MAX_DELAY, "DelaySeconds", "DelaySeconds must be >= 0 and <= 900.")
            if queue.fifo and delay != 0:
                raise errors.invalid_value(delay, "DelaySeconds",
                                           "The request include parameter that is not valid for this queue type.")
        if queue.fifo:
            if not group_id:
                raise errors.missing_parameter("MessageGroupId")
            m.validate_fifo_id(group_id, "MessageGroupId")
            m.validate_fifo_id(dedup_id, "MessageDeduplicationId")
            if not dedup_id and queue.content_based_dedup:
                dedup_id = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
            if not dedup_id:
                raise errors.invalid_parameter("The queue should either have ContentBasedDeduplication enabled or "
                                               "MessageDeduplicationId provided explicitly")
        else:
            if dedup_id is not None:
                raise errors.invalid_value(dedup_id, "MessageDeduplicationId",
                                           "The request includes a parameter that is not valid for this queue type.")
            m.validate_fifo_id(group_id, "MessageGroupId")  # fair queues: standard queues accept a group
        trace = sysattrs["AWSTraceHeader"]["StringValue"] if "AWSTraceHeader" in sysattrs else trace_header
        return NewMessage(
            message_id=m.new_message_id(), body=text, md5_body=m.md5_hex(encoded), attributes=attrs,
            stored_attributes=json.dumps(m.attributes_to_json(attrs)) if attrs else None,
            md5_attributes=m.md5_of_attributes(attrs), md5_system=m.md5_of_attributes(sysattrs),
            trace_header=trace, sender_id=sender, delay_seconds=queue.delay_seconds if delay is None else delay,
            group_id=group_id or None, dedup_id=dedup_id, size=size)

    # -- inserting -----------------------------------------------------------------------------

    def _insert(self, conn: sqlite3.Connection, queue: Queue, msg: NewMessage, now: int,
                claimed: list[Waiter]) -> SendOutcome:
        """Insert a message; on a standard queue with a parked long poll, hand it over in flight."""
        waiters = self.state.waiters
        if queue.fifo or msg.delay_seconds or not waiters.has_waiting(queue.id):
            return insert_message(conn, queue, msg, now)
        waiter = waiters.claim(queue.id, claimed)
        if waiter is None:
            return insert_message(conn, queue, msg, now)
        token = m.new_token()
        visible_ms = now + waiter.visibility * 1000
        outcome = insert_message(conn, queue, msg, now, (token, visible_ms))
        waiter.taken.append(Received(handed_over(msg, outcome.row_id or 0, now, visible_ms), token))
        return outcome

    async def _send(self, queue: Queue, msgs: list[NewMessage]) -> list[SendOutcome]:
        """Insert messages in one transaction (from the event loop) and answer or wake long polls."""
        claimed: list[Waiter] = []
        now = self.state.now_ms()
        waiters = self.state.waiters

        def txn(conn: sqlite3.Connection) -> list[SendOutcome]:
            return [self._insert(conn, queue, msg, now, claimed) for msg in msgs]

        try:
            outcomes = await self.state.write(txn)
        except BaseException:
            waiters.release(claimed)
            raise
        if claimed:
            waiters.settle(claimed)
        sizes = [msg.size for msg, o in zip(msgs, outcomes, strict=True) if o.row_id is not None]
        handed = sum(len(w.taken) for w in claimed) if claimed else 0
        maybe_visible = self.state.maybe_visible
        if len(sizes) > handed and queue.id not in maybe_visible and not queue.fifo \
                and any(not msg.delay_seconds for msg in msgs):
            maybe_visible.add(queue.id)  # a message no parked poll took is visible
        self.state.metrics.sent(queue, sizes)
        # Polls that were looking while this committed may have missed these messages: wake them
        # (a parked one was claimed instead, unless there were more messages than claims).
        if sizes and waiters.has_waiting(queue.id) and handed < len(msgs):
            waiters.wake((queue.id,))
        return outcomes

    # -- operations ------------------------------------------------------------------------------

    async def send_message(self, ctx: RequestContext, QueueUrl: str | None = None, MessageBody: str | None = None,
                           DelaySeconds: int | None = None, MessageAttributes: dict[str, Any] | None = None,
                           MessageSystemAttributes: dict[str, Any] | None = None,
                           MessageDeduplicationId: str | None = None, MessageGroupId: str | None = None,
                           **_: Any) -> dict[str, Any]:
        queue = self.state.by_url(QueueUrl, ctx.region)
        msg = self.prepare(queue, ctx.account_id, MessageBody, DelaySeconds, MessageAttributes,
                           MessageSystemAttributes, MessageDeduplicationId, MessageGroupId, ctx.trace_header)
        (outcome,) = await self._send(queue, [msg])
        return _answer(msg, outcome)

    async def send_message_batch(self, ctx: RequestContext, QueueUrl: str | None = None,
                                 Entries: list[dict[str, Any]] | None = None, **_: Any) -> dict[str, Any]:
        queue = self.state.by_url(QueueUrl, ctx.region)
        entries = m.validate_batch_ids(Entries, "SendMessageBatchRequestEntry")
        total = sum(m.utf8_len(e.get("MessageBody") or "") + m.attributes_size(
            {k: v for k, v in (e.get("MessageAttributes") or {}).items() if isinstance(v, dict) and v.get("DataType")})
            for e in entries)
        limit = max(qattrs.DEFAULT_MAX_MESSAGE_SIZE, queue.max_message_size)
        if total > limit:
            raise errors.batch_too_long(limit, total)
        if queue.fifo:
            if any(not e.get("MessageGroupId") for e in entries):
                raise errors.invalid_parameter("The request must contain the parameter MessageGroupId.")
            if not queue.content_based_dedup and any(not e.get("MessageDeduplicationId") for e in entries):
                raise errors.invalid_parameter("The queue should either have ContentBasedDeduplication enabled or "
                                               "MessageDeduplicationId provided explicitly")
        prepared: list[tuple[str, NewMessage]] = []
        failed: list[dict[str, Any]] = []
        for entry in entries:
            try:
                prepared.append((entry["Id"], self.prepare(
                    queue, ctx.account_id, entry.get("MessageBody"), entry.get("DelaySeconds"),
                    entry.get("MessageAttributes"), entry.get("MessageSystemAttributes"),
                    entry.get("MessageDeduplicationId"), entry.get("MessageGroupId"), ctx.trace_header)))
            except ServiceError as err:
                failed.append({"Id": entry["Id"], "SenderFault": err.sender_fault, "Code": err.code,
                               "Message": err.message})
        outcomes = await self._send(queue, [msg for _, msg in prepared]) if prepared else []
        successful = [{"Id": entry_id, **_answer(msg, outcome)}
                      for (entry_id, msg), outcome in zip(prepared, outcomes, strict=True)]
        return {"Successful": successful, "Failed": failed}

    # -- for the rest of Sluice ------------------------------------------------------------------

    def deliver(self, arn: str, delivery: Delivery) -> DeliveryResult:
        """SendMessage on behalf of another service (DLQs, destinations, SNS, EventBridge, S3).

        Applies SendMessage's rules; returns once the message is durable. It waits for the
        store's commit, so call it from a worker thread, not from the event loop."""
        state = self.state
        queue = state.by_arn(arn)
        if queue is None:
            return DeliveryResult.failed(NOT_FOUND, f"queue {arn} does not exist")
        if queue.fifo and not delivery.allow_fifo:
            return DeliveryResult.failed(FIFO_NOT_ALLOWED, f"{arn} is a FIFO queue")
        if checks_service_principal(delivery.principal, state.settings.enforce_iam) and not service_may_send(
                queue.attributes.get("Policy"), delivery.principal or "", "sqs:SendMessage", queue.arn,
                delivery.source_arn or "", delivery.source_account or ""):
            return DeliveryResult.failed(ACCESS_DENIED, f"the queue policy does not allow {delivery.principal}")
        attributes: dict[str, Any] = {}
        for name, attr in delivery.attributes.items():
            value: dict[str, Any] = {"DataType": attr.data_type}
            if attr.binary_value is not None:
                value["BinaryValue"] = attr.binary_value
            else:
                value["StringValue"] = attr.string_value
            attributes[name] = value
        size = m.utf8_len(delivery.body) + m.attributes_size(attributes)
        if size > queue.max_message_size:
            return DeliveryResult.failed(TOO_LARGE, f"message of {size} bytes; the queue takes "
                                                    f"{queue.max_message_size}")
        system = {}
        trace = delivery.system_attributes.get("AWSTraceHeader")
        if trace:
            system["AWSTraceHeader"] = {"DataType": "String", "StringValue": trace}
        try:
            msg = self.prepare(queue, delivery.source_account or queue.account, delivery.body, None, attributes,
                               system, delivery.deduplication_id if queue.fifo else None,
                               delivery.group_id if queue.fifo else None)
        except ServiceError as err:
            return DeliveryResult.failed(INVALID, err.message)
        now = state.now_ms()
        claimed: list[Waiter] = []
        try:
            outcome = state.db.write(lambda conn: self._insert(conn, queue, msg, now, claimed))
        except BaseException:
            state.waiters.release(claimed)
            raise
        # To the loop only when someone is there: a hop costs the loop a wake-up (and this thread
        # a system call) per delivered message. A poll that registers after this check looks at
        # the store after registering, and this message is committed by then.
        if claimed:
            state.call_on_loop(state.waiters.settle, claimed)
        elif state.waiters.has_waiting(queue.id):
            state.notify(queue.id)
        if outcome.row_id is not None:
            if not claimed and not queue.fifo and not msg.delay_seconds:
                state.maybe_visible.add(queue.id)  # one set operation: safe off the loop
            state.metrics.sent(queue, [msg.size])
        return DeliveryResult(True, outcome.message_id)
