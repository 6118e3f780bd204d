"""Defects the protocol fuzzer (tests/fuzz) found, each pinned by the request that showed it."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from .lambda_helpers import zip_code
from .server import SluiceProcess


def _auth(signing_name: str) -> dict[str, str]:
    """An Authorization header plain mode takes without checking its signature."""
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/{signing_name}/aws4_request, "
                             "SignedHeaders=host, Signature=" + "0" * 64}


def _request(endpoint: str, method: str, path: str, headers: Mapping[str, str | bytes],
             body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One request on its own connection, with exactly these headers: (status, headers, body)."""
    url = urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        conn.request(method, path, body=body or None, headers=dict(headers))
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def _post_form(endpoint: str, signing_name: str, fields: dict[str, str]) -> tuple[int, bytes]:
    status, _, answer = _request(endpoint, "POST", "/", {
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8", **_auth(signing_name)},
        urlencode(fields).encode())
    return status, answer


@pytest.mark.parametrize(("signing_name", "fields", "code"), [
    # IAM's length check echoes the value it refused.
    ("iam", {"Action": "DeletePolicy", "Version": "2010-05-08", "PolicyArn": "\x08"}, "ValidationError"),
    # Every query service echoes an unknown action.
    ("sns", {"Action": "Publish\x01", "Version": "2010-03-31"}, "InvalidAction"),
    ("sts", {"Action": "GetCallerIdentity\x1f\x00", "Version": "2011-06-15"}, "InvalidAction"),
])
def test_query_errors_echoing_control_characters_are_well_formed_xml(
        sluice: SluiceProcess, signing_name: str, fields: dict[str, str], code: str) -> None:
    status, body = _post_form(sluice.endpoint, signing_name, fields)
    assert status == 400
    # Before: the character went out raw and no XML parser (botocore's included) could read the
    # error at all.
    root = ET.fromstring(body)
    ns = {"a": root.tag[1:].split("}")[0]} if root.tag.startswith("{") else {}
    found = root.find("a:Error/a:Code", ns) if ns else root.find("Error/Code")
    assert found is not None and found.text == code


def _cloudwatch(endpoint: str) -> Any:
    # A careless client: botocore's own checks off, so the server is the one that must refuse.
    return boto3.client("cloudwatch", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test",
                        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}))


_NAMELESS = [{"Value": "v"}]


@pytest.mark.parametrize("call", [
    lambda cw: cw.get_metric_statistics(Namespace="Fuzz/Dims", MetricName="m", Dimensions=_NAMELESS,
                                        StartTime=time.time() - 600, EndTime=time.time(), Period=60,
                                        Statistics=["Sum"]),
    lambda cw: cw.describe_alarms_for_metric(Namespace="Fuzz/Dims", MetricName="m", Dimensions=_NAMELESS),
    lambda cw: cw.get_metric_data(StartTime=time.time() - 600, EndTime=time.time(), MetricDataQueries=[
        {"Id": "q", "MetricStat": {"Metric": {"Namespace": "Fuzz/Dims", "MetricName": "m", "Dimensions": _NAMELESS},
                                   "Period": 60, "Stat": "Sum"}}]),
], ids=["GetMetricStatistics", "DescribeAlarmsForMetric", "GetMetricData"])
def test_cloudwatch_dimension_without_a_name_is_refused_not_a_500(sluice: SluiceProcess, call: Any) -> None:
    with pytest.raises(ClientError) as info:
        call(_cloudwatch(sluice.endpoint))
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert info.value.response["Error"]["Code"] == "MissingParameter"
    assert "Dimensions.member.1.Name" in info.value.response["Error"]["Message"]


def test_cloudwatch_alarm_with_a_nameless_dimension_is_refused(sluice: SluiceProcess) -> None:
    """Accepted before, the alarm made every evaluation raise (KeyError), which stopped the
    evaluation of every alarm listed after it."""
    cw = _cloudwatch(sluice.endpoint)
    name = f"fuzz-dims-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as info:
        cw.put_metric_alarm(AlarmName=name, Namespace="Fuzz/Dims", MetricName="m", Statistic="Sum", Period=60,
                            EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
                            Dimensions=[{"Name": "n"}])
    assert info.value.response["Error"]["Code"] == "MissingParameter"
    assert "Dimensions.member.1.Value" in info.value.response["Error"]["Message"]
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []


def _post_json(endpoint: str, target: str, content_type: str, body: bytes, signing_name: str) -> tuple[int, bytes]:
    status, _, answer = _request(endpoint, "POST", "/", {
        "Content-Type": content_type, "X-Amz-Target": target, **_auth(signing_name)}, body)
    return status, answer


