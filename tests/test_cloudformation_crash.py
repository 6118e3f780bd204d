"""A stack survives `kill -9` mid-deploy: after a restart on the same data dir its operation is
resumed from what was recorded (same request tokens, same generated names) and ends COMPLETE,
with every resource recorded and none made twice or forgotten."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .conftest import make_client, wait_for
from .server import SluiceProcess

# AWS's most resources in a template: the deploy is long enough that a kill lands mid-deploy
# (1.6-2.7 s of it on a quiet machine; half as many can all be done before a loaded machine's
# next poll): the test checks that it did.
QUEUES = 500


def template() -> str:
    # A chain: each queue's dead-letter queue is the one before it, so the deploy is long and ordered.
    resources: dict[str, Any] = {"Q0": {"Type": "AWS::SQS::Queue", "Properties": {
        "VisibilityTimeout": {"Ref": "Visibility"}}}}
    for i in range(1, QUEUES):
        resources[f"Q{i}"] = {"Type": "AWS::SQS::Queue", "Properties": {
            "VisibilityTimeout": {"Ref": "Visibility"},
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [f"Q{i - 1}", "Arn"]}, "maxReceiveCount": 2}}}
    return json.dumps({"Parameters": {"Visibility": {"Type": "Number", "Default": 30}}, "Resources": resources},
                      separators=(",", ":"))


def create(endpoint: str, name: str) -> str:
    """CreateStack of the template, from S3: 500 queues outgrow a TemplateBody (51,200 bytes)."""
    s3 = make_client("s3", endpoint)
    bucket = f"templates-{name}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="chain.json", Body=template().encode())
    cfn = make_client("cloudformation", endpoint)
    return str(cfn.create_stack(StackName=name, TemplateURL=f"{endpoint}/{bucket}/chain.json")["StackId"])


def status(cfn: Any, name: str) -> str:
    return str(cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])


def under_way(cfn: Any, name: str, state: str) -> bool:
    """At least 5 resources reached `state` (in the newest page of events) and the stack's
    operation is still in progress."""
    found = cfn.describe_stack_events(StackName=name)["StackEvents"]
    done = sum(1 for e in found if e["ResourceStatus"] == state and e["LogicalResourceId"] != name)
    return done >= 5 and status(cfn, name).endswith("_IN_PROGRESS")


def test_sigkill_mid_create_update_and_delete_resumes_after_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = SluiceProcess(data).start()
    try:
        cfn, sqs = make_client("cloudformation", server.endpoint), make_client("sqs", server.endpoint)
        stack_id = create(server.endpoint, "crashy")
        assert wait_for(lambda: under_way(cfn, "crashy", "CREATE_COMPLETE"), timeout=30, interval=0.01)
        server.kill()  # mid-deploy
        server = SluiceProcess(data, port=server.port).start()
        done = wait_for(lambda: status(cfn, "crashy") != "CREATE_IN_PROGRESS", timeout=60)
        assert done and status(cfn, "crashy") == "CREATE_COMPLETE"
        resources = [r for page in cfn.get_paginator("list_stack_resources").paginate(StackName="crashy")
                     for r in page["StackResourceSummaries"]]
        assert len(resources) == QUEUES and {r["ResourceStatus"] for r in resources} == {"CREATE_COMPLETE"}
        # Every queue made is recorded, and none was made twice (a resumed create reuses its name).
        urls = sorted(sqs.list_queues(QueueNamePrefix="crashy-", MaxResults=1000)["QueueUrls"])
        assert urls == sorted(r["PhysicalResourceId"] for r in resources)

        # An update changing every queue in place, killed half-way: resumed, every queue changed once.
        cfn.update_stack(StackName="crashy", UsePreviousTemplate=True,
                         Parameters=[{"ParameterKey": "Visibility", "ParameterValue": "50"}])
        assert wait_for(lambda: under_way(cfn, "crashy", "UPDATE_COMPLETE"), timeout=30, interval=0.01)
        server.kill()  # mid-update
        server = SluiceProcess(data, port=server.port).start()
        assert wait_for(lambda: status(cfn, "crashy") == "UPDATE_COMPLETE", timeout=60)
        for url in urls:
            assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])[
                "Attributes"]["VisibilityTimeout"] == "50"
        assert sorted(sqs.list_queues(QueueNamePrefix="crashy-", MaxResults=1000)["QueueUrls"]) == urls

        # Killed as soon as DeleteStack has answered: the delete is recorded, its work barely begun.
        cfn.delete_stack(StackName="crashy")
        server.kill()
        server = SluiceProcess(data, port=server.port).start()
        assert wait_for(lambda: status(cfn, stack_id) == "DELETE_COMPLETE", timeout=60)
        assert sqs.list_queues(QueueNamePrefix="crashy-").get("QueueUrls", []) == []
    finally:
        server.stop()


def test_a_stop_mid_deploy_leaves_the_rest_for_the_restart(tmp_path: Path) -> None:
    """SIGTERM: the deployer takes no new step (no resource fails because its service is going
    away); the restart carries the create on to CREATE_COMPLETE."""
    data = tmp_path / "data"
    server = SluiceProcess(data).start()
    try:
        cfn = make_client("cloudformation", server.endpoint)
        create(server.endpoint, "stopped")
        assert wait_for(lambda: under_way(cfn, "stopped", "CREATE_COMPLETE"), timeout=30, interval=0.01)
        assert server.stop() == 0
        server = SluiceProcess(data, port=server.port).start()
        assert wait_for(lambda: status(cfn, "stopped") != "CREATE_IN_PROGRESS", timeout=60)
        assert status(cfn, "stopped") == "CREATE_COMPLETE"
        failed = [e for page in cfn.get_paginator("describe_stack_events").paginate(StackName="stopped")
                  for e in page["StackEvents"] if e["ResourceStatus"].endswith("FAILED")]
        assert failed == []
        assert "Traceback" not in server.log_path.read_text()
    finally:
        server.stop()
