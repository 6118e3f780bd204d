"""S3's wire facts the protocol layer states for the service: a delete marker's error headers, a
304's headers, an aws-chunked upload's trailer and Content-Encoding. Raw HTTP against the
session's server, so every header is seen as sent."""

from __future__ import annotations

import base64
import email.utils
import zlib
from typing import Any

from .s3_raw import send


def _chunked(endpoint: str, bucket: str, key: str, headers: dict[str, str], trailer: bytes = b"") -> Any:
    body = b"4\r\ndata\r\n0\r\n" + trailer + b"\r\n"
    return send(endpoint, "PUT", f"/{bucket}/{key}", {
        "Content-Encoding": "aws-chunked", "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": "4", **headers}, body)


def test_a_delete_marker_answers_with_its_facts_in_headers(s3: Any, endpoint: str, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="doc", Body=b"x")
    marker = s3.delete_object(Bucket=bucket, Key="doc")["VersionId"]
    current = send(endpoint, "GET", f"/{bucket}/doc")
    assert current.status == 404 and current.error()["Code"] == "NoSuchKey"
    assert (current.headers["x-amz-delete-marker"], current.headers["x-amz-version-id"]) == ("true", marker)
    asked = send(endpoint, "GET", f"/{bucket}/doc?versionId={marker}")
    assert asked.status == 405 and asked.error()["Code"] == "MethodNotAllowed"
    assert asked.error()["ResourceType"] == "DeleteMarker" and asked.error()["Method"] == "GET"
    assert (asked.headers["x-amz-delete-marker"], asked.headers["x-amz-version-id"]) == ("true", marker)
    assert asked.headers["allow"] == "DELETE"
    listed = s3.list_object_versions(Bucket=bucket)["DeleteMarkers"][0]
    assert email.utils.parsedate_to_datetime(asked.headers["last-modified"]) == listed["LastModified"].replace(
        microsecond=0)


def test_not_modified_states_the_etag_and_last_modified(s3: Any, endpoint: str, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    head = s3.head_object(Bucket=bucket, Key="k")
    answer = send(endpoint, "GET", f"/{bucket}/k", {"If-None-Match": put["ETag"]})
    assert (answer.status, answer.body) == (304, b"")
    assert answer.headers["etag"] == put["ETag"]
    assert email.utils.parsedate_to_datetime(answer.headers["last-modified"]) == head["LastModified"]


def test_aws_chunked_is_framing_not_the_objects_content_encoding(s3: Any, endpoint: str, bucket: str) -> None:
    answer = _chunked(endpoint, bucket, "gz", {"Content-Encoding": "gzip, aws-chunked"})
    assert answer.status == 200, answer.body
    got = s3.get_object(Bucket=bucket, Key="gz")
    assert (got["Body"].read(), got["ContentEncoding"], got["ContentLength"]) == (b"data", "gzip", 4)


def test_a_trailer_the_model_knows_but_s3_does_not_take_is_refused(s3: Any, endpoint: str, bucket: str) -> None:
    answer = _chunked(endpoint, bucket, "sha512", {"x-amz-trailer": "x-amz-checksum-sha512"},
                      b"x-amz-checksum-sha512:AAAA\r\n")
    assert answer.status == 400
    assert (answer.error()["Code"], answer.error()["Message"]) == (
        "InvalidRequest", "The value specified in the x-amz-trailer header is not supported")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_a_trailing_checksum_is_verified_once_the_body_is_read(s3: Any, endpoint: str, bucket: str) -> None:
    good = base64.b64encode(zlib.crc32(b"data").to_bytes(4, "big")).decode()
    answer = _chunked(endpoint, bucket, "crc", {"x-amz-trailer": "x-amz-checksum-crc32"},
                      f"x-amz-checksum-crc32:{good}\r\n".encode())
    assert answer.status == 200 and answer.headers["x-amz-checksum-crc32"] == good
    wrong = _chunked(endpoint, bucket, "crc", {"x-amz-trailer": "x-amz-checksum-crc32"},
                     b"x-amz-checksum-crc32:AAAAAA==\r\n")
    assert wrong.status == 400 and wrong.error()["Code"] == "BadDigest"
    assert s3.get_object(Bucket=bucket, Key="crc", ChecksumMode="ENABLED")["ChecksumCRC32"] == good
