"""Browser-upload (POST Object) policies of the wrong shape: S3's 400 InvalidPolicyDocument with
its message, no object written, and the server well. An empty condition was a 500."""

from __future__ import annotations

import base64
import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from .bad_input_helpers import assert_healthy, files_under
from .conftest import make_client
from .s3_raw import form_signature
from .server import SluiceProcess

FUTURE = "2999-01-01T00:00:00.000Z"
ONE_PROPERTY = "Invalid Simple-Condition: Simple-Conditions must have exactly one property specified."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    proc = SluiceProcess(tmp_path_factory.mktemp("hardening-post") / "data").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def bucket(server: SluiceProcess) -> str:
    name = f"post-{uuid.uuid4().hex[:10]}"
    make_client("s3", server.endpoint).create_bucket(Bucket=name)
    return name


def encode(document: Any) -> str:
    text = document if isinstance(document, str) else json.dumps(document)
    return base64.b64encode(text.encode()).decode()


def with_conditions(*conditions: Any) -> str:
    return encode({"expiration": FUTURE, "conditions": [*conditions, ["starts-with", "$key", ""]]})


def deep_policy() -> str:
    # As deep as the 20 KB S3 allows before the file permits: far deeper than a parser recurses.
    return encode('{"expiration": "' + FUTURE + '", "conditions": ' + "[" * 5000 + "]" * 5000 + "}")


CASES = {
    "an empty condition": (with_conditions({}), ONE_PROPERTY),
    "a condition with two properties": (with_conditions({"acl": "private", "key": "k"}), ONE_PROPERTY),
    "a number as a simple condition's value": (with_conditions({"acl": 5}),
                                               "Invalid Simple-Condition: value must be a string."),
    "null as a simple condition's value": (with_conditions({"acl": None}), "Invalid JSON."),
    "an empty list": (with_conditions([]), "Invalid Condition: missing operation identifier."),
    "an unknown operation": (with_conditions(["ends-with", "$key", "x"]),
                             "Invalid Condition: unknown operation 'ends-with'."),
    "eq with two items": (with_conditions(["eq", "$key"]), "Invalid eq: wrong number of arguments."),
    "starts-with with four items": (with_conditions(["starts-with", "$key", "a", "b"]),
                                    "Invalid starts-with: wrong number of arguments."),
    "content-length-range with one bound": (with_conditions(["content-length-range", 0]),
                                            "Invalid content-length-range: wrong number of arguments."),
    "a float bound": (with_conditions(["content-length-range", 0, 512.0]), "Invalid JSON."),
    "a number as eq's value": (with_conditions(["eq", "$key", 5]), "Invalid JSON."),
    "a condition that is a string": (with_conditions("key"),
                                     "Invalid condition test: must be a List or Object."),
    "conditions that are an object": (encode({"expiration": FUTURE, "conditions": {"key": "k"}}),
                                      "Invalid 'conditions' value: must be a List."),
    "no conditions": (encode({"expiration": FUTURE}), "Policy missing conditions."),
    "no expiration": (encode({"conditions": []}), "Policy missing expiration."),
    "an expiration with an offset": (encode({"expiration": "2999-01-01T00:00:00+02:00", "conditions": []}),
                                     "Invalid 'expiration' value: '2999-01-01T00:00:00+02:00'"),
    "an expiration with a space": (encode({"expiration": "2999-01-01 00:00:00Z", "conditions": []}),
                                   "Invalid 'expiration' value: '2999-01-01 00:00:00Z'"),
    "an expiration that is no date": (encode({"expiration": "2999-13-01T00:00:00Z", "conditions": []}),
                                      "Invalid 'expiration' value: '2999-13-01T00:00:00Z'"),
    "a number as expiration": (encode({"expiration": 12, "conditions": []}), "Invalid 'expiration' value: 12"),
    "a member policies lack": (encode({"expiration": FUTURE, "conditions": [], "Statement": []}),
                               "Unexpected: 'statement'"),
    "not base64": ("{policy}", "Invalid JSON."),
    "JSON nested 5,000 deep": (deep_policy(), "Invalid JSON."),
}


def post(server: SluiceProcess, bucket: str, policy: str, key: str) -> requests.Response:
    # Signed with the default key: an anonymous form may not write to a private bucket.
    return requests.post(f"{server.endpoint}/{bucket}", data={"key": key, "policy": policy, **dict(form_signature(policy))},
                         files={"file": ("f.txt", b"content")}, timeout=60)


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_policy(server: SluiceProcess, bucket: str, case: str) -> None:
    policy, reason = CASES[case]
    before = files_under(server.data_dir)
    resp = post(server, bucket, policy, "k")
    assert resp.status_code == 400, resp.text
    root = ET.fromstring(resp.content)
    assert (root.findtext("Code"), root.findtext("Message")) == ("InvalidPolicyDocument", f"Invalid Policy: {reason}")
    assert files_under(server.data_dir) == before
    assert "Contents" not in make_client("s3", server.endpoint).list_objects_v2(Bucket=bucket)
    assert_healthy(server)


def test_conditions_s3_reads_and_then_fails(server: SluiceProcess, bucket: str) -> None:
    # Well-formed, but not met: 403, as S3 answers (a field named without '$', a bound that is not
    # a number).
    for condition in (["eq", "key", "k"], ["content-length-range", "test", "10"]):
        resp = post(server, bucket, with_conditions(condition), "k")
        assert resp.status_code == 403, resp.text
        root = ET.fromstring(resp.content)
        assert root.findtext("Code") == "AccessDenied"
        assert root.findtext("Message") == f"Invalid according to Policy: Policy Condition failed: {json.dumps(condition)}"
    # Bounds as strings of digits are sizes.
    resp = post(server, bucket, with_conditions(["content-length-range", "1", "100"]), "ok")
    assert resp.status_code == 204, resp.text
    assert_healthy(server)
