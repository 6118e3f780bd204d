"""Stack tags on a real server: CreateStack/UpdateStack `Tags` reach the resources that take
tags, and CloudFormation's aws:cloudformation:* tags are on the types AWS puts them on (buckets,
functions, log groups; not queues, topics or roles)."""

from __future__ import annotations

import json
from typing import Any

from .conftest import make_client, wait_for

TEMPLATE = json.dumps({"Resources": {
    "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"Tags": [{"Key": "own", "Value": "bucket"},
                                                                   {"Key": "team", "Value": "storage"}]}},
    "Queue": {"Type": "AWS::SQS::Queue"},
    "Topic": {"Type": "AWS::SNS::Topic"},
    "Logs": {"Type": "AWS::Logs::LogGroup"},
    "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}}},
    "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
        "Runtime": "python3.12", "Handler": "index.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
        "Code": {"ZipFile": "def handler(event, context):\n    return 1\n"}}},
}})


def _settled(cfn: Any, name: str) -> str:
    def ended() -> str | None:
        status = str(cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])
        return None if status.endswith("_IN_PROGRESS") else status

    return wait_for(ended, timeout=60) or "still in progress"


def _tags_of(endpoint: str, cfn: Any, name: str) -> dict[str, dict[str, str]]:
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]}
    s3, sqs, sns = make_client("s3", endpoint), make_client("sqs", endpoint), make_client("sns", endpoint)
    logs, iam, lambda_ = make_client("logs", endpoint), make_client("iam", endpoint), make_client("lambda", endpoint)
    region_account = "us-east-1:000000000000"
    return {
        "Bucket": {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=physical["Bucket"])["TagSet"]},
        "Queue": sqs.list_queue_tags(QueueUrl=physical["Queue"]).get("Tags", {}),
        "Topic": {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=physical["Topic"])["Tags"]},
        "Logs": logs.list_tags_for_resource(
            resourceArn=f"arn:aws:logs:{region_account}:log-group:{physical['Logs']}")["tags"],
        "Role": {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=physical["Role"])["Tags"]},
        "Fn": lambda_.list_tags(Resource=lambda_.get_function(FunctionName=physical["Fn"])[
            "Configuration"]["FunctionArn"])["Tags"],
    }


def test_stack_tags_reach_the_resources_with_cloudformations_own(endpoint: str) -> None:
    cfn = make_client("cloudformation", endpoint)
    stack_id = cfn.create_stack(StackName="tagged-stack", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"],
                                Tags=[{"Key": "team", "Value": "blue"}])["StackId"]
    assert _settled(cfn, "tagged-stack") == "CREATE_COMPLETE", cfn.describe_stack_events(StackName="tagged-stack")

    def system(logical: str) -> dict[str, str]:
        return {"aws:cloudformation:stack-name": "tagged-stack", "aws:cloudformation:stack-id": stack_id,
                "aws:cloudformation:logical-id": logical}

    assert _tags_of(endpoint, cfn, "tagged-stack") == {
        # The resource's own tag of the same key wins over the stack's.
        "Bucket": {"team": "storage", "own": "bucket", **system("Bucket")},
        "Queue": {"team": "blue"},
        "Topic": {"team": "blue"},
        "Logs": {"team": "blue", **system("Logs")},
        "Role": {"team": "blue"},
        "Fn": {"team": "blue", **system("Fn")},
    }
    # The template's properties are what the stack records: no propagated tag shows there.
    events = cfn.describe_stack_events(StackName="tagged-stack")["StackEvents"]
    queue_props = [e["ResourceProperties"] for e in events if e["LogicalResourceId"] == "Queue"
                   and e.get("ResourceProperties")]
    assert queue_props and all("team" not in p for p in queue_props)

    # New stack tags (same template) update every resource they reach.
    cfn.update_stack(StackName="tagged-stack", UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"],
                     Tags=[{"Key": "team", "Value": "green"}, {"Key": "cost", "Value": "42"}])
    assert _settled(cfn, "tagged-stack") == "UPDATE_COMPLETE", cfn.describe_stack_events(StackName="tagged-stack")

    updated = _tags_of(endpoint, cfn, "tagged-stack")
    assert updated["Queue"] == updated["Topic"] == updated["Role"] == {"team": "green", "cost": "42"}
    assert updated["Fn"] == {"team": "green", "cost": "42", **system("Fn")}
    assert updated["Bucket"] == {"team": "storage", "own": "bucket", "cost": "42", **system("Bucket")}

    # A user still may not set aws: tags on a bucket.
    s3 = make_client("s3", endpoint)
    bucket = cfn.describe_stack_resource(StackName="tagged-stack", LogicalResourceId="Bucket")[
        "StackResourceDetail"]["PhysicalResourceId"]
    try:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "aws:cloudformation:x", "Value": "y"}]})
    except s3.exceptions.ClientError as err:
        assert err.response["Error"]["Code"] == "InvalidTag"
    else:
        raise AssertionError("a user set an aws: tag")
    cfn.delete_stack(StackName="tagged-stack")
    assert _settled(cfn, stack_id) == "DELETE_COMPLETE"
