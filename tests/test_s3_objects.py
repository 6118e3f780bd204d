"""S3 object operations through real boto3, asserted against what real AWS S3 answers."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import http.client
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
import zlib
from typing import Any

import pytest
from awscrt import checksums as crt_checksums
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from .conftest import REGION, make_client

S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
UTC = dt.timezone.utc


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    resp = exc.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"]


def signed_raw(
    endpoint: str,
    method: str,
    path: str,
    *,
    host: str | None = None,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Send a SigV4-signed request with http.client, with an arbitrary Host header."""
    parts = urllib.parse.urlsplit(endpoint)
    host = host or parts.netloc
    hdrs = {"Host": host, **(headers or {})}
    req = AWSRequest(method=method, url=f"http://{host}{path}", data=body, headers=hdrs)
    S3SigV4Auth(Credentials("test", "test"), "s3", REGION).add_auth(req)
    conn = http.client.HTTPConnection(parts.netloc, timeout=15)
    try:
        conn.request(method, path, body=body or None, headers=dict(req.headers.items()))
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


# --- put / get / head ---------------------------------------------------------------------------


def test_put_get_round_trip(s3: Any, bucket: str) -> None:
    data = os.urandom(256 * 1024) + bytes(range(256))
    put = s3.put_object(Bucket=bucket, Key="blob.bin", Body=data)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert put["ETag"] == f'"{md5_hex(data)}"'

    got = s3.get_object(Bucket=bucket, Key="blob.bin")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["Body"].read() == data
    assert got["ContentLength"] == len(data)
    assert got["ETag"] == f'"{md5_hex(data)}"'
    assert got["AcceptRanges"] == "bytes"
    assert isinstance(got["LastModified"], dt.datetime)
    assert abs((dt.datetime.now(UTC) - got["LastModified"]).total_seconds()) < 300


def test_put_answers_the_headers_s3_does(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="headers", Body=b"abc")
    headers = put["ResponseMetadata"]["HTTPHeaders"]
    # x-amz-object-size is only for appends to directory buckets (botocore's PutObjectOutput.Size).
    assert "x-amz-object-size" not in headers
    assert headers["etag"] == f'"{md5_hex(b"abc")}"'
    assert headers["x-amz-server-side-encryption"] == "AES256"
    assert headers["x-amz-checksum-type"] == "FULL_OBJECT"


def test_empty_object(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert put["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["ContentLength"] == 0
    assert got["Body"].read() == b""


def test_overwrite_replaces_body_and_metadata(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"first", Metadata={"v": "1"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"second!")
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"second!"
    assert got["Metadata"] == {}
    assert got["ContentLength"] == 7


def test_default_content_type(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="no-type", Body=b"x")
    assert s3.head_object(Bucket=bucket, Key="no-type")["ContentType"] == "binary/octet-stream"


def test_user_metadata_round_trip(s3: Any, bucket: str) -> None:
    meta = {"Color": "blue", "x-trace": "abc-123", "spaces": "a b c", "Mixed-Case-Name": "V"}
    s3.put_object(Bucket=bucket, Key="m", Body=b"x", Metadata=meta)
    # S3 lower-cases metadata names; values come back as sent.
    expected = {k.lower(): v for k, v in meta.items()}
    got = s3.get_object(Bucket=bucket, Key="m")
    assert got["Metadata"] == expected
    assert got["ResponseMetadata"]["HTTPHeaders"]["x-amz-meta-color"] == "blue"
    assert s3.head_object(Bucket=bucket, Key="m")["Metadata"] == expected


def test_user_metadata_too_large(s3: Any, bucket: str) -> None:
    # User metadata (names plus values) is limited to 2 KB.
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="big-meta", Body=b"x", Metadata={"m": "v" * 2100})
    assert error_of(exc) == (400, "MetadataTooLarge")
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="big-meta")
    assert error_of(exc) == (404, "404")


def test_standard_headers_round_trip(s3: Any, bucket: str) -> None:
    body = gzip.compress(b"hello world " * 100)
    expires = dt.datetime(2037, 10, 21, 7, 28, 0, tzinfo=UTC)
    s3.put_object(
        Bucket=bucket,
        Key="doc.txt.gz",
        Body=body,
        ContentType="text/plain; charset=utf-8",
        ContentEncoding="gzip",
        ContentDisposition='attachment; filename="doc.txt"',
        ContentLanguage="en-GB",
        CacheControl="max-age=3600, public",
        Expires=expires,
    )
    for resp in (
        s3.get_object(Bucket=bucket, Key="doc.txt.gz"),
        s3.head_object(Bucket=bucket, Key="doc.txt.gz"),
    ):
        assert resp["ContentType"] == "text/plain; charset=utf-8"
        assert resp["ContentEncoding"] == "gzip"
        assert resp["ContentDisposition"] == 'attachment; filename="doc.txt"'
        assert resp["ContentLanguage"] == "en-GB"
        assert resp["CacheControl"] == "max-age=3600, public"
        assert resp["ExpiresString"] == "Wed, 21 Oct 2037 07:28:00 GMT"
        assert resp["Expires"] == expires
        assert resp["ContentLength"] == len(body)
    # The stored bytes are returned untouched (S3 never decodes Content-Encoding).
    raw = s3.get_object(Bucket=bucket, Key="doc.txt.gz")["Body"].read()
    assert raw == body


def test_head_object(s3: Any, bucket: str) -> None:
    data = b"0123456789" * 7
    s3.put_object(Bucket=bucket, Key="h", Body=data, ContentType="text/plain")
    head = s3.head_object(Bucket=bucket, Key="h")
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert head["ContentLength"] == 70
    assert head["ETag"] == f'"{md5_hex(data)}"'
    assert head["ContentType"] == "text/plain"
    assert head["AcceptRanges"] == "bytes"
    assert isinstance(head["LastModified"], dt.datetime)
    # HEAD never carries a body.
    assert head["ResponseMetadata"]["HTTPHeaders"]["content-length"] == "70"


def test_head_and_get_missing_key(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="nope")
    assert error_of(exc) == (404, "404")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="nope")
    assert error_of(exc) == (404, "NoSuchKey")
    assert exc.value.response["Error"]["Key"] == "nope"