@pytest.mark.parametrize("number", ["1e300", "-1e300", "99999999999999999999", "NaN"])
@pytest.mark.parametrize(("signing_name", "target", "content_type", "template"), [
    ("monitoring", "GraniteServiceVersion20100801.DescribeAlarmHistory", "application/x-amz-json-1.0",
     '{"StartDate": %s}'),
    ("events", "AWSEvents.PutEvents", "application/x-amz-json-1.1",
     '{"Entries": [{"Source": "fuzz", "DetailType": "t", "Detail": "{}", "Time": %s}]}'),
], ids=["cloudwatch", "events"])
def test_json_timestamp_out_of_range_is_a_serialization_error_not_a_500(
        sluice: SluiceProcess, number: str, signing_name: str, target: str, content_type: str,
        template: str) -> None:
    # Before: datetime.fromtimestamp raised OverflowError (ValueError for NaN): 500 InternalError.
    status, body = _post_json(sluice.endpoint, target, content_type, (template % number).encode(), signing_name)
    assert status == 400, body
    assert json.loads(body)["__type"].endswith("SerializationException")


@pytest.mark.parametrize("body", [b"\x1f\x8b\x08\x00garbage", b'{"Version": "2012-10-17", "Statement": "\xff"}'],
                         ids=["gzipped", "stray-byte"])
def test_s3_bucket_policy_that_is_not_utf8_is_malformed_not_a_500(sluice: SluiceProcess, body: bytes) -> None:
    s3 = boto3.client("s3", endpoint_url=sluice.endpoint, region_name="us-east-1", aws_access_key_id="test",
                      aws_secret_access_key="test")
    bucket = f"fuzz-policy-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    # A gzipped policy (the fuzzer's case) or one with a stray byte: before, decode() raised.
    status, _, answer = _request(sluice.endpoint, "PUT", f"/{bucket}?policy", _auth("s3"), body)
    assert status == 400, answer
    assert ET.fromstring(answer).findtext("Code") == "MalformedPolicy"
    with pytest.raises(ClientError) as info:
        s3.get_bucket_policy(Bucket=bucket)
    assert info.value.response["Error"]["Code"] == "NoSuchBucketPolicy"


@pytest.mark.parametrize(("signing_name", "target", "content_type", "body"), [
    ("monitoring", "GraniteServiceVersion20100801.DeleteAlarms", "application/x-amz-json-1.0",
     b'{"AlarmNames": [null]}'),
    ("events", "AWSEvents.PutEvents", "application/x-amz-json-1.1", b'{"Entries": [null]}'),
], ids=["list-of-strings", "list-of-structures"])
def test_json_null_inside_a_list_is_a_serialization_error_not_a_500(
        sluice: SluiceProcess, signing_name: str, target: str, content_type: str, body: bytes) -> None:
    # Before: the null reached the service as None where it expects a string ('.join' TypeError).
    status, answer = _post_json(sluice.endpoint, target, content_type, body, signing_name)
    assert status == 400, answer
    assert json.loads(answer)["__type"].endswith("SerializationException")


def test_json_null_map_value_is_refused_not_stored(sluice: SluiceProcess) -> None:
    """Before: a function was created with environment variable A = null, and every invocation
    then failed inside Sluice (TypeError building the worker's environment, a traceback)."""
    name = f"fuzz-null-env-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"FunctionName": name, "Runtime": "python3.12", "Handler": "handler.handler",
                       "Role": "arn:aws:iam::000000000000:role/r", "Environment": {"Variables": {"A": None}},
                       "Code": {"ZipFile": base64.b64encode(zip_code("def handler(e, c):\n    return e\n")).decode()}})
    status, _, answer = _request(sluice.endpoint, "POST", "/2015-03-31/functions",
                                 {"Content-Type": "application/json", **_auth("lambda")}, body.encode())
    assert status == 400, answer
    assert json.loads(answer)["Type"] == "User"
    lam = boto3.client("lambda", endpoint_url=sluice.endpoint, region_name="us-east-1", aws_access_key_id="test",
                       aws_secret_access_key="test")
    with pytest.raises(ClientError) as info:
        lam.get_function(FunctionName=name)
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize("max_buckets", ["0", "-1", "-9223372036854775809", "10001"])
def test_s3_list_buckets_page_size_out_of_range_is_invalid_argument_not_a_500(
        sluice: SluiceProcess, max_buckets: str) -> None:
    s3 = boto3.client("s3", endpoint_url=sluice.endpoint, region_name="us-east-1", aws_access_key_id="test",
                      aws_secret_access_key="test")
    s3.create_bucket(Bucket=f"fuzz-list-{uuid.uuid4().hex[:8]}")  # at least one bucket to page through
    status, _, answer = _request(sluice.endpoint, "GET", f"/?max-buckets={max_buckets}", _auth("s3"))
    # Before: 0 or less cut the page to nothing and then read its last bucket (IndexError, 500).
    assert status == 400, answer
    assert ET.fromstring(answer).findtext("Code") == "InvalidArgument"


