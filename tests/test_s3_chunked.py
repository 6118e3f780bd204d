"""`aws-chunked` bodies with trailing checksums, encoded by botocore's own wrapper.

boto3 sends these by default over HTTPS; over plain HTTP it puts the checksum in a header, so
these tests build the body with botocore's AwsChunkedWrapper and send it as boto3 would.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import os
import zlib
from typing import Any
from urllib.parse import urlparse

from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum


def _put_chunked(endpoint: str, bucket: str, key: str, body: bytes, trailer_value: str | None = None,
                 chunk_size: int = 64 * 1024) -> tuple[int, bytes, dict[str, str]]:
    wrapper = AwsChunkedWrapper(io.BytesIO(body), checksum_cls=Crc32Checksum,
                                checksum_name="x-amz-checksum-crc32", chunk_size=chunk_size)
    encoded = wrapper.read()
    if trailer_value is not None:
        head, _, _ = encoded.rpartition(b"x-amz-checksum-crc32:")
        encoded = head + f"x-amz-checksum-crc32:{trailer_value}\r\n\r\n".encode()
    url = urlparse(endpoint)
    conn = http.client.HTTPConnection(url.netloc, timeout=10)
    conn.request("PUT", f"/{bucket}/{key}", body=encoded, headers={
        "Content-Encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": str(len(body)),
        "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-sdk-checksum-algorithm": "CRC32",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/s3/aws4_request, "
                         "SignedHeaders=host, Signature=0",
        "Content-Length": str(len(encoded)),
    })
    resp = conn.getresponse()
    data = resp.read()
    headers = {k.lower(): v for k, v in resp.getheaders()}
    conn.close()
    return resp.status, data, headers


def _crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_chunked_upload_with_trailer_round_trips(s3: Any, endpoint: str, bucket: str) -> None:
    body = os.urandom(300_000)  # several chunks
    status, _, headers = _put_chunked(endpoint, bucket, "chunked.bin", body)
    assert status == 200
    assert headers["etag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="chunked.bin", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got["ChecksumCRC32"] == _crc32_b64(body)
    # aws-chunked is a transfer detail: it is not stored as the object's Content-Encoding.
    assert "ContentEncoding" not in got


def test_chunked_upload_with_wrong_trailer_is_refused(s3: Any, endpoint: str, bucket: str) -> None:
    body = b"hello chunked world" * 100
    status, data, _ = _put_chunked(endpoint, bucket, "bad.bin", body, trailer_value=_crc32_b64(b"other"))
    assert status == 400
    assert b"<Code>BadDigest</Code>" in data
    assert b"CRC32" in data
    listed = s3.list_objects_v2(Bucket=bucket)
    assert listed["KeyCount"] == 0  # nothing half-stored


def test_truncated_chunked_body_is_refused(endpoint: str, bucket: str, s3: Any) -> None:
    url = urlparse(endpoint)
    conn = http.client.HTTPConnection(url.netloc, timeout=10)
    encoded = b"400\r\n" + b"x" * 10 + b"\r\n0\r\n\r\n"  # declares 1024 bytes, sends 10
    conn.request("PUT", f"/{bucket}/trunc.bin", body=encoded, headers={
        "Content-Encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": "1024",
        # The default key (not verified without --verify-signatures): an anonymous PUT is refused first.
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/s3/aws4_request, "
                         "SignedHeaders=host, Signature=0",
        "Content-Length": str(len(encoded)),
    })
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    assert resp.status == 400
    assert b"<Code>" in data
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
