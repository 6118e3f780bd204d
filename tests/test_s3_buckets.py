"""S3 bucket operations through real boto3, asserted against what real AWS S3 answers."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import make_client


def new_name(prefix: str = "bkt") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def client_error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    resp = exc.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"]


@pytest.fixture(scope="module")
def s3_eu(endpoint: str) -> Any:
    """A client whose SigV4 region is eu-west-1, as a user working in Ireland would have."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


# --- create / head / list / delete -------------------------------------------------------------


def test_create_bucket_returns_location_and_is_headable(s3: Any) -> None:
    name = new_name()
    resp = s3.create_bucket(Bucket=name)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    # us-east-1 answers with a path-style Location header.
    assert resp["Location"] == f"/{name}"

    head = s3.head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    assert head["BucketRegion"] == "us-east-1"


def test_us_east_1_location_is_none(s3: Any, bucket: str) -> None:
    resp = s3.get_bucket_location(Bucket=bucket)
    # AWS sends an empty <LocationConstraint/> for us-east-1, which botocore surfaces as None.
    assert resp["LocationConstraint"] is None


def test_location_constraint_eu_west_1(s3_eu: Any) -> None:
    name = new_name("eu")
    resp = s3_eu.create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3_eu.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    head = s3_eu.head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-1"
    s3_eu.delete_bucket(Bucket=name)


def test_explicit_us_east_1_location_constraint_is_invalid(s3: Any) -> None:
    # AWS rejects LocationConstraint=us-east-1: us-east-1 is expressed by sending no constraint.
    name = new_name()
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    assert client_error(exc) == (400, "InvalidLocationConstraint")


def test_list_buckets_includes_new_bucket(s3: Any, bucket: str) -> None:
    resp = s3.list_buckets()
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    entries = {b["Name"]: b for b in resp["Buckets"]}
    assert bucket in entries
    created = entries[bucket]["CreationDate"]
    assert isinstance(created, dt.datetime)
    now = dt.datetime.now(dt.timezone.utc)
    assert abs((now - created).total_seconds()) < 300
    assert resp["Owner"]["ID"]


def test_list_buckets_prefix_filter(s3: Any) -> None:
    prefix = f"pfx{uuid.uuid4().hex[:8]}-"
    names = sorted(prefix + str(i) for i in range(3))
    for n in names:
        s3.create_bucket(Bucket=n)
    other = new_name()
    s3.create_bucket(Bucket=other)
    resp = s3.list_buckets(Prefix=prefix)
    assert [b["Name"] for b in resp["Buckets"]] == names
    assert resp["Prefix"] == prefix


def test_delete_bucket(s3: Any) -> None:
    name = new_name()
    s3.create_bucket(Bucket=name)
    resp = s3.delete_bucket(Bucket=name)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=name)
    # HEAD has no body: botocore reports the bare status code.
    assert client_error(exc) == (404, "404")
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=name)
    assert client_error(exc) == (404, "NoSuchBucket")


def test_deleted_bucket_name_can_be_reused_and_starts_empty(s3: Any) -> None:
    name = new_name()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    s3.create_bucket(Bucket=name)
    assert s3.list_objects_v2(Bucket=name)["KeyCount"] == 0


# --- conflicts ----------------------------------------------------------------------------------


def test_recreate_own_bucket_in_us_east_1_succeeds(s3: Any, bucket: str) -> None:
    # Documented legacy behaviour: in us-east-1 only, re-creating a bucket you already own
    # returns 200 OK instead of BucketAlreadyOwnedByYou.
    s3.put_object(Bucket=bucket, Key="keep", Body=b"still here")
    resp = s3.create_bucket(Bucket=bucket)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    # ...and it does not wipe the bucket.
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"still here"


def test_recreate_own_bucket_in_us_east_1_resets_its_acl(s3: Any) -> None:
    # "...returns 200 OK and resets the bucket access control lists (ACLs)" (CreateBucket's
    # documentation): the ACL becomes what the second request asks, here the owner's alone.
    name = new_name("acl")
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    s3.delete_public_access_block(Bucket=name)
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    assert len(s3.get_bucket_acl(Bucket=name)["Grants"]) == 2
    s3.create_bucket(Bucket=name)
    grants = s3.get_bucket_acl(Bucket=name)["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]
    assert s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "ObjectWriter"}]
    s3.delete_bucket(Bucket=name)


def test_recreate_own_bucket_outside_us_east_1_is_already_owned(s3_eu: Any) -> None:
    name = new_name("eu")
    cfg = {"LocationConstraint": "eu-west-1"}
    s3_eu.create_bucket(Bucket=name, CreateBucketConfiguration=cfg)
    with pytest.raises(ClientError) as exc:
        s3_eu.create_bucket(Bucket=name, CreateBucketConfiguration=cfg)
    assert client_error(exc) == (409, "BucketAlreadyOwnedByYou")
    err = exc.value.response["Error"]
    assert err["BucketName"] == name
    assert err["Message"] == (
        "Your previous request to create the named bucket succeeded and you already own it."
    )
    s3_eu.delete_bucket(Bucket=name)