@pytest.mark.parametrize(("signing_name", "target", "content_type", "body"), [
    ("monitoring", "GraniteServiceVersion20100801.DeleteAlarms", "application/x-amz-json-1.0",
     b'{"AlarmNames": ["\\ud800"]}'),
    ("logs", "Logs_20140328.DescribeLogGroups", "application/x-amz-json-1.1", b'{"logGroupNamePrefix": "a\\udfffb"}'),
    ("events", "AWSEvents.PutEvents", "application/x-amz-json-1.1",
     b'{"Entries": [{"Source": "\\ud800", "DetailType": "x", "Detail": "{}"}]}'),
    # Accepted before: a log group got a tag key no client could ever send back.
    ("logs", "Logs_20140328.CreateLogGroup", "application/x-amz-json-1.1",
     b'{"logGroupName": "fuzz-surrogate-tags", "tags": {"\\ud83d": "v"}}'),
], ids=["cloudwatch", "logs", "events", "map-key"])
def test_json_lone_surrogate_is_a_serialization_error_not_a_500(
        sluice: SluiceProcess, signing_name: str, target: str, content_type: str, body: bytes) -> None:
    # Before: the escaped surrogate decoded into a str that SQLite could not encode (a 500).
    status, answer = _post_json(sluice.endpoint, target, content_type, body, signing_name)
    assert status == 400, answer
    assert json.loads(answer)["__type"].endswith("SerializationException")


