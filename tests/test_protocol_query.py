"""The query protocol read and written against botocore's own serializer and parser."""

from __future__ import annotations

import io
from urllib.parse import urlencode

from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from sluice.protocol.context import RequestContext
from sluice.protocol.errors import ServiceError
from sluice.protocol.http import HttpRequest
from sluice.protocol.models import service_model
from sluice.protocol.query import QueryProtocol


def as_request(model_name: str, op_name: str, params: dict) -> tuple[QueryProtocol, HttpRequest]:
    model = service_model(model_name)
    op = model.operation_model(op_name)
    wire = create_serializer("query").serialize_to_request(params, op)
    body = urlencode(wire["body"]).encode()
    req = HttpRequest("POST", "/", "", {"content-type": "application/x-www-form-urlencoded"}, io.BytesIO(body))
    return QueryProtocol(model), req


def ctx() -> RequestContext:
    return RequestContext("rid-1", "host", "000000000000", "us-east-1", "sns")


def test_reads_what_botocore_writes_nested_maps_and_lists() -> None:
    params = {
        "TopicArn": "arn:aws:sns:us-east-1:000000000000:t",
        "Message": "hello & <world>",
        "Subject": "s",
        "MessageAttributes": {
            "color": {"DataType": "String", "StringValue": "blue"},
            "size": {"DataType": "Number", "StringValue": "3"},
            "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    }
    protocol, req = as_request("sns", "Publish", params)
    op = protocol.route(req)
    assert op.name == "Publish"
    assert protocol.parse(op, req) == params


def test_flattened_lists_and_maps_of_sqs() -> None:
    params = {"QueueUrl": "http://q", "AttributeNames": ["All"], "MessageAttributeNames": ["a", "b"],
              "MaxNumberOfMessages": 5, "WaitTimeSeconds": 0}
    protocol, req = as_request("sqs", "ReceiveMessage", params)
    assert protocol.parse(protocol.route(req), req) == params
    attrs = {"QueueName": "q", "Attributes": {"VisibilityTimeout": "5", "DelaySeconds": "1"}, "tags": {"k": "v"}}
    protocol, req = as_request("sqs", "CreateQueue", attrs)
    assert protocol.parse(protocol.route(req), req) == attrs


def test_botocore_parses_what_we_write() -> None:
    model = service_model("sns")
    op = model.operation_model("ListTopics")
    protocol = QueryProtocol(model)
    result = {"Topics": [{"TopicArn": "arn:aws:sns:us-east-1:000000000000:a"},
                         {"TopicArn": "arn:aws:sns:us-east-1:000000000000:b"}], "NextToken": "n"}
    resp = protocol.serialize(op, result, ctx())
    parsed = create_parser("query").parse(
        {"body": resp.body, "headers": dict(resp.headers), "status_code": resp.status}, op.output_shape)
    assert parsed["Topics"] == result["Topics"]
    assert parsed["NextToken"] == "n"
    assert parsed["ResponseMetadata"]["RequestId"] == "rid-1"


def test_errors_carry_the_query_code_botocore_reads() -> None:
    model = service_model("sqs")
    protocol = QueryProtocol(model)
    resp = protocol.serialize_error(ServiceError("QueueDoesNotExist", "The specified queue does not exist.", 400),
                                    ctx())
    parsed = create_parser("query").parse(
        {"body": resp.body, "headers": dict(resp.headers), "status_code": resp.status}, None)
    assert parsed["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert parsed["Error"]["Message"] == "The specified queue does not exist."
    assert parsed["Error"]["Type"] == "Sender"
