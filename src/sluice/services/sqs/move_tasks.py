"""Message move tasks (DLQ redrive): Start-, List- and CancelMessageMoveTask, and the rules of
one step of a task.

A task moves a dead-letter queue's messages to a destination, or back to the queues they came
from, in steps: each step moves at most the task's rate (MaxNumberOfMessagesPerSecond), or
MOVE_BATCH, in one transaction, and sets when the next step is due: `moved / rate` seconds
later, at once without a rate. The engine runs the due steps (server.py adds a dispatcher over
`fetch_due` / `next_due` with `step` as its handler); this module says only what a step does.

The pacing is a rate the caller asked for, so its seconds are the clock's own (real with a real
clock whatever --time-scale says, as a visibility timeout is) and a ManualClock drives them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any

from ...protocol import safejson
from ...protocol.context import RequestContext
from . import attributes as qattrs
from . import errors
from . import move_records as mv
from .message_records import counts
from .move_records import MoveTask
from .records import Queue
from .state import SqsState

MOVE_BATCH = 100
NON_EXISTENT_QUEUE = "AWS.SimpleQueueService.NonExistentQueue"


class _MoveFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _task_handle(task_id: str, source_arn: str) -> str:
    return base64.b64encode(json.dumps({"taskId": task_id, "sourceArn": source_arn}).encode()).decode()


def _result(task: MoveTask) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if task.status == mv.RUNNING:
        entry["TaskHandle"] = _task_handle(task.task_id, task.source_arn)
    entry["Status"] = task.status
    entry["SourceArn"] = task.source_arn
    if task.destination_arn:
        entry["DestinationArn"] = task.destination_arn
    if task.rate is not None:
        entry["MaxNumberOfMessagesPerSecond"] = task.rate
    entry["ApproximateNumberOfMessagesMoved"] = task.moved
    entry["ApproximateNumberOfMessagesToMove"] = task.to_move
    if task.failure:
        entry["FailureReason"] = task.failure
    entry["StartedTimestamp"] = task.started_ms
    return entry


class MoveTasks:
    def __init__(self, state: SqsState, on_started: Callable[[], None]) -> None:
        """`on_started`: called on the event loop when a task starts (its first step is due)."""
        self.state = state
        self.on_started = on_started

    def _source(self, arn: str | None) -> Queue:
        if not arn or qattrs.parse_arn(arn) is None:
            raise errors.invalid_parameter("You must use this format to specify the SourceArn: "
                                           "arn:<partition>:<service>:<region>:<account-id>:<resource-id>")
        source = self.state.by_arn(arn)
        if source is None:
            raise errors.resource_not_found("The resource that you specified for the SourceArn parameter "
                                            "doesn't exist.")
        return source

    # -- operations ------------------------------------------------------------------------------

    async def start_message_move_task(self, ctx: RequestContext, SourceArn: str | None = None,
                                      DestinationArn: str | None = None,
                                      MaxNumberOfMessagesPerSecond: int | None = None, **_: Any) -> dict[str, Any]:
        source = self._source(SourceArn)
        if not any(q.redrive and q.redrive[0] == source.arn for q in self.state.queues()):
            raise errors.invalid_parameter("Source queue must be configured as a Dead Letter Queue.")
        if DestinationArn and (qattrs.parse_arn(DestinationArn) is None or self.state.by_arn(DestinationArn) is None):
            raise errors.resource_not_found("The resource that you specified for the DestinationArn parameter "
                                            "doesn't exist.")
        rate = MaxNumberOfMessagesPerSecond
        if rate is not None:
            errors.check_range(rate, 1, 500, "MaxNumberOfMessagesPerSecond",
                               "MaxNumberOfMessagesPerSecond must be between 1 and 500.")
        task_id = str(uuid.uuid4())
        now = self.state.clock.now()

        def txn(conn: sqlite3.Connection) -> None:
            if mv.has_running(conn, source.arn):
                raise errors.invalid_parameter("There is already a task running. Only one active task is allowed "
                                               "for a source queue arn at a given time.")
            visible = counts(conn, source.id, int(now * 1000))[0]
            mv.insert_task(conn, MoveTask(task_id, source.account, source.region, source.arn, DestinationArn or None,
                                          rate, mv.RUNNING, int(now * 1000), visible, due=now))

        await self.state.write(txn)
        self.on_started()
        return {"TaskHandle": _task_handle(task_id, source.arn)}

    def list_message_move_tasks(self, ctx: RequestContext, SourceArn: str | None = None,
                                MaxResults: int | None = None, **_: Any) -> dict[str, Any]:
        source = self._source(SourceArn)
        limit = 1 if MaxResults is None else MaxResults
        errors.check_range(limit, 1, 10, "MaxResults", "You must enter a number that's between 1 and 10.")
        return {"Results": [_result(task) for task in mv.latest_tasks(self.state.db.reader, source.arn, limit)]}

    def cancel_message_move_task(self, ctx: RequestContext, TaskHandle: str | None = None,
                                 **_: Any) -> dict[str, Any]:
        try:
            doc = safejson.loads(base64.b64decode(TaskHandle or "", validate=True))
            task_id, source_arn = str(doc["taskId"]), str(doc["sourceArn"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise errors.invalid_parameter("Value for parameter TaskHandle is invalid.") from None
        source = self._source(source_arn)

        def txn(conn: sqlite3.Connection) -> int:
            task = mv.get_task(conn, task_id)
            if task is None or task.source_arn != source.arn:
                raise errors.resource_not_found("Task does not exist.")
            if task.status != mv.RUNNING:
                raise errors.invalid_parameter("Only active tasks can be cancelled.")
            mv.set_status(conn, task_id, mv.CANCELLED)
            return task.moved

        return {"ApproximateNumberOfMessagesMoved": self.state.db.write(txn)}

    # -- the steps, for the engine's dispatcher ------------------------------------------------

    def fetch_due(self, now: float, limit: int) -> list[MoveTask]:
        """Running tasks whose next step is due at clock time `now` (a read; in a worker thread)."""
        return mv.due_tasks(self.state.db.reader, now, limit)

    def next_due(self, now: float) -> float | None:
        return mv.next_due(self.state.db.reader, now)

    async def step(self, task: MoveTask) -> None:
        """Run one step of a task and record its outcome (progress and the next step's time,
        COMPLETED, or FAILED) in the same transaction."""
        targets = await self.state.write(functools.partial(self._step_txn, task_id=task.task_id))
        if targets:
            self.state.waiters.wake(tuple(targets))

    def _step_txn(self, conn: sqlite3.Connection, task_id: str) -> set[int]:
        task = mv.get_task(conn, task_id)  # as stored now: a cancel may have ended it
        if task is None or task.status != mv.RUNNING:
            return set()
        now = self.state.clock.now()
        batch = min(task.to_move - task.moved, task.rate or MOVE_BATCH)
        try:
            moves = self._plan(conn, task, batch, int(now * 1000)) if batch > 0 else []
        except _MoveFailed as failure:
            mv.set_status(conn, task_id, mv.FAILED, failure.reason)
            return set()
        if not moves:
            mv.set_status(conn, task_id, mv.COMPLETED)
            return set()
        for row_id, target in moves:
            mv.relocate(conn, row_id, target, int(now * 1000))
        mv.record_progress(conn, task_id, len(moves), now + len(moves) / task.rate if task.rate else now)
        return {target for _, target in moves}

    def _plan(self, conn: sqlite3.Connection, task: MoveTask, limit: int, now_ms: int) -> list[tuple[int, int]]:
        """(message row, target queue) for the next `limit` visible messages of the source; a
        message that cannot be moved fails the task before anything moves."""
        source = self.state.by_arn(task.source_arn)
        if source is None:
            raise _MoveFailed(NON_EXISTENT_QUEUE)
        destination = None
        if task.destination_arn:
            destination = self.state.by_arn(task.destination_arn)
            if destination is None:
                raise _MoveFailed(NON_EXISTENT_QUEUE)
        moves: list[tuple[int, int]] = []
        for message in mv.movable_messages(conn, source.id, now_ms, limit):
            target = destination
            if target is None:
                if not message.dlq_source:
                    raise _MoveFailed("CouldNotDetermineMessageSource")
                target = self.state.by_arn(message.dlq_source)
                if target is None:
                    raise _MoveFailed(NON_EXISTENT_QUEUE)
            moves.append((message.row_id, target.id))
        return moves