@pytest.mark.parametrize("number", ["9223372036854775808", "-9223372036854775809", "99999999999999999999999"])
def test_json_long_beyond_64_bits_is_a_serialization_error_not_a_500(sluice: SluiceProcess, number: str) -> None:
    logs = boto3.client("logs", endpoint_url=sluice.endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test")
    group = f"/fuzz/long-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    body = f'{{"logGroupName": "{group}", "startTime": {number}}}'.encode()
    # Before: the number went to SQLite, which cannot hold it (OverflowError, a 500).
    status, answer = _post_json(sluice.endpoint, "Logs_20140328.FilterLogEvents", "application/x-amz-json-1.1",
                                body, "logs")
    assert status == 400, answer
    assert json.loads(answer)["__type"].endswith("SerializationException")


def _post_raw(endpoint: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    return _request(endpoint, "POST", "/", {"Content-Type": "application/x-amz-json-1.1", **headers}, b"{}")


@pytest.mark.parametrize("headers", [
    # Before: the name went to the file system as a directory name: "File name too long", a 500.
    {"X-Amz-Target": "a" * 300 + ".Op"},
    # Names that are paths, not services: nothing is looked up for them.
    {"X-Amz-Target": "/etc.Op"},
    _auth(".."),
    _auth("%2e%2e"),
    # Before: the name went into the XML error as it came, and no parser could read the answer.
    {"X-Amz-Target": "<x>&y.Op"},
], ids=["long-target", "path-target", "dotdot-scope", "escaped-scope", "markup-target"])
def test_a_request_for_a_service_that_is_no_name_gets_not_implemented(
        sluice: SluiceProcess, headers: dict[str, str]) -> None:
    status, answer_headers, body = _post_raw(sluice.endpoint, headers)
    assert status == 501, body
    assert answer_headers.get("x-amzn-requestid")
    root = ET.fromstring(body)
    assert root.findtext("Code") == "NotImplemented"
    assert "Sluice does not implement service" in (root.findtext("Message") or "")


def test_a_service_botocore_knows_is_answered_in_its_protocol(sluice: SluiceProcess) -> None:
    # Kinesis speaks JSON: its SDK reads the error from a JSON body. Asked twice: the second
    # answer comes from the protocol kept, not from the model (which is not kept).
    for _ in range(2):
        status, _, body = _post_raw(sluice.endpoint, {
            **_auth("kinesis"), "X-Amz-Target": "Kinesis_20131202.ListStreams"})
        assert status == 501, body
        assert json.loads(body)["__type"] == "NotImplemented"


def test_only_the_protocol_of_a_service_sluice_does_not_serve_is_kept() -> None:
    from sluice.protocol import models

    assert models.protocol_of("kinesis") == "json"
    assert models.protocol_of("ec2") == "ec2"
    assert "kinesis" not in models._descriptions and "ec2" not in models._descriptions
    for name in ("..", "/etc", "a" * 300, "Kinesis", "kinesis/../s3", "no-such-service-here"):
        assert models.protocol_of(name) is None


def test_sqs_tags_with_control_characters_read_back_as_xml_over_the_query_protocol(sluice: SluiceProcess) -> None:
    sqs = boto3.client("sqs", endpoint_url=sluice.endpoint, region_name="us-east-1", aws_access_key_id="test",
                       aws_secret_access_key="test")
    url = sqs.create_queue(QueueName=f"fuzz-tags-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    status, answer = _post_json(sluice.endpoint, "AmazonSQS.TagQueue", "application/x-amz-json-1.0",
                                json.dumps({"QueueUrl": url, "Tags": {"k\x14": "v\x05\x15N"}}).encode(), "sqs")
    assert status == 200, answer
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"k\x14": "v\x05\x15N"}  # JSON carries them as they are
    # Before: the query protocol wrote them raw, and no XML parser (botocore's included) could read the answer.
    status, body = _post_form(sluice.endpoint, "sqs", {"Action": "ListQueueTags", "QueueUrl": url})
    assert status == 200, body
    root = ET.fromstring(body)
    ns = {"a": root.tag[1:].split("}")[0]}
    tag = root.find("a:ListQueueTagsResult/a:Tag", ns)
    assert tag is not None
    assert (tag.findtext("a:Key", namespaces=ns), tag.findtext("a:Value", namespaces=ns)) == ("k\ufffd", "v\ufffd\ufffdN")


def test_a_client_context_that_is_not_base64_json_is_refused_as_aws_does(sluice: SluiceProcess) -> None:
    lam = boto3.client("lambda", endpoint_url=sluice.endpoint, region_name="us-east-1", aws_access_key_id="test",
                       aws_secret_access_key="test")
    name = f"fuzz-client-context-{uuid.uuid4().hex[:8]}"
    lam.create_function(FunctionName=name, Runtime="python3.12", Handler="handler.handler",
                        Role="arn:aws:iam::000000000000:role/r",
                        Code={"ZipFile": zip_code("def handler(e, c):\n    return c.client_context.custom\n")})
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    good = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    out = lam.invoke(FunctionName=name, ClientContext=good)
    assert json.loads(out["Payload"].read()) == {"k": "v"}
    for bad in ("string", base64.b64encode(b"[1, 2]").decode(), base64.b64encode(b"\xff\xfe").decode()):
        for kind in ("RequestResponse", "Event"):
            with pytest.raises(ClientError) as info:
                lam.invoke(FunctionName=name, ClientContext=bad, InvocationType=kind)
            error = info.value.response["Error"]
            assert (error["Code"], error["Message"]) == (
                "InvalidRequestContentException", "Client context must be a valid Base64-encoded JSON object.")
    # Before: a non-ASCII byte in the header went through to the runtime, where decoding it raised
    # (a traceback in the log and a Runtime.Unknown answer).
    status, headers, answer = _request(sluice.endpoint, "POST", f"/2015-03-31/functions/{name}/invocations",
                                       {**_auth("lambda"), "X-Amz-Client-Context": b"\x80"})
    assert status == 400, answer
    assert json.loads(answer)["Type"] == "User"
    assert headers.get("x-amzn-errortype", "").startswith("InvalidRequestContentException")


def test_query_services_answers_stay_readable_whatever_a_stored_string_holds(sluice: SluiceProcess) -> None:
    """Found beside the SQS tags above: SNS, IAM and CloudFormation stored strings with control
    characters and then wrote them as character references XML 1.0 forbids, so botocore could not
    read GetTopicAttributes, CreateUser or DescribeStacks any more. They now read back as U+FFFD."""
    kw: dict[str, Any] = {"endpoint_url": sluice.endpoint, "region_name": "us-east-1",
                          "aws_access_key_id": "test", "aws_secret_access_key": "test"}
    suffix = uuid.uuid4().hex[:8]
    sns = boto3.client("sns", **kw)
    arn = sns.create_topic(Name=f"fuzz-ctl-{suffix}", Attributes={"DisplayName": "a\x05b"},
                           Tags=[{"Key": "k\x06", "Value": "v"}])["TopicArn"]
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "a\ufffdb"
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "k\ufffd", "Value": "v"}]
    iam = boto3.client("iam", **kw)
    user = iam.create_user(UserName=f"fuzz-ctl-{suffix}", Tags=[{"Key": "k", "Value": "v\x05"}])["User"]
    assert user["Tags"] == [{"Key": "k", "Value": "v\ufffd"}]
    cfn = boto3.client("cloudformation", **kw)
    cfn.create_stack(StackName=f"fuzz-ctl-{suffix}", TemplateBody='{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}',
                     Tags=[{"Key": "k", "Value": "v\x05"}])
    assert cfn.describe_stacks(StackName=f"fuzz-ctl-{suffix}")["Stacks"][0]["Tags"] == [{"Key": "k", "Value": "v\ufffd"}]


