"""Large Invoke payloads, checked as JSON off the event loop: the verdict is the small ones'."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import make_client
from .lambda_helpers import create

HANDLER = """
import hashlib, json

def handler(event, context):
    return {"records": len(event["Records"]), "sha": hashlib.sha256(json.dumps(event).encode()).hexdigest()}
"""


@pytest.fixture(scope="module")
def lam(endpoint: str) -> Any:
    return make_client("lambda", endpoint)


def records(n: int) -> dict[str, Any]:
    return {"Records": [{"messageId": str(i), "body": "hello", "attributes": {"n": [i, i + 1]}} for i in range(n)]}


def test_a_large_payload_reaches_the_handler_whole(lam: Any) -> None:
    name = create(lam, HANDLER)
    event = records(40_000)  # ~2.6 MB
    result = json.loads(lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())["Payload"].read())
    assert result == {"records": 40_000, "sha": hashlib.sha256(json.dumps(event).encode()).hexdigest()}


@pytest.mark.parametrize("cut", [b",}", b"}}", b"] x"])
def test_a_large_malformed_payload_is_refused_like_a_small_one(lam: Any, cut: bytes) -> None:
    name = create(lam, HANDLER)
    payload = json.dumps(records(20_000)).encode()[:-2] + cut
    small = json.dumps(records(1)).encode()[:-2] + cut
    answers = []
    for body in (payload, small):
        with pytest.raises(ClientError) as err:
            lam.invoke(FunctionName=name, Payload=body, InvocationType="DryRun")
        answers.append((err.value.response["Error"]["Code"], err.value.response["Error"]["Message"].split(": ")[:3]))
    assert answers[0] == answers[1]
    assert answers[0][0] == "InvalidRequestContentException"
