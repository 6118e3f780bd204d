"""Lambda's control plane through boto3 and the AWS CLI, with AWS's exact shapes and errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsCli, make_client
from .lambda_helpers import ROLE, create, unique, zip_code

OK = """
def handler(event, context):
    return {"ok": True}
"""


@pytest.fixture(scope="module")
def lam(endpoint: str) -> Any:
    return make_client("lambda", endpoint)


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    r = exc.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"]["Message"]


def test_create_get_list_delete(lam: Any) -> None:
    name = unique()
    created = lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
                                  Code={"ZipFile": zip_code(OK)}, Description="d", MemorySize=256,
                                  Environment={"Variables": {"A": "1"}})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert created["State"] == "Pending"
    assert created["Version"] == "$LATEST"
    assert created["MemorySize"] == 256 and created["Timeout"] == 3
    assert created["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    got = lam.get_function(FunctionName=name)
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["Environment"] == {"Variables": {"A": "1"}}
    assert got["Configuration"]["CodeSha256"] == created["CodeSha256"]
    assert name in [f["FunctionName"] for f in lam.list_functions(MaxItems=1000)["Functions"]]
    assert lam.delete_function(FunctionName=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        lam.get_function(FunctionName=name)
    assert error(exc) == (404, "ResourceNotFoundException",
                          f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{name}")


def test_create_twice_conflicts(lam: Any) -> None:
    name = create(lam, OK)
    with pytest.raises(ClientError) as exc:
        create(lam, OK, name=name)
    assert error(exc) == (409, "ResourceConflictException", f"Function already exist: {name}")


def test_unsupported_runtime_is_refused(lam: Any) -> None:
    with pytest.raises(ClientError) as exc:
        create(lam, OK, Runtime="java21")
    status, code, message = error(exc)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "java21" in message


def test_out_of_range_values_get_validation_errors(lam: Any) -> None:
    with pytest.raises(ClientError) as exc:
        create(lam, OK, Timeout=901)
    assert error(exc) == (400, "ValidationException",
                          "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
                          "Member must have value less than or equal to 900")


def test_update_code_and_configuration_then_publish_and_alias(lam: Any) -> None:
    name = create(lam, OK)
    first = lam.publish_version(FunctionName=name)
    assert first["Version"] == "1"
    assert first["FunctionArn"].endswith(f":{name}:1")
    again = lam.publish_version(FunctionName=name)
    assert again["Version"] == "1"  # nothing changed: AWS returns the same version
    updated = lam.update_function_configuration(FunctionName=name, Timeout=20, Handler="handler.handler")
    assert updated["Timeout"] == 20
    assert updated["LastUpdateStatus"] == "InProgress"
    code = lam.update_function_code(FunctionName=name, ZipFile=zip_code("def handler(e, c):\n    return 2\n"))
    assert code["CodeSha256"] != first["CodeSha256"]
    second = lam.publish_version(FunctionName=name, Description="two")
    assert second["Version"] == "2"
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert alias["AliasArn"].endswith(f":{name}:live")
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2")
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "2"
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["live"]
    assert lam.get_function_configuration(FunctionName=name, Qualifier="live")["Version"] == "2"
    lam.delete_alias(FunctionName=name, Name="live")
    assert lam.list_aliases(FunctionName=name)["Aliases"] == []


def test_permissions_policy(lam: Any) -> None:
    name = create(lam, OK)
    with pytest.raises(ClientError) as exc:
        lam.get_policy(FunctionName=name)
    assert error(exc) == (404, "ResourceNotFoundException", "The resource you requested does not exist.")
    out = lam.add_permission(FunctionName=name, StatementId="s3invoke", Action="lambda:InvokeFunction",
                             Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::my-bucket",
                             SourceAccount="000000000000")
    statement = json.loads(out["Statement"])
    assert statement == {
        "Sid": "s3invoke", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": f"arn:aws:lambda:us-east-1:000000000000:function:{name}",
        "Condition": {"StringEquals": {"AWS:SourceAccount": "000000000000"},
                      "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::my-bucket"}},
    }
    policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    assert policy["Statement"] == [statement]
    with pytest.raises(ClientError) as exc:
        lam.add_permission(FunctionName=name, StatementId="s3invoke", Action="lambda:InvokeFunction",
                           Principal="s3.amazonaws.com")
    assert error(exc)[:2] == (409, "ResourceConflictException")
    lam.remove_permission(FunctionName=name, StatementId="s3invoke")
    with pytest.raises(ClientError) as exc:
        lam.remove_permission(FunctionName=name, StatementId="s3invoke")
    assert error(exc)[:2] == (404, "ResourceNotFoundException")


def test_concurrency_and_account_settings(lam: Any) -> None:
    name = create(lam, OK)
    before = lam.get_account_settings()["AccountLimit"]
    assert before["ConcurrentExecutions"] == 1000
    assert lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)[
        "ReservedConcurrentExecutions"] == 5
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    after = lam.get_account_settings()["AccountLimit"]
    assert after["UnreservedConcurrentExecutions"] == before["UnreservedConcurrentExecutions"] - 5
    with pytest.raises(ClientError) as exc:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=950)
    assert error(exc) == (400, "InvalidParameterValueException",
                          "Specified ReservedConcurrentExecutions for function decreases account's "
                          "UnreservedConcurrentExecution below its minimum value of [100].")
    lam.delete_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)


class TestEventInvokeConfig:
    """aws-reference §2: the exact errors of Put/Get/Update/DeleteFunctionEventInvokeConfig."""

    def test_round_trip_and_replace_semantics(self, lam: Any) -> None:
        name = create(lam, OK)
        put = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                                   MaximumEventAgeInSeconds=120)
        assert put["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}:$LATEST"
        assert (put["MaximumRetryAttempts"], put["MaximumEventAgeInSeconds"]) == (0, 120)
        updated = lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
        assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (1, 120)
        replaced = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2)
        assert "MaximumEventAgeInSeconds" not in replaced  # Put replaces the whole config
        listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
        assert [c["MaximumRetryAttempts"] for c in listed] == [2]
        lam.delete_function_event_invoke_config(FunctionName=name)
        with pytest.raises(ClientError) as exc:
            lam.get_function_event_invoke_config(FunctionName=name)
        assert error(exc) == (404, "ResourceNotFoundException",
                              f"The function arn:aws:lambda:us-east-1:000000000000:function:{name}:$LATEST "
                              "doesn't have an EventInvokeConfig")

    def test_no_setting(self, lam: Any) -> None:
        name = create(lam, OK)
        with pytest.raises(ClientError) as exc:
            lam.put_function_event_invoke_config(FunctionName=name)
        assert error(exc) == (400, "InvalidParameterValueException",
                              "You must specify at least one of error handling or destination setting.")

    def test_missing_destination_function(self, lam: Any) -> None:
        name = create(lam, OK)
        arn = "arn:aws:lambda:us-east-1:000000000000:function:doesnotexist"
        with pytest.raises(ClientError) as exc:
            lam.put_function_event_invoke_config(FunctionName=name,
                                                 DestinationConfig={"OnFailure": {"Destination": arn}})
        assert error(exc) == (400, "InvalidParameterValueException", f"The destination ARN {arn} is invalid.")

    def test_self_destination(self, lam: Any) -> None:
        name = create(lam, OK)
        arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
        with pytest.raises(ClientError) as exc:
            lam.put_function_event_invoke_config(FunctionName=name,
                                                 DestinationConfig={"OnSuccess": {"Destination": arn}})
        assert error(exc) == (400, "InvalidParameterValueException",
                              "You can't specify the function as a destination for itself.")

    def test_unsupported_service(self, lam: Any) -> None:
        name = create(lam, OK)
        arn = "arn:aws:dynamodb:us-east-1:000000000000:table/t"
        with pytest.raises(ClientError) as exc:
            lam.put_function_event_invoke_config(FunctionName=name,
                                                 DestinationConfig={"OnSuccess": {"Destination": arn}})
        assert error(exc) == (400, "InvalidParameterValueException",
                              f"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination="
                              f"{arn}), onFailure=null) is invalid.")

    def test_qualifier_mismatch(self, lam: Any) -> None:
        name = create(lam, OK)
        lam.publish_version(FunctionName=name)
        with pytest.raises(ClientError) as exc:
            lam.put_function_event_invoke_config(FunctionName=f"{name}:1", Qualifier="$LATEST",
                                                 MaximumRetryAttempts=1)
        assert error(exc) == (400, "InvalidParameterValueException",
                              "The derived qualifier from the function name does not match the specified qualifier.")

    def test_function_missing(self, lam: Any) -> None:
        with pytest.raises(ClientError) as exc:
            lam.put_function_event_invoke_config(FunctionName="nope-" + unique(), MaximumRetryAttempts=1)
        assert error(exc) == (404, "ResourceNotFoundException", "The function doesn't exist.")

    def test_out_of_range(self, lam: Any) -> None:
        name = create(lam, OK)
        with pytest.raises(ClientError) as exc:
            lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=3)
        assert error(exc) == (400, "ValidationException",
                              "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy "
                              "constraint: Member must have value less than or equal to 2")


def test_cli_create_and_get(aws_cli: AwsCli, tmp_path: Path) -> None:
    name = unique("cli")
    package = tmp_path / "fn.zip"
    package.write_bytes(zip_code(OK))
    aws_cli("lambda", "create-function", "--function-name", name, "--runtime", "python3.11", "--role", ROLE,
            "--handler", "handler.handler", "--zip-file", f"fileb://{package}")
    out = json.loads(aws_cli("lambda", "get-function-configuration", "--function-name", name).stdout)
    assert out["Runtime"] == "python3.11"
    assert out["Handler"] == "handler.handler"


def test_get_function_code_location_downloads_the_package(lam: Any) -> None:
    import urllib.request

    package = zip_code(OK)
    name = unique()
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
                        Code={"ZipFile": package})
    location = lam.get_function(FunctionName=name)["Code"]["Location"]
    with urllib.request.urlopen(location, timeout=5) as r:
        assert r.read() == package
