"""Lifecycle expiration on a real `sluice up --clock manual`, driven over HTTP with the testing
API (`POST /_sluice/clock/advance`): boto3 sets the rule and uploads, the clock is advanced to the
midnight S3 would expire the object, and the expiration's notification is in the queue."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("sluice.gateway.testing_api", reason="needs the testing API (issue 13)")

from .conftest import make_client  # noqa: E402
from .testing_api_helpers import advance, manual_server, now  # noqa: E402

DAY = 86_400


@pytest.fixture(scope="module")
def manual(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for server in manual_server(tmp_path_factory):
        yield server.endpoint


def test_an_object_expires_at_the_midnight_the_clock_is_advanced_to(manual: str) -> None:
    s3: Any = make_client("s3", manual)
    sqs: Any = make_client("sqs", manual)
    url = sqs.create_queue(QueueName="expired")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": arn}]})})
    s3.create_bucket(Bucket="scratch")
    s3.put_bucket_notification_configuration(Bucket="scratch", NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:LifecycleExpiration:*"]}]})
    # A Date rule at the coming midnight: the advance stays under a day of clock time (a day is
    # some 8,600 steps of the engine's periodic work: a few seconds).
    midnight = math.floor(now(manual) / DAY + 1) * DAY
    s3.put_bucket_lifecycle_configuration(Bucket="scratch", LifecycleConfiguration={"Rules": [
        {"ID": "tonight", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled",
         "Expiration": {"Date": dt.datetime.fromtimestamp(midnight, dt.timezone.utc)}}]})
    put = s3.put_object(Bucket="scratch", Key="tmp/report.csv", Body=b"1,2,3")
    stamp = dt.datetime.fromtimestamp(midnight, dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert put["Expiration"] == f'expiry-date="{stamp}", rule-id="tonight"'

    advance(manual, midnight - now(manual) - 1)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="scratch").get("Contents", [])] == ["tmp/report.csv"]
    advance(manual, 1)
    assert "Contents" not in s3.list_objects_v2(Bucket="scratch")
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    [record] = [r for b in bodies for r in b.get("Records", [])]  # (the other message is s3:TestEvent)
    assert (record["eventName"], record["s3"]["object"]["key"]) == ("LifecycleExpiration:Delete", "tmp/report.csv")
