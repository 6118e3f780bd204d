"""The answer that beats the wait (ManualClock): a warm function can PUT its response, and the
stack be woken, before the deployer has recorded the step's wait. The deployer asks the
provider's `answered` in the transaction that records the wait, so the step runs again at once
instead of sleeping until the hour's deadline (which the wake it overwrote would have avoided)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any, ClassVar

from sluice.clock import ManualClock
from sluice.engine.stacks import StackDeployer
from sluice.schema import SCHEMA
from sluice.services.cloudformation import CloudFormationService
from sluice.services.cloudformation.providers import InProgress, ResourceRequest, ResourceResult
from sluice.store import Store

from .manual_clock import ctx


class AnsweredMeanwhile:
    """First call: no answer yet, but one lands before the wait is recorded. Second: done."""

    type_name: ClassVar[str] = "Test::Quick"
    replace_on: ClassVar[frozenset[str]] = frozenset()

    def __init__(self) -> None:
        self.calls = 0

    def create(self, req: ResourceRequest) -> ResourceResult:
        self.calls += 1
        if self.calls == 1:
            raise InProgress(3600.0, "no answer", answered=self._answered)
        return ResourceResult("quick-1", {})

    def _answered(self, conn: sqlite3.Connection) -> bool:
        return True

    def update(self, req: ResourceRequest) -> ResourceResult:
        return ResourceResult(req.physical_id or "", {})

    def delete(self, req: ResourceRequest) -> None:
        pass


def test_an_answer_that_came_before_the_wait_was_recorded_is_not_lost(tmp_path: Path) -> None:
    store = Store(tmp_path / "data", SCHEMA)
    clock = ManualClock()
    provider = AnsweredMeanwhile()
    deployer = StackDeployer(store.db, clock, {provider.type_name: provider})
    cfn = CloudFormationService(store, clock, {}, wake=deployer.notify,
                                replace_on=lambda kind: frozenset() if kind == provider.type_name else None)
    body = json.dumps({"Resources": {"Quick": {"Type": "Test::Quick"}}})

    def call(op: str, **members: Any) -> Any:
        return cfn.operation(op)(ctx("cloudformation"), **members)  # type: ignore[misc]

    async def scenario() -> None:
        await deployer.dispatcher.start()
        try:
            await asyncio.to_thread(call, "CreateStack", StackName="quick", TemplateBody=body)
            await clock.advance(0)  # no engine time passes: only what is due now runs
            assert provider.calls == 2
            assert call("DescribeStacks", StackName="quick")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
        finally:
            await deployer.dispatcher.stop(1.0)

    try:
        asyncio.run(scenario())
    finally:
        store.close()
