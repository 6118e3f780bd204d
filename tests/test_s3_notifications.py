"""S3 event notifications: configuration, validation, event shape, delivery to SQS and Lambda."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import make_client
from .lambda_helpers import create
from .server import SluiceProcess

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def sqs(endpoint: str) -> Any:
    return make_client("sqs", endpoint)


@pytest.fixture(scope="module")
def lam(endpoint: str) -> Any:
    return make_client("lambda", endpoint)


def s3_may_send(arn: str, source_bucket: str | None = None) -> str:
    """A queue or topic policy that lets S3 send to it (from one bucket, or any), as AWS requires."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                                 "Action": "sns:Publish" if ":sns:" in arn else "sqs:SendMessage", "Resource": arn}
    if source_bucket:
        statement["Condition"] = {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{source_bucket}"}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def new_queue(sqs: Any, policy: bool = True) -> tuple[str, str]:
    name = f"q-{uuid.uuid4().hex[:10]}"
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"
    url = sqs.create_queue(QueueName=name, Attributes={"Policy": s3_may_send(arn)} if policy else {})["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] == arn
    return url, arn


def receive(sqs: Any, url: str, count: int = 1, timeout: float = 15) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(bodies) < count and time.monotonic() < deadline:
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in resp.get("Messages", []):
            bodies.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return bodies


def queue_config(arn: str, events: list[str], **flt: str) -> dict[str, Any]:
    conf: dict[str, Any] = {"QueueArn": arn, "Events": events}
    if flt:
        conf["Filter"] = {"Key": {"FilterRules": [{"Name": k, "Value": v} for k, v in flt.items()]}}
    return conf


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    return exc.value.response["Error"]


def queue_depth(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                    "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(v) for v in attrs["Attributes"].values())


def trace(endpoint: str, target: str) -> tuple[int, list[dict[str, Any]]]:
    """Sluice's journal of a key's events (`sluice trace`): (HTTP status, journeys)."""
    url = f"{endpoint}/_sluice/trace?" + urllib.parse.urlencode({"target": target})
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())["journeys"]
    except urllib.error.HTTPError as err:
        return err.code, []


def _invoked(journeys: list[dict[str, Any]]) -> bool:
    notes = journeys[0]["notifications"] if journeys else []
    return bool(notes) and bool(notes[0]["invocation"]) and notes[0]["invocation"]["state"] == "done"


# -- configuration -------------------------------------------------------------------------


def test_config_round_trip_and_removal(s3: Any, sqs: Any, bucket: str) -> None:
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)
    _, arn = new_queue(sqs)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [
            queue_config(arn, ["s3:ObjectCreated:*"], prefix="in/", SUFFIX=".txt"),
            {"Id": "mine", "QueueArn": arn, "Events": ["s3:ObjectRemoved:*"]},
        ],
        "EventBridgeConfiguration": {},
    })
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    first, second = got["QueueConfigurations"]
    assert first["Id"] and first["QueueArn"] == arn and first["Events"] == ["s3:ObjectCreated:*"]
    assert first["Filter"]["Key"]["FilterRules"] == [{"Name": "Prefix", "Value": "in/"},
                                                     {"Name": "Suffix", "Value": ".txt"}]
    assert second["Id"] == "mine" and "Filter" not in second
    assert "EventBridgeConfiguration" in got
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert "QueueConfigurations" not in got and "EventBridgeConfiguration" not in got


def test_unparseable_arn(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": "not-an-arn", "Events": ["s3:ObjectCreated:*"]}],
        })
    err = error_of(exc)
    assert err["Code"] == "InvalidArgument"
    assert err["Message"] == "The ARN could not be parsed"
    assert err["ArgumentName"] == "CloudFunction"


def test_missing_destinations_fail_validation_unless_skipped(s3: Any, bucket: str) -> None:
    missing_fn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:nope-{uuid.uuid4().hex[:6]}"
    missing_q = f"arn:aws:sqs:us-east-1:{ACCOUNT}:nope-{uuid.uuid4().hex[:6]}"
    for conf in ({"LambdaFunctionConfigurations": [{"LambdaFunctionArn": missing_fn, "Events": ["s3:ObjectCreated:*"]}]},
                 {"QueueConfigurations": [queue_config(missing_q, ["s3:ObjectCreated:*"])]}):
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=conf)
        err = error_of(exc)
        assert err["Code"] == "InvalidArgument"
        assert err["Message"] == "Unable to validate the following destination configurations"
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=conf,
                                                 SkipDestinationValidation=True)