def test_a_request_for_an_unknown_service_is_answered_after_its_body(sluice: SluiceProcess) -> None:
    # Before: answered at once with the body unread, the connection closed under a client still
    # sending it: its send failed (a broken pipe), and in a rare race (once in the fuzzer's long
    # profile) the answer itself was lost to the reset.
    url = urlsplit(sluice.endpoint)
    body = b" " * (3 * 1024 * 1024)
    head = (f"POST / HTTP/1.1\r\nHost: {url.netloc}\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\n"
            f"Content-Type: application/x-amz-json-1.1\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=10) as sock:
        sock.sendall(head.encode() + body[:1000])
        time.sleep(0.3)  # a slow client: the server has its head, and may already have answered
        sock.sendall(body[1000:])
        response = http.client.HTTPResponse(sock, method="POST")
        response.begin()
        answer = response.read()
    assert response.status == 501, answer
    assert b"NotImplemented" in answer


# A URL whose host urllib cannot read raises ValueError ("Invalid IPv6 URL"); each of these
# answered 500 InternalError before.
_UNREADABLE_URL = "http://[127.0.0.1:1/000000000000/fuzz"


def test_an_unreadable_queue_url_is_a_queue_that_does_not_exist(sluice: SluiceProcess) -> None:
    sqs = boto3.client("sqs", endpoint_url=sluice.endpoint, region_name="us-east-1", aws_access_key_id="test",
                       aws_secret_access_key="test")
    for call in (lambda: sqs.delete_queue(QueueUrl=_UNREADABLE_URL),
                 lambda: sqs.send_message(QueueUrl=_UNREADABLE_URL, MessageBody="x")):
        with pytest.raises(ClientError) as info:
            call()
        assert info.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"


def test_an_unreadable_template_url_is_a_validation_error(sluice: SluiceProcess) -> None:
    cfn = boto3.client("cloudformation", endpoint_url=sluice.endpoint, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    for call in (lambda: cfn.validate_template(TemplateURL="https://[x/b/t.json"),
                 lambda: cfn.create_stack(StackName=f"fuzz-url-{uuid.uuid4().hex[:8]}", TemplateURL="https://[x/b/t.json")):
        with pytest.raises(ClientError) as info:
            call()
        error = info.value.response["Error"]
        assert (error["Code"], error["Message"]) == ("ValidationError", "TemplateURL must be a supported URL.")


def test_an_unreadable_success_action_redirect_is_ignored_as_s3_does(sluice: SluiceProcess) -> None:
    s3 = boto3.client("s3", endpoint_url=sluice.endpoint, region_name="us-east-1", aws_access_key_id="test",
                      aws_secret_access_key="test", config=Config(signature_version="s3v4"))
    bucket = f"fuzz-redirect-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    post = s3.generate_presigned_post(bucket, "k", Fields={"success_action_redirect": "http://[x/"},
                                      Conditions=[{"success_action_redirect": "http://[x/"}])
    # S3 acts as if a redirect it cannot interpret were not there: the default 204.
    resp = requests.post(post["url"], data=post["fields"], files={"file": ("x", b"1")}, timeout=30,
                         allow_redirects=False)
    assert resp.status_code == 204, resp.content
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"1"


def test_a_testing_api_write_with_an_unreadable_host_is_refused_not_a_500(sluice: SluiceProcess) -> None:
    status, _, answer = _request(sluice.endpoint, "POST", "/_sluice/reset",
                                 {"Host": "[", "Origin": "http://elsewhere.example", "Content-Type": "application/json"},
                                 b"{}")
    assert status == 403, answer
    assert json.loads(answer)["error"] == "CrossOriginRefused"
