"""Receiving: ReceiveMessage (long polls, FIFO groups, redrive to the dead-letter queue), and
what a receipt handle allows afterwards: DeleteMessage and ChangeMessageVisibility (and batches).

Long polls wait on one future per poll (waiters.py), resolved by whatever makes a message
receivable (a send, a visibility change to 0, a FIFO delete that unblocks a group, a redrive),
or until the next visibility deadline the store knows of: no polling loop. A long poll and a
visibility timeout are real time by design (a caller asked for them; see sluice.realtime):
--time-scale never touches them.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
from collections.abc import Callable
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from . import errors
from . import message_records as mrec
from . import messages as m
from .message_records import Received, StoredMessage
from .records import Queue
from .state import SqsState

MAX_WAIT_SECONDS = 20
MAX_VISIBILITY = 43_200
VISIBILITY_REASON = "Must be >= 0 and <= 43200, if provided."

Outcomes = tuple[list[dict[str, Any]], list[dict[str, Any]], bool]
_NONE: frozenset[str] = frozenset()


class Receiving:
    def __init__(self, state: SqsState) -> None:
        self.state = state

    # -- ReceiveMessage --------------------------------------------------------------------------

    async def receive_message(self, ctx: RequestContext, QueueUrl: str | None = None,
                              AttributeNames: list[str] | None = None,
                              MessageSystemAttributeNames: list[str] | None = None,
                              MessageAttributeNames: list[str] | None = None, MaxNumberOfMessages: int | None = None,
                              VisibilityTimeout: int | None = None, WaitTimeSeconds: int | None = None,
                              **_: Any) -> dict[str, Any]:
        state = self.state
        queue = state.by_url(QueueUrl, ctx.region)
        count = 1 if MaxNumberOfMessages is None else MaxNumberOfMessages
        errors.check_range(count, 1, 10, "MaxNumberOfMessages", "Must be between 1 and 10, if provided.")
        visibility = queue.visibility_timeout if VisibilityTimeout is None else VisibilityTimeout
        errors.check_range(visibility, 0, MAX_VISIBILITY, "VisibilityTimeout", VISIBILITY_REASON)
        wait = queue.number("ReceiveMessageWaitTimeSeconds") if WaitTimeSeconds is None else WaitTimeSeconds
        errors.check_range(wait, 0, MAX_WAIT_SECONDS, "WaitTimeSeconds", "Must be >= 0 and <= 20, if provided.")
        system_names = (set(AttributeNames or ()) | set(MessageSystemAttributeNames or ())
                        if AttributeNames or MessageSystemAttributeNames else _NONE)
        if wait <= 0:  # a short poll: one look, no waiter to register (it could never park)
            received = await self._look(queue, count, visibility)
        else:
            polled = await self._long_poll(queue, count, visibility, wait)
            if polled is None:  # the queue was deleted while the poll waited
                return {}
            queue, received = polled
        state.metrics.received(queue, len(received))
        if not received:
            return {}
        return {"Messages": [_render(queue, r, system_names, MessageAttributeNames) for r in received]}

    async def _long_poll(self, queue: Queue, count: int, visibility: int,
                         wait: int) -> tuple[Queue, list[Received]] | None:
        """Look, and until something is received or `wait` seconds passed, wait to be woken or
        handed a message: (the queue as it is now, what was received), None if it was deleted."""
        state = self.state
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait  # real time: the caller's WaitTimeSeconds
        received: list[Received] = []
        while not received:
            current = state.by_id(queue.id)
            if current is None:  # deleted while we waited
                return None
            queue = current
            # Registered before looking, so a wake during the look is not lost.
            waiter = state.waiters.arm(queue.id, count, visibility, loop)
            try:
                now = state.now_ms()
                next_ms = None
                if queue.fifo or queue.id in state.maybe_visible or (next_ms := self._next_visible(queue, now)) == now:
                    received, next_ms, moved = await state.write(functools.partial(
                        self._receive_txn, queue=queue, count=count, visibility=visibility, now=now))
                    self._saw(queue, count, received)
                    if moved:
                        state.waiters.wake(tuple(moved))
            except BaseException:
                state.waiters.disarm(waiter)
                raise
            remaining = deadline - loop.time()
            if received or remaining <= 0 or state.closing:
                state.waiters.disarm(waiter)
                break
            if not state.waiters.park(waiter):
                continue  # woken while looking: look again
            timeout = remaining
            if next_ms is not None and state.clock.moves_by_itself:  # a message becomes visible before the poll ends
                timeout = min(remaining, max(0.0, (next_ms - state.now_ms()) / 1000) + 0.001)
            try:
                # Real time by design: the long poll and visibility deadline the caller asked for.
                # On a manual clock a visibility deadline comes only with an advance, which
                # wakes every long poll (server.py): the wait is the caller's WaitTimeSeconds.
                await asyncio.wait_for(asyncio.shield(waiter.future), timeout)
            except asyncio.TimeoutError:
                if not state.waiters.disarm(waiter):
                    await waiter.future  # a send claimed us just now: its answer is committing
            received = waiter.taken
            if not received and loop.time() >= deadline:
                break
        return queue, received

    async def _look(self, queue: Queue, count: int, visibility: int) -> list[Received]:
        """Take what is visible now (a short poll): a read first, so that polling an empty
        queue costs no write."""
        state = self.state
        now = state.now_ms()
        if not queue.fifo and queue.id not in state.maybe_visible and not mrec.has_visible(
                state.db.reader, queue.id, now):
            return []
        received, _, moved = await state.write(functools.partial(
            self._receive_txn, queue=queue, count=count, visibility=visibility, now=now, waits=False))
        self._saw(queue, count, received)
        if moved:
            state.waiters.wake(tuple(moved))
        return received

    def _saw(self, queue: Queue, count: int, received: list[Received]) -> None:
        """Remember whether more may be visible: a receive that got all it asked for may have
        left some; one that got less found no more (see SqsState.maybe_visible)."""
        if len(received) < count:
            self.state.maybe_visible.discard(queue.id)
        else:
            self.state.maybe_visible.add(queue.id)

    def _next_visible(self, queue: Queue, now: int) -> int | None:
        """`now` if a message is visible, else when the next one becomes visible (a read; no write)."""
        first = mrec.first_visible(self.state.db.reader, queue.id)  # one read, not "any visible?" and "when?"
        return None if first is None else max(first, now)

    def _receive_txn(self, conn: sqlite3.Connection, queue: Queue, count: int, visibility: int,
                     now: int, waits: bool = True) -> tuple[list[Received], int | None, set[int]]:
        """Take up to `count` messages in flight (inside a write): (messages, next visibility
        deadline when none and the poll `waits`, DLQs that received redriven messages)."""
        redrive = queue.redrive
        dlq = self.state.by_arn(redrive[0]) if redrive else None
        max_receives = redrive[1] if redrive and dlq is not None and dlq.id != queue.id else None
        cutoff = now - queue.retention_ms
        taken: list[Received] = []
        moved: set[int] = set()
        updates: list[tuple[int, int, str, int]] = []

        def consider(msg: StoredMessage) -> None:
            """Take or redrive one visible message (or drop it: past its retention period)."""
            if msg.sent_ms <= cutoff:
                mrec.delete_message(conn, msg.id)
                return
            if max_receives is not None and dlq is not None and msg.receive_count >= max_receives:
                mrec.move_to_dead_letter_queue(conn, msg.id, dlq.id, now, queue.arn)
                moved.add(dlq.id)
                return
            token = m.new_token()
            msg.receive_count += 1
            if msg.first_receive_ms is None:
                msg.first_receive_ms = now
            updates.append((now, now + visibility * 1000, token, msg.id))
            taken.append(Received(msg, token))

        if queue.fifo:
            for head in mrec.visible_group_heads(conn, queue.id, now):
                if len(taken) >= count:
                    break
                assert head.group_id is not None
                last = 0
                done = False
                while not done and len(taken) < count:
                    rows = mrec.group_messages(conn, queue.id, head.group_id, last)
                    if not rows:
                        break
                    for msg in rows:
                        last = msg.id
                        if msg.visible_ms > now:  # in flight or delayed: the group's order stops here
                            done = True
                            break
                        consider(msg)
                        if len(taken) >= count:
                            break
        else:
            seen: list[int] = []
            while len(taken) < count:
                rows = mrec.visible_messages(conn, queue.id, now, count - len(taken), seen)
                if not rows:
                    break
                for msg in rows:
                    seen.append(msg.id)
                    consider(msg)
        if updates:
            mrec.mark_received(conn, updates)
        next_ms = None if taken or not waits else mrec.next_visible(conn, queue.id, now)
        return taken, next_ms, moved

    # -- what a receipt handle allows ----------------------------------------------------------

    @staticmethod
    def _receipt(queue: Queue, handle: str | None) -> m.Receipt:
        if not handle:
            raise errors.missing_parameter("ReceiptHandle")
        receipt = m.decode_receipt(handle)
        if receipt is None or receipt.queue_id != queue.id:
            raise errors.receipt_handle_invalid(handle)
        return receipt

    @staticmethod
    def _delete_one(conn: sqlite3.Connection, queue: Queue, receipt: m.Receipt, handle: str, now: int) -> bool:
        """Delete the message a receipt names; True if a FIFO group may have been unblocked."""
        if not queue.fifo:
            # Standard queues: any handle of the message deletes it, as on AWS, an older one
            # too, and a message already deleted (or moved on) is deleted again successfully.
            mrec.delete_in_queue(conn, receipt.message_row, queue.id)
            return False
        held = mrec.holder(conn, receipt.message_row)
        if held is None or held.queue_id != queue.id:
            return False  # already deleted (or moved on): deleting again succeeds
        if held.receipt != receipt.token or held.visible_ms <= now:
            raise errors.receipt_handle_expired(handle)
        mrec.delete_message(conn, receipt.message_row)
        return True

    @staticmethod
    def _change_one(conn: sqlite3.Connection, queue: Queue, receipt: m.Receipt, handle: str, visibility: int,
                    now: int) -> bool:
        """Change a received message's visibility; True if it became visible."""
        held = mrec.holder(conn, receipt.message_row)
        if held is None or held.queue_id != queue.id or held.receipt != receipt.token:
            raise errors.visibility_unavailable(handle)
        if held.visible_ms <= now:
            raise errors.message_not_inflight()
        mrec.set_visible_at(conn, receipt.message_row, now + visibility * 1000)
        return visibility == 0

    async def _batch(self, entries: list[dict[str, Any]],
                     one: Callable[[sqlite3.Connection, dict[str, Any]], bool]) -> Outcomes:
        """Apply `one` to each entry in one write: (successful, failed, whether to wake polls)."""
        def txn(conn: sqlite3.Connection) -> Outcomes:
            successful: list[dict[str, Any]] = []
            failed: list[dict[str, Any]] = []
            wake = False
            for entry in entries:
                try:
                    wake = one(conn, entry) or wake
                    successful.append({"Id": entry["Id"]})
                except ServiceError as err:
                    failed.append({"Id": entry["Id"], "SenderFault": err.sender_fault, "Code": err.code,
                                   "Message": err.message})
            return successful, failed, wake

        return await self.state.write(txn)

    async def delete_message(self, ctx: RequestContext, QueueUrl: str | None = None,
                             ReceiptHandle: str | None = None, **_: Any) -> dict[str, Any]:
        queue = self.state.by_url(QueueUrl, ctx.region)
        receipt = self._receipt(queue, ReceiptHandle)
        handle = ReceiptHandle or ""
        now = self.state.now_ms()
        if await self.state.write(lambda conn: self._delete_one(conn, queue, receipt, handle, now)):
            self.state.waiters.wake((queue.id,))
        self.state.metrics.deleted(queue, 1)
        return {}

    async def delete_message_batch(self, ctx: RequestContext, QueueUrl: str | None = None,
                                   Entries: list[dict[str, Any]] | None = None, **_: Any) -> dict[str, Any]:
        queue = self.state.by_url(QueueUrl, ctx.region)
        entries = m.validate_batch_ids(Entries, "DeleteMessageBatchRequestEntry")
        now = self.state.now_ms()

        def one(conn: sqlite3.Connection, entry: dict[str, Any]) -> bool:
            handle = entry.get("ReceiptHandle") or ""
            return self._delete_one(conn, queue, self._receipt(queue, handle), handle, now)

        successful, failed, wake = await self._batch(entries, one)
        if wake:
            self.state.waiters.wake((queue.id,))
        self.state.metrics.deleted(queue, len(successful))
        return {"Successful": successful, "Failed": failed}

    async def change_message_visibility(self, ctx: RequestContext, QueueUrl: str | None = None,
                                        ReceiptHandle: str | None = None, VisibilityTimeout: int | None = None,
                                        **_: Any) -> dict[str, Any]:
        queue = self.state.by_url(QueueUrl, ctx.region)
        receipt = self._receipt(queue, ReceiptHandle)
        if VisibilityTimeout is None:
            raise errors.missing_parameter("VisibilityTimeout")
        visibility = errors.check_range(VisibilityTimeout, 0, MAX_VISIBILITY, "VisibilityTimeout", VISIBILITY_REASON)
        handle = ReceiptHandle or ""
        now = self.state.now_ms()
        if await self.state.write(lambda c: self._change_one(c, queue, receipt, handle, visibility, now)):
            self.state.waiters.wake((queue.id,))
        return {}

    async def change_message_visibility_batch(self, ctx: RequestContext, QueueUrl: str | None = None,
                                              Entries: list[dict[str, Any]] | None = None,
                                              **_: Any) -> dict[str, Any]:
        queue = self.state.by_url(QueueUrl, ctx.region)
        entries = m.validate_batch_ids(Entries, "ChangeMessageVisibilityBatchRequestEntry")
        now = self.state.now_ms()

        def one(conn: sqlite3.Connection, entry: dict[str, Any]) -> bool:
            handle = entry.get("ReceiptHandle") or ""
            visibility = entry.get("VisibilityTimeout")
            if visibility is None:
                raise errors.missing_parameter("VisibilityTimeout")
            errors.check_range(visibility, 0, MAX_VISIBILITY, "VisibilityTimeout", VISIBILITY_REASON)
            return self._change_one(conn, queue, self._receipt(queue, handle), handle, visibility, now)

        successful, failed, wake = await self._batch(entries, one)
        if wake:
            self.state.waiters.wake((queue.id,))
        return {"Successful": successful, "Failed": failed}