def test_queue_and_topic_policies_must_let_s3_send(s3: Any, sqs: Any, endpoint: str,
                                                    bucket: str) -> None:
    """AWS checks, when the configuration is set, that the queue's / topic's policy lets
    s3.amazonaws.com send from this bucket (aws:SourceArn / aws:SourceAccount conditions)."""
    sns = make_client("sns", endpoint)
    url, arn = new_queue(sqs, policy=False)
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
    other_bucket = s3_may_send(arn, source_bucket=f"other-{bucket}")
    for conf in ({"QueueConfigurations": [queue_config(arn, ["s3:ObjectCreated:*"])]},
                 {"TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]}):
        with pytest.raises(ClientError) as exc:  # no policy (the topic's default one does not name S3)
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=conf)
        err = error_of(exc)
        assert err["Code"] == "InvalidArgument"
        assert err["Message"] == "Unable to validate the following destination configurations"
        assert err["ArgumentName"] in (arn, topic)
        assert "do not allow S3 to publish notifications from this bucket" in err["ArgumentValue"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": other_bucket})
    with pytest.raises(ClientError) as exc:  # a policy for another bucket's notifications
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "QueueConfigurations": [queue_config(arn, ["s3:ObjectCreated:*"])]})
    assert error_of(exc)["Code"] == "InvalidArgument"
    s3.put_bucket_notification_configuration(Bucket=bucket, SkipDestinationValidation=True, NotificationConfiguration={
        "QueueConfigurations": [queue_config(arn, ["s3:ObjectCreated:*"])]})
    # Skipped validation sends no test event: validation sends it before the configuration call returns.
    assert queue_depth(sqs, url) == 0
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": s3_may_send(arn, source_bucket=bucket)})
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy",
                             AttributeValue=s3_may_send(topic, source_bucket=bucket))
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [queue_config(arn, ["s3:ObjectCreated:*"])],
        "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectRemoved:*"]}]})
    (test_event,) = receive(sqs, url)
    assert test_event["Event"] == "s3:TestEvent"


def test_overlapping_configurations(s3: Any, sqs: Any, bucket: str) -> None:
    _, arn = new_queue(sqs)
    message = ("Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the "
               "prefixes are overlapping for the same event type.")
    overlapping = [
        [queue_config(arn, ["s3:ObjectCreated:*"]), queue_config(arn, ["s3:ObjectCreated:Put"], prefix="a/")],
        [queue_config(arn, ["s3:ObjectCreated:Put"], prefix="a/"), queue_config(arn, ["s3:ObjectCreated:Put"],
                                                                                 prefix="a/b", suffix=".x")],
    ]
    for confs in overlapping:
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_notification_configuration(Bucket=bucket,
                                                     NotificationConfiguration={"QueueConfigurations": confs})
        assert error_of(exc)["Code"] == "InvalidArgument"
        assert error_of(exc)["Message"] == message
    fine = [
        [queue_config(arn, ["s3:ObjectCreated:*"], suffix=".jpg"), queue_config(arn, ["s3:ObjectCreated:*"],
                                                                                 suffix=".png")],
        [queue_config(arn, ["s3:ObjectCreated:*"]), queue_config(arn, ["s3:ObjectRemoved:*"])],
        [queue_config(arn, ["s3:ObjectCreated:*"], prefix="a/"), queue_config(arn, ["s3:ObjectCreated:*"],
                                                                               prefix="b/")],
    ]
    for confs in fine:
        s3.put_bucket_notification_configuration(Bucket=bucket,
                                                 NotificationConfiguration={"QueueConfigurations": confs})


# -- events --------------------------------------------------------------------------------


