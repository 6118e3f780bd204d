"""A SAM function's event sources deployed and working on a real server
(tests/templates/sam-events.yaml): SQS, SNS, EventBridgeRule and Schedule events, `Globals`,
`InlineCode`, a policy template and `EventInvokeConfig` with an on-success destination — what
the translator makes of them deploys, and each source invokes the function."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import make_client, wait_for

TEMPLATE = Path(__file__).resolve().parent / "templates" / "sam-events.yaml"


def _settled(cfn: Any, name: str) -> str:
    def ended() -> str | None:
        status = str(cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])
        return None if status.endswith("_IN_PROGRESS") else status

    return wait_for(ended, timeout=60) or "still in progress"


def test_sam_event_sources_deploy_and_invoke_the_function(endpoint: str) -> None:
    cfn = make_client("cloudformation", endpoint)
    cfn.create_stack(StackName="sam-events", TemplateBody=TEMPLATE.read_text(),
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    status = _settled(cfn, "sam-events")
    assert status == "CREATE_COMPLETE", cfn.describe_stack_events(StackName="sam-events")
    outputs = {o["OutputKey"]: o["OutputValue"]
               for o in cfn.describe_stacks(StackName="sam-events")["Stacks"][0]["Outputs"]}
    sqs, sns = make_client("sqs", endpoint), make_client("sns", endpoint)
    events, logs = make_client("events", endpoint), make_client("logs", endpoint)
    lambda_ = make_client("lambda", endpoint)

    # Globals reached the function; the Schedule event is a rule with its expression.
    config = lambda_.get_function_configuration(FunctionName=outputs["Worker"])
    assert (config["Runtime"], config["Timeout"]) == ("python3.12", 10)
    rules = events.list_rule_names_by_target(TargetArn=config["FunctionArn"])["RuleNames"]
    schedules = [events.describe_rule(Name=r).get("ScheduleExpression") for r in rules]
    assert "rate(1 hour)" in schedules

    # Asynchronous sources (SNS, EventBridge): each success lands in Done.
    sns.publish(TopicArn=outputs["TopicArn"], Message="hello")
    events.put_events(Entries=[{"Source": "sluice.test", "DetailType": "ping", "Detail": "{}"}])
    seen: set[str] = set()

    def both_done() -> bool:
        got = sqs.receive_message(QueueUrl=outputs["DoneUrl"], MaxNumberOfMessages=10,
                                  WaitTimeSeconds=2)
        for message in got.get("Messages", []):
            record = json.loads(message["Body"])
            assert record["requestContext"]["condition"] == "Success"
            seen.add(record["responsePayload"]["source"])
        return seen >= {"aws:sns", "sluice.test"}

    assert wait_for(both_done, timeout=40), seen

    # The queue's event source mapping.
    sqs.send_message(QueueUrl=outputs["InboxUrl"], MessageBody="work")

    def polled() -> bool:
        try:
            found = logs.filter_log_events(logGroupName=f"/aws/lambda/{outputs['Worker']}",
                                           filterPattern='"got aws:sqs"')
        except logs.exceptions.ResourceNotFoundException:
            return False
        return bool(found["events"])

    assert wait_for(polled, timeout=30)

    cfn.delete_stack(StackName="sam-events")


def test_a_sam_template_the_translator_refuses(endpoint: str) -> None:
    cfn = make_client("cloudformation", endpoint)
    body = json.dumps({"Transform": "AWS::Serverless-2016-10-31", "Resources": {
        "Fn": {"Type": "AWS::Serverless::Function",
               "Properties": {"InlineCode": "x", "Runtime": "python3.12"}}}})

    with pytest.raises(cfn.exceptions.ClientError) as refused:
        cfn.create_stack(StackName="sam-refused", TemplateBody=body,
                         Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])

    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert error["Message"] == (
        "Transform AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application "
        "Specification document. Number of errors found: 1. Resource with id [Fn] is invalid. "
        "Runtime and Handler needs to be present when PackageType is of type `Zip`")