# --- ranges -------------------------------------------------------------------------------------

DATA100 = bytes(range(100))


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=-5", 95, 99),
        ("bytes=10-", 10, 99),
        ("bytes=90-200", 90, 99),  # end past the object is clamped
        ("bytes=99-99", 99, 99),
        ("bytes=-500", 0, 99),  # suffix longer than the object is the whole object
    ],
)
def test_get_range(s3: Any, bucket: str, range_header: str, start: int, end: int) -> None:
    s3.put_object(Bucket=bucket, Key="r", Body=DATA100)
    got = s3.get_object(Bucket=bucket, Key="r", Range=range_header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes {start}-{end}/100"
    assert got["ContentLength"] == end - start + 1
    assert got["Body"].read() == DATA100[start : end + 1]
    assert got["ETag"] == f'"{md5_hex(DATA100)}"'


def test_head_range(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="r", Body=DATA100)
    head = s3.head_object(Bucket=bucket, Key="r", Range="bytes=0-9")
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert head["ContentLength"] == 10
    assert head["ContentRange"] == "bytes 0-9/100"


@pytest.mark.parametrize("range_header", ["bytes=100-", "bytes=100-200", "bytes=5000-6000"])
def test_get_unsatisfiable_range(s3: Any, bucket: str, range_header: str) -> None:
    s3.put_object(Bucket=bucket, Key="r", Body=DATA100)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="r", Range=range_header)
    assert error_of(exc) == (416, "InvalidRange")
    assert exc.value.response["Error"]["Message"] == "The requested range is not satisfiable"


# --- conditional requests -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def cond_object(s3: Any) -> dict[str, Any]:
    """An object whose Last-Modified is safely (> 1 s) in the past, plus its ETag and times."""
    name = f"cond-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    put = s3.put_object(Bucket=name, Key="c", Body=b"conditional body")
    last_modified = s3.head_object(Bucket=name, Key="c")["LastModified"]
    time.sleep(1.2)
    now = dt.datetime.now(UTC)
    return {
        "Bucket": name,
        "Key": "c",
        "etag": put["ETag"],
        "before": last_modified - dt.timedelta(days=1),
        "after": now,
    }


def _get(s3: Any, obj: dict[str, Any], method: str = "get", **kw: Any) -> Any:
    fn = s3.get_object if method == "get" else s3.head_object
    return fn(Bucket=obj["Bucket"], Key=obj["Key"], **kw)


