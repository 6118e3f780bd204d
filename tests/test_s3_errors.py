"""The shape of S3 error responses, malformed input, and requests Sluice cannot serve.

Every S3 error is an XML <Error> document with Code, Message, RequestId and HostId, and the
request ids also travel as x-amz-request-id / x-amz-id-2 headers. Bad input is answered with the
AWS error for it, never with a 500 or a dropped connection.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from .conftest import REGION

MiB = 1024 * 1024


class RawResponse:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def xml(self) -> ET.Element:
        return ET.fromstring(self.body)


def raw_request(
    endpoint: str,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    service: str = "s3",
    sign: bool = True,
) -> RawResponse:
    """Send one request with http.client, SigV4-signed for `service` unless sign=False."""
    parts = urllib.parse.urlsplit(endpoint)
    hdrs = {"Host": parts.netloc, **(headers or {})}
    if sign:
        req = AWSRequest(method=method, url=endpoint + path, data=body, headers=hdrs)
        auth = S3SigV4Auth if service == "s3" else SigV4Auth
        auth(Credentials("test", "test"), service, REGION).add_auth(req)
        hdrs = dict(req.headers.items())
    conn = http.client.HTTPConnection(parts.netloc, timeout=15)
    try:
        conn.request(method, path, body=body or None, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def assert_s3_error_document(resp: RawResponse, status: int, code: str) -> ET.Element:
    assert resp.status == status, resp.body
    assert resp.headers["content-type"].startswith("application/xml")
    root = resp.xml()
    assert root.tag == "Error"  # S3 error documents carry no namespace
    assert root.findtext("Code") == code
    assert root.findtext("Message")
    assert root.findtext("RequestId") == resp.headers["x-amz-request-id"]
    assert root.findtext("HostId") == resp.headers["x-amz-id-2"]
    return root


# --- the common error shape, as boto3 sees it ---------------------------------------------------


def _no_such_key(s3: Any, b: str) -> None:
    s3.get_object(Bucket=b, Key="missing")


def _no_such_bucket(s3: Any, b: str) -> None:
    s3.list_objects_v2(Bucket=b + "-absent")


def _bucket_not_empty(s3: Any, b: str) -> None:
    s3.put_object(Bucket=b, Key="x", Body=b"x")
    s3.delete_bucket(Bucket=b)


def _invalid_bucket_name(s3: Any, b: str) -> None:
    s3.create_bucket(Bucket="ab")


def _no_such_upload(s3: Any, b: str) -> None:
    s3.list_parts(Bucket=b, Key="k", UploadId="does-not-exist")


def _invalid_range(s3: Any, b: str) -> None:
    s3.put_object(Bucket=b, Key="r", Body=b"0123456789")
    s3.get_object(Bucket=b, Key="r", Range="bytes=50-60")


def _precondition_failed(s3: Any, b: str) -> None:
    s3.put_object(Bucket=b, Key="p", Body=b"x")
    s3.get_object(Bucket=b, Key="p", IfMatch='"00000000000000000000000000000000"')


def _bad_digest(s3: Any, b: str) -> None:
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    s3.put_object(Bucket=b, Key="d", Body=b"body", ContentMD5=wrong)


def _no_such_key_on_copy(s3: Any, b: str) -> None:
    s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "nothing-here"})


def _entity_too_small(s3: Any, b: str) -> None:
    uid = s3.create_multipart_upload(Bucket=b, Key="m")["UploadId"]
    parts = []
    for n in (1, 2):
        etag = s3.upload_part(Bucket=b, Key="m", UploadId=uid, PartNumber=n, Body=b"tiny")["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    s3.complete_multipart_upload(Bucket=b, Key="m", UploadId=uid, MultipartUpload={"Parts": parts})


ERROR_CASES: dict[str, tuple[Callable[..., object], int, str]] = {
    "NoSuchKey": (_no_such_key, 404, "NoSuchKey"),
    "NoSuchBucket": (_no_such_bucket, 404, "NoSuchBucket"),
    "BucketNotEmpty": (_bucket_not_empty, 409, "BucketNotEmpty"),
    "InvalidBucketName": (_invalid_bucket_name, 400, "InvalidBucketName"),
    "NoSuchUpload": (_no_such_upload, 404, "NoSuchUpload"),
    "InvalidRange": (_invalid_range, 416, "InvalidRange"),
    "PreconditionFailed": (_precondition_failed, 412, "PreconditionFailed"),
    "BadDigest": (_bad_digest, 400, "BadDigest"),
    "NoSuchKeyOnCopy": (_no_such_key_on_copy, 404, "NoSuchKey"),
    "EntityTooSmall": (_entity_too_small, 400, "EntityTooSmall"),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_error_has_code_message_and_request_ids(s3: Any, bucket: str, case: str) -> None:
    action, status, code = ERROR_CASES[case]
    with pytest.raises(ClientError) as exc:
        action(s3, bucket)
    resp = exc.value.response
    meta = resp["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == status
    assert resp["Error"]["Code"] == code
    assert resp["Error"]["Message"]
    assert meta["RequestId"]
    assert meta["HostId"]
    assert meta["HTTPHeaders"]["x-amz-request-id"] == meta["RequestId"]
    assert meta["HTTPHeaders"]["x-amz-id-2"] == meta["HostId"]
    assert meta["HTTPHeaders"]["content-type"].startswith("application/xml")


def test_head_error_has_request_ids_but_no_body(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="missing")
    meta = exc.value.response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 404
    assert exc.value.response["Error"]["Code"] == "404"
    assert meta["RequestId"]
    assert meta["HostId"]


def test_request_ids_on_success_and_unique(s3: Any, bucket: str) -> None:
    ids = set()
    for _ in range(3):
        meta = s3.list_objects_v2(Bucket=bucket)["ResponseMetadata"]
        assert meta["RequestId"]
        assert meta["HostId"]
        ids.add(meta["RequestId"])
    assert len(ids) == 3


def test_exact_messages_of_common_errors(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="dir/missing key.txt")
    err = exc.value.response["Error"]
    assert err["Message"] == "The specified key does not exist."
    assert err["Key"] == "dir/missing key.txt"

    absent = f"absent-{uuid.uuid4().hex[:10]}"
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=absent)
    err = exc.value.response["Error"]
    assert err["Message"] == "The specified bucket does not exist"
    assert err["BucketName"] == absent

    s3.put_object(Bucket=bucket, Key="x", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=bucket)
    err = exc.value.response["Error"]
    assert err["Message"] == "The bucket you tried to delete is not empty"
    assert err["BucketName"] == bucket

    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket=bucket, Key="k", UploadId="nope")
    err = exc.value.response["Error"]
    assert err["Message"] == (
        "The specified upload does not exist. The upload ID may be invalid, "
        "or the upload may have been aborted or completed."
    )
    assert err["UploadId"] == "nope"


def test_no_such_key_raw_document(s3: Any, endpoint: str, bucket: str) -> None:
    resp = raw_request(endpoint, "GET", f"/{bucket}/some/missing%20key")
    root = assert_s3_error_document(resp, 404, "NoSuchKey")
    assert root.findtext("Key") == "some/missing key"
    assert resp.body.startswith(b"<?xml")


# --- malformed input ----------------------------------------------------------------------------


def _md5_header(body: bytes) -> dict[str, str]:
    return {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()}


@pytest.mark.parametrize(
    "body",
    [
        b"<Delete><Object><Key>a</Key></Object",  # not well-formed
        b"this is not xml at all",
        b'<?xml version="1.0"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></Delete>',
    ],
    ids=["truncated", "not-xml", "no-objects"],
)
def test_delete_objects_malformed_xml(s3: Any, endpoint: str, bucket: str, body: bytes) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    resp = raw_request(endpoint, "POST", f"/{bucket}?delete", body=body, headers=_md5_header(body))
    root = assert_s3_error_document(resp, 400, "MalformedXML")
    assert root.findtext("Message") == (
        "The XML you provided was not well-formed or did not validate against our published schema"
    )
    # Nothing was deleted.
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"x"


def test_delete_objects_empty_list_via_boto3(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": []})
    assert exc.value.response["Error"]["Code"] == "MalformedXML"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_put_tagging_malformed_xml(s3: Any, endpoint: str, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t", Body=b"x")
    body = b"<Tagging><TagSet><Tag><Key>a</Key>"
    resp = raw_request(
        endpoint, "PUT", f"/{bucket}/t?tagging", body=body, headers=_md5_header(body)
    )
    assert_s3_error_document(resp, 400, "MalformedXML")


def test_complete_multipart_malformed_xml(s3: Any, endpoint: str, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    body = b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
    query = urllib.parse.urlencode({"uploadId": upload_id})
    resp = raw_request(endpoint, "POST", f"/{bucket}/m?{query}", body=body)
    assert_s3_error_document(resp, 400, "MalformedXML")
    # The upload survives the bad request.
    assert s3.list_parts(Bucket=bucket, Key="m", UploadId=upload_id)["UploadId"] == upload_id


def test_post_to_object_is_method_not_allowed(s3: Any, endpoint: str, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="obj", Body=b"x")
    resp = raw_request(endpoint, "POST", f"/{bucket}/obj", body=b"payload")
    root = assert_s3_error_document(resp, 405, "MethodNotAllowed")
    assert root.findtext("Message") == "The specified method is not allowed against this resource."
    assert root.findtext("Method") == "POST"
    assert root.findtext("ResourceType") == "OBJECT"
    assert s3.get_object(Bucket=bucket, Key="obj")["Body"].read() == b"x"


def test_invalid_argument_max_keys(endpoint: str, bucket: str) -> None:
    resp = raw_request(endpoint, "GET", f"/{bucket}?list-type=2&max-keys=notanumber")
    root = assert_s3_error_document(resp, 400, "InvalidArgument")
    assert root.findtext("ArgumentName") == "max-keys"


def test_bad_content_md5_format_is_invalid_digest(endpoint: str, bucket: str) -> None:
    resp = raw_request(
        endpoint, "PUT", f"/{bucket}/k", body=b"data", headers={"Content-MD5": "not-base64-md5!"}
    )
    assert_s3_error_document(resp, 400, "InvalidDigest")


# --- what Sluice does not implement -------------------------------------------------------------

NOT_IMPLEMENTED = re.compile(
    r"(?i)not.?implemented|not.?supported|unsupported|unknown|invalidaction|unrecognized"
)


def _error_code(resp: RawResponse) -> str:
    text = resp.body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        doc = json.loads(text)
        code = doc.get("__type") or doc.get("code") or doc.get("Code") or ""
        return str(code).rsplit("#", 1)[-1]
    root = ET.fromstring(text)
    for elem in root.iter():
        if elem.tag.rsplit("}", 1)[-1] == "Code" and elem.text:
            return elem.text
    return ""


@pytest.mark.parametrize("protocol", ["json", "query"])
def test_unknown_service_gets_clean_error(s3: Any, endpoint: str, protocol: str) -> None:
    if protocol == "json":
        resp = raw_request(
            endpoint,
            "POST",
            "/",
            body=b'{"Limit": 10}',
            service="kinesis",
            headers={
                "X-Amz-Target": "Kinesis_20131202.ListStreams",
                "Content-Type": "application/x-amz-json-1.1",
            },
        )
    else:
        resp = raw_request(
            endpoint,
            "POST",
            "/",
            body=b"Action=ListStreams&Version=2013-12-02",
            service="kinesis",
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
    assert resp.status != 500
    assert 400 <= resp.status < 500 or resp.status == 501, (resp.status, resp.body)
    code = _error_code(resp)
    assert NOT_IMPLEMENTED.search(code), (code, resp.body)
    assert resp.headers.get("x-amzn-requestid") or resp.headers.get("x-amz-request-id")
    # The server keeps serving.
    assert s3.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_odd_requests_get_xml_errors_not_crashes(s3: Any, endpoint: str, bucket: str) -> None:
    odd = [
        raw_request(endpoint, "PATCH", f"/{bucket}/k", body=b"x"),
        raw_request(endpoint, "GET", "/%ZZ%invalid-escape/k"),
        raw_request(endpoint, "GET", f"/{bucket}/k?list-type=2&uploads&tagging&acl"),
    ]
    for resp in odd:
        assert 400 <= resp.status < 500 or resp.status == 501, (resp.status, resp.body)
        assert _error_code(resp), resp.body
        assert resp.headers.get("x-amz-request-id")
    assert s3.list_objects_v2(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_key_too_long(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert exc.value.response["Error"]["Code"] == "KeyTooLongError"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Exactly 1,024 bytes (UTF-8) is fine.
    key = "é" * 512
    s3.put_object(Bucket=bucket, Key=key, Body=b"ok")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"ok"