def system_attributes(queue: Queue, msg: StoredMessage) -> dict[str, str]:
    """A message's system attributes that it has (a message never received has no first
    receive; a standard queue's none of the FIFO ones)."""
    values = {"SenderId": msg.sender_id, "ApproximateReceiveCount": str(msg.receive_count),
              "SentTimestamp": str(msg.sent_ms)}
    if msg.first_receive_ms is not None:
        values["ApproximateFirstReceiveTimestamp"] = str(msg.first_receive_ms)
    if queue.fifo:
        values["SequenceNumber"] = mrec.sequence_number(msg.id)
        if msg.dedup_id:
            values["MessageDeduplicationId"] = msg.dedup_id
    if msg.group_id:
        values["MessageGroupId"] = msg.group_id
    if msg.trace_header:
        values["AWSTraceHeader"] = msg.trace_header
    if msg.dlq_source:
        values["DeadLetterQueueSourceArn"] = msg.dlq_source
    return values


def _render(queue: Queue, received: Received, system_names: frozenset[str] | set[str],
            attribute_names: list[str] | None) -> dict[str, Any]:
    """A received message as ReceiveMessage answers it."""
    msg = received.message
    out: dict[str, Any] = {
        "MessageId": msg.message_id,
        "ReceiptHandle": m.encode_receipt(queue.id, msg.id, received.token),
        "MD5OfBody": msg.md5_body,
        "Body": msg.body,
    }
    if system_names:
        values = system_attributes(queue, msg)
        every = "All" in system_names
        attrs = {k: values[k] for k in m.RECEIVE_SYSTEM_ATTRIBUTES if k in values and (every or k in system_names)}
        if attrs:
            out["Attributes"] = attrs
    if attribute_names and msg.attributes:
        stored = m.attributes_from_json(json.loads(msg.attributes))
        chosen = m.select_attributes(stored, attribute_names)
        if chosen:
            out["MD5OfMessageAttributes"] = (msg.md5_attributes if len(chosen) == len(stored)
                                             else m.md5_of_attributes(chosen))
            out["MessageAttributes"] = chosen
    return out