@pytest.mark.parametrize("method", ["get", "head"])
def test_if_match(s3: Any, cond_object: dict[str, Any], method: str) -> None:
    ok = _get(s3, cond_object, method, IfMatch=cond_object["etag"])
    assert ok["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as exc:
        _get(s3, cond_object, method, IfMatch='"0123456789abcdef0123456789abcdef"')
    assert error_of(exc) == (412, "PreconditionFailed" if method == "get" else "412")


@pytest.mark.parametrize("method", ["get", "head"])
def test_if_none_match(s3: Any, cond_object: dict[str, Any], method: str) -> None:
    ok = _get(s3, cond_object, method, IfNoneMatch='"0123456789abcdef0123456789abcdef"')
    assert ok["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as exc:
        _get(s3, cond_object, method, IfNoneMatch=cond_object["etag"])
    # 304 has no body; botocore reports the status code as the error code.
    assert error_of(exc) == (304, "304")
    headers = exc.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["etag"] == cond_object["etag"]


@pytest.mark.parametrize("method", ["get", "head"])
def test_if_modified_since(s3: Any, cond_object: dict[str, Any], method: str) -> None:
    ok = _get(s3, cond_object, method, IfModifiedSince=cond_object["before"])
    assert ok["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as exc:
        _get(s3, cond_object, method, IfModifiedSince=cond_object["after"])
    assert error_of(exc) == (304, "304")


@pytest.mark.parametrize("method", ["get", "head"])
def test_if_unmodified_since(s3: Any, cond_object: dict[str, Any], method: str) -> None:
    ok = _get(s3, cond_object, method, IfUnmodifiedSince=cond_object["after"])
    assert ok["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as exc:
        _get(s3, cond_object, method, IfUnmodifiedSince=cond_object["before"])
    assert error_of(exc) == (412, "PreconditionFailed" if method == "get" else "412")


def test_condition_precedence(s3: Any, cond_object: dict[str, Any]) -> None:
    # Documented S3 rules: If-Match true wins over If-Unmodified-Since false (200), and
    # If-None-Match false (ETag matches) with If-Modified-Since true gives 304.
    ok = _get(s3, cond_object, IfMatch=cond_object["etag"], IfUnmodifiedSince=cond_object["before"])
    assert ok["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert ok["Body"].read() == b"conditional body"
    with pytest.raises(ClientError) as exc:
        _get(
            s3, cond_object, IfNoneMatch=cond_object["etag"], IfModifiedSince=cond_object["before"]
        )
    assert error_of(exc) == (304, "304")


def test_precondition_failed_names_condition(s3: Any, cond_object: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as exc:
        _get(s3, cond_object, IfMatch='"ffffffffffffffffffffffffffffffff"')
    err = exc.value.response["Error"]
    assert err["Code"] == "PreconditionFailed"
    assert err["Message"] == "At least one of the pre-conditions you specified did not hold"
    assert err["Condition"] == "If-Match"


def test_conditional_put_if_none_match_star(s3: Any, bucket: str) -> None:
    first = s3.put_object(Bucket=bucket, Key="once", Body=b"1", IfNoneMatch="*")
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="once", Body=b"2", IfNoneMatch="*")
    assert error_of(exc) == (412, "PreconditionFailed")
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"1"


# --- response header overrides ------------------------------------------------------------------


def test_response_header_overrides(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="o", Body=b"a,b\n", ContentType="text/plain")
    got = s3.get_object(
        Bucket=bucket,
        Key="o",
        ResponseContentType="text/csv",
        ResponseContentDisposition='attachment; filename="data.csv"',
        ResponseCacheControl="no-cache",
        ResponseContentLanguage="fr",
        ResponseContentEncoding="identity",
    )
    assert got["ContentType"] == "text/csv"
    assert got["ContentDisposition"] == 'attachment; filename="data.csv"'
    assert got["CacheControl"] == "no-cache"
    assert got["ContentLanguage"] == "fr"
    assert got["ContentEncoding"] == "identity"
    assert got["Body"].read() == b"a,b\n"
    # Overrides affect that response only.
    assert s3.head_object(Bucket=bucket, Key="o")["ContentType"] == "text/plain"


# --- delete -------------------------------------------------------------------------------------


def test_delete_object(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="d", Body=b"x")
    resp = s3.delete_object(Bucket=bucket, Key="d")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="d")
    assert error_of(exc) == (404, "NoSuchKey")
    # Deleting a key that does not exist is not an error.
    again = s3.delete_object(Bucket=bucket, Key="d")
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 204
    never = s3.delete_object(Bucket=bucket, Key="never-existed")
    assert never["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_delete_objects(s3: Any, bucket: str) -> None:
    keys = ["a", "b/c", "d e"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    s3.put_object(Bucket=bucket, Key="keep", Body=b"x")
    resp = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": k} for k in [*keys, "missing"]]}
    )
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    # Missing keys are reported as deleted too.
    assert sorted(d["Key"] for d in resp["Deleted"]) == sorted([*keys, "missing"])
    assert "Errors" not in resp
    listed = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == ["keep"]


def test_delete_objects_quiet(s3: Any, bucket: str) -> None:
    for k in ("q1", "q2"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    resp = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "q1"}, {"Key": "q2"}], "Quiet": True}
    )
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    # Quiet mode reports only errors: no Deleted entries at all.
    assert "Deleted" not in resp
    assert "Errors" not in resp
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


# --- copy ---------------------------------------------------------------------------------------


def test_copy_object_metadata_copy(s3: Any, bucket: str) -> None:
    data = b"source bytes"
    s3.put_object(
        Bucket=bucket, Key="src", Body=data, Metadata={"a": "1"}, ContentType="text/plain"
    )
    resp = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["CopyObjectResult"]["ETag"] == f'"{md5_hex(data)}"'
    assert isinstance(resp["CopyObjectResult"]["LastModified"], dt.datetime)
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == data
    assert got["Metadata"] == {"a": "1"}
    assert got["ContentType"] == "text/plain"
    assert got["ETag"] == f'"{md5_hex(data)}"'


def test_copy_object_metadata_replace(s3: Any, bucket: str) -> None:
    s3.put_object(
        Bucket=bucket, Key="src", Body=b"{}", Metadata={"a": "1"}, ContentType="text/plain"
    )
    s3.copy_object(
        Bucket=bucket,
        Key="dst",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="REPLACE",
        Metadata={"b": "2"},
        ContentType="application/json",
    )
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert head["Metadata"] == {"b": "2"}
    assert head["ContentType"] == "application/json"
    # The source is untouched.
    assert s3.head_object(Bucket=bucket, Key="src")["Metadata"] == {"a": "1"}


def test_copy_onto_itself(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="self", Body=b"x", Metadata={"v": "1"})
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"})
    assert error_of(exc) == (400, "InvalidRequest")
    assert "copy an object to itself" in exc.value.response["Error"]["Message"]
    # Replacing the metadata is the supported way to "copy onto itself".
    s3.copy_object(
        Bucket=bucket,
        Key="self",
        CopySource={"Bucket": bucket, "Key": "self"},
        MetadataDirective="REPLACE",
        Metadata={"v": "2"},
    )
    got = s3.get_object(Bucket=bucket, Key="self")
    assert got["Metadata"] == {"v": "2"}
    assert got["Body"].read() == b"x"


def test_copy_to_other_bucket_with_odd_key(s3: Any, bucket: str) -> None:
    other = f"copy-dst-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=other)
    key = "dir/sp ace+plus%pct é?.txt"
    data = os.urandom(4096)
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    s3.copy_object(Bucket=other, Key="copied/" + key, CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=other, Key="copied/" + key)["Body"].read() == data
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data


def test_copy_missing_source(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "ghost"})
    assert error_of(exc) == (404, "NoSuchKey")


# --- listing ------------------------------------------------------------------------------------


def _put_keys(s3: Any, bucket: str, keys: list[str]) -> None:
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())


