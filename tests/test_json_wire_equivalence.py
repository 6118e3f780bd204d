"""The json protocol's shortcuts around json.loads / json.dumps (safejson._parse, safejson.dumps)
give exactly what json gives: the same value, the same error and message, the same bytes."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from sluice.protocol import safejson
from sluice.protocol.jsonvalues import from_json
from sluice.protocol.models import service_model
from sluice.protocol.values import InvalidValue

from .test_safejson_check import DOCUMENTS

MORE: list[str | bytes | bytearray] = [
    b" {\"a\": 1}", b"\t\n{\"a\": [1, 2]}\r\n ", b"{\"a\":1} x", b"1", b"12", b"\"\\ud800\"", b"[NaN, -Infinity]",
    b"\xef\xbb\xbf{}", b"\xff\xfe{\x00}\x00", b"{\x00}", b"{\"a\": \"\xc3\xa9\"}", b"{\"a\": \"\xff\"}", b"x",
    bytearray(b"{\"b\": [true, false]}"), "  {\"x\": null}  ", "\ufeff{}", "", "{\"é\": 1}",
]


def outcome(loads: Any, document: str | bytes | bytearray) -> tuple[str, Any]:
    try:
        return "ok", loads(document)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, safejson.JsonError
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("document", [*DOCUMENTS, *MORE])
def test_loads_is_json_loads(document: str | bytes | bytearray) -> None:
    got, expected = outcome(safejson.loads, document), outcome(json.loads, document)
    if expected[0] == "UnicodeDecodeError":  # safejson says "not JSON" with json's own message
        expected = ("JsonError", expected[1])
    if expected[0] == "ok" and isinstance(expected[1], list) and any(
            isinstance(v, float) and math.isnan(v) for v in expected[1]):
        assert got[0] == "ok" and repr(got[1]) == repr(expected[1])  # NaN != NaN
        return
    assert got == expected


@pytest.mark.parametrize("value", [
    {}, [], {"MessageId": "7d4b5b0c-8f3e-4a3c-9a55-2c1a3f1d9a11", "MD5OfMessageBody": "5d41402abc4b2a76b9719d911017c592"},
    {"n": 1.5, "big": 10**30, "neg": -0.0, "tiny": 1e-300, "inf": math.inf, "nan": math.nan},
    {"text": "é\u2028\"\\\n\t\x00", "emoji": "\U0001f600", "nested": [{"a": [None, True, False]}, {}]},
])
def test_encoder_is_json_dumps(value: Any) -> None:
    assert safejson.dumps(value) == json.dumps(value).encode()


@pytest.mark.parametrize(("member", "value", "taken"), [
    ("MaxNumberOfMessages", 2**63 - 1, True), ("MaxNumberOfMessages", -(2**63), True),
    ("MaxNumberOfMessages", 2**63, False), ("MaxNumberOfMessages", True, False), ("MaxNumberOfMessages", "1", False),
    ("QueueUrl", "q", True), ("QueueUrl", "é", True), ("QueueUrl", "\ud800", False), ("QueueUrl", 1, False),
])
def test_request_scalars_are_checked_as_before(member: str, value: Any, taken: bool) -> None:
    shape = service_model("sqs").operation_model("ReceiveMessage").input_shape
    assert shape is not None
    if taken:
        assert from_json({member: value}, shape) == {member: value}
    else:
        with pytest.raises(InvalidValue):
            from_json({member: value}, shape)


@pytest.mark.parametrize("value", [True, False])
def test_request_booleans_are_taken_and_others_refused(value: bool) -> None:
    shape = service_model("lambda").operation_model("UpdateFunctionCode").input_shape
    assert shape is not None
    assert from_json({"Publish": value}, shape) == {"Publish": value}
    with pytest.raises(InvalidValue):
        from_json({"Publish": int(value)}, shape)
