"""What the SAM transform is given and what becomes of its refusal, on a real server:
the stack's parameter values (not the template's defaults) reach the translator, and a change set
whose template the transform refuses ends FAILED with the transform's reason (as on AWS), which
`aws cloudformation deploy` prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .conftest import AwsCli, make_client, wait_for

SAM = "AWS::Serverless-2016-10-31"
CODE = "def handler(event, context):\n    return 'ok'\n"


def _settled(cfn: Any, name: str) -> str:
    def ended() -> str | None:
        status = str(cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])
        return None if status.endswith("_IN_PROGRESS") else status

    return wait_for(ended, timeout=60) or "still in progress"


def test_the_transform_resolves_refs_with_the_stacks_parameter_values(endpoint: str) -> None:
    cfn, lambda_ = make_client("cloudformation", endpoint), make_client("lambda", endpoint)
    body = json.dumps({"Transform": SAM, "Parameters": {
        "Alias": {"Type": "String", "Default": "live"},
    }, "Resources": {"Fn": {"Type": "AWS::Serverless::Function", "Properties": {
        "InlineCode": CODE, "Handler": "index.handler", "Runtime": "python3.12",
        "AutoPublishAlias": {"Ref": "Alias"}}}},
        "Outputs": {"Name": {"Value": {"Ref": "Fn"}}, "Stack": {"Value": {"Ref": "AWS::StackName"}}}})

    cfn.create_stack(StackName="sam-params", TemplateBody=body,
                     Parameters=[{"ParameterKey": "Alias", "ParameterValue": "prod"}],
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    assert _settled(cfn, "sam-params") == "CREATE_COMPLETE", cfn.describe_stack_events(StackName="sam-params")

    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName="sam-params")["Stacks"][0]["Outputs"]}
    aliases = [a["Name"] for a in lambda_.list_aliases(FunctionName=outputs["Name"])["Aliases"]]
    assert aliases == ["prod"]  # the template's default ("live") is what the transform used before
    processed = cfn.get_template(StackName="sam-params", TemplateStage="Processed")["TemplateBody"]  # parsed by boto3
    assert {r["Properties"]["Name"] for r in processed["Resources"].values()
            if r["Type"] == "AWS::Lambda::Alias"} == {"prod"}

    # An update with UsePreviousValue keeps the value the transform sees; a new value renames the alias.
    cfn.update_stack(StackName="sam-params", TemplateBody=body.replace("'ok'", "'ok2'"),
                     Parameters=[{"ParameterKey": "Alias", "UsePreviousValue": True}],
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    assert _settled(cfn, "sam-params") == "UPDATE_COMPLETE"
    assert [a["Name"] for a in lambda_.list_aliases(FunctionName=outputs["Name"])["Aliases"]] == ["prod"]

    # UsePreviousTemplate runs the transform again with the new value, as on AWS.
    cfn.update_stack(StackName="sam-params", UsePreviousTemplate=True,
                     Parameters=[{"ParameterKey": "Alias", "ParameterValue": "canary"}],
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    assert _settled(cfn, "sam-params") == "UPDATE_COMPLETE", cfn.describe_stack_events(StackName="sam-params")
    assert [a["Name"] for a in lambda_.list_aliases(FunctionName=outputs["Name"])["Aliases"]] == ["canary"]
    cfn.delete_stack(StackName="sam-params")


def test_a_change_set_the_transform_refuses_ends_failed_with_its_reason(endpoint: str, aws_cli: AwsCli,
                                                                      tmp_path: Path) -> None:
    cfn = make_client("cloudformation", endpoint)
    refused = {"Transform": SAM, "Resources": {
        "Fn": {"Type": "AWS::Serverless::Function", "Properties": {"InlineCode": "x", "Runtime": "python3.12"}}}}
    reason = ("Transform AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application "
              "Specification document. Number of errors found: 1. Resource with id [Fn] is invalid. "
              "Runtime and Handler needs to be present when PackageType is of type `Zip`")

    created = cfn.create_change_set(StackName="sam-refused-cs", ChangeSetName="first", ChangeSetType="CREATE",
                                    TemplateBody=json.dumps(refused), Capabilities=["CAPABILITY_AUTO_EXPAND"])
    described = cfn.describe_change_set(ChangeSetName=created["Id"])
    assert (described["Status"], described["ExecutionStatus"], described["StatusReason"]) == (
        "FAILED", "UNAVAILABLE", reason)
    assert cfn.describe_stacks(StackName="sam-refused-cs")["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    with_error = cfn.exceptions.ClientError
    try:
        cfn.execute_change_set(ChangeSetName=created["Id"])
    except with_error as err:
        assert err.response["Error"]["Code"] == "InvalidChangeSetStatus"
    else:
        raise AssertionError("a FAILED change set was executed")

    # `aws cloudformation deploy` waits for the change set and prints AWS's reason.
    template = tmp_path / "template.json"
    template.write_text(json.dumps(refused))
    proc = aws_cli("cloudformation", "deploy", "--template-file", str(template), "--stack-name",
                   "sam-refused-deploy", "--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND", check=False)
    assert proc.returncode != 0
    assert "Status: FAILED. Reason: " + reason in proc.stderr, proc.stderr
    cfn.delete_stack(StackName="sam-refused-cs")
    cfn.delete_stack(StackName="sam-refused-deploy")