KEYS25 = [f"k{i:02d}" for i in range(25)]


def test_list_v2_pagination(s3: Any, bucket: str) -> None:
    _put_keys(s3, bucket, KEYS25)
    seen: list[str] = []
    token = None
    pages = []
    while True:
        kwargs = {"Bucket": bucket, "MaxKeys": 10}
        if token:
            kwargs["ContinuationToken"] = token
        resp = s3.list_objects_v2(**kwargs)
        pages.append(resp)
        assert resp["MaxKeys"] == 10
        assert resp["Name"] == bucket
        if token:
            assert resp["ContinuationToken"] == token
        seen += [o["Key"] for o in resp["Contents"]]
        if not resp["IsTruncated"]:
            assert "NextContinuationToken" not in resp
            break
        token = resp["NextContinuationToken"]
        assert token
    assert [p["KeyCount"] for p in pages] == [10, 10, 5]
    assert [p["IsTruncated"] for p in pages] == [True, True, False]
    assert seen == KEYS25


def test_list_v2_contents_fields(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="f", Body=b"12345")
    resp = s3.list_objects_v2(Bucket=bucket)
    assert resp["KeyCount"] == 1
    (entry,) = resp["Contents"]
    assert entry["Key"] == "f"
    assert entry["Size"] == 5
    assert entry["ETag"] == f'"{md5_hex(b"12345")}"'
    assert entry["StorageClass"] == "STANDARD"
    assert isinstance(entry["LastModified"], dt.datetime)
    # ListObjectsV2 omits Owner unless FetchOwner=true.
    assert "Owner" not in entry
    owned = s3.list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"][0]
    assert owned["Owner"]["ID"]


def test_list_v2_empty_bucket(s3: Any, bucket: str) -> None:
    resp = s3.list_objects_v2(Bucket=bucket)
    assert resp["KeyCount"] == 0
    assert resp["IsTruncated"] is False
    assert "Contents" not in resp
    assert "CommonPrefixes" not in resp


