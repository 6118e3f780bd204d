"""Every resource type through a real stack on a real server: CloudFormation templates deployed,
updated and deleted with boto3, the AWS-side resources checked with boto3 as a user would."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from .conftest import listed, make_client

ACCOUNT = "000000000000"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
HANDLER = "def handler(event, context):\n    print('seen', event)\n    return 'ok'\n"
FN_ARN = {"Fn::GetAtt": ["Worker", "Arn"]}


@pytest.fixture(scope="module")
def cfn(endpoint: str) -> Any:
    return make_client("cloudformation", endpoint)


@pytest.fixture(scope="module")
def clients(endpoint: str) -> dict[str, Any]:
    return {name: make_client(name, endpoint) for name in ("s3", "lambda", "sqs", "sns", "iam", "events", "logs",
                                                           "cloudwatch")}


def settle(cfn: Any, stack: str, timeout: float = 60) -> dict[str, Any]:
    """The stack once its operation has ended (the deploy runs in the server's engine)."""
    deadline = time.monotonic() + timeout
    while True:
        found = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        if not found["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def outputs(found: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs") or []}


def failures(cfn: Any, stack: str) -> list[tuple[str, str]]:
    events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    return [(e["LogicalResourceId"], e.get("ResourceStatusReason", "")) for e in events
            if e["ResourceStatus"].endswith("_FAILED")]


def physical(cfn: Any, stack: str) -> dict[str, str]:
    rows = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    return {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in rows}


def pipeline(memory: int = 128, bucket_name: str | None = None, retries: int = 1, with_alarm: bool = True) -> dict[str, Any]:
    """A template with every type a pipeline is made of, wired as a user wires them."""
    bucket: dict[str, Any] = {
        "Type": "AWS::S3::Bucket", "DependsOn": "S3MayInvoke",
        "Properties": {"VersioningConfiguration": {"Status": "Enabled"}, "Tags": [{"Key": "stage", "Value": "dev"}],
                       "NotificationConfiguration": {
            "LambdaConfigurations": [{"Event": "s3:ObjectCreated:*", "Function": FN_ARN}],
            "QueueConfigurations": [{"Event": "s3:ObjectRemoved:*", "Queue": {"Fn::GetAtt": ["Dlq", "Arn"]},
                                     "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "in/"}]}}}]}}}
    bucket["DependsOn"] = ["S3MayInvoke", "DlqPolicy"]
    if bucket_name:
        bucket["Properties"]["BucketName"] = bucket_name
    resources: dict[str, Any] = {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": TRUST,
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
            "Policies": [{"PolicyName": "read", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}]}},
        "Worker": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.12", "Handler": "index.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"ZipFile": HANDLER}, "MemorySize": memory, "Timeout": 10,
            "Environment": {"Variables": {"QUEUE": {"Ref": "Dlq"}}},
            "Tags": [{"Key": "app", "Value": "pipeline"}]}},
        "S3MayInvoke": {"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": {"Ref": "Worker"}, "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com",
            "SourceAccount": {"Ref": "AWS::AccountId"}}},
        "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600}},
        "DlqPolicy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {"Queues": [{"Ref": "Dlq"}], "PolicyDocument": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                                                    "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["Dlq", "Arn"]}}]}}},
        "Async": {"Type": "AWS::Lambda::EventInvokeConfig", "Properties": {
            "FunctionName": {"Ref": "Worker"}, "Qualifier": "$LATEST", "MaximumRetryAttempts": retries,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["Dlq", "Arn"]}}}}},
        "Uploads": bucket,
        "Version": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Worker"}}},
        "Live": {"Type": "AWS::Lambda::Alias", "Properties": {
            "FunctionName": {"Ref": "Worker"}, "Name": "live",
            "FunctionVersion": {"Fn::GetAtt": ["Version", "Version"]}}},
        "Alerts": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "alerts"}},
        "AlertsToDlq": {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": {"Ref": "Alerts"}, "Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["Dlq", "Arn"]},
            "RawMessageDelivery": "true"}},
        "AlertsPolicy": {"Type": "AWS::SNS::TopicPolicy", "Properties": {"Topics": [{"Ref": "Alerts"}], "PolicyDocument": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                                    "Action": "sns:Publish", "Resource": {"Ref": "Alerts"}}]}}},
        "Nightly": {"Type": "AWS::Events::Rule", "Properties": {
            "ScheduleExpression": "cron(0 3 * * ? *)", "Targets": [{"Id": "worker", "Arn": FN_ARN}]}},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": {"Fn::Sub": "/aws/lambda/${Worker}"}, "RetentionInDays": 14}},
        "Extra": {"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": "send", "Roles": [{"Ref": "Role"}], "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["Dlq", "Arn"]}}]}}},
        "Shared": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "Roles": [{"Ref": "Role"}], "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}}},
    }
    if with_alarm:
        resources["Errors"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "Namespace": "AWS/Lambda", "MetricName": "Errors", "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": "Worker"}}],
            "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold", "AlarmActions": [{"Ref": "Alerts"}]}}
    out = {k: {"Value": v} for k, v in {
        "BucketArn": {"Fn::GetAtt": ["Uploads", "Arn"]}, "BucketDomain": {"Fn::GetAtt": ["Uploads", "DomainName"]},
        "BucketRegional": {"Fn::GetAtt": ["Uploads", "RegionalDomainName"]},
        "BucketWebsite": {"Fn::GetAtt": ["Uploads", "WebsiteURL"]},
        "BucketDualStack": {"Fn::GetAtt": ["Uploads", "DualStackDomainName"]},
        "FunctionArn": FN_ARN, "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]}, "RoleId": {"Fn::GetAtt": ["Role", "RoleId"]},
        "QueueUrl": {"Ref": "Dlq"}, "QueueArn": {"Fn::GetAtt": ["Dlq", "Arn"]},
        "QueueName": {"Fn::GetAtt": ["Dlq", "QueueName"]}, "TopicArn": {"Ref": "Alerts"},
        "TopicName": {"Fn::GetAtt": ["Alerts", "TopicName"]}, "VersionRef": {"Ref": "Version"},
        "AliasRef": {"Ref": "Live"}, "RuleArn": {"Fn::GetAtt": ["Nightly", "Arn"]},
        "LogsArn": {"Fn::GetAtt": ["Logs", "Arn"]}, "ManagedRef": {"Ref": "Shared"},
        "ManagedVersion": {"Fn::GetAtt": ["Shared", "DefaultVersionId"]},
        "PermissionId": {"Fn::GetAtt": ["S3MayInvoke", "Id"]}, "SubscriptionRef": {"Ref": "AlertsToDlq"},
    }.items()}
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources, "Outputs": out}


