"""Operations that share a method and a path, told apart by query keys (and their values) and
headers, each routed to itself however they follow one another: the gateway remembers the
operation per request shape (method, path template, query keys, required headers), so a shape
seen before must never answer for another."""

from __future__ import annotations

from typing import Any

import pytest

from .s3_raw import send


def test_object_writes_sharing_a_path_reach_their_own_operation(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="source", Body=b"source-bytes")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="target")["UploadId"]
    for round_ in range(2):  # the second round meets every shape again
        put = s3.put_object(Bucket=bucket, Key="target", Body=f"put-{round_}".encode())
        assert "CopyObjectResult" not in put and put["ETag"]
        copied = s3.copy_object(Bucket=bucket, Key="target", CopySource=f"{bucket}/source")
        assert copied["CopyObjectResult"]["ETag"]
        part = s3.upload_part(Bucket=bucket, Key="target", UploadId=upload, PartNumber=1, Body=b"p" * 10)
        assert "CopyPartResult" not in part and part["ETag"]
        part_copy = s3.upload_part_copy(Bucket=bucket, Key="target", UploadId=upload, PartNumber=2,
                                        CopySource=f"{bucket}/source")
        assert part_copy["CopyPartResult"]["ETag"]
        assert s3.get_object(Bucket=bucket, Key="target")["Body"].read() == b"source-bytes"
    parts = s3.list_parts(Bucket=bucket, Key="target", UploadId=upload)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1, 2]


def test_listings_told_apart_by_a_query_value(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a/1", Body=b"1")
    for _ in range(2):
        v2 = s3.list_objects_v2(Bucket=bucket, Prefix="a/")  # ?list-type=2
        assert v2["KeyCount"] == 1 and "Marker" not in v2
        v1 = s3.list_objects(Bucket=bucket, Prefix="a/")
        assert "KeyCount" not in v1 and [o["Key"] for o in v1["Contents"]] == ["a/1"]
        versions = s3.list_object_versions(Bucket=bucket, Prefix="a/")  # ?versions
        assert [v["Key"] for v in versions["Versions"]] == ["a/1"]


@pytest.mark.parametrize("key", ["plain", "with/slashes/in/it"])
def test_the_labels_come_from_the_request_that_was_routed(s3: Any, bucket: str, key: str) -> None:
    # The operation is remembered per shape; the bucket and key are each request's own.
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    s3.put_object(Bucket=bucket, Key=key + "-other", Body=b"other")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    assert s3.get_object(Bucket=bucket, Key=key + "-other")["Body"].read() == b"other"


def test_a_query_value_a_route_names_is_part_of_the_shape(endpoint: str, s3: Any, bucket: str) -> None:
    # ListObjectsV2 is GET /{Bucket}?list-type=2: list-type=1 after it is not V2 (V1 answers).
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    for value, v2 in (("2", True), ("1", False), ("2", True)):
        answer = send(endpoint, "GET", f"/{bucket}?list-type={value}")
        assert answer.status == 200
        assert (b"<KeyCount>" in answer.body) is v2
