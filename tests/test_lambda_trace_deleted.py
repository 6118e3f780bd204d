"""`sluice trace` of an event whose function has been deleted since: its logs are still found."""

from __future__ import annotations

from typing import Any

from .conftest import make_client
from .lambda_helpers import create
from .pipeline_helpers import trace_json, wait_trace

HANDLER = """
def handler(event, context):
    print("handled", event["n"])
    return event
"""


def _logs(journey: dict[str, Any]) -> list[str]:
    return [line["message"] for a in journey["invocation"]["attempts"] for line in a.get("logs") or []]


def test_trace_after_the_function_is_deleted(endpoint: str) -> None:
    lam = make_client("lambda", endpoint)
    name = create(lam, HANDLER)
    request_id = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 7}')["ResponseMetadata"][
        "RequestId"]
    journey = wait_trace(request_id, endpoint, lambda j: "end" in j["invocation"] and any(
        "handled 7" in m for m in _logs(j)))
    before = _logs(journey)
    assert any("handled 7" in m for m in before)
    lam.delete_function(FunctionName=name)
    after = trace_json(request_id, endpoint)["journeys"][0]
    assert _logs(after) == before  # found in the default group /aws/lambda/<name>