def test_sqs_receives_test_event_then_put_events(s3: Any, sqs: Any, bucket: str) -> None:
    url, arn = new_queue(sqs)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"Id": "cfg", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    (test_event,) = receive(sqs, url)
    assert test_event["Service"] == "Amazon S3" and test_event["Event"] == "s3:TestEvent"
    assert test_event["Bucket"] == bucket and test_event["Time"].endswith("Z")
    assert "RequestId" in test_event and "HostId" in test_event

    key = "dir/a b@c+d.txt"
    put1 = s3.put_object(Bucket=bucket, Key=key, Body=b"hello")
    put2 = s3.put_object(Bucket=bucket, Key=key, Body=b"hello, again")
    first, second = receive(sqs, url, 2)
    rec = first["Records"][0]
    assert len(first["Records"]) == 1
    assert rec["eventVersion"] == "2.1" and rec["eventSource"] == "aws:s3" and rec["awsRegion"] == "us-east-1"
    assert rec["eventName"] == "ObjectCreated:Put"
    assert rec["eventTime"].endswith("Z") and len(rec["eventTime"]) == len("2025-01-21T10:00:00.000Z")
    assert rec["userIdentity"]["principalId"]
    assert rec["requestParameters"]["sourceIPAddress"] == "127.0.0.1"
    assert rec["responseElements"]["x-amz-request-id"] == put1["ResponseMetadata"]["RequestId"]
    assert rec["responseElements"]["x-amz-id-2"] == put1["ResponseMetadata"]["HostId"]
    s3rec = rec["s3"]
    assert s3rec["s3SchemaVersion"] == "1.0" and s3rec["configurationId"] == "cfg"
    assert s3rec["bucket"]["name"] == bucket and s3rec["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert s3rec["bucket"]["ownerIdentity"]["principalId"]
    obj = s3rec["object"]
    assert obj["key"] == "dir/a+b%40c%2Bd.txt"
    assert obj["size"] == 5 and obj["eTag"] == put1["ETag"].strip('"')
    rec2 = second["Records"][0]
    assert rec2["responseElements"]["x-amz-request-id"] == put2["ResponseMetadata"]["RequestId"]
    seq1, seq2 = obj["sequencer"], rec2["s3"]["object"]["sequencer"]
    int(seq1, 16)
    width = max(len(seq1), len(seq2))
    assert seq2.rjust(width, "0") > seq1.rjust(width, "0")


def test_copy_multipart_and_delete_events(s3: Any, sqs: Any, bucket: str) -> None:
    url, arn = new_queue(sqs)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [queue_config(arn, ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])]})
    receive(sqs, url)  # the test event
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"m" * 10)
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    deleted = s3.delete_object(Bucket=bucket, Key="src")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "dst"}, {"Key": "mp"}]})
    records = [b["Records"][0] for b in receive(sqs, url, 6)]
    names = [(r["eventName"], r["s3"]["object"]["key"]) for r in records]
    assert names == [("ObjectCreated:Put", "src"), ("ObjectCreated:Copy", "dst"),
                     ("ObjectCreated:CompleteMultipartUpload", "mp"), ("ObjectRemoved:Delete", "src"),
                     ("ObjectRemoved:Delete", "dst"), ("ObjectRemoved:Delete", "mp")]
    assert records[2]["s3"]["object"]["size"] == 10
    removal = records[3]
    assert set(removal["s3"]["object"]) == {"key", "sequencer"}
    assert removal["responseElements"]["x-amz-request-id"] == deleted["ResponseMetadata"]["RequestId"]