TREE = [
    "docs/x.txt",
    "photos/2024/a.jpg",
    "photos/2024/b.jpg",
    "photos/2025/c.jpg",
    "photos/top.jpg",
    "root.txt",
]


def test_list_v2_prefix_and_delimiter(s3: Any, bucket: str) -> None:
    _put_keys(s3, bucket, TREE)
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["root.txt"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["docs/", "photos/"]
    assert top["KeyCount"] == 3  # keys plus common prefixes
    assert top["Delimiter"] == "/"

    photos = s3.list_objects_v2(Bucket=bucket, Prefix="photos/", Delimiter="/")
    assert photos["Prefix"] == "photos/"
    assert [o["Key"] for o in photos["Contents"]] == ["photos/top.jpg"]
    assert [p["Prefix"] for p in photos["CommonPrefixes"]] == ["photos/2024/", "photos/2025/"]

    only_prefix = s3.list_objects_v2(Bucket=bucket, Prefix="photos/2024/")
    assert [o["Key"] for o in only_prefix["Contents"]] == ["photos/2024/a.jpg", "photos/2024/b.jpg"]
    assert "CommonPrefixes" not in only_prefix

    partial = s3.list_objects_v2(Bucket=bucket, Prefix="pho")
    assert len(partial["Contents"]) == 4

    none = s3.list_objects_v2(Bucket=bucket, Prefix="zzz")
    assert none["KeyCount"] == 0
    assert "Contents" not in none


def test_list_v2_max_keys_counts_common_prefixes(s3: Any, bucket: str) -> None:
    _put_keys(s3, bucket, ["a/1", "a/2", "b/1", "c", "d/1"])
    first = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert [p["Prefix"] for p in first["CommonPrefixes"]] == ["a/", "b/"]
    assert "Contents" not in first
    assert first["KeyCount"] == 2
    assert first["IsTruncated"] is True
    second = s3.list_objects_v2(
        Bucket=bucket, Delimiter="/", MaxKeys=2, ContinuationToken=first["NextContinuationToken"]
    )
    assert [o["Key"] for o in second["Contents"]] == ["c"]
    assert [p["Prefix"] for p in second["CommonPrefixes"]] == ["d/"]
    assert second["IsTruncated"] is False


def test_list_v2_start_after(s3: Any, bucket: str) -> None:
    _put_keys(s3, bucket, KEYS25)
    resp = s3.list_objects_v2(Bucket=bucket, StartAfter="k19")
    assert resp["StartAfter"] == "k19"
    assert [o["Key"] for o in resp["Contents"]] == [f"k{i}" for i in range(20, 25)]
    # StartAfter need not be an existing key.
    between = s3.list_objects_v2(Bucket=bucket, StartAfter="k225")
    assert [o["Key"] for o in between["Contents"]] == ["k23", "k24"]


def test_list_v2_encoding_type_url(s3: Any, bucket: str) -> None:
    odd = "dir/a b+c%d é.txt"
    _put_keys(s3, bucket, [odd, "dir/sub dir/x", "plain.txt"])
    # When the caller asks for EncodingType itself, botocore hands back the encoded keys untouched.
    resp = s3.list_objects_v2(Bucket=bucket, Prefix="dir/", Delimiter="/", EncodingType="url")
    assert resp["EncodingType"] == "url"
    (entry,) = resp["Contents"]
    encoded = entry["Key"]
    assert urllib.parse.unquote_plus(encoded) == odd
    assert encoded.startswith("dir/")  # '/' is left as is
    assert "%2B" in encoded and "%25" in encoded and "%C3%A9" in encoded
    assert " " not in encoded
    (prefix,) = resp["CommonPrefixes"]
    assert urllib.parse.unquote_plus(prefix["Prefix"]) == "dir/sub dir/"
    assert " " not in prefix["Prefix"]
    # Without an explicit EncodingType botocore decodes for us: exact keys come back.
    plain = s3.list_objects_v2(Bucket=bucket, Prefix="dir/")
    assert [o["Key"] for o in plain["Contents"]] == sorted(
        [odd, "dir/sub dir/x"], key=lambda k: k.encode()
    )


def test_list_v1_marker_and_truncation(s3: Any, bucket: str) -> None:
    _put_keys(s3, bucket, ["k0", "k1", "k2", "k3", "k4"])
    first = s3.list_objects(Bucket=bucket, MaxKeys=2)
    assert [o["Key"] for o in first["Contents"]] == ["k0", "k1"]
    assert first["IsTruncated"] is True
    assert first["MaxKeys"] == 2
    # Without a delimiter, V1 does not return NextMarker: clients use the last key.
    assert "NextMarker" not in first
    second = s3.list_objects(Bucket=bucket, MaxKeys=2, Marker="k1")
    assert second["Marker"] == "k1"
    assert [o["Key"] for o in second["Contents"]] == ["k2", "k3"]
    last = s3.list_objects(Bucket=bucket, Marker="k3")
    assert [o["Key"] for o in last["Contents"]] == ["k4"]
    assert last["IsTruncated"] is False
    # V1 entries carry Owner by default.
    assert first["Contents"][0]["Owner"]["ID"]


def test_list_v1_next_marker_with_delimiter(s3: Any, bucket: str) -> None:
    _put_keys(s3, bucket, ["a/1", "a/2", "b/1", "c", "d/1"])
    first = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert [p["Prefix"] for p in first["CommonPrefixes"]] == ["a/", "b/"]
    assert first["IsTruncated"] is True
    assert first["NextMarker"] == "b/"
    second = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2, Marker=first["NextMarker"])
    assert [o["Key"] for o in second["Contents"]] == ["c"]
    assert [p["Prefix"] for p in second["CommonPrefixes"]] == ["d/"]
    assert second["IsTruncated"] is False


