"""A stack survives `kill -9` mid-deploy: after a restart on the same data dir its operation is
resumed from what was recorded (same request tokens, same generated names) and ends COMPLETE,
with every resource recorded and none made twice or forgotten."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .conftest import make_client, wait_for
from .server import SluiceProcess

QUEUES = 40


def template() -> str:
    # A chain: each queue's dead-letter queue is the one before it, so the deploy is long and ordered.
    resources: dict[str, Any] = {"Q0": {"Type": "AWS::SQS::Queue", "Properties": {
        "VisibilityTimeout": {"Ref": "Visibility"}}}}
    for i in range(1, QUEUES):
        resources[f"Q{i}"] = {"Type": "AWS::SQS::Queue", "Properties": {
            "VisibilityTimeout": {"Ref": "Visibility"},
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [f"Q{i - 1}", "Arn"]}, "maxReceiveCount": 2}}}
    return json.dumps({"Parameters": {"Visibility": {"Type": "Number", "Default": 30}}, "Resources": resources})


def status(cfn: Any, name: str) -> str:
    return str(cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])


def completed(cfn: Any, name: str, state: str) -> int:
    found = cfn.describe_stack_events(StackName=name)["StackEvents"]
    return sum(1 for e in found if e["ResourceStatus"] == state and e["LogicalResourceId"] != name)


def test_sigkill_mid_create_update_and_delete_resumes_after_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = SluiceProcess(data).start()
    try:
        cfn, sqs = make_client("cloudformation", server.endpoint), make_client("sqs", server.endpoint)
        stack_id = cfn.create_stack(StackName="crashy", TemplateBody=template())["StackId"]
        made = wait_for(lambda: (n := completed(cfn, "crashy", "CREATE_COMPLETE")) >= 5 and n, timeout=30,
                        interval=0.01)
        server.kill()
        assert 5 <= made < QUEUES  # killed mid-deploy
        server = SluiceProcess(data, port=server.port).start()
        done = wait_for(lambda: status(cfn, "crashy") != "CREATE_IN_PROGRESS", timeout=60)
        assert done and status(cfn, "crashy") == "CREATE_COMPLETE"
        resources = cfn.list_stack_resources(StackName="crashy")["StackResourceSummaries"]
        assert len(resources) == QUEUES and {r["ResourceStatus"] for r in resources} == {"CREATE_COMPLETE"}
        # Every queue made is recorded, and none was made twice (a resumed create reuses its name).
        urls = sorted(sqs.list_queues(QueueNamePrefix="crashy-")["QueueUrls"])
        assert urls == sorted(r["PhysicalResourceId"] for r in resources)

        # An update changing every queue in place, killed half-way: resumed, every queue changed once.
        cfn.update_stack(StackName="crashy", UsePreviousTemplate=True,
                         Parameters=[{"ParameterKey": "Visibility", "ParameterValue": "50"}])
        changed = wait_for(lambda: (n := completed(cfn, "crashy", "UPDATE_COMPLETE")) >= 5 and n, timeout=30,
                           interval=0.01)
        server.kill()
        assert 5 <= changed < QUEUES  # killed mid-update
        server = SluiceProcess(data, port=server.port).start()
        assert wait_for(lambda: status(cfn, "crashy") == "UPDATE_COMPLETE", timeout=60)
        for url in urls:
            assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])[
                "Attributes"]["VisibilityTimeout"] == "50"
        assert sorted(sqs.list_queues(QueueNamePrefix="crashy-")["QueueUrls"]) == urls

        # Killed as soon as DeleteStack has answered: the delete is recorded, its work barely begun.
        cfn.delete_stack(StackName="crashy")
        server.kill()
        server = SluiceProcess(data, port=server.port).start()
        assert wait_for(lambda: status(cfn, stack_id) == "DELETE_COMPLETE", timeout=60)
        assert sqs.list_queues(QueueNamePrefix="crashy-").get("QueueUrls", []) == []
    finally:
        server.stop()
