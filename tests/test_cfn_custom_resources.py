"""Lambda-backed custom resources on a real server: the function gets CloudFormation's request
document, PUTs its response to the ResponseURL, and the stack goes on (or rolls back) with it.

tests/templates/custom-echo.yaml journals every request it receives to a bucket, so the test
reads exactly what the handler was sent; cdk-bucket-notifications.yaml is the shape CDK gives a
bucket notification (Custom::S3BucketNotifications)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import make_client, wait_for
from .server import SluiceProcess

TEMPLATES = Path(__file__).resolve().parent / "templates"


@pytest.fixture(scope="module")
def cfn(endpoint: str) -> Any:
    return make_client("cloudformation", endpoint)


def _stack(cfn: Any, name: str) -> dict[str, Any]:
    return dict(cfn.describe_stacks(StackName=name)["Stacks"][0])


def _settled(cfn: Any, name: str) -> dict[str, Any]:
    """The stack once its operation has ended (a *_COMPLETE or *_FAILED status)."""
    def ended() -> dict[str, Any] | None:
        stack = _stack(cfn, name)
        return stack if not stack["StackStatus"].endswith("_IN_PROGRESS") else None

    stack = wait_for(ended, timeout=90)
    assert stack, f"{name} still in progress: {_stack(cfn, name)['StackStatus']}"
    return stack


def _outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _journal(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return dict(json.loads(body))


def test_custom_resource_create_update_delete(cfn: Any, s3: Any, bucket: str) -> None:
    name = f"echo-{uuid.uuid4().hex[:8]}"
    template = (TEMPLATES / "custom-echo.yaml").read_text()
    cfn.create_stack(StackName=name, TemplateBody=template, Capabilities=["CAPABILITY_IAM"],
                     Parameters=[{"ParameterKey": "Journal", "ParameterValue": bucket}])

    stack = _settled(cfn, name)

    assert stack["StackStatus"] == "CREATE_COMPLETE"
    # Fn::GetAtt reads the response's Data; Ref is its PhysicalResourceId.
    assert _outputs(stack) == {"Greeting": "hello world", "Count": "3", "EchoId": "echo-world"}
    created = _journal(s3, bucket, "Echo/Create")
    assert created["RequestType"] == "Create"
    assert created["StackId"] == stack["StackId"]
    assert created["LogicalResourceId"] == "Echo"
    assert created["ResourceType"] == "Custom::Echo"
    assert created["ServiceToken"].startswith("arn:aws:lambda:us-east-1:000000000000:function:")
    # Every scalar property arrives as a string, as CloudFormation sends them.
    assert created["ResourceProperties"] == {
        "ServiceToken": created["ServiceToken"], "Journal": bucket, "Name": "world", "Count": "3",
        "Fail": "false"}
    assert "PhysicalResourceId" not in created and "OldResourceProperties" not in created
    assert created["ResponseURL"].startswith("http://127.0.0.1:")
    resource = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Echo")
    assert resource["StackResourceDetail"]["PhysicalResourceId"] == "echo-world"

    cfn.update_stack(StackName=name, UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"],
                     Parameters=[{"ParameterKey": "Journal", "UsePreviousValue": True},
                                 {"ParameterKey": "Name", "ParameterValue": "moon"}])
    stack = _settled(cfn, name)

    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert _outputs(stack)["Greeting"] == "hello moon"
    updated = _journal(s3, bucket, "Echo/Update")
    assert updated["PhysicalResourceId"] == "echo-world"
    assert updated["ResourceProperties"]["Name"] == "moon"
    assert updated["OldResourceProperties"]["Name"] == "world"

    stack_id = stack["StackId"]
    cfn.delete_stack(StackName=name)
    assert _settled(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"

    deleted = _journal(s3, bucket, "Echo/Delete")
    assert deleted["RequestType"] == "Delete"
    assert deleted["PhysicalResourceId"] == "echo-world"


def test_a_failed_response_rolls_the_stack_back_with_its_reason(cfn: Any, bucket: str) -> None:
    name = f"echo-fail-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=name, TemplateBody=(TEMPLATES / "custom-echo.yaml").read_text(),
                     Capabilities=["CAPABILITY_IAM"],
                     Parameters=[{"ParameterKey": "Journal", "ParameterValue": bucket},
                                 {"ParameterKey": "Fail", "ParameterValue": "true"}])

    stack = _settled(cfn, name)

    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    [failed] = [e for e in events
                if e["LogicalResourceId"] == "Echo" and e["ResourceStatus"] == "CREATE_FAILED"]
    reason = failed["ResourceStatusReason"]
    assert reason.startswith("Received response status [FAILED] from custom resource. "
                             "Message returned: the template asked to fail (RequestId: ")
    # The rollback sends a Delete for the PhysicalResourceId the FAILED answer gave, as AWS does.
    deleted = _journal(make_client("s3", cfn.meta.endpoint_url), bucket, "Echo/Delete")
    assert deleted["PhysicalResourceId"] == "echo-world"


def test_a_handler_using_the_cfn_response_module(cfn: Any) -> None:
    name = f"answer-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=name, TemplateBody=(TEMPLATES / "custom-cfnresponse.yaml").read_text(),
                     Capabilities=["CAPABILITY_IAM"])

    stack = _settled(cfn, name)

    assert stack["StackStatus"] == "CREATE_COMPLETE", cfn.describe_stack_events(StackName=name)
    assert _outputs(stack) == {"Answer": "42", "Id": "answer-create"}
    cfn.delete_stack(StackName=name)
    assert _settled(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"


def test_an_sns_backed_custom_resource(cfn: Any) -> None:
    name = f"via-sns-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=name, TemplateBody=(TEMPLATES / "custom-sns.yaml").read_text(),
                     Capabilities=["CAPABILITY_IAM"])

    stack = _settled(cfn, name)

    assert stack["StackStatus"] == "CREATE_COMPLETE", cfn.describe_stack_events(StackName=name)
    assert _outputs(stack) == {"Type": "Create", "Id": "via-sns"}
    cfn.delete_stack(StackName=name)
    assert _settled(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"


def test_cdk_style_bucket_notifications(cfn: Any, endpoint: str) -> None:
    name = f"cdk-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=name,
                     TemplateBody=(TEMPLATES / "cdk-bucket-notifications.yaml").read_text(),
                     Capabilities=["CAPABILITY_IAM"])

    stack = _settled(cfn, name)

    assert stack["StackStatus"] == "CREATE_COMPLETE", cfn.describe_stack_events(StackName=name)
    outputs = _outputs(stack)
    s3, logs = make_client("s3", endpoint), make_client("logs", endpoint)
    config = s3.get_bucket_notification_configuration(Bucket=outputs["BucketName"])
    [lambda_config] = config["LambdaFunctionConfigurations"]
    assert lambda_config["LambdaFunctionArn"].endswith(f":function:{outputs['ProcessorName']}")
    assert lambda_config["Events"] == ["s3:ObjectCreated:*"]

    s3.put_object(Bucket=outputs["BucketName"], Key="hello.txt", Body=b"hi")

    group = f"/aws/lambda/{outputs['ProcessorName']}"

    def logged() -> bool:
        try:
            found = logs.filter_log_events(logGroupName=group, filterPattern='"processed hello.txt"')
        except logs.exceptions.ResourceNotFoundException:
            return False
        return bool(found["events"])

    assert wait_for(logged, timeout=30)

    s3.delete_object(Bucket=outputs["BucketName"], Key="hello.txt")  # AWS keeps a bucket not empty
    cfn.delete_stack(StackName=name)
    assert _settled(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE", [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
        for e in cfn.describe_stack_events(StackName=stack["StackId"])["StackEvents"]]


@pytest.fixture(scope="module")
def hour_per_second(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    """A server whose engine waits pass 3600 times faster: CloudFormation's hour for a custom
    resource's response takes a second."""
    proc = SluiceProcess(tmp_path_factory.mktemp("cfn-custom") / "data", "--time-scale", "3600")
    yield proc.start()
    proc.stop()