def test_paginators(s3: Any, bucket: str) -> None:
    _put_keys(s3, bucket, KEYS25)
    v2_pages = list(
        s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, PaginationConfig={"PageSize": 7}
        )
    )
    assert [p["KeyCount"] for p in v2_pages] == [7, 7, 7, 4]
    assert [o["Key"] for p in v2_pages for o in p["Contents"]] == KEYS25

    v1_pages = list(
        s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 10})
    )
    assert [len(p["Contents"]) for p in v1_pages] == [10, 10, 5]
    assert [o["Key"] for p in v1_pages for o in p["Contents"]] == KEYS25

    built = (
        s3.get_paginator("list_objects_v2")
        .paginate(Bucket=bucket, Prefix="k1", PaginationConfig={"PageSize": 3})
        .build_full_result()
    )
    assert [o["Key"] for o in built["Contents"]] == [f"k1{i}" for i in range(10)]


def test_list_object_versions_unversioned(s3: Any, bucket: str) -> None:
    _put_keys(s3, bucket, ["v1", "v2"])
    resp = s3.list_object_versions(Bucket=bucket)
    versions = resp["Versions"]
    assert [v["Key"] for v in versions] == ["v1", "v2"]
    for v in versions:
        assert v["VersionId"] == "null"
        assert v["IsLatest"] is True
        assert v["Size"] == 2
        assert v["ETag"] == f'"{md5_hex(v["Key"].encode())}"'
    assert "DeleteMarkers" not in resp
    assert resp["IsTruncated"] is False
    head = s3.head_object(Bucket=bucket, Key="v1")
    assert "VersionId" not in head


def test_get_object_attributes(s3: Any, bucket: str) -> None:
    data = b"attributes!" * 10
    s3.put_object(Bucket=bucket, Key="attr", Body=data)
    resp = s3.get_object_attributes(
        Bucket=bucket, Key="attr", ObjectAttributes=["ETag", "ObjectSize", "StorageClass"]
    )
    assert resp["ETag"] == md5_hex(data)  # no quotes here, unlike everywhere else
    assert resp["ObjectSize"] == len(data)
    assert resp["StorageClass"] == "STANDARD"
    assert isinstance(resp["LastModified"], dt.datetime)
    only_size = s3.get_object_attributes(Bucket=bucket, Key="attr", ObjectAttributes=["ObjectSize"])
    assert only_size["ObjectSize"] == len(data)
    assert "ETag" not in only_size


# --- tagging ------------------------------------------------------------------------------------


def test_object_tagging(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t", Body=b"x")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    tags = [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "data eng"}]
    put = s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": tags})
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]
    assert sorted(got, key=lambda t: t["Key"]) == tags
    assert s3.get_object(Bucket=bucket, Key="t")["TagCount"] == 2
    deleted = s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="t")


def test_tagging_header_on_put(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="a=1&b=2")
    got = s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]
    assert sorted(got, key=lambda t: t["Key"]) == [
        {"Key": "a", "Value": "1"},
        {"Key": "b", "Value": "2"},
    ]
    assert s3.get_object(Bucket=bucket, Key="t")["TagCount"] == 2
    # The header is URL-encoded: '%20' is a space and '%2B' a literal plus.
    s3.put_object(Bucket=bucket, Key="t2", Body=b"x", Tagging="my%20key=v%2Bw")
    assert s3.get_object_tagging(Bucket=bucket, Key="t2")["TagSet"] == [
        {"Key": "my key", "Value": "v+w"}
    ]