def test_prefix_and_suffix_filters_match_encoded_key(s3: Any, sqs: Any, bucket: str) -> None:
    url, arn = new_queue(sqs)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [queue_config(arn, ["s3:ObjectCreated:Put"], Prefix="in+put/", Suffix=".jpg")]})
    receive(sqs, url)
    for key in ("in put/a.jpg", "in put/a.png", "other/a.jpg", "in+put/b.jpg"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.put_object(Bucket=bucket, Key="in put/last.jpg", Body=b"x")
    keys = [b["Records"][0]["s3"]["object"]["key"] for b in receive(sqs, url, 3, timeout=10)]
    assert keys == ["in+put/a.jpg", "in+put/last.jpg"]


def test_lambda_target_invoked_asynchronously(s3: Any, lam: Any, endpoint: str, bucket: str,
                                             tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    name = create(lam, """
        import json, os

        def handler(event, context):
            with open(os.environ["OUT"], "a") as f:
                f.write(json.dumps(event) + "\\n")
    """, Environment={"Variables": {"OUT": str(out)}})
    fn_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    config = {"LambdaFunctionConfigurations": [{"Id": "fn", "LambdaFunctionArn": fn_arn, "Events": ["s3:ObjectCreated:*"],
                                                "Filter": {"Key": {"FilterRules": [{"Name": "suffix",
                                                                                    "Value": ".csv"}]}}}]}
    # As on AWS, S3 may invoke the function only once its resource policy says so.
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    assert exc.value.response["Error"]["Code"] == "InvalidArgument"
    assert exc.value.response["Error"]["Message"] == "Unable to validate the following destination configurations"
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}",
                       SourceAccount="000000000000")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    s3.put_object(Bucket=bucket, Key="skip.txt", Body=b"no")
    # An event's notifications are committed with the object: a key the filter skips has none, for good.
    assert trace(endpoint, f"{bucket}/skip.txt") == (404, [])
    put = s3.put_object(Bucket=bucket, Key="data/x.csv", Body=b"a,b")
    # Wait for the invocation's recorded outcome: the handler has run, and a success is not retried.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _invoked(trace(endpoint, f"{bucket}/data/x.csv")[1]):
        time.sleep(0.2)
    (journey,) = trace(endpoint, f"{bucket}/data/x.csv")[1]
    (note,) = journey["notifications"]
    assert (note["state"], note["attempts"], note["target"]) == ("delivered", 1, fn_arn)
    assert note["invocation"]["end"]["condition"] == "Success"
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(events) == 1
    rec = events[0]["Records"][0]
    assert rec["eventName"] == "ObjectCreated:Put" and rec["s3"]["configurationId"] == "fn"
    assert rec["s3"]["object"]["key"] == "data/x.csv" and rec["s3"]["object"]["size"] == 3
    assert rec["responseElements"]["x-amz-request-id"] == put["ResponseMetadata"]["RequestId"]


def test_event_survives_kill_after_ack(tmp_path: Path) -> None:
    """An acknowledged PutObject produces its event even if the server dies right after the 200."""
    server = SluiceProcess(tmp_path / "data").start()
    try:
        s3 = make_client("s3", server.endpoint)
        s3.create_bucket(Bucket="durable")
        name = f"later-{uuid.uuid4().hex[:8]}"
        arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"
        # The queue does not exist yet, so deliveries fail and stay in the outbox until it does.
        s3.put_bucket_notification_configuration(
            Bucket="durable", SkipDestinationValidation=True,
            NotificationConfiguration={"QueueConfigurations": [queue_config(arn, ["s3:ObjectCreated:*"])]})
        put = s3.put_object(Bucket="durable", Key="k", Body=b"v")
        server.kill()
        server.start()
        sqs = make_client("sqs", server.endpoint)
        url = sqs.create_queue(QueueName=name,
                               Attributes={"Policy": s3_may_send(arn)})["QueueUrl"]
        (body,) = receive(sqs, url, 1, timeout=30)
        assert body["Records"][0]["responseElements"]["x-amz-request-id"] == put["ResponseMetadata"]["RequestId"]
    finally:
        server.stop()


def test_eventbridge_delivery(s3: Any, sqs: Any, endpoint: str, bucket: str) -> None:
    events = make_client("events", endpoint)
    url, arn = new_queue(sqs)
    rule = f"s3-{uuid.uuid4().hex[:8]}"
    events.put_rule(Name=rule, EventPattern=json.dumps(
        {"source": ["aws.s3"], "detail": {"bucket": {"name": [bucket]}}}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    s3.put_bucket_notification_configuration(Bucket=bucket,
                                             NotificationConfiguration={"EventBridgeConfiguration": {}})
    put = s3.put_object(Bucket=bucket, Key="a b.txt", Body=b"1234")
    s3.delete_object(Bucket=bucket, Key="a b.txt")
    created, deleted = receive(sqs, url, 2, timeout=20)
    assert created["source"] == "aws.s3" and created["detail-type"] == "Object Created"
    assert created["resources"] == [f"arn:aws:s3:::{bucket}"]
    detail = created["detail"]
    assert detail["bucket"] == {"name": bucket} and detail["reason"] == "PutObject"
    assert detail["object"]["key"] == "a b.txt" and detail["object"]["size"] == 4
    assert detail["object"]["etag"] == put["ETag"].strip('"')
    assert detail["request-id"] == put["ResponseMetadata"]["RequestId"]
    assert deleted["detail-type"] == "Object Deleted" and deleted["detail"]["reason"] == "DeleteObject"


def test_sns_target_gets_test_event(s3: Any, sqs: Any, endpoint: str, bucket: str) -> None:
    sns = make_client("sns", endpoint)
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy",
                             AttributeValue=s3_may_send(topic, source_bucket=bucket))
    url, arn = new_queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true"})
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]})
    (test_event,) = receive(sqs, url)
    assert test_event["Event"] == "s3:TestEvent"
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    (event,) = receive(sqs, url)
    assert event["Records"][0]["eventName"] == "ObjectCreated:Put"