def test_a_pipeline_stack_configures_every_resource_then_updates_and_deletes_them(cfn: Any, clients: dict[str, Any]) -> None:
    stack = f"pipe-{uuid.uuid4().hex[:6]}"
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(pipeline()), Capabilities=["CAPABILITY_IAM"])
    found = settle(cfn, stack)
    assert found["StackStatus"] == "CREATE_COMPLETE", failures(cfn, stack)
    out, ids = outputs(found), physical(cfn, stack)
    bucket, function, queue_url = ids["Uploads"], ids["Worker"], ids["Dlq"]

    # Generated names, Ref values and every attribute, as AWS makes them.
    assert bucket.startswith(f"{stack}-uploads-") and bucket == bucket.lower()
    assert function.startswith(f"{stack}-Worker-")
    assert out["BucketArn"] == f"arn:aws:s3:::{bucket}" and out["BucketDomain"] == f"{bucket}.s3.amazonaws.com"
    assert out["BucketRegional"] == f"{bucket}.s3.us-east-1.amazonaws.com"
    assert out["BucketWebsite"] == f"http://{bucket}.s3-website-us-east-1.amazonaws.com"
    assert out["BucketDualStack"] == f"{bucket}.s3.dualstack.us-east-1.amazonaws.com"
    assert out["FunctionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}"
    assert out["QueueUrl"] == queue_url == clients["sqs"].get_queue_url(QueueName=out["QueueName"])["QueueUrl"]
    assert out["QueueArn"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:{out['QueueName']}"
    assert out["TopicArn"] == f"arn:aws:sns:us-east-1:{ACCOUNT}:{out['TopicName']}"
    assert out["VersionRef"] == f"{out['FunctionArn']}:1" and out["AliasRef"] == f"{out['FunctionArn']}:live"
    assert out["RuleArn"] == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{ids['Nightly']}"
    assert out["LogsArn"] == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/{function}:*"
    assert out["ManagedRef"].startswith(f"arn:aws:iam::{ACCOUNT}:policy/{stack}-Shared-") and out["ManagedVersion"] == "v1"
    assert out["PermissionId"] == ids["S3MayInvoke"] and out["SubscriptionRef"].startswith(out["TopicArn"] + ":")
    role = clients["iam"].get_role(RoleName=ids["Role"])["Role"]
    assert (out["RoleArn"], out["RoleId"]) == (role["Arn"], role["RoleId"])

    # The services' side, as a user reads it.
    s3, lam, sqs = clients["s3"], clients["lambda"], clients["sqs"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    # The template's tag, and the ones CloudFormation adds to the buckets it makes.
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [
        {"Key": "stage", "Value": "dev"}, {"Key": "aws:cloudformation:stack-name", "Value": stack},
        {"Key": "aws:cloudformation:logical-id", "Value": "Uploads"},
        {"Key": "aws:cloudformation:stack-id", "Value": found["StackId"]}]
    config = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert config["LambdaFunctionConfigurations"][0]["LambdaFunctionArn"] == out["FunctionArn"]
    assert config["QueueConfigurations"][0]["QueueArn"] == out["QueueArn"]
    fn = lam.get_function(FunctionName=function)
    assert fn["Configuration"]["Environment"]["Variables"] == {"QUEUE": queue_url}
    assert fn["Configuration"]["MemorySize"] == 128 and fn["Tags"] == {
        "app": "pipeline", "aws:cloudformation:stack-name": stack, "aws:cloudformation:logical-id": "Worker",
        "aws:cloudformation:stack-id": found["StackId"]}
    invoke_config = lam.get_function_event_invoke_config(FunctionName=function, Qualifier="$LATEST")
    assert invoke_config["MaximumRetryAttempts"] == 1
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == out["QueueArn"]
    statement = json.loads(lam.get_policy(FunctionName=function)["Policy"])["Statement"][0]
    assert statement["Sid"] == ids["S3MayInvoke"] and statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert lam.get_alias(FunctionName=function, Name="live")["FunctionVersion"] == "1"
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert attrs["MessageRetentionPeriod"] == "1209600" and json.loads(attrs["Policy"])["Statement"][0]["Action"] == "sqs:SendMessage"
    subs = clients["sns"].list_subscriptions_by_topic(TopicArn=out["TopicArn"])["Subscriptions"]
    assert [s["Endpoint"] for s in subs] == [out["QueueArn"]]
    assert clients["events"].list_targets_by_rule(Rule=ids["Nightly"])["Targets"][0]["Arn"] == out["FunctionArn"]
    group = clients["logs"].describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{function}")["logGroups"][0]
    assert group["retentionInDays"] == 14
    iam = clients["iam"]
    assert iam.list_role_policies(RoleName=ids["Role"])["PolicyNames"] == ["read", "send"]
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=ids["Role"])["AttachedPolicies"]}
    assert out["ManagedRef"] in attached
    alarm = clients["cloudwatch"].describe_alarms(AlarmNames=[ids["Errors"]])["MetricAlarms"][0]
    assert alarm["AlarmActions"] == [out["TopicArn"]] and alarm["Dimensions"] == [{"Name": "FunctionName", "Value": function}]

    # Update: memory and retries change in place, a named bucket replaces the generated one,
    # the alarm leaves the template.
    named = f"{stack}-named-bucket"
    cfn.update_stack(StackName=stack, TemplateBody=json.dumps(pipeline(memory=256, bucket_name=named, retries=0,
                                                                        with_alarm=False)),
                     Capabilities=["CAPABILITY_IAM"])
    found = settle(cfn, stack)
    assert found["StackStatus"] == "UPDATE_COMPLETE", failures(cfn, stack)
    after = physical(cfn, stack)
    assert after["Worker"] == function and after["Uploads"] == named and "Errors" not in after
    assert lam.get_function_configuration(FunctionName=function)["MemorySize"] == 256
    assert lam.get_function_event_invoke_config(FunctionName=function, Qualifier="$LATEST")["MaximumRetryAttempts"] == 0
    assert s3.get_bucket_notification_configuration(Bucket=named)["LambdaFunctionConfigurations"]
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert named in buckets and bucket not in buckets
    assert clients["cloudwatch"].describe_alarms(AlarmNames=[ids["Errors"]])["MetricAlarms"] == []

    # Delete: every resource is gone.
    cfn.delete_stack(StackName=stack)
    found = settle(cfn, found["StackId"])
    assert found["StackStatus"] == "DELETE_COMPLETE", failures(cfn, found["StackId"])
    assert named not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert function not in {f["FunctionName"] for f in listed(lam, "list_functions", "Functions")}
    assert ids["Role"] not in {r["RoleName"] for r in listed(iam, "list_roles", "Roles")}
    assert out["TopicArn"] not in {t["TopicArn"] for t in listed(clients["sns"], "list_topics", "Topics")}
    assert queue_url not in listed(sqs, "list_queues", "QueueUrls")
    assert out["ManagedRef"] not in {p["Arn"] for p in listed(iam, "list_policies", "Policies", Scope="Local")}
    assert clients["events"].list_rules(NamePrefix=ids["Nightly"])["Rules"] == []
    assert clients["logs"].describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{function}")["logGroups"] == []


def test_a_resource_the_service_refuses_rolls_the_stack_back_with_its_error(cfn: Any, clients: dict[str, Any]) -> None:
    stack = f"bad-{uuid.uuid4().hex[:6]}"
    template = {"Resources": {
        "Fine": {"Type": "AWS::SQS::Queue"},
        "Broken": {"Type": "AWS::Lambda::EventInvokeConfig", "DependsOn": "Fine", "Properties": {
            "FunctionName": "no-such-function", "Qualifier": "$LATEST", "MaximumRetryAttempts": 5}},
        "Odd": {"Type": "AWS::SNS::Topic", "DependsOn": "Broken", "Properties": {"Colour": "blue"}}}}
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    found = settle(cfn, stack)
    assert found["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = dict(failures(cfn, stack))
    assert reasons["Broken"].startswith('Resource handler returned message: "1 validation error detected: '
                                        "Value '5' at 'maximumRetryAttempts' failed to satisfy constraint: "
                                        'Member must have value less than or equal to 2')
    assert "Error Code: ValidationException" in reasons["Broken"]
    queue = physical(cfn, stack)["Fine"]
    assert queue not in listed(clients["sqs"], "list_queues", "QueueUrls")

    stack = f"odd-{uuid.uuid4().hex[:6]}"
    template = {"Resources": {"Odd": {"Type": "AWS::SNS::Topic", "Properties": {"Colour": "blue"}}}}
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    assert settle(cfn, stack)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert dict(failures(cfn, stack))["Odd"] == ("Properties validation failed for resource Odd with message: "
                                                 "[#: extraneous key [Colour] is not permitted]")


# The shape of the stack SAM CLI deploys for its artifacts (`aws-sam-cli-managed-default`).
MANAGED = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: []
Resources:
  SamCliSourceBucket:
    Type: AWS::S3::Bucket
    Properties:
      PublicAccessBlockConfiguration:
        BlockPublicAcls: true
        BlockPublicPolicy: true
        IgnorePublicAcls: true
        RestrictPublicBuckets: true
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault:
              SSEAlgorithm: aws:kms
      VersioningConfiguration:
        Status: Enabled
      Tags:
        - Key: ManagedStackSource
          Value: AwsSamCli
  SamCliSourceBucketBucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref SamCliSourceBucket
      PolicyDocument:
        Statement:
          - Action: ["s3:GetObject"]
            Effect: Allow
            Resource: !Join ["", ["arn:", !Ref "AWS::Partition", ":s3:::", !Ref SamCliSourceBucket, "/*"]]
            Principal:
              Service: serverlessrepo.amazonaws.com
            Condition:
              StringEquals:
                aws:SourceAccount: !Ref AWS::AccountId
          - Action: ["s3:*"]
            Effect: Deny
            Resource:
              - !Sub "arn:${AWS::Partition}:s3:::${SamCliSourceBucket}"
              - !Sub "arn:${AWS::Partition}:s3:::${SamCliSourceBucket}/*"
            Principal: "*"
            Condition:
              Bool:
                aws:SecureTransport: false
Outputs:
  SourceBucket:
    Value: !Ref SamCliSourceBucket
"""


def test_sam_clis_managed_artifacts_stack_deploys(cfn: Any, clients: dict[str, Any]) -> None:
    stack = f"sam-managed-{uuid.uuid4().hex[:6]}"
    cfn.create_stack(StackName=stack, TemplateBody=MANAGED.replace("Transform: []\n", ""))
    found = settle(cfn, stack)
    assert found["StackStatus"] == "CREATE_COMPLETE", failures(cfn, stack)
    bucket = outputs(found)["SourceBucket"]
    assert bucket.startswith(f"{stack}-samclisourcebucket-")
    s3 = clients["s3"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [
        {"Key": "ManagedStackSource", "Value": "AwsSamCli"}, {"Key": "aws:cloudformation:stack-name", "Value": stack},
        {"Key": "aws:cloudformation:logical-id", "Value": "SamCliSourceBucket"},
        {"Key": "aws:cloudformation:stack-id", "Value": found["StackId"]}]
    statements = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert [s["Effect"] for s in statements] == ["Allow", "Deny"]
    cfn.delete_stack(StackName=stack)
    assert settle(cfn, found["StackId"])["StackStatus"] == "DELETE_COMPLETE", failures(cfn, found["StackId"])
    assert bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_a_create_that_fails_half_way_leaves_nothing_behind(cfn: Any, clients: dict[str, Any]) -> None:
    """A bucket whose notification S3 refuses (no permission for S3 to invoke the function) and
    a role whose managed policy does not exist: each is made, then its next call fails; the
    stack rolls back and neither is left."""
    stack = f"half-{uuid.uuid4().hex[:6]}"
    template = {"Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": TRUST}},
        "Worker": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.12", "Handler": "index.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"ZipFile": HANDLER}}},
        "Uploads": {"Type": "AWS::S3::Bucket", "Properties": {"NotificationConfiguration": {
            "LambdaConfigurations": [{"Event": "s3:ObjectCreated:*", "Function": FN_ARN}]}}},
        "Other": {"Type": "AWS::IAM::Role", "DependsOn": "Uploads", "Properties": {
            "AssumeRolePolicyDocument": TRUST, "ManagedPolicyArns": [f"arn:aws:iam::{ACCOUNT}:policy/nothing"]}}}}
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"])
    assert settle(cfn, stack)["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = dict(failures(cfn, stack))
    assert "Unable to validate the following destination configurations" in reasons["Uploads"]
    assert not [b for b in clients["s3"].list_buckets()["Buckets"] if b["Name"].startswith(f"{stack}-uploads-")]

    template["Resources"]["Uploads"]["Properties"] = {}
    stack = f"half-{uuid.uuid4().hex[:6]}"
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"])
    assert settle(cfn, stack)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "Error Code: NoSuchEntity" in dict(failures(cfn, stack))["Other"]
    assert not [r for r in listed(clients["iam"], "list_roles", "Roles") if r["RoleName"].startswith(f"{stack}-")]


def test_replacements_get_names_of_their_own(cfn: Any, clients: dict[str, Any]) -> None:
    """A resource whose name the template leaves out, replaced (a create-only property changed):
    the new one is made under a new generated name beside the old, which the cleanup deletes."""
    stack = f"swap-{uuid.uuid4().hex[:6]}"

    def template(principal: str) -> str:
        return json.dumps({"Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": TRUST}},
            "Worker": {"Type": "AWS::Lambda::Function", "Properties": {
                "Runtime": "python3.12", "Handler": "index.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"ZipFile": HANDLER}}},
            "Invoke": {"Type": "AWS::Lambda::Permission", "Properties": {
                "FunctionName": {"Ref": "Worker"}, "Action": "lambda:InvokeFunction", "Principal": principal}},
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": principal}}}})

    cfn.create_stack(StackName=stack, TemplateBody=template("s3.amazonaws.com"), Capabilities=["CAPABILITY_IAM"])
    assert settle(cfn, stack)["StackStatus"] == "CREATE_COMPLETE", failures(cfn, stack)
    before = physical(cfn, stack)
    cfn.update_stack(StackName=stack, TemplateBody=template("sns.amazonaws.com"), Capabilities=["CAPABILITY_IAM"])
    assert settle(cfn, stack)["StackStatus"] == "UPDATE_COMPLETE", failures(cfn, stack)
    after = physical(cfn, stack)
    assert after["Topic"] == before["Topic"]  # DisplayName changes in place
    assert after["Invoke"] != before["Invoke"] and after["Invoke"].startswith(f"{stack}-Invoke-")
    policy = json.loads(clients["lambda"].get_policy(FunctionName=after["Worker"])["Policy"])
    assert [(s["Sid"], s["Principal"]) for s in policy["Statement"]] == [(after["Invoke"], {"Service": "sns.amazonaws.com"})]
    stack_id = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    cfn.delete_stack(StackName=stack)
    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