def test_tagging_missing_key(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_object_tagging(Bucket=bucket, Key="ghost")
    assert error_of(exc) == (404, "NoSuchKey")
    with pytest.raises(ClientError) as exc:
        s3.put_object_tagging(Bucket=bucket, Key="ghost", Tagging={"TagSet": []})
    assert error_of(exc) == (404, "NoSuchKey")


# --- odd keys -----------------------------------------------------------------------------------

ODD_KEYS = {
    "space": "with space.txt",
    "unicode": "unicodé/日本語/ñ 😀.txt",
    "plus": "plus+sign+",
    "percent": "100%.csv",
    "percent_escape": "literal%20not-a-space",
    "dotdot": "a/../b",
    "dots": "x..y/./z",
    "slash_runs": "a//b///c",
    "leading_slash": "/leading",
    "trailing_slash": "folder/",
    "query_chars": "q?x=1&y=2#frag",
    "punctuation": "semi;colon,comma=eq@at:colon!bang'quote\"(paren)*star~tilde$",
    "xml_chars": "<tag attr='v'>&amp;</tag>",
}


@pytest.mark.parametrize("label", sorted(ODD_KEYS))
def test_odd_key_round_trip(s3: Any, bucket: str, label: str) -> None:
    key = ODD_KEYS[label]
    data = f"body of {key}".encode()
    s3.put_object(Bucket=bucket, Key=key, Body=data, Metadata={"label": label})
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data
    assert s3.head_object(Bucket=bucket, Key=key)["Metadata"] == {"label": label}
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]] == [key]
    s3.copy_object(Bucket=bucket, Key=key + ".copy", CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=bucket, Key=key + ".copy")["Body"].read() == data
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key}]})
    s3.delete_object(Bucket=bucket, Key=key + ".copy")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_odd_keys_are_distinct_and_sorted(s3: Any, bucket: str) -> None:
    keys = [*ODD_KEYS.values(), "a/b/c", "a/b//c", "leading", "plus sign ", "100%25.csv"]
    _put_keys(s3, bucket, keys)
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    # S3 lists in UTF-8 binary order, and no two of these keys collapse into one.
    assert listed == sorted(keys, key=lambda k: k.encode("utf-8"))
    for k in keys:
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == k.encode()


# --- checksums ----------------------------------------------------------------------------------

CHECKSUM_DATA = b"The quick brown fox jumps over the lazy dog" * 1000


def expected_checksum(algorithm: str, data: bytes) -> str:
    if algorithm == "CRC32":
        raw = zlib.crc32(data).to_bytes(4, "big")
    elif algorithm == "CRC32C":
        raw = crt_checksums.crc32c(data).to_bytes(4, "big")
    elif algorithm == "SHA1":
        raw = hashlib.sha1(data).digest()
    else:
        raw = hashlib.sha256(data).digest()
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_put_with_checksum_algorithm(s3: Any, bucket: str, algorithm: str) -> None:
    field = f"Checksum{algorithm}"
    want = expected_checksum(algorithm, CHECKSUM_DATA)
    put = s3.put_object(Bucket=bucket, Key="c", Body=CHECKSUM_DATA, ChecksumAlgorithm=algorithm)
    assert put[field] == want
    got = s3.get_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert got[field] == want
    assert got["Body"].read() == CHECKSUM_DATA
    head = s3.head_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert head[field] == want
    attrs = s3.get_object_attributes(Bucket=bucket, Key="c", ObjectAttributes=["Checksum"])
    assert attrs["Checksum"][field] == want


def test_wrong_content_md5_is_bad_digest(s3: Any, bucket: str) -> None:
    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"actual body", ContentMD5=wrong)
    assert error_of(exc) == (400, "BadDigest")
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="md5")
    assert error_of(exc) == (404, "404")


def test_right_content_md5_accepted(s3: Any, bucket: str) -> None:
    body = b"actual body"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    put = s3.put_object(Bucket=bucket, Key="md5", Body=body, ContentMD5=good)
    assert put["ETag"] == f'"{md5_hex(body)}"'


def test_wrong_crc32_rejected(s3: Any, bucket: str) -> None:
    wrong = base64.b64encode(zlib.crc32(b"other").to_bytes(4, "big")).decode()
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="crc", Body=b"payload", ChecksumCRC32=wrong)
    status, code = error_of(exc)
    assert status == 400
    assert code in ("BadDigest", "InvalidRequest")
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="crc")
    assert error_of(exc) == (404, "404")


# --- addressing and presigned URLs --------------------------------------------------------------