def test_no_response_within_the_hour_fails_the_resource(hour_per_second: SluiceProcess) -> None:
    cfn = make_client("cloudformation", hour_per_second.endpoint)
    cfn.create_stack(StackName="silent", TemplateBody=(TEMPLATES / "custom-silent.yaml").read_text(),
                     Capabilities=["CAPABILITY_IAM"])

    assert _settled(cfn, "silent")["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cfn.describe_stack_events(StackName="silent")["StackEvents"]
    [failed] = [e for e in events
                if e["LogicalResourceId"] == "Never" and e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed["ResourceStatusReason"].startswith(
        "CloudFormation did not receive a response from your Custom Resource. "
        "Please check your logs for requestId [")


def test_a_stack_past_its_timeout_in_minutes_rolls_back(hour_per_second: SluiceProcess) -> None:
    cfn = make_client("cloudformation", hour_per_second.endpoint)
    unchecked = make_client("cloudformation", hour_per_second.endpoint, parameter_validation=False)
    with pytest.raises(cfn.exceptions.ClientError) as refused:
        unchecked.create_stack(StackName="late", TemplateBody=(TEMPLATES / "custom-silent.yaml").read_text(),
                         Capabilities=["CAPABILITY_IAM"], TimeoutInMinutes=0)
    assert "Member must have value greater than or equal to 1" in refused.value.response["Error"]["Message"]

    # One minute on an engine clock 3600 times faster: the silent handler's hour never comes.
    cfn.create_stack(StackName="late", TemplateBody=(TEMPLATES / "custom-silent.yaml").read_text(),
                     Capabilities=["CAPABILITY_IAM"], TimeoutInMinutes=1)

    assert _settled(cfn, "late")["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cfn.describe_stack_events(StackName="late")["StackEvents"]
    [rollback] = [e for e in events if e["ResourceStatus"] == "ROLLBACK_IN_PROGRESS"]
    assert rollback["ResourceStatusReason"] == (
        "Stack creation time exceeded the specified timeout. Rollback requested by user.")
    assert not [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"
                and e.get("ResourceStatusReason") != "Resource creation cancelled"]


def test_service_timeout_shortens_the_wait(cfn: Any) -> None:
    name = f"silent-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=name, TemplateBody=(TEMPLATES / "custom-silent.yaml").read_text(),
                     Capabilities=["CAPABILITY_IAM"],
                     Parameters=[{"ParameterKey": "Timeout", "ParameterValue": "1"}])

    assert _settled(cfn, name)["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    assert any(e["LogicalResourceId"] == "Never" and e["ResourceStatus"] == "CREATE_FAILED"
               for e in events)


def _put(url: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="PUT", headers={"content-type": ""})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_the_response_url_refuses_unknown_requests_and_oversized_bodies(endpoint: str) -> None:
    base = f"{endpoint}/_sluice/cloudformation/custom-resource-responses/"

    status, body = _put(base + str(uuid.uuid4()), b'{"Status": "SUCCESS"}')
    assert status == 404 and b"no custom resource request has this id" in body
    assert _put(base + "x", b"x" * (65 * 1024))[0] == 413
    assert _put(f"{endpoint}/_sluice/status", b"{}")[0] == 405


def test_a_server_killed_while_a_custom_resource_works_finishes_the_stack(tmp_path: Path) -> None:
    """kill -9 while the function is still working: its answer is lost with the server, but the
    invocation is durable (Lambda's async queue runs it again after the restart) and the step's
    request is recorded, so the new answer completes the same step."""
    server = SluiceProcess(tmp_path / "data").start()
    try:
        cfn = make_client("cloudformation", server.endpoint)
        cfn.create_stack(StackName="slow", TemplateBody=(TEMPLATES / "custom-slow.yaml").read_text(),
                         Capabilities=["CAPABILITY_IAM"])

        def answer_pending() -> bool:
            events = cfn.describe_stack_events(StackName="slow")["StackEvents"]
            return any(e["LogicalResourceId"] == "Answer" and e["ResourceStatus"] == "CREATE_IN_PROGRESS"
                       for e in events)

        assert wait_for(answer_pending, timeout=30)
        server.kill()
        server.start()
        cfn = make_client("cloudformation", server.endpoint)

        stack = _settled(cfn, "slow")

        assert stack["StackStatus"] == "CREATE_COMPLETE", cfn.describe_stack_events(StackName="slow")
        assert _outputs(stack) == {"Answer": "42", "Id": "answer-create"}
    finally:
        server.stop()


def _replace_stack(cfn: Any, name: str, bucket: str, **params: str) -> dict[str, Any]:
    given = [{"ParameterKey": "Journal", "ParameterValue": bucket},
             *({"ParameterKey": k, "ParameterValue": v} for k, v in params.items())]
    body = (TEMPLATES / "custom-replace.yaml").read_text()
    try:
        cfn.describe_stacks(StackName=name)
    except cfn.exceptions.ClientError:
        cfn.create_stack(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_IAM"], Parameters=given)
    else:
        cfn.update_stack(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_IAM"], Parameters=given)
    return _settled(cfn, name)


def _journaled(s3: Any, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_an_update_answered_with_a_new_id_deletes_the_old_one_in_cleanup(cfn: Any, s3: Any, bucket: str) -> None:
    name = f"replace-{uuid.uuid4().hex[:8]}"
    assert _outputs(_replace_stack(cfn, name, bucket))["ThingId"] == "id-a"

    stack = _replace_stack(cfn, name, bucket, Name="b")

    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert _outputs(stack)["ThingId"] == "id-b"
    # The handler's new id made it a replacement: the old id got a Delete, with its old properties.
    assert _journaled(s3, bucket) == ["Thing/Create/none", "Thing/Delete/id-a", "Thing/Update/id-a"]
    old = _journal(s3, bucket, "Thing/Delete/id-a")
    assert old["ResourceProperties"]["Name"] == "a"
    events = [(e["ResourceStatus"], e.get("PhysicalResourceId")) for e in
              reversed(cfn.describe_stack_events(StackName=name)["StackEvents"])
              if e["LogicalResourceId"] in ("Thing", name)]
    cleanup = events.index(("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", stack["StackId"]))
    assert events[cleanup + 1:] == [("DELETE_IN_PROGRESS", "id-a"), ("DELETE_COMPLETE", "id-a"),
                                    ("UPDATE_COMPLETE", stack["StackId"])]

    # An update that fails after the handler answered with a new id goes back to the old one
    # and deletes the new one in the rollback's cleanup.
    stack = _replace_stack(cfn, name, bucket, Name="c", BreakAfter="true")

    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert _outputs(stack)["ThingId"] == "id-b"
    assert "Thing/Delete/id-c" in _journaled(s3, bucket)
    assert "Thing/Delete/id-b" not in _journaled(s3, bucket)

    cfn.delete_stack(StackName=name)
    assert _settled(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert "Thing/Delete/id-b" in _journaled(s3, bucket)


def test_a_rollback_sends_a_delete_to_a_custom_resource_still_waiting(cfn: Any, s3: Any, bucket: str) -> None:
    name = f"held-{uuid.uuid4().hex[:8]}"

    stack = _replace_stack(cfn, name, bucket, Hold="true", Break="true")

    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    thing = [(e["ResourceStatus"], e.get("ResourceStatusReason")) for e in reversed(events)
             if e["LogicalResourceId"] == "Thing"]
    assert ("CREATE_FAILED", "Resource creation cancelled") in thing
    assert thing[-2:] == [("DELETE_IN_PROGRESS", None), ("DELETE_COMPLETE", None)]
    [delete] = [k for k in _journaled(s3, bucket) if k.startswith("Thing/Delete/")]
    sent = _journal(s3, bucket, delete)
    # The Delete names a physical id although the Create was never answered (as AWS's always does).
    assert sent["PhysicalResourceId"].startswith(f"{name}-Thing-")
    assert sent["ResourceProperties"]["Name"] == "a"
