"""A custom resource's response as CloudFormation checks it (services/cloudformation/custom.py):
pure tests of the check, over the recorded request and response. The whole round trip through
a real function is in tests/test_cfn_custom_resources.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sluice.services.cloudformation.custom import (
    _outcome,
    _service_timeout,
    is_custom_resource,
    stringify,
)
from sluice.services.cloudformation.custom_records import CustomRequest
from sluice.services.cloudformation.providers import ProviderError

STACK = "arn:aws:cloudformation:us-east-1:000000000000:stack/s/1"


def _row(response: Any, request_type: str = "Create") -> CustomRequest:
    text = response if isinstance(response, str) else json.dumps(response)
    return CustomRequest("token", "req-1", STACK, "Thing",
                         json.dumps({"RequestType": request_type}), True, text)


def _ok(**extra: Any) -> dict[str, Any]:
    return {"Status": "SUCCESS", "PhysicalResourceId": "p-1", "StackId": STACK,
            "RequestId": "req-1", "LogicalResourceId": "Thing", **extra}


def test_a_success_gives_its_physical_id_and_data() -> None:
    assert _outcome(_row(_ok(Data={"A": "1"}))) == _ok(Data={"A": "1"})
    # On Update and Delete the physical id may be left out: the resource keeps its own.
    assert _outcome(_row({"Status": "SUCCESS"}, "Delete")) == {"Status": "SUCCESS"}


@pytest.mark.parametrize(("response", "reason"), [
    ({"Status": "FAILED", "Reason": "no can do"},
     "Received response status [FAILED] from custom resource. Message returned: no can do "
     "(RequestId: req-1)"),
    ("not json", "Invalid response object: not a JSON object (RequestId: req-1)"),
    ([1, 2], "Invalid response object: not a JSON object (RequestId: req-1)"),
    ({"Status": "DONE", "PhysicalResourceId": "p"},
     "Invalid response object: Status must be SUCCESS or FAILED, not 'DONE' (RequestId: req-1)"),
    ({"Status": "SUCCESS"}, "Invalid PhysicalResourceId (RequestId: req-1)"),
    (_ok(RequestId="other"),
     "Invalid response object: RequestId does not match the request (RequestId: req-1)"),
    (_ok(Data=["x"]), "Invalid response object: Data must be a JSON object (RequestId: req-1)"),
    (_ok(Data={"Big": "x" * 5000}), "Response object is too long."),
])
def test_a_failed_or_invalid_response_fails_the_resource(response: Any, reason: str) -> None:
    with pytest.raises(ProviderError) as failed:
        _outcome(_row(response))

    assert str(failed.value) == reason


def test_properties_reach_the_handler_as_strings() -> None:
    assert stringify({"N": 5, "F": 1.5, "B": True, "L": [False, {"X": 2}], "S": "s", "Z": None}) == {
        "N": "5", "F": "1.5", "B": "true", "L": ["false", {"X": "2"}], "S": "s", "Z": None}


def test_custom_types() -> None:
    assert is_custom_resource("AWS::CloudFormation::CustomResource")
    assert is_custom_resource("Custom::S3BucketNotifications")
    assert not is_custom_resource("AWS::S3::Bucket")


@pytest.mark.parametrize(("value", "seconds"), [(None, 3600.0), ("1", 1.0), (600, 600.0), ("3600", 3600.0)])
def test_service_timeout(value: Any, seconds: float) -> None:
    assert _service_timeout(value) == seconds


@pytest.mark.parametrize("value", ["0", "3601", "soon", 1.5])
def test_a_service_timeout_out_of_range_fails_the_resource(value: Any) -> None:
    with pytest.raises(ProviderError, match="ServiceTimeout must be an integer from 1 to 3600"):
        _service_timeout(value)