def test_delete_non_empty_bucket(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a/b.txt", Body=b"data")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=bucket)
    assert client_error(exc) == (409, "BucketNotEmpty")
    assert exc.value.response["Error"]["BucketName"] == bucket
    # The bucket and its object survive the refused delete.
    assert s3.get_object(Bucket=bucket, Key="a/b.txt")["Body"].read() == b"data"
    s3.delete_object(Bucket=bucket, Key="a/b.txt")
    assert s3.delete_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204


# --- missing bucket -----------------------------------------------------------------------------

MISSING_BUCKET_OPS = {
    "list_objects_v2": lambda s3, b: s3.list_objects_v2(Bucket=b),
    "list_objects": lambda s3, b: s3.list_objects(Bucket=b),
    "get_object": lambda s3, b: s3.get_object(Bucket=b, Key="k"),
    "put_object": lambda s3, b: s3.put_object(Bucket=b, Key="k", Body=b"x"),
    "delete_object": lambda s3, b: s3.delete_object(Bucket=b, Key="k"),
    "delete_bucket": lambda s3, b: s3.delete_bucket(Bucket=b),
    "get_bucket_location": lambda s3, b: s3.get_bucket_location(Bucket=b),
    "create_multipart_upload": lambda s3, b: s3.create_multipart_upload(Bucket=b, Key="k"),
    "list_multipart_uploads": lambda s3, b: s3.list_multipart_uploads(Bucket=b),
    "get_bucket_versioning": lambda s3, b: s3.get_bucket_versioning(Bucket=b),
    "copy_object_dest": lambda s3, b: s3.copy_object(
        Bucket=b, Key="k", CopySource={"Bucket": b, "Key": "src"}
    ),
}


@pytest.mark.parametrize("op", sorted(MISSING_BUCKET_OPS))
def test_no_such_bucket(s3: Any, op: str) -> None:
    name = new_name("missing")
    with pytest.raises(ClientError) as exc:
        MISSING_BUCKET_OPS[op](s3, name)
    assert client_error(exc) == (404, "NoSuchBucket")
    err = exc.value.response["Error"]
    assert err["Message"] == "The specified bucket does not exist"
    assert err["BucketName"] == name


def test_head_missing_bucket(s3: Any) -> None:
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=new_name("missing"))
    assert client_error(exc) == (404, "404")


# --- bucket names -------------------------------------------------------------------------------

INVALID_NAMES = {
    "too_short": "ab",
    "uppercase": "MyBucket-" + uuid.uuid4().hex[:6],
    "ip_address": "192.168.1.1",
    "double_dot": "a..b",
    "leading_hyphen": "-abc",
    "trailing_hyphen": "abc-",
    "underscore": "my_bucket",
    "too_long_64": "a" * 64,
    "xn_prefix": "xn--" + uuid.uuid4().hex[:8],
}


@pytest.mark.parametrize("label", sorted(INVALID_NAMES))
def test_invalid_bucket_name(s3: Any, label: str) -> None:
    name = INVALID_NAMES[label]
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=name)
    assert client_error(exc) == (400, "InvalidBucketName")
    err = exc.value.response["Error"]
    assert err["Message"] == "The specified bucket is not valid."
    assert err["BucketName"] == name
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_valid_edge_bucket_names(s3: Any) -> None:
    hexes = uuid.uuid4().hex
    names = [
        "z" + hexes[:2],  # exactly 3 characters
        ("b" + hexes + "0" * 63)[:63],  # exactly 63 characters
        f"dots.in.name-{hexes[:6]}",
        f"{hexes[:4]}-9",  # may start with a digit
    ]
    for name in names:
        assert s3.create_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
        s3.put_object(Bucket=name, Key="k", Body=b"v")
        assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"v"
        s3.delete_object(Bucket=name, Key="k")
        s3.delete_bucket(Bucket=name)


def test_explicit_path_style_client(endpoint: str, s3: Any, bucket: str) -> None:
    # make_client honours extra botocore config; path-style explicitly must behave the same.
    path_client = make_client("s3", endpoint, s3={"addressing_style": "path"})
    path_client.put_object(Bucket=bucket, Key="p", Body=b"path")
    assert s3.get_object(Bucket=bucket, Key="p")["Body"].read() == b"path"


def test_get_bucket_versioning_on_new_bucket(s3: Any, bucket: str) -> None:
    resp = s3.get_bucket_versioning(Bucket=bucket)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    # A bucket that never had versioning configured reports no Status at all.
    assert "Status" not in resp
    assert "MFADelete" not in resp
