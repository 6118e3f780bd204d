"""S3 lifecycle applied on the engine, in process, on a manual clock: the test advances whole days
and sees objects expire at the midnight UTC S3 would expire them, with the notifications S3 sends
delivered to real SQS queues (no real sleeps: each advance runs exactly the work due in it)."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

from sluice.clock import ManualClock
from sluice.engine.s3_lifecycle import S3Lifecycle
from sluice.server import Sluice

from .lambda_helpers import ROLE, read_jsonl, zip_code
from .manual_clock import ctx, run_manual

ACCOUNT = "000000000000"
# The engine workers these scenarios need: the others wake every few clock seconds, and advancing
# days through each of their wake-ups would take the test minutes.
WORKERS = ("s3-lifecycle", "s3-notifications")
DAY = 86_400.0


async def evening(clock: ManualClock) -> list[float]:
    """Move the clock on to 22:13:20 UTC of the next day; return the four midnights after that
    (the "15th", "16th", "17th" and "18th" of these tests: the clock is now on the 14th)."""
    fourteenth = (clock.now() // DAY + 1) * DAY
    await clock.set_time(fourteenth + 80_000)
    return [fourteenth + n * DAY for n in range(1, 5)]


def s3(app: Sluice, operation: str, **params: Any) -> Any:
    fn = app.services["s3"].operation(operation)
    assert fn is not None
    return fn(ctx("s3"), **params)


def queue(app: Sluice, name: str) -> str:
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": arn}]})
    sqs: Any = app.services["sqs"]
    sqs.operation("CreateQueue")(ctx("sqs"), QueueName=name, Attributes={"Policy": policy})
    return arn


async def received(app: Sluice, name: str) -> list[dict[str, Any]]:
    """The S3 event records waiting in the queue (received and deleted)."""
    sqs: Any = app.services["sqs"]
    url = f"http://127.0.0.1/{ACCOUNT}/{name}"
    records: list[dict[str, Any]] = []
    while True:
        got = await sqs.operation("ReceiveMessage")(ctx("sqs"), QueueUrl=url, MaxNumberOfMessages=10)
        messages = got.get("Messages") or []
        if not messages:
            return records
        for m in messages:
            records += json.loads(m["Body"]).get("Records", [])
            await sqs.operation("DeleteMessage")(ctx("sqs"), QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def notify(app: Sluice, bucket: str) -> None:
    """Lifecycle events to one queue, ObjectRemoved:* to another (which must get none of them)."""
    lifecycle, removed = queue(app, f"{bucket}-lifecycle"), queue(app, f"{bucket}-removed")
    s3(app, "PutBucketNotificationConfiguration", Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [
        {"Id": "lc", "QueueArn": lifecycle, "Events": ["s3:LifecycleExpiration:*"]},
        {"Id": "rm", "QueueArn": removed, "Events": ["s3:ObjectRemoved:*"]}]})


def keys(app: Sluice, bucket: str) -> list[str]:
    return [o["Key"] for o in s3(app, "ListObjectsV2", Bucket=bucket).get("Contents", [])]


def all_versions(app: Sluice, bucket: str) -> list[tuple[str, bool]]:
    """(version id, is a delete marker), newest first, of every key."""
    got = s3(app, "ListObjectVersions", Bucket=bucket)
    found = [(v["LastModified"], v["VersionId"], False) for v in got.get("Versions", [])]
    found += [(m["LastModified"], m["VersionId"], True) for m in got.get("DeleteMarkers", [])]
    return [(vid, marker) for _, vid, marker in sorted(found, key=lambda f: f[0], reverse=True)]


def test_current_versions_expire_at_the_midnight_after_creation_plus_days(tmp_path: Path) -> None:
    async def scenario(app: Sluice, clock: ManualClock) -> None:
        _, nov_16, nov_17, _ = await evening(clock)
        s3(app, "CreateBucket", Bucket="logs")
        notify(app, "logs")
        s3(app, "PutBucketLifecycleConfiguration", Bucket="logs", LifecycleConfiguration={"Rules": [
            {"ID": "one-day", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 1}},
            {"ID": "big", "Filter": {"ObjectSizeGreaterThan": 3}, "Status": "Enabled", "Expiration": {"Days": 2}},
            {"ID": "off", "Filter": {}, "Status": "Disabled", "Expiration": {"Days": 1}}]})
        for key, body in (("tmp/a", b"x"), ("tmp/b", b"y"), ("keep", b"z"), ("large", b"12345")):
            s3(app, "PutObject", Bucket="logs", Key=key, Body=io.BytesIO(body))
        # 22:13 on the 14th + 1 day is 22:13 on the 15th: S3 rounds that up to midnight of the 16th.
        await clock.set_time(nov_16 - 1)
        assert keys(app, "logs") == ["keep", "large", "tmp/a", "tmp/b"]
        await clock.set_time(nov_16)
        assert keys(app, "logs") == ["keep", "large"]
        await clock.set_time(nov_17)
        assert keys(app, "logs") == ["keep"]

        records = await received(app, "logs-lifecycle")
        assert [(r["eventName"], r["s3"]["object"]["key"], r["s3"]["configurationId"]) for r in records] == [
            ("LifecycleExpiration:Delete", "tmp/a", "lc"), ("LifecycleExpiration:Delete", "tmp/b", "lc"),
            ("LifecycleExpiration:Delete", "large", "lc")]
        assert records[0]["eventTime"] == dt.datetime.fromtimestamp(nov_16, dt.timezone.utc).strftime(
            "%Y-%m-%dT00:00:00.000Z")
        # S3 itself made the change; the object is named, not described (no size, no eTag), and
        # carries no versionId in an unversioned bucket.
        assert records[0]["userIdentity"] == {"principalId": "s3.amazonaws.com"}
        assert records[0]["requestParameters"] == {"sourceIPAddress": "s3.amazonaws.com"}
        assert set(records[0]["s3"]["object"]) == {"key", "sequencer"}
        assert await received(app, "logs-removed") == []  # s3:ObjectRemoved:* does not include lifecycle

    run_manual(tmp_path, scenario, only=WORKERS)


def test_versioned_bucket_delete_marker_then_noncurrent_version_then_the_expired_marker(tmp_path: Path) -> None:
    async def scenario(app: Sluice, clock: ManualClock) -> None:
        _, nov_16, nov_17, _ = await evening(clock)
        s3(app, "CreateBucket", Bucket="docs")
        s3(app, "PutBucketVersioning", Bucket="docs", VersioningConfiguration={"Status": "Enabled"})
        notify(app, "docs")
        s3(app, "PutBucketLifecycleConfiguration", Bucket="docs", LifecycleConfiguration={"Rules": [
            {"ID": "current", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 1},
             "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
            {"ID": "markers", "Filter": {}, "Status": "Enabled", "Expiration": {"ExpiredObjectDeleteMarker": True}}]})
        v1 = s3(app, "PutObject", Bucket="docs", Key="k", Body=io.BytesIO(b"v1"))["VersionId"]

        await clock.set_time(nov_16)  # the current version expires: hidden behind a delete marker
        [(marker, is_marker), (old, old_is_marker)] = all_versions(app, "docs")
        assert (is_marker, old, old_is_marker) == (True, v1, False)
        [created] = await received(app, "docs-lifecycle")
        assert (created["eventName"], created["s3"]["object"]["versionId"]) == (
            "LifecycleExpiration:DeleteMarkerCreated", marker)

        # v1 became noncurrent at midnight on the 16th: one day later it is deleted for good, and
        # the delete marker, now the key's only version, is an expired object delete marker.
        await clock.set_time(nov_17 - 1)
        assert len(all_versions(app, "docs")) == 2
        await clock.set_time(nov_17)
        assert all_versions(app, "docs") == []
        records = await received(app, "docs-lifecycle")
        assert [(r["eventName"], r["s3"]["object"]["versionId"]) for r in records] == [
            ("LifecycleExpiration:Delete", v1), ("LifecycleExpiration:Delete", marker)]
        assert await received(app, "docs-removed") == []

    run_manual(tmp_path, scenario, only=WORKERS)


def test_newer_noncurrent_versions_are_kept(tmp_path: Path) -> None:
    async def scenario(app: Sluice, clock: ManualClock) -> None:
        _, nov_16, _, _ = await evening(clock)
        s3(app, "CreateBucket", Bucket="history")
        s3(app, "PutBucketVersioning", Bucket="history", VersioningConfiguration={"Status": "Enabled"})
        s3(app, "PutBucketLifecycleConfiguration", Bucket="history", LifecycleConfiguration={"Rules": [
            {"ID": "keep-two", "Filter": {"Prefix": "k"}, "Status": "Enabled",
             "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 2}}]})
        written = [s3(app, "PutObject", Bucket="history", Key="k", Body=io.BytesIO(b"%d" % n))["VersionId"]
                   for n in range(5)]
        await clock.set_time(nov_16)
        # The current version and the two newest noncurrent ones stay; the two oldest are gone.
        assert [vid for vid, _ in all_versions(app, "history")] == written[:1:-1]

    run_manual(tmp_path, scenario, only=WORKERS)


def test_incomplete_multipart_uploads_are_aborted(tmp_path: Path) -> None:
    async def scenario(app: Sluice, clock: ManualClock) -> None:
        _, _, nov_17, _ = await evening(clock)
        s3(app, "CreateBucket", Bucket="uploads")
        s3(app, "PutBucketLifecycleConfiguration", Bucket="uploads", LifecycleConfiguration={"Rules": [
            {"ID": "abort", "Filter": {"Prefix": "big/"}, "Status": "Enabled",
             "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}}]})
        s3(app, "CreateMultipartUpload", Bucket="uploads", Key="big/file")
        s3(app, "CreateMultipartUpload", Bucket="uploads", Key="other/file")

        def pending() -> list[str]:
            return [u["Key"] for u in s3(app, "ListMultipartUploads", Bucket="uploads").get("Uploads", [])]

        await clock.set_time(nov_17 - 1)
        assert pending() == ["big/file", "other/file"]
        await clock.set_time(nov_17)
        assert pending() == ["other/file"]

    run_manual(tmp_path, scenario, only=WORKERS)


def test_a_suspended_bucket_expires_into_a_null_delete_marker(tmp_path: Path) -> None:
    async def scenario(app: Sluice, clock: ManualClock) -> None:
        _, nov_16, _, _ = await evening(clock)
        s3(app, "CreateBucket", Bucket="paused")
        s3(app, "PutBucketVersioning", Bucket="paused", VersioningConfiguration={"Status": "Suspended"})
        s3(app, "PutBucketLifecycleConfiguration", Bucket="paused", LifecycleConfiguration={"Rules": [
            {"ID": "r", "Prefix": "", "Status": "Enabled", "Expiration": {"Days": 1}}]})
        s3(app, "PutObject", Bucket="paused", Key="k", Body=io.BytesIO(b"x"))
        await clock.set_time(nov_16)
        # The delete marker takes the version id "null" and so replaces the null version.
        assert all_versions(app, "paused") == [("null", True)]

    run_manual(tmp_path, scenario, only=WORKERS)


def test_the_worker_runs_at_start_at_every_midnight_on_a_scaled_clock_and_not_while_paused() -> None:
    async def main() -> None:
        clock = ManualClock(start=1_700_000_000.0, time_scale=1440.0)  # a lifecycle day lasts 60 clock seconds
        runs: list[float] = []
        worker = S3Lifecycle(clock, runs.append)
        await worker.start()
        await clock.run_until_idle()
        await clock.advance(150)
        assert runs == [1_700_000_000.0, 1_700_000_040.0, 1_700_000_100.0]
        await worker.pause()  # (the testing API's reset): no run while paused
        await clock.advance(60)
        assert len(runs) == 3
        worker.resume()  # a run at once, looking at the store afresh, then the midnights again
        await clock.advance(10)
        await worker.stop(1.0)
        assert runs[3:] == [1_700_000_210.0, 1_700_000_220.0]

    asyncio.run(main())


RECORDS_EVENT = """
import json, os

