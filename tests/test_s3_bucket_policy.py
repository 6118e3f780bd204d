"""Bucket policies: Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus, with S3's errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import make_client
from .server import SluiceProcess


def policy(bucket: str, principal: object = "*", **extra: object) -> str:
    statement = {"Sid": "read", "Effect": "Allow", "Principal": principal, "Action": "s3:GetObject",
                 "Resource": f"arn:aws:s3:::{bucket}/*", **extra}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> dict[str, str]:
    return exc.value.response["Error"]


def test_put_get_status_delete(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_policy(Bucket=bucket)
    assert error_of(exc)["Code"] == "NoSuchBucketPolicy"
    assert error_of(exc)["Message"] == "The bucket policy does not exist"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    text = policy(bucket)
    s3.delete_public_access_block(Bucket=bucket)  # new buckets block public policies, as on AWS
    put = s3.put_bucket_policy(Bucket=bucket, Policy=text)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == text  # stored as given
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"] == {"IsPublic": True}
    private = policy(bucket, {"AWS": "arn:aws:iam::111111111111:root"})
    s3.put_bucket_policy(Bucket=bucket, Policy=private)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"] == {"IsPublic": False}
    assert s3.delete_bucket_policy(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_policy(Bucket=bucket)
    assert error_of(exc)["Code"] == "NoSuchBucketPolicy"
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_policy(Bucket=bucket + "-missing", Policy=text)
    assert error_of(exc)["Code"] == "NoSuchBucket"


@pytest.mark.parametrize(("document", "message"), [
    ("not json", "Policies must be valid JSON and the first byte must be '{'"),
    (json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                          "Resource": "arn:aws:s3:::BUCKET/*"}]}),
     "Missing required field Principal"),
    (json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                                                          "Action": "sqs:SendMessage",
                                                          "Resource": "arn:aws:s3:::BUCKET/*"}]}),
     "Policy has invalid action"),
    (json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                                                          "Action": "s3:GetObject",
                                                          "Resource": "arn:aws:s3:::someone-else/*"}]}),
     "Policy has invalid resource"),
])
def test_malformed_policies(s3: Any, bucket: str, document: str, message: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_policy(Bucket=bucket, Policy=document.replace("BUCKET", bucket))
    assert error_of(exc)["Code"] == "MalformedPolicy"
    assert error_of(exc)["Message"] == message
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_policy_is_durable_and_goes_with_its_bucket(tmp_path: Path) -> None:
    server = SluiceProcess(tmp_path / "data").start()
    try:
        s3 = make_client("s3", server.endpoint)
        s3.create_bucket(Bucket="kept")
        s3.delete_public_access_block(Bucket="kept")  # new buckets block public policies, as on AWS
        s3.put_bucket_policy(Bucket="kept", Policy=policy("kept"))
        server.kill()
        server.start()
        assert s3.get_bucket_policy(Bucket="kept")["Policy"] == policy("kept")
        s3.delete_bucket(Bucket="kept")
        s3.create_bucket(Bucket="kept")
        with pytest.raises(ClientError) as exc:
            s3.get_bucket_policy(Bucket="kept")
        assert error_of(exc)["Code"] == "NoSuchBucketPolicy"
    finally:
        server.stop()
