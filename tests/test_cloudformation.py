"""CloudFormation stacks end to end: a real server, real boto3 (and the AWS CLI), real resources."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import AwsCli, make_client, wait_for

TERMINAL = ("CREATE_COMPLETE", "CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_COMPLETE",
            "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED", "UPDATE_FAILED", "DELETE_COMPLETE", "DELETE_FAILED")

QUEUES = """
AWSTemplateFormatVersion: "2010-09-09"
Description: two queues and a topic
Parameters:
  Visibility: {Type: Number, Default: 40, MinValue: 0, MaxValue: 43200}
  Secret: {Type: String, NoEcho: true, Default: hush}
Resources:
  Work:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: !Ref Visibility
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 3}
  Dead:
    Type: AWS::SQS::Queue
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: !Sub "${AWS::StackName} alerts"
      Tags: [{Key: secret, Value: !Ref Secret}]
Outputs:
  WorkUrl: {Value: !Ref Work, Export: {Name: !Sub "${AWS::StackName}-work-url"}}
  DeadArn: {Value: !GetAtt Dead.Arn, Description: the DLQ}
"""


@pytest.fixture(scope="module")
def cfn(endpoint: str) -> Any:
    return make_client("cloudformation", endpoint)


@pytest.fixture(scope="module")
def sqs(endpoint: str) -> Any:
    return make_client("sqs", endpoint)


def stack_name() -> str:
    return f"st-{uuid.uuid4().hex[:8]}"


def settle(cfn: Any, name: str) -> dict[str, Any]:
    """The stack once its operation has ended (DescribeStacks by name or id)."""
    stack = wait_for(lambda: next((s for s in cfn.describe_stacks(StackName=name)["Stacks"]
                                   if s["StackStatus"] in TERMINAL), None), timeout=60)
    assert stack is not None, cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    return stack


def events(cfn: Any, name: str) -> list[tuple[str, str, str]]:
    """(logical id, status, reason) oldest first."""
    found = cfn.describe_stack_events(StackName=name)["StackEvents"]
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", "")) for e in reversed(found)]


def queue_exists(sqs: Any, url: str) -> bool:
    try:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return True
    except ClientError as err:
        assert err.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
        return False


def test_stack_lifecycle_create_update_in_place_delete(cfn: Any, sqs: Any, endpoint: str) -> None:
    name = stack_name()
    stack_id = cfn.create_stack(StackName=name, TemplateBody=QUEUES)["StackId"]
    assert stack_id.startswith(f"arn:aws:cloudformation:us-east-1:000000000000:stack/{name}/")
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Description"] == "two queues and a topic"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
        "Visibility": "40", "Secret": "****"}
    outputs = {o["OutputKey"]: o for o in stack["Outputs"]}
    work_url = outputs["WorkUrl"]["OutputValue"]
    assert work_url.startswith(f"{endpoint}/000000000000/{name}-Work-")
    assert outputs["WorkUrl"]["ExportName"] == f"{name}-work-url"
    assert outputs["DeadArn"]["Description"] == "the DLQ"
    # The generated names: <stack>-<logical>-<13 upper-case letters and digits>.
    suffix = work_url.rsplit("-", 1)[1]
    assert len(suffix) == 13 and suffix.isalnum() and suffix.upper() == suffix
    attrs = sqs.get_queue_attributes(QueueUrl=work_url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "40"
    assert json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"] == outputs["DeadArn"]["OutputValue"]
    # Dependency order: Dead before Work (Work's RedrivePolicy needs Dead's Arn).
    seen = events(cfn, name)
    assert seen[0] == (name, "CREATE_IN_PROGRESS", "User Initiated")
    assert seen[-1] == (name, "CREATE_COMPLETE", "")
    done = [e[0] for e in seen if e[1] == "CREATE_COMPLETE"]
    assert done.index("Dead") < done.index("Work")
    resources = {r["LogicalResourceId"]: r for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]}
    assert resources["Work"]["PhysicalResourceId"] == work_url
    assert resources["Topic"]["ResourceType"] == "AWS::SNS::Topic"
    assert {r["ResourceStatus"] for r in resources.values()} == {"CREATE_COMPLETE"}
    detail = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Dead")["StackResourceDetail"]
    assert detail["PhysicalResourceId"].endswith(f"/{name}-Dead-" + detail["PhysicalResourceId"].rsplit("-", 1)[1])
    by_physical = cfn.describe_stack_resources(PhysicalResourceId=work_url)["StackResources"]
    # As on AWS: a physical id finds its stack, and the answer lists all that stack's resources.
    assert sorted((r["StackName"], r["LogicalResourceId"]) for r in by_physical) == [
        (name, "Dead"), (name, "Topic"), (name, "Work")]
    exports = {e["Name"]: e for e in cfn.list_exports()["Exports"]}
    assert exports[f"{name}-work-url"]["Value"] == work_url
    assert exports[f"{name}-work-url"]["ExportingStackId"] == stack_id

    # An update that changes a property in place: the same queue, its attribute changed.
    with pytest.raises(ClientError) as err:
        cfn.update_stack(StackName=name, TemplateBody=QUEUES)
    assert err.value.response["Error"]["Message"] == "No updates are to be performed."
    cfn.update_stack(StackName=name, UsePreviousTemplate=True,
                     Parameters=[{"ParameterKey": "Visibility", "ParameterValue": "90"},
                                 {"ParameterKey": "Secret", "UsePreviousValue": True}])
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert sqs.get_queue_attributes(QueueUrl=work_url, AttributeNames=["VisibilityTimeout"])[
        "Attributes"]["VisibilityTimeout"] == "90"
    update_events = events(cfn, name)
    assert ("Work", "UPDATE_COMPLETE", "") in update_events
    assert [e for e in update_events if e[0] == "Dead" and e[1].startswith("UPDATE")] == []  # unchanged: untouched
    assert (name, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "") in update_events

    # A NoEcho value is masked in the events' resource properties too.
    secretive = cfn.describe_stack_events(StackName=name)["StackEvents"]
    topic_props = [e["ResourceProperties"] for e in secretive if e["LogicalResourceId"] == "Topic"
                   and "ResourceProperties" in e]
    assert topic_props and all("****" in p and "hush" not in p for p in topic_props)
    cfn.delete_stack(StackName=name)
    gone = settle(cfn, stack_id)
    assert gone["StackStatus"] == "DELETE_COMPLETE"
    assert not queue_exists(sqs, work_url)
    with pytest.raises(ClientError) as err:
        cfn.describe_stacks(StackName=name)
    assert err.value.response["Error"]["Message"] == f"Stack with id {name} does not exist"
    assert f"{name}-work-url" not in {e["Name"] for e in cfn.list_exports()["Exports"]}
    listed = {s["StackId"]: s["StackStatus"] for s in
              cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]}
    assert listed[stack_id] == "DELETE_COMPLETE"


def test_stack_events_go_to_the_notification_topics(cfn: Any, sqs: Any, endpoint: str) -> None:
    sns = make_client("sns", endpoint)
    name = stack_name()
    topic = sns.create_topic(Name=f"{name}-events")["TopicArn"]
    inbox = sqs.create_queue(QueueName=f"{name}-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"})
    stack_id = cfn.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": {"Q": Q}}),
                                NotificationARNs=[topic])["StackId"]
    assert settle(cfn, name)["NotificationARNs"] == [topic]
    got: list[str] = []

    def complete() -> bool:
        got.extend(m["Body"] for m in sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages", []))
        return any("ResourceStatus='CREATE_COMPLETE'" in b and "ResourceType='AWS::CloudFormation::Stack'" in b
                   for b in got)

    assert wait_for(complete)
    first = next(b for b in got if "ResourceStatus='CREATE_IN_PROGRESS'" in b and f"LogicalResourceId='{name}'" in b)
    lines = dict(line.split("=", 1) for line in first.splitlines())
    assert lines["StackId"] == f"'{stack_id}'" and lines["StackName"] == f"'{name}'"
    assert lines["ResourceStatusReason"] == "'User Initiated'" and lines["Namespace"] == "'000000000000'"
    assert any("LogicalResourceId='Q'" in b and "ResourceStatus='CREATE_COMPLETE'" in b for b in got)
    cfn.delete_stack(StackName=name)


def test_a_failing_resource_rolls_the_stack_back_with_its_error(cfn: Any, sqs: Any) -> None:
    name = stack_name()
    template = {
        "Resources": {
            "First": {"Type": "AWS::SQS::Queue"},
            "Bad": {"Type": "AWS::S3::Bucket", "DependsOn": "First", "Properties": {"BucketName": "Not_A_Valid_Bucket"}},
        },
    }
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    seen = events(cfn, name)
    failed = [e for e in seen if e[1] == "CREATE_FAILED"]
    assert [e[0] for e in failed] == ["Bad"]
    assert failed[0][2].startswith('Resource handler returned message: "')
    assert "InvalidBucketName" in failed[0][2]
    assert (name, "ROLLBACK_IN_PROGRESS",
            "The following resource(s) failed to create: [Bad]. Rollback requested by user.") in seen
    assert ("First", "DELETE_COMPLETE", "") in seen
    first_url = next(r["PhysicalResourceId"] for r in cfn.list_stack_resources(StackName=name)[
        "StackResourceSummaries"] if r["LogicalResourceId"] == "First")
    assert not queue_exists(sqs, first_url)
    with pytest.raises(ClientError) as err:
        cfn.update_stack(StackName=name, TemplateBody=json.dumps(template))
    assert err.value.response["Error"]["Message"] == (
        f"Stack:{stack['StackId']} is in ROLLBACK_COMPLETE state and can not be updated.")


def test_cloudformation_native_types_deploy(cfn: Any) -> None:
    name = stack_name()
    template = {"Conditions": {"CDKMetadataAvailable": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}},
                "Resources": {"CDKMetadata": {"Type": "AWS::CDK::Metadata", "Condition": "CDKMetadataAvailable",
                                              "Properties": {"Analytics": "v2:deflate64:H4sI"}},
                              "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
                "Outputs": {"Handle": {"Value": {"Ref": "Handle"}}}}
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Outputs"][0]["OutputValue"].startswith("http")
    cfn.delete_stack(StackName=name)


def test_language_extensions_functions_without_for_each(cfn: Any, sqs: Any) -> None:
    name = stack_name()
    template = {"Transform": "AWS::LanguageExtensions",
                "Parameters": {"Names": {"Type": "CommaDelimitedList", "Default": "a,b,c"}},
                "Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"Tags": [
                    {"Key": "count", "Value": {"Fn::Length": {"Ref": "Names"}}},
                    {"Key": "json", "Value": {"Fn::ToJsonString": {"n": {"Ref": "Names"}}}}]}}}}
    with pytest.raises(ClientError) as err:
        cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    assert err.value.response["Error"]["Message"] == "Requires capabilities : [CAPABILITY_AUTO_EXPAND]"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_AUTO_EXPAND"])
    assert settle(cfn, name)["StackStatus"] == "CREATE_COMPLETE"
    url = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Q")["StackResourceDetail"]["PhysicalResourceId"]
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"count": "3", "json": '{"n":["a","b","c"]}'}
    cfn.delete_stack(StackName=name)
    with_for_each = {**template, "Resources": {"Fn::ForEach::Queues": ["N", ["a"], {"Q${N}": {"Type": "AWS::SQS::Queue"}}],
                                               "Q": {"Type": "AWS::SQS::Queue"}}}
    with pytest.raises(ClientError) as err:
        cfn.create_stack(StackName=name, TemplateBody=json.dumps(with_for_each), Capabilities=["CAPABILITY_AUTO_EXPAND"])
    assert err.value.response["Error"]["Message"] == "Fn::ForEach (AWS::LanguageExtensions) is not supported by Sluice"


def test_an_unsupported_type_fails_the_stack_naming_it(cfn: Any) -> None:
    name = stack_name()
    cfn.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": {"Db": {"Type": "AWS::RDS::DBInstance"}}}))
    assert settle(cfn, name)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert ("Db", "CREATE_FAILED", "Unsupported resource type: AWS::RDS::DBInstance") in events(cfn, name)


def test_on_failure_delete_and_do_nothing(cfn: Any) -> None:
    broken = json.dumps({"Resources": {"Bad": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "A_B"}}}})
    deleted, kept = stack_name(), stack_name()
    stack_id = cfn.create_stack(StackName=deleted, TemplateBody=broken, OnFailure="DELETE")["StackId"]
    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    assert [e[1] for e in events(cfn, stack_id) if e[0] == deleted] == [
        "CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE", "DELETE_IN_PROGRESS", "DELETE_COMPLETE"]
    cfn.create_stack(StackName=kept, TemplateBody=broken, DisableRollback=True)
    stack = settle(cfn, kept)
    assert (stack["StackStatus"], stack["StackStatusReason"]) == (
        "CREATE_FAILED", "The following resource(s) failed to create: [Bad]. ")
    # A stack kept as it failed is fixed by an update.
    fixed = json.dumps({"Resources": {"Bad": {"Type": "AWS::S3::Bucket"}, "Q": Q}})
    cfn.update_stack(StackName=kept, TemplateBody=fixed)
    assert settle(cfn, kept)["StackStatus"] == "UPDATE_COMPLETE"
    assert {r["LogicalResourceId"]: r["ResourceStatus"] for r in cfn.list_stack_resources(StackName=kept)[
        "StackResourceSummaries"]} == {"Bad": "CREATE_COMPLETE", "Q": "CREATE_COMPLETE"}
    cfn.delete_stack(StackName=kept)


def test_deletion_policy_retain_keeps_the_resource(cfn: Any, sqs: Any) -> None:
    name = stack_name()
    template = {"Resources": {"Kept": {"Type": "AWS::SQS::Queue", "DeletionPolicy": "Retain"},
                              "Dropped": {"Type": "AWS::SQS::Queue"}}}
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    assert settle(cfn, name)["StackStatus"] == "CREATE_COMPLETE"
    urls = {r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]}
    stack_id = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackId"]
    cfn.delete_stack(StackName=name)
    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    assert queue_exists(sqs, urls["Kept"])
    assert not queue_exists(sqs, urls["Dropped"])
    assert ("Kept", "DELETE_SKIPPED", "") in events(cfn, stack_id)
    sqs.delete_queue(QueueUrl=urls["Kept"])


def test_replacement_makes_a_new_resource_and_deletes_the_old_one_in_cleanup(cfn: Any, sqs: Any) -> None:
    name = stack_name()
    body: dict[str, Any] = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{name}-one"}}},
            "Outputs": {"Url": {"Value": {"Ref": "Q"}}}}
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(body))
    old_url = settle(cfn, name)["Outputs"][0]["OutputValue"]
    body["Resources"]["Q"]["Properties"]["QueueName"] = f"{name}-two"
    cfn.update_stack(StackName=name, TemplateBody=json.dumps(body))
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    new_url = stack["Outputs"][0]["OutputValue"]
    assert new_url.endswith(f"/{name}-two")
    assert queue_exists(sqs, new_url) and not queue_exists(sqs, old_url)
    seen = events(cfn, name)
    cleanup = seen.index((name, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", ""))
    assert ("Q", "UPDATE_IN_PROGRESS", "Requested update requires the creation of a new physical resource; hence"
            " creating one.") in seen[:cleanup]
    assert ("Q", "DELETE_COMPLETE", "") in seen[cleanup:]
    cfn.delete_stack(StackName=name)


def test_a_resource_dropped_from_the_template_is_deleted_and_termination_protection(cfn: Any, sqs: Any) -> None:
    name = stack_name()
    body: dict[str, Any] = {"Resources": {"Keep": {"Type": "AWS::SQS::Queue"}, "Drop": {"Type": "AWS::SQS::Queue"}}}
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(body), EnableTerminationProtection=True)
    assert settle(cfn, name)["EnableTerminationProtection"] is True
    urls = {r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]}
    del body["Resources"]["Drop"]
    cfn.update_stack(StackName=name, TemplateBody=json.dumps(body))
    assert settle(cfn, name)["StackStatus"] == "UPDATE_COMPLETE"
    assert not queue_exists(sqs, urls["Drop"]) and queue_exists(sqs, urls["Keep"])
    assert [r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]] == [
        "Keep"]
    with pytest.raises(ClientError) as err:
        cfn.delete_stack(StackName=name)
    assert err.value.response["Error"]["Message"] == (
        f"Stack [{name}] cannot be deleted while TerminationProtection is enabled")
    stack_id = cfn.update_termination_protection(StackName=name, EnableTerminationProtection=False)["StackId"]
    cfn.delete_stack(StackName=name)
    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    assert not queue_exists(sqs, urls["Keep"])


def test_a_failed_update_rolls_back_to_the_previous_template(cfn: Any, sqs: Any) -> None:
    name = stack_name()
    good = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}}},
            "Outputs": {"Url": {"Value": {"Ref": "Q"}}}}
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(good))
    url = settle(cfn, name)["Outputs"][0]["OutputValue"]
    bad = json.loads(json.dumps(good))
    bad["Resources"]["Q"]["Properties"]["VisibilityTimeout"] = 60
    bad["Resources"]["Extra"] = {"Type": "AWS::SQS::Queue", "DependsOn": "Q"}
    bad["Resources"]["Broken"] = {"Type": "AWS::S3::Bucket", "DependsOn": "Extra",
                                  "Properties": {"BucketName": "UPPER"}}
    cfn.update_stack(StackName=name, TemplateBody=json.dumps(bad))
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])[
        "Attributes"]["VisibilityTimeout"] == "30"
    assert {r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]} == {"Q"}
    # boto3 decodes a JSON TemplateBody into a dict (a botocore customization).
    assert cfn.get_template(StackName=name)["TemplateBody"] == good
    seen = events(cfn, name)
    assert (name, "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [Broken]. ") in seen
    assert ("Extra", "DELETE_COMPLETE", "") in seen
    cfn.delete_stack(StackName=name)


def test_a_failed_replacement_keeps_the_old_resource(cfn: Any, sqs: Any) -> None:
    name = stack_name()
    body: dict[str, Any] = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{name}-a"}}},
                            "Outputs": {"Url": {"Value": {"Ref": "Q"}}}}
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(body))
    url = settle(cfn, name)["Outputs"][0]["OutputValue"]
    body["Resources"]["Q"]["Properties"]["QueueName"] = "not a valid name!"
    cfn.update_stack(StackName=name, TemplateBody=json.dumps(body))
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert stack["Outputs"][0]["OutputValue"] == url
    assert queue_exists(sqs, url)
    resource = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Q")["StackResourceDetail"]
    assert (resource["PhysicalResourceId"], resource["ResourceStatus"]) == (url, "UPDATE_COMPLETE")
    cfn.delete_stack(StackName=name)


def test_change_sets_list_exactly_the_changed_property(cfn: Any, sqs: Any) -> None:
    name = stack_name()
    created = cfn.create_change_set(StackName=name, ChangeSetName="first", ChangeSetType="CREATE",
                                    TemplateBody=QUEUES)
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    cfn.get_waiter("change_set_create_complete").wait(ChangeSetName=created["Id"], WaiterConfig={"Delay": 1})
    first = cfn.describe_change_set(ChangeSetName="first", StackName=name)
    assert first["ExecutionStatus"] == "AVAILABLE"
    assert sorted((c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"])
                  for c in first["Changes"]) == [("Add", "Dead"), ("Add", "Topic"), ("Add", "Work")]
    cfn.execute_change_set(ChangeSetName=created["Id"])
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["ChangeSetId"] == created["Id"]

    # Nothing changed: FAILED, in the words `aws cloudformation deploy` looks for.
    cfn.create_change_set(StackName=name, ChangeSetName="same", TemplateBody=QUEUES)
    same = cfn.describe_change_set(ChangeSetName="same", StackName=name)
    assert (same["Status"], same["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert same["StatusReason"] == ("The submitted information didn't contain changes. Submit different"
                                    " information to create a change set.")
    with pytest.raises(ClientError) as err:
        cfn.execute_change_set(ChangeSetName="same", StackName=name)
    assert err.value.response["Error"]["Code"] == "InvalidChangeSetStatus"

    changed = QUEUES.replace("DisplayName: !Sub \"${AWS::StackName} alerts\"", "DisplayName: renamed")
    cs = cfn.create_change_set(StackName=name, ChangeSetName="rename", TemplateBody=changed)
    found = cfn.describe_change_set(ChangeSetName=cs["Id"])
    assert found["Status"] == "CREATE_COMPLETE"
    assert [c["ResourceChange"] for c in found["Changes"]] == [{
        "Action": "Modify", "LogicalResourceId": "Topic", "ResourceType": "AWS::SNS::Topic",
        "PhysicalResourceId": next(r["PhysicalResourceId"] for r in cfn.list_stack_resources(StackName=name)[
            "StackResourceSummaries"] if r["LogicalResourceId"] == "Topic"),
        "Replacement": "False", "Scope": ["Properties"],
        "Details": [{"Target": {"Attribute": "Properties", "Name": "DisplayName", "RequiresRecreation": "Never"},
                     "Evaluation": "Static", "ChangeSource": "DirectModification"}],
    }]
    assert sorted((s["ChangeSetName"], s["ExecutionStatus"]) for s in cfn.list_change_sets(StackName=name)[
        "Summaries"]) == [("first", "EXECUTE_COMPLETE"), ("rename", "AVAILABLE"), ("same", "UNAVAILABLE")]
    cfn.execute_change_set(ChangeSetName=cs["Id"])
    assert settle(cfn, name)["StackStatus"] == "UPDATE_COMPLETE"
    tagged = changed.replace("  Dead:\n    Type: AWS::SQS::Queue\n", "  Dead:\n    Type: AWS::SQS::Queue\n"
                             "    Properties:\n      Tags: [{Key: team, Value: blue}]\n")
    tags_cs = cfn.create_change_set(StackName=name, ChangeSetName="tags", TemplateBody=tagged)
    change = cfn.describe_change_set(ChangeSetName=tags_cs["Id"])["Changes"][0]["ResourceChange"]
    assert (change["LogicalResourceId"], change["Scope"], change["Details"][0]["Target"]) == (
        "Dead", ["Tags"], {"Attribute": "Tags", "RequiresRecreation": "Never"})
    # A used-up change set's name may be used again (the CLI names them after the current second).
    again = cfn.create_change_set(StackName=name, ChangeSetName="same", TemplateBody=QUEUES)
    assert again["Id"] != same["ChangeSetId"]
    cfn.create_change_set(StackName=name, ChangeSetName="pending", TemplateBody=QUEUES)
    with pytest.raises(ClientError) as err:  # an AVAILABLE one may not be replaced
        cfn.create_change_set(StackName=name, ChangeSetName="pending", TemplateBody=QUEUES)
    assert err.value.response["Error"]["Code"] == "AlreadyExistsException"
    cfn.delete_change_set(ChangeSetName="rename", StackName=name)
    with pytest.raises(ClientError) as err:
        cfn.describe_change_set(ChangeSetName="rename", StackName=name)
    assert err.value.response["Error"]["Code"] == "ChangeSetNotFound"
    cfn.delete_stack(StackName=name)


def test_exports_imports_and_an_export_in_use(cfn: Any) -> None:
    producer, consumer = stack_name(), stack_name()
    cfn.create_stack(StackName=producer, TemplateBody=QUEUES)
    assert settle(cfn, producer)["StackStatus"] == "CREATE_COMPLETE"
    importing = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {
        "Tags": [{"Key": "source", "Value": {"Fn::ImportValue": f"{producer}-work-url"}}]}}}}
    cfn.create_stack(StackName=consumer, TemplateBody=json.dumps(importing))
    assert settle(cfn, consumer)["StackStatus"] == "CREATE_COMPLETE"
    assert cfn.list_imports(ExportName=f"{producer}-work-url")["Imports"] == [consumer]
    # A second stack may not export the same name.
    clash = stack_name()
    cfn.create_stack(StackName=clash, TemplateBody=QUEUES.replace("${AWS::StackName}-work-url", f"{producer}-work-url"))
    assert settle(cfn, clash)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert cfn.describe_stacks(StackName=clash)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    assert (clash, "ROLLBACK_IN_PROGRESS", f"Export with name {producer}-work-url is already exported by stack"
            f" {producer}. Rollback requested by user.") in events(cfn, clash)
    # The producer can't be deleted while the consumer imports its export.
    cfn.delete_stack(StackName=producer)
    stack = settle(cfn, producer)
    assert stack["StackStatus"] == "DELETE_FAILED"
    assert stack["StackStatusReason"] == f"Export {producer}-work-url cannot be deleted as it is in use by {consumer}"
    consumer_id = cfn.describe_stacks(StackName=consumer)["Stacks"][0]["StackId"]
    cfn.delete_stack(StackName=consumer)  # may be gone before the next call: wait for it by its id
    settle(cfn, consumer_id)
    cfn.delete_stack(StackName=producer)
    cfn.delete_stack(StackName=clash)


def test_a_template_holds_at_most_500_resources(cfn: Any) -> None:
    def queues(count: int) -> str:
        return json.dumps({"Resources": {f"Q{i}": {"Type": "AWS::SQS::Queue"} for i in range(count)}},
                          separators=(",", ":"))

    assert cfn.validate_template(TemplateBody=queues(500))["Parameters"] == []
    for call in (lambda: cfn.validate_template(TemplateBody=queues(501)),
                 lambda: cfn.create_stack(StackName="too-many", TemplateBody=queues(501))):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "ValidationError"
        assert err.value.response["Error"]["Message"] == (
            "Template format error: Number of resources, 501, is greater than maximum allowed, 500")


def test_bad_requests_get_aws_errors(cfn: Any) -> None:
    def code_and_message(**kw: Any) -> tuple[str, str]:
        with pytest.raises(ClientError) as err:
            cfn.create_stack(**kw)
        return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]

    body = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    assert code_and_message(StackName="1bad", TemplateBody=body)[0] == "ValidationError"
    assert code_and_message(StackName="ok", TemplateBody="Resources: [") [1].startswith(
        "Template format error: YAML not well-formed.")
    assert code_and_message(StackName="ok", TemplateBody=json.dumps({"Resources": {"R": {"Type": "AWS::IAM::Role",
                                                                                          "Properties": {}}}})) == (
        "InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_IAM]")
    named = json.dumps({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "x"}}}})
    assert code_and_message(StackName="ok", TemplateBody=named, Capabilities=["CAPABILITY_IAM"]) == (
        "InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_NAMED_IAM]")
    assert code_and_message(StackName="ok", TemplateBody=json.dumps(
        {"Parameters": {"P": {"Type": "String"}}, "Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})) == (
        "ValidationError", "Parameters: [P] must have values")
    name = stack_name()
    cfn.create_stack(StackName=name, TemplateBody=body)
    assert code_and_message(StackName=name, TemplateBody=body) == (
        "AlreadyExistsException", f"Stack [{name}] already exists")
    settle(cfn, name)
    cfn.delete_stack(StackName=name)
    with pytest.raises(ClientError) as err:
        cfn.describe_stack_events(StackName="never-made")
    assert err.value.response["Error"]["Message"] == "Stack with id never-made does not exist"
    cfn.delete_stack(StackName="never-made")  # deleting what does not exist succeeds, as on AWS


def test_template_from_s3_urls_and_template_apis(cfn: Any, s3: Any, bucket: str, endpoint: str) -> None:
    s3.put_object(Bucket=bucket, Key="t/queues.yaml", Body=QUEUES.encode())
    summary = cfn.get_template_summary(TemplateURL=f"https://{bucket}.s3.amazonaws.com/t/queues.yaml")
    assert summary["ResourceTypes"] == ["AWS::SNS::Topic", "AWS::SQS::Queue"]
    assert {p["ParameterKey"]: p.get("DefaultValue") for p in summary["Parameters"]} == {
        "Visibility": "40", "Secret": "hush"}
    validated = cfn.validate_template(TemplateURL=f"https://s3.us-east-1.amazonaws.com/{bucket}/t/queues.yaml")
    assert validated["Description"] == "two queues and a topic"
    assert [p["NoEcho"] for p in validated["Parameters"] if p["ParameterKey"] == "Secret"] == [True]
    name = stack_name()
    cfn.create_stack(StackName=name, TemplateURL=f"{endpoint}/{bucket}/t/queues.yaml")
    assert settle(cfn, name)["StackStatus"] == "CREATE_COMPLETE"
    got = cfn.get_template(StackName=name)
    assert got["TemplateBody"] == QUEUES and got["StagesAvailable"] == ["Original"]
    # A version of the object, as `aws cloudformation package` may name it.
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="t/v.yaml", Body=QUEUES.encode())["VersionId"]
    s3.put_object(Bucket=bucket, Key="t/v.yaml", Body=QUEUES.replace("two queues and a topic", "later").encode())
    assert cfn.validate_template(TemplateURL=f"{endpoint}/{bucket}/t/v.yaml")["Description"] == "later"
    assert cfn.validate_template(TemplateURL=f"{endpoint}/{bucket}/t/v.yaml?versionId={first}")[
        "Description"] == "two queues and a topic"
    with pytest.raises(ClientError) as err:
        cfn.validate_template(TemplateURL=f"https://{bucket}.s3.amazonaws.com/t/missing.yaml")
    assert err.value.response["Error"]["Code"] == "ValidationError"
    cfn.delete_stack(StackName=name)


def test_the_aws_cli_drives_stacks(aws_cli: AwsCli, cfn: Any, tmp_path: Any) -> None:
    name = stack_name()
    path = tmp_path / "queues.yaml"
    path.write_text(QUEUES)
    out = aws_cli("cloudformation", "validate-template", "--template-body", f"file://{path}")
    assert json.loads(out.stdout)["Description"] == "two queues and a topic"
    out = aws_cli("cloudformation", "create-stack", "--stack-name", name, "--template-body", f"file://{path}",
                  "--parameters", "ParameterKey=Visibility,ParameterValue=15")
    assert json.loads(out.stdout)["StackId"].split("/")[1] == name
    assert settle(cfn, name)["StackStatus"] == "CREATE_COMPLETE"
    out = aws_cli("cloudformation", "describe-stack-resources", "--stack-name", name)
    assert sorted(r["LogicalResourceId"] for r in json.loads(out.stdout)["StackResources"]) == ["Dead", "Topic", "Work"]
    aws_cli("cloudformation", "delete-stack", "--stack-name", name)


def test_aws_cloudformation_deploy_creates_updates_and_accepts_an_empty_change_set(
        aws_cli: AwsCli, cfn: Any, sqs: Any, tmp_path: Any) -> None:
    name = stack_name()
    path = tmp_path / "queues.yaml"
    path.write_text(QUEUES)

    def deploy(*extra: str, check: bool = True) -> Any:
        return aws_cli("cloudformation", "deploy", "--template-file", str(path), "--stack-name", name,
                       "--parameter-overrides", *extra, check=check)

    out = deploy("Visibility=20")
    assert f"Successfully created/updated stack - {name}" in out.stdout
    # ExecuteChangeSet answered once the stack had settled: the CLI's first poll saw it complete.
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    again = deploy("Visibility=20", check=False)
    assert again.returncode == 255 and "No changes to deploy. Stack" in again.stdout + again.stderr
    quiet = deploy("Visibility=20", "--no-fail-on-empty-changeset")
    assert f"No changes to deploy. Stack {name} is up to date" in quiet.stdout
    deploy("Visibility=25")
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    url = next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "WorkUrl")
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])[
        "Attributes"]["VisibilityTimeout"] == "25"
    aws_cli("cloudformation", "delete-stack", "--stack-name", name)


Q = {"Type": "AWS::SQS::Queue"}
MALFORMED: list[Any] = [
    {"Resources": {"A": {"Type": "AWS::SQS::Queue", "DependsOn": 5}}},
    {"Resources": {"A": {"Type": "AWS::SQS::Queue", "DependsOn": [[1]]}}},
    {"Resources": {"A": {"Type": "AWS::SQS::Queue", "Condition": ["x"]}}},
    {"Resources": {"A": {"Type": "AWS::SQS::Queue", "DeletionPolicy": {"Fn::If": ["x", 1, 2]}}}},
    {"Resources": {"A": Q}, "Outputs": {"O": "str"}},
    {"Resources": {"A": Q}, "Outputs": {"O": {"Description": "no value"}}},
    {"Resources": {"A": Q}, "Outputs": {"O": {"Value": {"Ref": "A"}, "Export": "x"}}},
    {"Resources": {"A": Q}, "Parameters": {"P": "x"}},
    {"Resources": {"A": Q}, "Parameters": {"P": {"Type": "String", "AllowedPattern": "(["}}},
    {"Resources": {"A": Q}, "Parameters": {"P": {"Type": "String", "MinLength": "abc"}}},
    {"Resources": {"A": Q}, "Parameters": {"P": {"Type": "Number", "Default": "x"}}},
    {"Resources": {"A": Q}, "Conditions": {"C": {"Fn::Equals": 5}}},
    {"Resources": {"A": Q}, "Mappings": {"M": "x"}},
    {"Resources": {"A": Q}, "Transform": 5},
    {"Resources": {"A": {"Type": "AWS::SQS::Queue", "Properties": {"X": {"Fn::Sub": 5}}}}},
    {"Resources": {"A": {"Type": "AWS::SQS::Queue", "Properties": {"X": {"Fn::GetAtt": 5}}}}},
    {"Resources": {"A": {"Type": "AWS::SQS::Queue", "Properties": {"X": {"Ref": 5}}}}},
    {"Resources": {"A": {"Type": "AWS::SQS::Queue", "Properties": {"X": {"Fn::If": ["Nope", 1, 2]}}}}},
    {"Resources": {"A": {"Type": "AWS::SQS::Queue", "Properties": {"X": {"Fn::Join": [",", 5]}}}}},
    {"Resources": {"A": {"Type": "AWS::SQS::Queue", "Properties": {"X": {"Fn::ImportValue": "never-exported"}}}}},
    {"Resources": {"A": {"Type": "AWS::SQS::Queue", "Properties": {"X": {"Fn::GetAtt": ["Nope", "Arn"]}}}}},
    "Resources:\n  A:\n    Type: AWS::SQS::Queue\n    Properties:\n      X: !Sub\n        k: v\n",
    "Resources:\n  A: &a\n    Type: AWS::SQS::Queue\n  B: *a\n",
    "Resources:\n  A:\n    Type: AWS::SQS::Queue\n  A:\n    Type: AWS::SQS::Queue\n",
    "Resources:\n  A: {Type: AWS::SQS::Queue}\nOutputs:\n  ? [a]\n  : x\n",
    "!Ref x",
    "- a",
]


@pytest.mark.parametrize("template", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_templates_are_refused_with_validation_errors(cfn: Any, template: Any) -> None:
    body = template if isinstance(template, str) else json.dumps(template)
    for call in (lambda: cfn.create_stack(StackName="malformed", TemplateBody=body),
                 lambda: cfn.create_change_set(StackName="malformed", ChangeSetName="c", ChangeSetType="CREATE",
                                               TemplateBody=body)):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert err.value.response["Error"]["Code"] == "ValidationError"
        message = err.value.response["Error"]["Message"]
        assert message.startswith(("Template format error: ", "Template error: ", "No export named", "Parameter"))
