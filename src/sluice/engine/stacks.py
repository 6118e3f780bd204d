"""The stack deployer: CloudFormation's work rows -> resources made, changed, rolled back, deleted.

CreateStack/UpdateStack/DeleteStack/ExecuteChangeSet record the stack's new status and a work row
(services/cloudformation); an OutboxDispatcher runs `StackDeployer.run` for each due row in a
worker thread. `run` reads where the operation stands from the records (the stack's status, each
resource's status and step token) and carries it on: every step is recorded before the provider
is called and after it answers, so after a `kill -9` the next run resumes the step it was in
(the same request token, the same generated name) and the stack ends COMPLETE or rolled back,
never half-made and forgotten. The work row is removed only when the operation has ended.

Phases, by the stack's status:
- CREATE_IN_PROGRESS / UPDATE_IN_PROGRESS: `Forward` (steps.py) takes the template's resources
  in dependency order: create, update in place, or replace (a new one made; the old one deleted
  in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS); then the outputs and exports.
- ROLLBACK_IN_PROGRESS / DELETE_IN_PROGRESS: every resource deleted in reverse order
  (DeletionPolicy Retain: DELETE_SKIPPED).
- UPDATE_ROLLBACK_IN_PROGRESS: what the update changed is put back, then what it created is
  deleted in UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS.
A step that waits (a custom resource's response) records its deadline as the row's due time
and returns; `CloudFormationService.wake` makes it due at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .. import realtime
from ..clock import Clock
from ..services.cloudformation import work
from ..store.db import Database
from .dispatcher import OutboxDispatcher, in_executor_each
from .lifecycle import Signal
from .stack_notices import StackNotices

if TYPE_CHECKING:
    from ..services.cloudformation.providers import Provider

log = logging.getLogger("sluice.engine")


class _StackWork:
    """The deployer's DueSource: stacks whose operation has work due."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def fetch_due(self, now: float, limit: int) -> Sequence[str]:
        return work.due_work(self.db.reader, now, limit)

    def next_due(self, now: float) -> float | None:
        return work.next_work(self.db.reader, now)


class StackDeployer:
    """An engine worker: the dispatcher over the stacks' work rows, and a stop flag the running
    operations look at before each step (a stopping server leaves the rest for its restart rather
    than failing resources whose services are going away)."""

    name = "cloudformation-stacks"

    def __init__(self, db: Database, clock: Clock, providers: Mapping[str, Provider], *, concurrency: int = 4,
                 notices: StackNotices | None = None) -> None:
        """`notices`: sends stack events to the stacks' NotificationARNs (None: not sent)."""
        self.notices = notices
        self.db = db
        self.clock = clock
        self.providers = providers
        self._stopping = threading.Event()
        self.due = Signal()  # set from requests' threads when work rows were committed
        self._run = in_executor_each(self.run)
        self._watchers: dict[str, list[asyncio.Event]] = {}  # stack id -> who waits for its run to end
        self.dispatcher: OutboxDispatcher[str] = OutboxDispatcher(
            "cloudformation-stacks", clock, _StackWork(db), self._handle, key=lambda stack_id: stack_id,
            concurrency=concurrency, wake=self.due)

    async def start(self) -> None:
        self._stopping.clear()
        await self.dispatcher.start()

    def request_stop(self) -> None:
        self._stopping.set()
        self.dispatcher.request_stop()

    async def stop(self, grace: float) -> None:
        self._stopping.set()
        await self.dispatcher.stop(grace)

    async def pause(self) -> None:
        """For a testing reset: a running deploy takes no new step, and nothing starts."""
        self._stopping.set()
        await self.dispatcher.pause()

    def resume(self) -> None:
        self._stopping.clear()
        self.dispatcher.resume()

    def notify(self) -> None:
        """Work rows were committed (thread-safe)."""
        self.due.set()

    async def _handle(self, stack_id: str) -> None:
        try:
            await self._run(stack_id)
        finally:
            for event in self._watchers.pop(stack_id, []):
                event.set()

    async def settled(self, stack_id: str, timeout: float) -> None:
        """Return once the stack's operation has ended or waits (a custom resource), or after
        `timeout` real seconds (call on the loop)."""
        event = asyncio.Event()
        self._watchers.setdefault(stack_id, []).append(event)
        try:
            # Registered first, then looked: a run that ends in between sets the event.
            now = self.clock.now()
            pending = await asyncio.get_running_loop().run_in_executor(
                None, lambda: work.has_work(self.db.reader, stack_id, now))
            if pending:
                await realtime.wait(event, timeout)
        finally:
            waiting = self._watchers.get(stack_id)
            if waiting is not None and event in waiting:
                waiting.remove(event)
                if not waiting:
                    del self._watchers[stack_id]

    def run(self, stack_id: str) -> None:
        """Carry the stack's operation on until it ends or waits (blocking: a worker thread)."""
        # Imported with the first stack that runs: the steps bring the template machinery
        # (plans, intrinsics, providers), which a server without stacks never needs.
        from .stack_steps import Operation

        operation = Operation(self.db, self.clock, self.providers, stack_id, self._stopping.is_set)
        try:
            operation.run()
        except Exception:  # a bug: logged, and the stack ends FAILED rather than in progress for ever
            log.exception("cloudformation: the operation on %s failed", stack_id)
            operation.abandon("Internal Failure")
        if self.notices is not None:
            self.notices.send(stack_id)
