"""What object requests read of their bucket is kept between requests (services/s3/bucket_views.py):
each change to a bucket is seen by the very next request, though the bucket was read (and kept)
just before it. Every scenario first reads the bucket through an object request, then changes it
through another path, then checks the next object request answers as the change says."""

from __future__ import annotations

import io
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sluice.clock import ManualClock
from sluice.protocol.errors import ServiceError
from sluice.server import Sluice
from sluice.services.s3.buckets import Buckets
from sluice.services.s3.service import S3Service

from .conftest import make_client, wait_for
from .manual_clock import ctx, run_manual
from .server import SluiceProcess
from .testing_api_helpers import reset


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _deny_puts(bucket: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})


_EXPIRE_IN_A_DAY = {"Rules": [{"ID": "soon", "Status": "Enabled", "Filter": {"Prefix": ""},
                               "Expiration": {"Days": 1}}]}


def test_versioning_turned_on_is_reported_by_the_next_read(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    assert "VersionId" not in s3.get_object(Bucket=bucket, Key="k")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_object(Bucket=bucket, Key="k")["VersionId"] == "null"
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    assert put["VersionId"] != "null"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert "VersionId" not in s3.put_object(Bucket=bucket, Key="k", Body=b"3")
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["VersionId"] == "null" and got["Body"].read() == b"3"
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["VersionId"] == "null", v["IsLatest"]) for v in versions] == [(True, True), (False, False)]


def test_a_bucket_policy_applies_from_the_next_request(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="before", Body=b"1")
    s3.put_bucket_policy(Bucket=bucket, Policy=_deny_puts(bucket))
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="during", Body=b"2")
    assert _code(exc) == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key="before")["Body"].read() == b"1"
    s3.delete_bucket_policy(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="after", Body=b"3")


def test_a_lifecycle_configuration_shows_in_the_next_answers(s3: Any, bucket: str) -> None:
    assert "Expiration" not in s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    assert "Expiration" not in s3.head_object(Bucket=bucket, Key="k")
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=_EXPIRE_IN_A_DAY)
    assert 'rule-id="soon"' in s3.head_object(Bucket=bucket, Key="k")["Expiration"]
    assert 'rule-id="soon"' in s3.put_object(Bucket=bucket, Key="k", Body=b"2")["Expiration"]
    s3.delete_bucket_lifecycle(Bucket=bucket)
    assert "Expiration" not in s3.put_object(Bucket=bucket, Key="k", Body=b"3")
    assert "Expiration" not in s3.get_object(Bucket=bucket, Key="k")


def test_object_ownership_and_public_access_changes_apply_to_the_next_write(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    with pytest.raises(ClientError) as exc:  # a new bucket: ACLs disabled
        s3.put_object(Bucket=bucket, Key="k", Body=b"2", ACL="public-read")
    assert _code(exc) == "AccessControlListNotSupported"
    s3.put_bucket_ownership_controls(Bucket=bucket,
                                     OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    with pytest.raises(ClientError) as exc:  # ACLs on, but Block Public Access still refuses public ones
        s3.put_object(Bucket=bucket, Key="k", Body=b"2", ACL="public-read")
    assert _code(exc) == "AccessDenied"
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"2", ACL="public-read")
    grants = s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") for g in grants)


def test_default_encryption_changes_apply_to_the_next_write(s3: Any, bucket: str) -> None:
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"1")["ServerSideEncryption"] == "AES256"
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "my-key"}}]})
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"] == "my-key"
    s3.delete_bucket_encryption(Bucket=bucket)
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"3")["ServerSideEncryption"] == "AES256"


def test_a_deleted_bucket_is_gone_for_the_next_request_and_its_name_reusable(s3: Any) -> None:
    name = f"views-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_policy(Bucket=name, Policy=_deny_puts(name))
    with pytest.raises(ClientError):
        s3.put_object(Bucket=name, Key="k", Body=b"1")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=name, Key="k", Body=b"1")
    assert _code(exc) == "NoSuchBucket"
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=name, Key="k")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.create_bucket(Bucket=name)  # the same name again, without the policy
    s3.put_object(Bucket=name, Key="k", Body=b"2")
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"2"


