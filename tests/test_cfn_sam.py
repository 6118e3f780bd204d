"""The SAM transform (services/cloudformation/sam.py): AWS's translator run offline.

Pure tests of the expansion, as the evaluator's are: template in, CloudFormation template out.
The stacks that deploy these expansions end to end are in tests/test_cfn_sam_deploy.py.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from sluice.services.cloudformation.sam import (
    SAM_TRANSFORM,
    TransformError,
    expand,
    iam_managed_policies,
    needs_expansion,
)
from sluice.services.iam.managed import aws_policies

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "s3-event-processor" / "template.yaml"
SLUICE_POLICIES = {p.name: p.arn for p in aws_policies().values()}


def _sam(resources: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"AWSTemplateFormatVersion": "2010-09-09", "Transform": SAM_TRANSFORM,
            "Resources": resources, **extra}


def _function(**props: Any) -> dict[str, Any]:
    base = {"CodeUri": "s3://artifacts/code.zip", "Handler": "index.handler",
            "Runtime": "python3.12"}
    return {"Type": "AWS::Serverless::Function", "Properties": {**base, **props}}


def _expand(template: dict[str, Any], region: str = "us-east-1") -> dict[str, Any]:
    return expand(template, {}, region=region, managed_policies=SLUICE_POLICIES)


def _of_type(out: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in out["Resources"].items() if r["Type"] == type_name}


def test_the_example_template_expands_to_the_seed_pipeline() -> None:
    import yaml  # cfn-lint's dependency; the short tags are read here as plain mappings

    class Loader(yaml.SafeLoader):
        pass

    def tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
        value = loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None
        if suffix == "GetAtt" and isinstance(value, str):
            return {name: value.split(".", 1)}
        return {name: value}

    Loader.add_multi_constructor("!", tag)
    template = yaml.load(EXAMPLE.read_text(), Loader=Loader)  # noqa: S506 - SafeLoader subclass
    # What `aws cloudformation package` / `sam deploy` leave in CodeUri: the uploaded code.
    template["Resources"]["S3EventProcessor"]["Properties"]["CodeUri"] = "s3://artifacts/abc"

    out = _expand(template)

    assert "Transform" not in out
    assert sorted((k, r["Type"]) for k, r in out["Resources"].items()) == [
        ("Bucket", "AWS::S3::Bucket"),
        ("LambdaDLQ", "AWS::SQS::Queue"),
        ("S3EventProcessor", "AWS::Lambda::Function"),
        ("S3EventProcessorEventInvokeConfig", "AWS::Lambda::EventInvokeConfig"),
        ("S3EventProcessorRole", "AWS::IAM::Role"),
        ("S3EventProcessorUploadPermission", "AWS::Lambda::Permission"),
    ]
    function = out["Resources"]["S3EventProcessor"]["Properties"]
    assert function["Code"] == {"S3Bucket": "artifacts", "S3Key": "abc"}
    assert function["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": ["LambdaDLQ", "Arn"]}}
    assert function["Role"] == {"Fn::GetAtt": ["S3EventProcessorRole", "Arn"]}
    role = out["Resources"]["S3EventProcessorRole"]["Properties"]
    assert role["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    ]
    [dlq_policy] = role["Policies"]
    assert dlq_policy["PolicyDocument"]["Statement"][0]["Action"] == "sqs:SendMessage"
    invoke = out["Resources"]["S3EventProcessorEventInvokeConfig"]["Properties"]
    assert (invoke["MaximumRetryAttempts"], invoke["MaximumEventAgeInSeconds"]) == (2, 3600)
    bucket = out["Resources"]["Bucket"]
    assert bucket["DependsOn"] == ["S3EventProcessorUploadPermission"]
    assert bucket["Properties"]["NotificationConfiguration"] == {"LambdaConfigurations": [
        {"Function": {"Fn::GetAtt": ["S3EventProcessor", "Arn"]}, "Event": "s3:ObjectCreated:*"}]}
    assert out["Outputs"]["BucketName"]["Value"] == {"Ref": "Bucket"}


def test_event_sources_become_their_cloudformation_resources() -> None:
    template = _sam({
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Topic": {"Type": "AWS::SNS::Topic"},
        "Fn": _function(Events={
            "FromQueue": {"Type": "SQS", "Properties": {
                "Queue": {"Fn::GetAtt": ["Queue", "Arn"]}, "BatchSize": 5}},
            "FromTopic": {"Type": "SNS", "Properties": {"Topic": {"Ref": "Topic"}}},
            "OnEvent": {"Type": "EventBridgeRule", "Properties": {
                "Pattern": {"source": ["sluice.test"]}}},
            "Nightly": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 day)"}},
        }),
    })

    out = _expand(template)

    [mapping] = _of_type(out, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["EventSourceArn"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    assert mapping["Properties"]["BatchSize"] == 5
    [subscription] = _of_type(out, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "lambda"
    assert subscription["Properties"]["TopicArn"] == {"Ref": "Topic"}
    rules = {k: r["Properties"] for k, r in _of_type(out, "AWS::Events::Rule").items()}
    assert rules["FnOnEvent"]["EventPattern"] == {"source": ["sluice.test"]}
    assert rules["FnNightly"]["ScheduleExpression"] == "rate(1 day)"
    principals = sorted(p["Properties"]["Principal"]
                        for p in _of_type(out, "AWS::Lambda::Permission").values())
    assert principals == ["events.amazonaws.com", "events.amazonaws.com", "sns.amazonaws.com"]
    # Reading a queue needs the SQS poller's policy on the generated role.
    role = out["Resources"]["FnRole"]["Properties"]
    assert "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole" in role[
        "ManagedPolicyArns"]


def test_event_invoke_config_with_destinations_grants_the_role_what_they_need() -> None:
    template = _sam({
        "Done": {"Type": "AWS::SQS::Queue"},
        "Failed": {"Type": "AWS::SNS::Topic"},
        "Fn": _function(EventInvokeConfig={
            "MaximumRetryAttempts": 1,
            "DestinationConfig": {
                "OnSuccess": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["Done", "Arn"]}},
                "OnFailure": {"Type": "SNS", "Destination": {"Ref": "Failed"}},
            },
        }),
    })

    out = _expand(template)

    config = out["Resources"]["FnEventInvokeConfig"]["Properties"]
    assert config["MaximumRetryAttempts"] == 1
    assert config["DestinationConfig"] == {
        "OnSuccess": {"Destination": {"Fn::GetAtt": ["Done", "Arn"]}},
        "OnFailure": {"Destination": {"Ref": "Failed"}},
    }
    actions = sorted(
        s["Action"] for p in out["Resources"]["FnRole"]["Properties"]["Policies"]
        for s in p["PolicyDocument"]["Statement"])
    assert actions == ["sns:publish", "sqs:SendMessage"]


def test_policy_templates_globals_and_layers() -> None:
    template = _sam(
        {
            "Layer": {"Type": "AWS::Serverless::LayerVersion", "Properties": {
                "LayerName": "shared", "ContentUri": "s3://artifacts/layer.zip",
                "CompatibleRuntimes": ["python3.12"]}},
            "Fn": _function(Layers=[{"Ref": "Layer"}], Policies=[
                {"S3ReadPolicy": {"BucketName": "inbox"}},
                {"SQSSendMessagePolicy": {"QueueName": "outbox"}},
            ]),
        },
        Globals={"Function": {"Timeout": 42, "Environment": {"Variables": {"STAGE": "test"}}}},
    )

    out = _expand(template)

    function = out["Resources"]["Fn"]["Properties"]
    assert function["Timeout"] == 42
    assert function["Environment"] == {"Variables": {"STAGE": "test"}}
    [(layer_id, layer)] = _of_type(out, "AWS::Lambda::LayerVersion").items()
    # SAM names a layer version after its content, so a new ContentUri publishes a new version.
    assert layer_id.startswith("Layer") and layer_id != "Layer"
    assert layer["Properties"]["Content"] == {"S3Bucket": "artifacts", "S3Key": "layer.zip"}
    assert function["Layers"] == [{"Ref": layer_id}]
    policies = {p["PolicyName"]: p["PolicyDocument"]["Statement"]
                for p in out["Resources"]["FnRole"]["Properties"]["Policies"]}
    assert set(policies) == {"FnRolePolicy0", "FnRolePolicy1"}
    assert policies["FnRolePolicy0"][0]["Action"] == ["s3:GetObject", "s3:ListBucket",
                                                      "s3:GetBucketLocation",
                                                      "s3:GetObjectVersion",
                                                      "s3:GetLifecycleConfiguration"]
    assert policies["FnRolePolicy1"][0]["Action"] == ["sqs:SendMessage*"]


def test_managed_policy_names_come_from_the_map_given_then_from_aws_names() -> None:
    template = _sam({"Fn": _function(Policies=["AmazonS3ReadOnlyAccess", "CustomOne",
                                               "AmazonDynamoDBReadOnlyAccess"])})

    out = expand(template, {}, region="us-east-1", managed_policies=lambda: {
        **SLUICE_POLICIES, "CustomOne": "arn:aws:iam::000000000000:policy/CustomOne"})

    assert out["Resources"]["FnRole"]["Properties"]["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        "arn:aws:iam::000000000000:policy/CustomOne",
        # Not one Sluice carries: AWS's ARN all the same (IAM then refuses it as AWS would).
        "arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess",
    ]


def test_arns_follow_the_stacks_region_partition() -> None:
    out = _expand(_sam({"Fn": _function()}), region="cn-north-1")

    assert out["Resources"]["FnRole"]["Properties"]["ManagedPolicyArns"] == [
        "arn:aws-cn:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
    # The next stack, in another partition, is not affected by the translator's class state.
    again = _expand(_sam({"Fn": _function()}))
    assert again["Resources"]["FnRole"]["Properties"]["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]


def test_parameters_resolve_where_sam_needs_a_value() -> None:
    template = _sam({"Fn": _function(AutoPublishAlias={"Ref": "Stage"})},
                    Parameters={"Stage": {"Type": "String", "Default": "dev"}})

    out = expand(template, {"Stage": "live"}, region="us-east-1",
                 managed_policies=SLUICE_POLICIES)

    [alias] = _of_type(out, "AWS::Lambda::Alias").values()
    assert alias["Properties"]["Name"] == "live"
    assert len(_of_type(out, "AWS::Lambda::Version")) == 1


def test_an_invalid_sam_resource_fails_with_cloudformations_words() -> None:
    template = _sam({"Fn": {"Type": "AWS::Serverless::Function",
                            "Properties": {"CodeUri": "s3://a/b", "Runtime": "python3.12"}}})

    with pytest.raises(TransformError) as failed:
        _expand(template)

    assert str(failed.value) == (
        "Transform AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application "
        "Specification document. Number of errors found: 1. Resource with id [Fn] is invalid. "
        "Runtime and Handler needs to be present when PackageType is of type `Zip`")


@pytest.mark.parametrize("template", [
    _sam({"Fn": {"Type": "AWS::Serverless::Function", "Properties": "not a map"}}),
    _sam("not a map"),  # type: ignore[arg-type]
    _sam({"Fn": _function(Events=["nope"])}),
    _sam({"Fn": _function(Policies=[{"S3ReadPolicy": "no"}])}),
])
def test_malformed_templates_fail_the_transform_not_the_server(template: dict[str, Any]) -> None:
    with pytest.raises(TransformError, match=r"^Transform AWS::Serverless-2016-10-31 failed with: "):
        _expand(template)


def test_other_transforms_are_refused_by_name() -> None:
    template = _sam({}, Transform=["AWS::LanguageExtensions", SAM_TRANSFORM])

    with pytest.raises(TransformError, match="Unsupported transform: AWS::LanguageExtensions"):
        _expand(template)


def test_a_template_without_transform_comes_back_unchanged_and_input_is_never_modified() -> None:
    plain = {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}
    sam = _sam({"Fn": _function()})
    before = copy.deepcopy(sam)

    assert not needs_expansion(plain) and needs_expansion(sam)
    assert _expand(plain) == plain
    _expand(sam)
    assert sam == before


def test_the_policy_map_is_read_through_iams_list_policies_pages() -> None:
    pages = {
        None: {"Policies": [{"PolicyName": "A", "Arn": "arn:aws:iam::aws:policy/A"}],
               "IsTruncated": True, "Marker": "m1"},
        "m1": {"Policies": [{"PolicyName": "B", "Arn": "arn:aws:iam::aws:policy/job/B"}],
               "IsTruncated": False},
    }
    calls: list[dict[str, Any]] = []

    def list_policies(ctx: object, **params: Any) -> dict[str, Any]:
        calls.append(params)
        return pages[params.get("Marker")]

    assert iam_managed_policies(list_policies, object()) == {
        "A": "arn:aws:iam::aws:policy/A", "B": "arn:aws:iam::aws:policy/job/B"}
    assert calls == [{"Scope": "AWS"}, {"Scope": "AWS", "Marker": "m1"}]