def test_deleting_bucket_drops_its_configuration(s3: Any, sqs: Any) -> None:
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    _, arn = new_queue(sqs)
    s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={
        "QueueConfigurations": [queue_config(arn, ["s3:ObjectCreated:*"])]})
    s3.delete_bucket(Bucket=name)
    s3.create_bucket(Bucket=name)
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=name)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_notification_configuration(Bucket=f"missing-{uuid.uuid4().hex[:8]}")
    assert error_of(exc)["Code"] == "NoSuchBucket"


# -- versioned buckets ---------------------------------------------------------------------


def test_versioned_bucket_events_carry_version_ids(s3: Any, sqs: Any, bucket: str) -> None:
    url, arn = new_queue(sqs)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [queue_config(arn, ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])]})
    receive(sqs, url)  # the test event
    put = s3.put_object(Bucket=bucket, Key="v.txt", Body=b"abc")
    marker = s3.delete_object(Bucket=bucket, Key="v.txt")
    gone = s3.delete_object(Bucket=bucket, Key="v.txt", VersionId=put["VersionId"])
    created, marked, removed = (b["Records"][0] for b in receive(sqs, url, 3))
    assert created["eventName"] == "ObjectCreated:Put"
    assert created["s3"]["object"]["versionId"] == put["VersionId"] and created["s3"]["object"]["size"] == 3
    assert marked["eventName"] == "ObjectRemoved:DeleteMarkerCreated"
    assert marked["s3"]["object"] == {"key": "v.txt", "versionId": marker["VersionId"],
                                      "sequencer": marked["s3"]["object"]["sequencer"]}
    assert marked["responseElements"]["x-amz-request-id"] == marker["ResponseMetadata"]["RequestId"]
    assert removed["eventName"] == "ObjectRemoved:Delete"
    assert removed["s3"]["object"]["versionId"] == put["VersionId"]
    assert removed["responseElements"]["x-amz-request-id"] == gone["ResponseMetadata"]["RequestId"]


def test_unversioned_bucket_events_have_no_version_id(s3: Any, sqs: Any, bucket: str) -> None:
    url, arn = new_queue(sqs)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [queue_config(arn, ["s3:ObjectCreated:Put"])]})
    receive(sqs, url)
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    (body,) = receive(sqs, url)
    assert "versionId" not in body["Records"][0]["s3"]["object"]


def test_eventbridge_deletion_types(s3: Any, sqs: Any, endpoint: str, bucket: str) -> None:
    events = make_client("events", endpoint)
    url, arn = new_queue(sqs)
    rule = f"s3-{uuid.uuid4().hex[:8]}"
    events.put_rule(Name=rule, EventPattern=json.dumps(
        {"source": ["aws.s3"], "detail-type": ["Object Deleted"], "detail": {"bucket": {"name": [bucket]}}}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(Bucket=bucket,
                                             NotificationConfiguration={"EventBridgeConfiguration": {}})
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="k", VersionId=version)
    marked, removed = receive(sqs, url, 2, timeout=20)
    assert marked["detail"]["deletion-type"] == "Delete Marker Created"
    assert marked["detail"]["object"]["version-id"] == marker and marked["detail"]["reason"] == "DeleteObject"
    assert removed["detail"]["deletion-type"] == "Permanently Deleted"
    assert removed["detail"]["object"]["version-id"] == version