def handler(event, context):
    with open(os.environ["SEEN"], "a") as f:
        for r in event["Records"]:
            f.write(json.dumps([r["eventName"], r["s3"]["object"]["key"]]) + "\\n")
"""


def test_an_expiration_triggers_a_function(tmp_path: Path) -> None:
    seen = tmp_path / "seen.jsonl"

    async def scenario(app: Sluice, clock: ManualClock) -> None:
        fourteenth = (await evening(clock))[0] - DAY
        lam: Any = app.services["lambda"]
        fn_arn = lam.operation("CreateFunction")(
            ctx("lambda"), FunctionName="on-expiry", Role=ROLE, Runtime="python3.12", Handler="handler.handler",
            Code={"ZipFile": zip_code(RECORDS_EVENT)}, Environment={"Variables": {"SEEN": str(seen)}})["FunctionArn"]
        lam.operation("AddPermission")(ctx("lambda"), FunctionName="on-expiry", StatementId="s3",
                                       Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                                       SourceArn="arn:aws:s3:::reports")
        s3(app, "CreateBucket", Bucket="reports")
        s3(app, "PutBucketNotificationConfiguration", Bucket="reports", NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": fn_arn, "Events": ["s3:LifecycleExpiration:*"]}]})
        s3(app, "PutObject", Bucket="reports", Key="q3.csv", Body=io.BytesIO(b"1,2"))
        # A Date rule whose midnight has passed: the object goes at the next lifecycle run, the next
        # midnight (not at once: S3 evaluates once a day).
        s3(app, "PutBucketLifecycleConfiguration", Bucket="reports", LifecycleConfiguration={"Rules": [
            {"ID": "past", "Filter": {}, "Status": "Enabled", "Expiration": {"Date": fourteenth}}]})
        await clock.run_until_idle()
        assert keys(app, "reports") == ["q3.csv"]
        await clock.set_time(fourteenth + DAY)
        assert keys(app, "reports") == []
        assert read_jsonl(seen) == [["LifecycleExpiration:Delete", "q3.csv"]]

    run_manual(tmp_path, scenario, only=(*WORKERS, "lambda-environments", "lambda-async-invoker",
                                         "lambda-outcome-delivery"))


def test_a_marker_left_alone_by_noncurrent_expiration_goes_the_same_night_whatever_the_rule_order(
        tmp_path: Path) -> None:
    async def scenario(app: Sluice, clock: ManualClock) -> None:
        _, nov_16, _, _ = await evening(clock)
        s3(app, "CreateBucket", Bucket="trash")
        s3(app, "PutBucketVersioning", Bucket="trash", VersioningConfiguration={"Status": "Enabled"})
        s3(app, "PutObject", Bucket="trash", Key="k", Body=io.BytesIO(b"x"))
        s3(app, "DeleteObject", Bucket="trash", Key="k")
        s3(app, "PutBucketLifecycleConfiguration", Bucket="trash", LifecycleConfiguration={"Rules": [
            {"ID": "markers", "Prefix": "", "Status": "Enabled", "Expiration": {"ExpiredObjectDeleteMarker": True}},
            {"ID": "noncurrent", "Prefix": "", "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]})
        await clock.set_time(nov_16 - 1)
        assert len(all_versions(app, "trash")) == 2
        await clock.set_time(nov_16)
        assert all_versions(app, "trash") == []

    run_manual(tmp_path, scenario, only=WORKERS)


def test_eventbridge_gets_object_deleted_with_reason_lifecycle_expiration(tmp_path: Path) -> None:
    async def scenario(app: Sluice, clock: ManualClock) -> None:
        _, nov_16, _, _ = await evening(clock)
        events: Any = app.services["events"]
        arn = queue(app, "bus-view")
        events.operation("PutRule")(ctx("events"), Name="s3", EventPattern=json.dumps({"source": ["aws.s3"]}))
        events.operation("PutTargets")(ctx("events"), Rule="s3", Targets=[{"Id": "q", "Arn": arn}])
        s3(app, "CreateBucket", Bucket="bridged")
        s3(app, "PutBucketVersioning", Bucket="bridged", VersioningConfiguration={"Status": "Enabled"})
        s3(app, "PutBucketNotificationConfiguration", Bucket="bridged",
           NotificationConfiguration={"EventBridgeConfiguration": {}})
        s3(app, "PutBucketLifecycleConfiguration", Bucket="bridged", LifecycleConfiguration={"Rules": [
            {"ID": "r", "Prefix": "", "Status": "Enabled", "Expiration": {"Days": 1}}]})
        s3(app, "PutObject", Bucket="bridged", Key="k", Body=io.BytesIO(b"x"))
        await clock.set_time(nov_16)
        sqs: Any = app.services["sqs"]
        got = await sqs.operation("ReceiveMessage")(ctx("sqs"), QueueUrl=f"http://127.0.0.1/{ACCOUNT}/bus-view",
                                                    MaxNumberOfMessages=10)
        bodies = [json.loads(m["Body"]) for m in got["Messages"]]
        [deleted] = [b for b in bodies if b["detail-type"] == "Object Deleted"]
        assert (deleted["detail"]["reason"], deleted["detail"]["deletion-type"], deleted["detail"]["requester"]) == (
            "Lifecycle Expiration", "Delete Marker Created", "s3.amazonaws.com")

    run_manual(tmp_path, scenario, only=(*WORKERS, "events-outbox"))


def test_a_days_expiration_also_removes_a_lone_delete_marker_once_it_is_due(tmp_path: Path) -> None:
    async def scenario(app: Sluice, clock: ManualClock) -> None:
        _, nov_16, _, _ = await evening(clock)
        s3(app, "CreateBucket", Bucket="lone")
        s3(app, "PutBucketVersioning", Bucket="lone", VersioningConfiguration={"Status": "Enabled"})
        version = s3(app, "PutObject", Bucket="lone", Key="k", Body=io.BytesIO(b"x"))["VersionId"]
        s3(app, "DeleteObject", Bucket="lone", Key="k")
        s3(app, "DeleteObject", Bucket="lone", Key="k", VersionId=version)  # the marker is left alone
        s3(app, "PutBucketLifecycleConfiguration", Bucket="lone", LifecycleConfiguration={"Rules": [
            {"ID": "r", "Prefix": "", "Status": "Enabled", "Expiration": {"Days": 1}}]})
        await clock.set_time(nov_16 - 1)
        assert [marker for _, marker in all_versions(app, "lone")] == [True]
        await clock.set_time(nov_16)
        assert all_versions(app, "lone") == []

    run_manual(tmp_path, scenario, only=WORKERS)
