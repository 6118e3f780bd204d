"""smithy-rpc-v2-cbor read and written against botocore's own serializer and parser, and the
gateway recognising an unsigned CBOR request."""

from __future__ import annotations

import datetime as dt
import io
import urllib.error
import urllib.request
from typing import Any

import cbor2
import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from sluice.protocol.context import RequestContext
from sluice.protocol.errors import ServiceError
from sluice.protocol.http import HttpRequest
from sluice.protocol.models import service_model
from sluice.protocol.rpcv2cbor import RpcV2CborProtocol

UTC = dt.timezone.utc


def as_request(op_name: str, params: dict[str, Any]) -> tuple[RpcV2CborProtocol, HttpRequest]:
    model = service_model("cloudwatch")
    wire = create_serializer("smithy-rpc-v2-cbor").serialize_to_request(params, model.operation_model(op_name))
    headers = {k.lower(): v for k, v in wire["headers"].items()}
    return RpcV2CborProtocol(model), HttpRequest("POST", wire["url_path"], "", headers, io.BytesIO(wire["body"]))


def ctx() -> RequestContext:
    return RequestContext("rid-1", "host", "000000000000", "us-east-1", "cloudwatch")


def parse(protocol: RpcV2CborProtocol, op_name: str, resp: Any) -> dict[str, Any]:
    shape = protocol.model.operation_model(op_name).output_shape if resp.status == 200 else None
    headers = {k.lower(): v for k, v in resp.headers}
    result: dict[str, Any] = create_parser("smithy-rpc-v2-cbor").parse(
        {"body": resp.body, "headers": headers, "status_code": resp.status}, shape)
    return result


def test_reads_what_botocore_writes() -> None:
    when = dt.datetime(2026, 11, 22, 11, 2, 3, 500000, tzinfo=UTC)
    params = {"Namespace": "App", "MetricData": [
        {"MetricName": "Latency", "Dimensions": [{"Name": "Host", "Value": "a"}], "Timestamp": when,
         "Value": 2.5, "Unit": "Milliseconds", "StorageResolution": 1},
        {"MetricName": "Sizes", "Values": [1.0, -3.25], "Counts": [2.0, 1.0]},
        {"MetricName": "Set", "StatisticValues": {"SampleCount": 3.0, "Sum": 6.0, "Minimum": 1.0, "Maximum": 3.0}},
    ]}
    protocol, req = as_request("PutMetricData", params)
    assert req.headers["smithy-protocol"] == "rpc-v2-cbor"
    op = protocol.route(req)
    assert op.name == "PutMetricData"
    assert protocol.parse(op, req) == params


def test_botocore_parses_what_we_write() -> None:
    protocol = RpcV2CborProtocol(service_model("cloudwatch"))
    op = protocol.model.operation_model("GetMetricData")
    when = dt.datetime(2026, 11, 22, 11, 2, tzinfo=UTC)
    result = {"MetricDataResults": [{"Id": "m", "Label": "L", "Timestamps": [when.timestamp()], "Values": [3],
                                     "StatusCode": "Complete", "Messages": []}], "Messages": []}
    resp = protocol.serialize(op, result, ctx())
    assert ("Content-Type", "application/cbor") in resp.headers
    assert isinstance(resp.body, bytes)
    decoded = cbor2.loads(resp.body)
    assert decoded["MetricDataResults"][0]["Timestamps"] == [when]  # CBOR tag 1
    parsed = parse(protocol, "GetMetricData", resp)
    assert parsed["MetricDataResults"][0]["Timestamps"][0] == when
    assert parsed["MetricDataResults"][0]["Values"] == [3.0]


def test_errors_carry_the_query_code_botocore_reads() -> None:
    protocol = RpcV2CborProtocol(service_model("cloudwatch"))
    resp = protocol.serialize_error(ServiceError("MissingRequiredParameterException",
                                                 "The parameter Namespace is required.", 400), ctx())
    assert ("x-amzn-query-error", "MissingParameter;Sender") in resp.headers
    parsed = parse(protocol, "PutMetricData", resp)
    assert parsed["Error"]["Code"] == "MissingParameter"
    assert parsed["Error"]["Message"] == "The parameter Namespace is required."


def test_an_unsigned_cbor_request_reaches_cloudwatch(endpoint: str) -> None:
    """Found by its smithy path alone, an unsigned request is CloudWatch's, which answers an
    anonymous caller in CBOR as AWS does (issue 16: unsigned is anonymous)."""
    body = cbor2.dumps({"Namespace": "Unsigned/Test", "MetricData": [{"MetricName": "m", "Value": 1.0}]})
    req = urllib.request.Request(
        endpoint + "/service/GraniteServiceVersion20100801/operation/PutMetricData", data=body, method="POST",
        headers={"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req)
    assert exc.value.code == 403 and exc.value.headers["smithy-protocol"] == "rpc-v2-cbor"
    assert cbor2.loads(exc.value.read()) == {"__type": "MissingAuthenticationToken",
                                             "message": "Request is missing Authentication Token"}
