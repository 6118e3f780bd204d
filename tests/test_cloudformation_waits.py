"""A resource step that waits (a custom resource awaiting its response) on a ManualClock: the
deployer records the wait, goes on when woken, and fails the resource when the timeout passes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from sluice.clock import ManualClock
from sluice.engine.stacks import StackDeployer
from sluice.schema import SCHEMA
from sluice.services.cloudformation.providers import InProgress, ResourceRequest, ResourceResult
from sluice.services.cloudformation.service import CloudFormationService
from sluice.store import Store

from .manual_clock import ctx

TIMEOUT = 3600.0
REASON = "CloudFormation did not receive a response from your Custom Resource."


class Answering:
    """A provider whose create waits until the test has answered its request token."""

    type_name: ClassVar[str] = "Test::Waits"
    replace_on: ClassVar[frozenset[str]] = frozenset()

    def __init__(self) -> None:
        self.answers: dict[str, str] = {}
        self.calls: list[str] = []
        self.deleted: list[str] = []
        self.at_once: set[str] = set()  # logical ids answered as soon as asked
        # logical ids whose answer arrives while their first call is still under way (the response
        # PUT beats the deployer's record of the wait): answered and woken from inside the call
        self.racing: dict[str, Callable[[str], None]] = {}

    def create(self, req: ResourceRequest) -> ResourceResult:
        self.calls.append(req.logical_id)
        if req.logical_id in self.at_once:
            return ResourceResult(f"made-{req.logical_id}", {"Answer": "yes"})
        wake = self.racing.pop(req.logical_id, None)
        if wake is not None:
            self.answers[req.request_token] = f"made-{req.logical_id}"
            wake(req.stack_id)
            raise InProgress(TIMEOUT, REASON)
        if req.request_token not in self.answers:
            raise InProgress(TIMEOUT, REASON)
        return ResourceResult(self.answers[req.request_token], {"Answer": "yes"})

    def update(self, req: ResourceRequest) -> ResourceResult:
        return ResourceResult(req.physical_id or "", {})

    def delete(self, req: ResourceRequest) -> None:
        self.deleted.append(req.logical_id)


def test_a_waiting_step_goes_on_when_woken_and_fails_at_its_timeout(tmp_path: Path) -> None:
    store = Store(tmp_path / "data", SCHEMA)
    clock = ManualClock()
    provider = Answering()
    deployer = StackDeployer(store.db, clock, {provider.type_name: provider})
    cfn = CloudFormationService(store, clock, {}, wake=deployer.notify,
                                replace_on=lambda kind: provider.replace_on if kind == provider.type_name else None)
    body = json.dumps({"Resources": {"Answered": {"Type": "Test::Waits"}},
                       "Outputs": {"Got": {"Value": {"Fn::GetAtt": ["Answered", "Answer"]}}}})
    silent_body = json.dumps({"Resources": {"Silent": {"Type": "Test::Waits"}}})

    def call(op: str, **members: Any) -> Any:
        return cfn.operation(op)(ctx("cloudformation"), **members)  # type: ignore[misc]

    def stack(name: str) -> dict[str, Any]:
        return call("DescribeStacks", StackName=name)["Stacks"][0]

    async def scenario() -> None:
        await deployer.start()
        try:
            answered = (await asyncio.to_thread(call, "CreateStack", StackName="answered", TemplateBody=body))["StackId"]
            await asyncio.to_thread(call, "CreateStack", StackName="silent", TemplateBody=silent_body)
            await clock.advance(0)
            assert sorted(provider.calls) == ["Answered", "Silent"]
            assert stack("answered")["StackStatus"] == stack("silent")["StackStatus"] == "CREATE_IN_PROGRESS"
            await clock.advance(TIMEOUT / 2)  # nothing is due: no step runs again
            assert sorted(provider.calls) == ["Answered", "Silent"]

            token = next(t for t in _tokens(store, answered))
            provider.answers[token] = "physical-1"
            await asyncio.to_thread(cfn.wake, answered)
            await clock.advance(0)
            done = stack("answered")
            assert done["StackStatus"] == "CREATE_COMPLETE"
            assert done["Outputs"] == [{"OutputKey": "Got", "OutputValue": "yes"}]

            await clock.advance(TIMEOUT / 2 - 1)
            assert stack("silent")["StackStatus"] == "CREATE_IN_PROGRESS"
            await clock.advance(1)
            assert stack("silent")["StackStatus"] == "ROLLBACK_COMPLETE"
            events = call("DescribeStackEvents", StackName="silent")["StackEvents"]
            assert [(e["ResourceStatus"], e.get("ResourceStatusReason")) for e in events
                    if e["LogicalResourceId"] == "Silent"][:2] == [("DELETE_COMPLETE", None),
                                                                   ("CREATE_FAILED", REASON)]
            assert provider.calls.count("Silent") == 1  # the timeout fails it without asking again
        finally:
            await deployer.stop(1.0)

    try:
        asyncio.run(scenario())
    finally:
        store.close()


def _tokens(store: Store, stack_id: str, logical_id: str | None = None) -> list[str]:
    return [row[0] for row in store.db.query("SELECT token FROM cfn_resources WHERE stack_id=? AND logical_id=?",
                                             (stack_id, logical_id))] if logical_id else \
        [row[0] for row in store.db.query("SELECT token FROM cfn_resources WHERE stack_id=?", (stack_id,))]


def test_independent_resources_go_on_while_one_waits_and_a_wake_during_the_step_is_not_lost(
        tmp_path: Path) -> None:
    store = Store(tmp_path / "data", SCHEMA)
    clock = ManualClock()
    provider = Answering()
    deployer = StackDeployer(store.db, clock, {provider.type_name: provider})
    cfn = CloudFormationService(store, clock, {}, wake=deployer.notify,
                                replace_on=lambda kind: provider.replace_on if kind == provider.type_name else None)
    provider.racing["Racing"] = cfn.wake
    provider.at_once.update({"Free", "AfterSlow"})
    body = json.dumps({"Resources": {
        "Slow": {"Type": "Test::Waits"},
        "AfterSlow": {"Type": "Test::Waits", "DependsOn": "Slow"},
        "Racing": {"Type": "Test::Waits"},
        "Free": {"Type": "Test::Waits"},
    }})

    def resources() -> dict[str, str]:
        found = cfn.operation("ListStackResources")(ctx("cloudformation"), StackName="parallel")  # type: ignore[misc]
        return {r["LogicalResourceId"]: r["ResourceStatus"] for r in found["StackResourceSummaries"]}

    async def scenario() -> None:
        await deployer.start()
        try:
            create = cfn.operation("CreateStack")
            assert create is not None
            stack_id = (await asyncio.to_thread(create, ctx("cloudformation"), StackName="parallel",
                                                TemplateBody=body))["StackId"]
            await clock.advance(0)
            # Slow waits; Free went on meanwhile; AfterSlow waits for Slow; Racing's answer came
            # while its step was under way and was not lost: it is done without any clock time.
            assert resources() == {"Slow": "CREATE_IN_PROGRESS", "Racing": "CREATE_COMPLETE",
                                   "Free": "CREATE_COMPLETE"}
            assert "AfterSlow" not in provider.calls
            token = next(t for t in _tokens(store, stack_id, "Slow"))
            provider.answers[token] = "made-Slow"
            await asyncio.to_thread(cfn.wake, stack_id)
            await clock.advance(0)
            assert set(resources().values()) == {"CREATE_COMPLETE"}
            assert len(set(_tokens(store, stack_id))) == 4  # one request token per resource step
            described = cfn.operation("DescribeStacks")(ctx("cloudformation"), StackName="parallel")  # type: ignore[misc]
            assert described["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
        finally:
            await deployer.stop(1.0)

    try:
        asyncio.run(scenario())
    finally:
        store.close()


def test_a_failure_cancels_the_steps_still_waiting(tmp_path: Path) -> None:
    store = Store(tmp_path / "data", SCHEMA)
    clock = ManualClock()
    provider = Answering()
    deployer = StackDeployer(store.db, clock, {provider.type_name: provider})
    cfn = CloudFormationService(store, clock, {}, wake=deployer.notify,
                                replace_on=lambda kind: provider.replace_on if kind == provider.type_name else None)
    body = json.dumps({"Resources": {"Slow": {"Type": "Test::Waits"},
                                     "Broken": {"Type": "Test::Unknown", "DependsOn": "Slow2"},
                                     "Slow2": {"Type": "Test::Waits", "Properties": {}}}})
    provider.at_once.add("Slow2")

    async def scenario() -> None:
        await deployer.start()
        try:
            create = cfn.operation("CreateStack")
            assert create is not None
            await asyncio.to_thread(create, ctx("cloudformation"), StackName="cancelled", TemplateBody=body)
            await clock.advance(0)
            events = cfn.operation("DescribeStackEvents")(ctx("cloudformation"), StackName="cancelled")  # type: ignore[misc]
            seen = [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
                    for e in reversed(events["StackEvents"])]
            assert ("Broken", "CREATE_FAILED", "Unsupported resource type: Test::Unknown") in seen
            assert ("Slow", "CREATE_FAILED", "Resource creation cancelled") in seen
            assert seen[-1] == ("cancelled", "ROLLBACK_COMPLETE", None)
        finally:
            await deployer.stop(1.0)

    try:
        asyncio.run(scenario())
    finally:
        store.close()
