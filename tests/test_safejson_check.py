"""safejson.check: the same verdict as safejson.loads (and json's messages), without keeping the
document; what Invoke uses for large payloads, off the event loop."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from sluice.protocol import safejson

DOCUMENTS = [
    b"{}", b"[]", b"  [1, 2, {\"a\": [1, 2]}]  ", b"\"text\"", b"12.5e3", b"null", b"true",
    b'{"Records": [{"body": "x", "n": [1, {"k": null}]}, {"body": "\\u00e9\\"q"}], "k": {}}',
    b'[[], {}, [[]], {"a": {}}]', "\ufeff[1]".encode(), json.dumps({"é": ["ü"]}).encode("utf-16"),
    # not JSON
    b"", b"   ", b"nul", b"[1 2]", b"[1,]", b"[,1]", b"{\"a\" 1}", b"{\"a\": 1,}", b"{1: 2}", b"{\"a\"}",
    b"\"x\" y", b"[1] [2]", b"[", b"{", b"{\"a\": [1, 2}", b"[\"\\x\"]", b"{\"\\x\": 1}", b"[NaNa]",
    b"\xff\xfe\xfd", b"[\"\xc3\x28\"]", b'{"Records": [{"a": 1}, {"a": }]}',
]


def verdict(check: Callable[[bytes], object], document: bytes) -> str:
    try:
        check(document)
    except json.JSONDecodeError as exc:
        return f"JSONDecodeError: {exc}"
    except ValueError as exc:  # too deep, or not text
        return type(exc).__name__
    return "ok"


@pytest.mark.parametrize("document", DOCUMENTS)
def test_same_verdict_and_message_as_loads(document: bytes) -> None:
    assert verdict(safejson.check, document) == verdict(safejson.loads, document)


def nested(depth: int, at: int) -> bytes:
    """A document `depth` arrays deep, the deepest `at` levels inside objects and arrays."""
    outer = [('{"k": ', "}"), ("[1, ", "]")] * at
    head = "".join(o for o, _ in outer[:at])
    tail = "".join(c for _, c in reversed(outer[:at]))
    return (head + "[" * (depth - at) + "]" * (depth - at) + tail).encode()


@pytest.mark.parametrize("at", [0, 1, 2, 3, 10])
def test_depth_limit_counts_every_level(at: int) -> None:
    limit = safejson.MAX_DEPTH
    safejson.check(nested(limit, at))
    with pytest.raises(ValueError):
        safejson.check(nested(limit + 1, at))
    assert verdict(safejson.check, nested(limit + 1, at)) == verdict(safejson.loads, nested(limit + 1, at))


def test_far_too_deep_is_refused_not_a_recursion_error() -> None:
    for document in (b"[" * 100_000 + b"]" * 100_000, b'{"a": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"):
        with pytest.raises(safejson.JsonError):
            safejson.check(document)


def test_a_large_payload_of_many_small_records() -> None:
    records = [{"messageId": str(i), "body": "hello", "attributes": {"n": [i, i + 1]}} for i in range(20_000)]
    document = json.dumps({"Records": records}).encode()
    safejson.check(document)
    with pytest.raises(json.JSONDecodeError) as exc:
        safejson.check(document[:-2] + b",}")
    assert str(exc.value) == str(pytest.raises(json.JSONDecodeError, json.loads, document[:-2] + b",}").value)