def test_notifications_configured_reach_the_next_overwrite_and_removed_stop(s3: Any, endpoint: str,
                                                                              bucket: str) -> None:
    """An overwrite of a small object is the quick path (core.commit_object): its events too."""
    sqs = make_client("sqs", endpoint)
    name = f"views-{uuid.uuid4().hex[:10]}"
    arn = f"arn:aws:sqs:us-east-1:000000000000:{name}"
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                                                      "Action": "sqs:SendMessage", "Resource": arn}]}
    url = sqs.create_queue(QueueName=name, Attributes={"Policy": json.dumps(policy)})["QueueUrl"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"22")["ETag"]

    def events() -> list[dict[str, Any]]:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        return [r for m in got for r in json.loads(m["Body"]).get("Records", [])]

    records = wait_for(events)
    assert [(r["eventName"], r["s3"]["object"]["key"], r["s3"]["object"]["size"], r["s3"]["object"]["eTag"])
            for r in records] == [("ObjectCreated:Put", "k", 2, etag.strip('"'))]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    s3.put_object(Bucket=bucket, Key="k", Body=b"333")
    # Delivery is asynchronous: a marker event from another bucket, sent after, shows the queue
    # received everything before it.
    other = f"views-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=other)
    s3.put_bucket_notification_configuration(Bucket=other, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    s3.put_object(Bucket=other, Key="marker", Body=b"m")
    records = wait_for(events)
    assert [(r["s3"]["bucket"]["name"], r["s3"]["object"]["key"]) for r in records] == [(other, "marker")]


def test_writes_racing_a_versioning_change_leave_one_current_version_per_key(endpoint: str, s3: Any,
                                                                              bucket: str) -> None:
    """Writers overwrite a few keys (the quick path, while the bucket is unversioned) while
    versioning is turned on: whatever the interleaving, each key ends with one current version,
    the one GetObject answers."""
    def write(worker: int) -> None:
        client = make_client("s3", endpoint)
        for i in range(30):
            client.put_object(Bucket=bucket, Key=f"k{i % 5}", Body=f"{worker}-{i}".encode())

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for t in threads:
        t.join()
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    for key in (f"k{n}" for n in range(5)):
        mine = [v for v in versions if v["Key"] == key]
        current = [v for v in mine if v["IsLatest"]]
        assert len(current) == 1, mine
        assert len([v for v in mine if v["VersionId"] == "null"]) <= 1
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["ETag"] == current[0]["ETag"] and got.get("VersionId", "null") == current[0]["VersionId"]


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    """A server of this module's own: the reset empties everything."""
    server = SluiceProcess(Path(tmp_path_factory.mktemp("views")) / "data").start()
    try:
        yield server
    finally:
        server.stop()


def test_the_testing_api_reset_forgets_every_bucket(own_server: SluiceProcess) -> None:
    s3 = make_client("s3", own_server.endpoint)
    s3.create_bucket(Bucket="kept-name")
    s3.put_bucket_versioning(Bucket="kept-name", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(Bucket="kept-name", LifecycleConfiguration=_EXPIRE_IN_A_DAY)
    put = s3.put_object(Bucket="kept-name", Key="k", Body=b"1")
    assert put["VersionId"] != "null" and "Expiration" in put
    reset(own_server.endpoint)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="kept-name", Key="k")
    assert _code(exc) == "NoSuchBucket"
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket="kept-name", Key="k", Body=b"1")
    assert _code(exc) == "NoSuchBucket"
    s3.create_bucket(Bucket="kept-name")
    put = s3.put_object(Bucket="kept-name", Key="k", Body=b"2")
    assert "VersionId" not in put and "Expiration" not in put
    assert "VersionId" not in s3.get_object(Bucket="kept-name", Key="k")


def test_overwrites_in_an_unversioned_bucket_keep_one_version_and_one_body_file(own_server: SluiceProcess) -> None:
    """An overwrite replaces the key's one version in place (records.objects.overwrite_current_null):
    bodies kept in a file and in the row, each way round, leave one version and no stray file."""
    s3 = make_client("s3", own_server.endpoint)
    name = f"overwrite-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    large, small = b"L" * (200 * 1024), b"small"
    for body in (large, small, large, large, small):
        put = s3.put_object(Bucket=name, Key="k", Body=body)
        got = s3.get_object(Bucket=name, Key="k")
        assert got["Body"].read() == body and got["ETag"] == put["ETag"] and "VersionId" not in got
    versions = s3.list_object_versions(Bucket=name)["Versions"]
    assert [(v["Key"], v["VersionId"], v["IsLatest"], v["Size"]) for v in versions] == [("k", "null", True, 5)]
    s3.put_object(Bucket=name, Key="k", Body=large)
    blob_dir = own_server.data_dir / "blobs"
    assert wait_for(lambda: len([p for p in blob_dir.rglob("*") if p.is_file()]) == 1)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    kept = s3.put_object(Bucket=name, Key="k", Body=small)["VersionId"]
    versions = s3.list_object_versions(Bucket=name)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [(kept, True), ("null", False)]


def test_a_bucket_deleted_while_a_write_holds_its_view_is_no_such_bucket(tmp_path: Path) -> None:
    """The quick write (core.commit_object) trusts the bucket's view; a deletion that committed
    but has not yet made the views forget (it runs in another thread, a moment before that) makes
    the write NoSuchBucket, as the exact path answers, not a store error."""

    async def scenario(app: Sluice, clock: ManualClock) -> None:
        s3 = app.services["s3"]
        assert isinstance(s3, S3Service)
        call = ctx("s3")
        s3.operation("CreateBucket")(call, Bucket="held")  # type: ignore[misc]
        put = s3.operation("PutObject")
        assert put is not None
        put(call, Bucket="held", Key="k", Body=io.BytesIO(b"1"))  # the view is read and kept
        s3.operation("DeleteObject")(call, Bucket="held", Key="k")  # type: ignore[misc]
        parts = [p for p in s3.operation_owners() if isinstance(p, Buckets)]
        parts[0].delete_bucket(call, Bucket="held")  # committed; the views not yet told
        assert s3.views.get("held") is not None
        with pytest.raises(ServiceError) as exc:
            put(call, Bucket="held", Key="new", Body=io.BytesIO(b"2"))
        assert exc.value.code == "NoSuchBucket"

    run_manual(tmp_path, scenario, only=())
