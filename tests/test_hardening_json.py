"""JSON nested 100,000 levels deep, in wire bodies and in the documents members carry: a 4xx with
the error each service gives for malformed JSON, never a 500 (it was RecursionError), and the
server stays well."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .bad_input_helpers import assert_healthy, auth_header, raw_request
from .conftest import make_client
from .lambda_helpers import ROLE, unique, zip_code
from .server import SluiceProcess

DEEP = 100_000


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    proc = SluiceProcess(tmp_path_factory.mktemp("hardening-json") / "data").start()
    yield proc
    proc.stop()


@pytest.mark.parametrize(("service", "target", "version"), [
    ("sqs", "AmazonSQS.ListQueues", "1.0"),
    ("sqs", "AmazonSQS.SendMessage", "1.0"),
    ("logs", "Logs_20140328.PutLogEvents", "1.1"),
    ("events", "AWSEvents.PutEvents", "1.1"),
    ("monitoring", "GraniteServiceVersion20100801.PutMetricData", "1.0"),
])
def test_deep_json_protocol_body(server: SluiceProcess, service: str, target: str, version: str) -> None:
    for body in (nested(DEEP), '{"Entries": ' + nested(DEEP) + "}"):
        status, headers, raw = raw_request(server, "POST", "/", body.encode(), {
            "Authorization": auth_header(service), "X-Amz-Target": target,
            "Content-Type": f"application/x-amz-json-{version}"})
        assert status == 400, raw[:300]
        assert headers["x-amzn-errortype"] == "SerializationException"
        assert json.loads(raw)["message"] == "Malformed JSON in request body"
    assert_healthy(server)


def test_deep_json_lambda_create_function(server: SluiceProcess) -> None:
    status, headers, raw = raw_request(server, "POST", "/2015-03-31/functions", nested(DEEP).encode(), {
        "Authorization": auth_header("lambda"), "Content-Type": "application/json"})
    assert status == 400, raw[:300]
    assert headers["x-amzn-errortype"] == "InvalidRequestContentException"
    assert json.loads(raw)["message"] == "Could not parse request body into json: Could not parse payload into json"
    assert_healthy(server)


def test_lambda_create_function_with_an_empty_body(server: SluiceProcess) -> None:
    # Lambda checks the model's required members as it checks their values.
    status, headers, raw = raw_request(server, "POST", "/2015-03-31/functions", b"", {
        "Authorization": auth_header("lambda"), "Content-Type": "application/json"})
    assert status == 400, raw[:300]
    assert headers["x-amzn-errortype"] == "ValidationException"
    assert json.loads(raw)["message"] == (
        "3 validation errors detected: "
        "Value null at 'functionName' failed to satisfy constraint: Member must not be null; "
        "Value null at 'role' failed to satisfy constraint: Member must not be null; "
        "Value null at 'code' failed to satisfy constraint: Member must not be null")
    assert_healthy(server)


def test_deep_json_lambda_invoke_payload(server: SluiceProcess) -> None:
    lam = make_client("lambda", server.endpoint)
    name = unique()
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
                        Code={"ZipFile": zip_code("def handler(event, context):\n    return event\n")})
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName=name, Payload=nested(DEEP).encode())
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert err.value.response["Error"]["Message"].startswith(
        "Could not parse request body into json: Could not parse payload into json: ")
    # Nesting a real event could have is accepted.
    resp = lam.invoke(FunctionName=name, Payload=nested(200).encode(), InvocationType="DryRun")
    assert resp["StatusCode"] == 204
    assert_healthy(server)


def _client_error(call: Callable[[], Any]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as err:
        call()
    resp = err.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"], resp["Error"]["Message"]


def test_deep_json_documents_in_members(server: SluiceProcess) -> None:
    ep = server.endpoint
    sqs, sns, events = (make_client(s, ep) for s in ("sqs", "sns", "events"))
    cloudwatch, iam, s3 = (make_client(s, ep) for s in ("cloudwatch", "iam", "s3"))
    deep = nested(DEEP)
    # Members with a size limit get a document that fits it but is still far too deep.
    small = nested(5000)
    token = base64.b64encode(deep.encode()).decode()
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName=unique("q"))["QueueUrl"],
                                         AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bucket = unique("bucket")
    s3.create_bucket(Bucket=bucket)
    cases: list[tuple[Callable[[], Any], tuple[int, str, str]]] = [
        (lambda: sqs.create_queue(QueueName=unique("q"), Attributes={"Policy": deep}),
         (400, "InvalidAttributeValue", "Invalid value for the parameter Policy.")),
        (lambda: sqs.create_queue(QueueName=unique("q"), Attributes={"RedrivePolicy": small}),
         (400, "InvalidParameterValue", f"Value {small} for parameter RedrivePolicy is invalid. "
                                        "Reason: Redrive policy is not a valid JSON map.")),
        (lambda: sqs.list_queues(NextToken=token),
         (400, "InvalidParameterValue", "Invalid NextToken value.")),
        (lambda: sns.create_topic(Name=unique("t"), Attributes={"Policy": small}),
         (400, "InvalidParameter", "Invalid parameter: Policy Error: failed to parse JSON")),
        (lambda: sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                               Attributes={"FilterPolicy": small}),
         (400, "InvalidParameter", "Invalid parameter: Attributes Reason: FilterPolicy: failed to parse JSON.")),
        (lambda: sns.publish(TopicArn=topic, Message=small, MessageStructure="json"),
         (400, "InvalidParameter", "Invalid parameter: Message Structure - JSON message body failed to parse")),
        (lambda: events.test_event_pattern(EventPattern='{"source": ["a"]}', Event=deep),
         (400, "ValidationException", "Parameter Event is not valid.")),
        (lambda: cloudwatch.set_alarm_state(AlarmName="any", StateValue="OK", StateReason="r",
                                            StateReasonData=small),
         (400, "InvalidFormat", "The parameter StateReasonData is not valid JSON.")),
        (lambda: iam.create_policy(PolicyName=unique("p"), PolicyDocument=small),
         (400, "MalformedPolicyDocument", "Syntax errors in policy.")),
        (lambda: s3.put_bucket_policy(Bucket=bucket, Policy=small),
         (400, "MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'")),
    ]
    assert [_client_error(call) for call, _ in cases] == [expected for _, expected in cases]
    put = events.put_events(Entries=[{"Source": "app", "DetailType": "t", "Detail": deep}])
    assert put["FailedEntryCount"] == 1
    assert put["Entries"][0]["ErrorCode"] == "MalformedDetail"
    assert_healthy(server)
