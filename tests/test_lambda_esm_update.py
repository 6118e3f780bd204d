"""UpdateEventSourceMapping moving a mapping to another function."""

from __future__ import annotations

import uuid
from typing import Any

from .conftest import make_client
from .lambda_helpers import create

HANDLER = "def handler(event, context):\n    return None\n"


def test_a_mapping_moved_to_another_function_is_listed_under_it(endpoint: str) -> None:
    lam, sqs = make_client("lambda", endpoint), make_client("sqs", endpoint)
    url = sqs.create_queue(QueueName=f"move-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    first, second = create(lam, HANDLER), create(lam, HANDLER)
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=first, Enabled=False)["UUID"]
    moved = lam.update_event_source_mapping(UUID=mapping, FunctionName=second)
    assert moved["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{second}"

    def listed(function: str) -> list[Any]:
        return [m["UUID"] for m in lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]]

    assert listed(second) == [mapping]
    assert listed(first) == []
    lam.delete_event_source_mapping(UUID=mapping)
