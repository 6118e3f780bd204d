"""Weighted aliases: RoutingConfig.AdditionalVersionWeights on CreateAlias/UpdateAlias, checked as
AWS checks it, and invocations of the alias split between its two versions by weight, sync and
async, with ExecutedVersion (response header, metric dimension) naming the version that ran."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from .conftest import make_client, wait_for
from .lambda_helpers import create, read_jsonl

VERSION_HANDLER = """
import json
import os


def handler(event, context):
    if os.environ.get("OUT"):
        with open(os.environ["OUT"], "a") as f:
            f.write(json.dumps(context.function_version) + "\\n")
    return context.function_version
"""

ROLE_B = "arn:aws:iam::000000000000:role/other-role"


@pytest.fixture(scope="module")
def lam(endpoint: str) -> Any:
    return make_client("lambda", endpoint)


def two_versions(lam: Any, **extra: Any) -> str:
    name = create(lam, VERSION_HANDLER, **extra)
    assert lam.publish_version(FunctionName=name)["Version"] == "1"
    lam.update_function_configuration(FunctionName=name, Description="second")
    assert lam.publish_version(FunctionName=name)["Version"] == "2"
    return name


def error_of(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(Exception) as caught:  # noqa: B017 - botocore's ClientError, any code
        call(**params)
    error = caught.value.response["Error"]  # type: ignore[attr-defined]
    return error["Code"], error["Message"]


def test_routing_config_is_checked_as_aws_checks_it(lam: Any) -> None:
    name = two_versions(lam)
    # Version 3 differs in its execution role.
    lam.update_function_configuration(FunctionName=name, Role=ROLE_B, Description="third")
    assert lam.publish_version(FunctionName=name)["Version"] == "3"
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]

    def create_alias(primary: str, weights: dict[str, float]) -> tuple[str, str]:
        return error_of(lam.create_alias, FunctionName=name, Name="live", FunctionVersion=primary,
                        RoutingConfig={"AdditionalVersionWeights": weights})

    assert create_alias("1", {"2": 0.1, "3": 0.1}) == (
        "InvalidParameterValueException", "Number of items in AdditionalVersionWeights cannot be greater than 1")
    assert create_alias("1", {"2": 1.5}) == (
        "ValidationException",
        "1 validation error detected: Value '{2=1.5}' at 'routingConfig.additionalVersionWeights' failed to "
        "satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to "
        "1.0, Member must have value greater than or equal to 0.0, Member must not be null]")
    assert create_alias("1", {"1": 0.5}) == (
        "InvalidParameterValueException",
        "Invalid function version 1. Function version 1 is already included in routing configuration.")
    assert create_alias("$LATEST", {"1": 0.5}) == (
        "InvalidParameterValueException", "$LATEST is not supported for an alias pointing to more than 1 version")
    assert create_alias("1", {"9": 0.5}) == ("ResourceNotFoundException", f"Function not found: {arn}:9")
    assert create_alias("2", {"3": 0.5}) == (
        "InvalidParameterValueException", "Specified versions must be associated with the same execution role")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_alias(FunctionName=name, Name="live")  # none of those created it

    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                             RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    assert lam.get_alias(FunctionName=name, Name="live")["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    # Moving the primary onto the additional version is refused while the routing stays.
    assert error_of(lam.update_alias, FunctionName=name, Name="live", FunctionVersion="2") == (
        "InvalidParameterValueException",
        "Invalid function version 2. Function version 2 is already included in routing configuration.")
    # An empty AdditionalVersionWeights removes the routing.
    updated = lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2",
                               RoutingConfig={"AdditionalVersionWeights": {}})
    assert updated["FunctionVersion"] == "2" and "RoutingConfig" not in updated
    # A version an alias routes to cannot be deleted.
    lam.update_alias(FunctionName=name, Name="live", RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})
    assert error_of(lam.delete_function, FunctionName=name, Qualifier="1") == (
        "ResourceConflictException", "Unable to delete version because the following aliases reference it: ['live']")


def test_half_and_half_over_200_sync_invocations(lam: Any) -> None:
    name = two_versions(lam)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    ran: Counter[str] = Counter()
    for _ in range(200):
        response = lam.invoke(FunctionName=name, Qualifier="live", Payload=b"{}")
        executed = response["ExecutedVersion"]
        assert response["Payload"].read() == f'"{executed}"'.encode()  # the header names the one that ran
        ran[executed] += 1
    # A statistical bound, not a timing: |X - 100| > 20 has a probability of about 0.5%.
    assert set(ran) == {"1", "2"} and 80 <= ran["1"] <= 120, ran
    # A weight of 0 sends nothing to the additional version.
    lam.update_alias(FunctionName=name, Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.0}})
    assert {lam.invoke(FunctionName=name, Qualifier="live")["ExecutedVersion"] for _ in range(20)} == {"1"}


def test_async_invocations_pick_a_version_each_and_metrics_say_which(lam: Any, endpoint: str,
                                                                     tmp_path: Path) -> None:
    out = tmp_path / "versions.jsonl"
    name = two_versions(lam, Environment={"Variables": {"OUT": str(out)}})
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    for _ in range(40):
        assert lam.invoke(FunctionName=name, Qualifier="live", InvocationType="Event",
                          Payload=b"{}")["StatusCode"] == 202

    def finished() -> list[str]:
        lines = read_jsonl(out)
        return lines if len(lines) == 40 else []

    ran = Counter(wait_for(finished))
    assert sum(ran.values()) == 40
    assert set(ran) == {"1", "2"}, ran  # all 40 on one side: a chance of 2 in 10^12
    cw = make_client("cloudwatch", endpoint)

    def invocations(version: str) -> float:
        now = dt.datetime.now(dt.timezone.utc)
        got = cw.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="Invocations", Period=60, Statistics=["Sum"],
            StartTime=now - dt.timedelta(hours=1), EndTime=now + dt.timedelta(minutes=5),
            Dimensions=[{"Name": "FunctionName", "Value": name}, {"Name": "Resource", "Value": f"{name}:live"},
                        {"Name": "ExecutedVersion", "Value": version}])
        return float(sum(p["Sum"] for p in got["Datapoints"]))

    assert wait_for(lambda: [invocations("1"), invocations("2")] == [ran["1"], ran["2"]]), (
        [invocations("1"), invocations("2")], ran)