def test_virtual_host_raw_requests(endpoint: str, s3: Any, bucket: str) -> None:
    port = urllib.parse.urlsplit(endpoint).port
    vhost = f"{bucket}.localhost:{port}"
    s3.put_object(Bucket=bucket, Key="dir/obj.txt", Body=b"via path style")

    status, headers, body = signed_raw(endpoint, "GET", "/dir/obj.txt", host=vhost)
    assert status == 200
    assert body == b"via path style"
    assert headers["etag"] == f'"{md5_hex(b"via path style")}"'

    status, _, _ = signed_raw(endpoint, "PUT", "/vh.txt", host=vhost, body=b"via virtual host")
    assert status == 200
    assert s3.get_object(Bucket=bucket, Key="vh.txt")["Body"].read() == b"via virtual host"

    status, _, body = signed_raw(endpoint, "GET", "/?list-type=2", host=vhost)
    assert status == 200
    root = ET.fromstring(body)
    assert root.tag == f"{S3_NS}ListBucketResult"
    assert root.findtext(f"{S3_NS}Name") == bucket
    assert sorted((e.text for e in root.iter(f"{S3_NS}Key")), key=str) == ["dir/obj.txt", "vh.txt"]


def test_virtual_host_boto3_client(endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    port = urllib.parse.urlsplit(endpoint).port
    real_getaddrinfo = socket.getaddrinfo

    def resolve_localhost(host: bytes | str | None, *args: Any, **kwargs: Any) -> Any:
        # `*.localhost` is loopback by RFC 6761, but not every resolver here knows it.
        if isinstance(host, str) and (host == "localhost" or host.endswith(".localhost")):
            host = "127.0.0.1"
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve_localhost)
    client = make_client("s3", f"http://localhost:{port}", s3={"addressing_style": "virtual"})
    urls: list[str] = []
    client.meta.events.register("before-send.s3", lambda request, **_: urls.append(request.url))

    client.put_object(Bucket=bucket, Key="v/key.txt", Body=b"virtual")
    got = client.get_object(Bucket=bucket, Key="v/key.txt")
    assert got["Body"].read() == b"virtual"
    assert [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]] == ["v/key.txt"]
    assert client.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert urls and all(
        urllib.parse.urlsplit(u).netloc == f"{bucket}.localhost:{port}" for u in urls
    )


PRESIGN_STYLES = {"default": {}, "sigv4": {"signature_version": "s3v4"}}


@pytest.fixture(params=sorted(PRESIGN_STYLES))
def presigner(request: pytest.FixtureRequest, endpoint: str) -> Any:
    """boto3 presigns S3 URLs with its default signer and, when asked, with SigV4 query auth."""
    return make_client("s3", endpoint, **PRESIGN_STYLES[request.param])


def test_presigned_get(s3: Any, presigner: Any, bucket: str) -> None:
    data = os.urandom(1000)
    s3.put_object(Bucket=bucket, Key="pre/get.bin", Body=data)
    url = presigner.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "pre/get.bin"}, ExpiresIn=300
    )
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200
        assert resp.read() == data
        assert resp.headers["ETag"] == f'"{md5_hex(data)}"'


def test_presigned_sigv4_url_shape(endpoint: str, bucket: str) -> None:
    client = make_client("s3", endpoint, signature_version="s3v4")
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300
    )
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["300"]
    # The object does not exist: a presigned request gets the normal S3 error document.
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(url, timeout=10)
    assert exc.value.code == 404
    assert ET.fromstring(exc.value.read()).findtext("Code") == "NoSuchKey"


def test_presigned_get_with_response_override(s3: Any, presigner: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="pre/dl.txt", Body=b"download me")
    url = presigner.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": "pre/dl.txt",
            "ResponseContentDisposition": 'attachment; filename="x.txt"',
        },
        ExpiresIn=300,
    )
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.headers["Content-Disposition"] == 'attachment; filename="x.txt"'
        assert resp.read() == b"download me"


def test_presigned_put(s3: Any, presigner: Any, bucket: str) -> None:
    data = b"uploaded through a presigned url"
    url = presigner.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "pre/put.txt"}, ExpiresIn=300
    )
    req = urllib.request.Request(
        url, data=data, method="PUT", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["ETag"] == f'"{md5_hex(data)}"'
    got = s3.get_object(Bucket=bucket, Key="pre/put.txt")
    assert got["Body"].read() == data
    assert got["ContentType"] == "text/plain"


def test_presigned_url_expired(s3: Any, endpoint: str, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="pre/old.txt", Body=b"x")
    urls = [
        make_client("s3", endpoint, **cfg).generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "pre/old.txt"}, ExpiresIn=1
        )
        for cfg in PRESIGN_STYLES.values()
    ]
    time.sleep(2.1)
    for url in urls:
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(url, timeout=10)
        assert exc.value.code == 403
        root = ET.fromstring(exc.value.read())
        assert root.findtext("Code") == "AccessDenied"
