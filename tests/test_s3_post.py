"""POST Object: browser-form uploads, as boto3's generate_presigned_post prepares them and as hand-built bodies."""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import uuid
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from .conftest import make_client
from .s3_raw import form_signature
from .test_s3_notifications import new_queue, queue_config, receive


@pytest.fixture(scope="module")
def s3v4(endpoint: str) -> Any:
    return make_client("s3", endpoint, signature_version="s3v4")


def error_of(resp: requests.Response) -> tuple[str, str]:
    root = ET.fromstring(resp.content)
    return root.findtext("Code") or "", root.findtext("Message") or ""


def policy(conditions: list[Any], expires_in: float = 300) -> str:
    expiration = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=expires_in)
    doc = {"expiration": expiration.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "conditions": conditions}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def signed_policy(bucket: str) -> list[tuple[str, str]]:
    """A policy letting any key into `bucket`, signed with the default key (a form is anonymous
    without a signature, and an anonymous caller may not write to a private bucket)."""
    document = policy([{"bucket": bucket}, ["starts-with", "$key", ""]])
    return [("policy", document), *form_signature(document)]


def multipart(fields: list[tuple[str, str]], filename: str, content: bytes,
              after: tuple[tuple[str, str], ...] = ()) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = b""
    for name, value in fields:
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n').encode()
    out += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + content + b"\r\n"
    for name, value in after:
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n').encode()
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def test_presigned_post_upload(s3: Any, s3v4: Any, bucket: str) -> None:
    post = s3v4.generate_presigned_post(
        bucket, "uploads/${filename}",
        Fields={"Content-Type": "text/plain", "x-amz-meta-owner": "ana", "success_action_status": "201"},
        Conditions=[{"Content-Type": "text/plain"}, {"x-amz-meta-owner": "ana"}, {"success_action_status": "201"},
                    ["content-length-range", 1, 1024]])
    assert post["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    resp = requests.post(post["url"], data=post["fields"], files={"file": ("notes.txt", b"hello form")}, timeout=30)
    assert resp.status_code == 201, resp.text
    root = ET.fromstring(resp.content)
    assert root.tag == "PostResponse"
    assert root.findtext("Bucket") == bucket and root.findtext("Key") == "uploads/notes.txt"
    assert root.findtext("Location", "").endswith(f"/{bucket}/uploads/notes.txt")
    got = s3.get_object(Bucket=bucket, Key="uploads/notes.txt")
    assert got["Body"].read() == b"hello form"
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"owner": "ana"}
    assert root.findtext("ETag") == got["ETag"] == resp.headers["ETag"]


def test_status_and_redirect(s3v4: Any, bucket: str) -> None:
    plain = s3v4.generate_presigned_post(bucket, "plain")
    resp = requests.post(plain["url"], data=plain["fields"], files={"file": ("x", b"1")}, timeout=30)
    assert resp.status_code == 204 and resp.content == b"" and resp.headers["ETag"]
    ok = s3v4.generate_presigned_post(bucket, "ok", Fields={"success_action_status": "200"},
                                      Conditions=[{"success_action_status": "200"}])
    assert requests.post(ok["url"], data=ok["fields"], files={"file": ("x", b"1")}, timeout=30).status_code == 200
    target = "http://example.invalid/done?from=form"
    moved = s3v4.generate_presigned_post(bucket, "moved", Fields={"success_action_redirect": target},
                                         Conditions=[{"success_action_redirect": target}])
    resp = requests.post(moved["url"], data=moved["fields"], files={"file": ("x", b"1")}, timeout=30,
                         allow_redirects=False)
    assert resp.status_code == 303
    location = urlsplit(resp.headers["Location"])
    query = parse_qs(location.query)
    assert location.netloc == "example.invalid" and query["from"] == ["form"]
    assert query["bucket"] == [bucket] and query["key"] == ["moved"] and query["etag"] == [resp.headers["ETag"]]


def test_policy_violations(s3v4: Any, bucket: str) -> None:
    expired = s3v4.generate_presigned_post(bucket, "k", ExpiresIn=-60)
    resp = requests.post(expired["url"], data=expired["fields"], files={"file": ("x", b"1")}, timeout=30)
    assert resp.status_code == 403
    assert error_of(resp) == ("AccessDenied", "Invalid according to Policy: Policy expired.")

    prefixed = s3v4.generate_presigned_post(bucket, "uploads/${filename}")
    fields = {**prefixed["fields"], "key": "elsewhere/x"}
    resp = requests.post(prefixed["url"], data=fields, files={"file": ("x", b"1")}, timeout=30)
    assert resp.status_code == 403
    assert error_of(resp) == ("AccessDenied",
                              'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "uploads/"]')

    resp = requests.post(prefixed["url"], data={**prefixed["fields"], "x-amz-meta-extra": "1"},
                         files={"file": ("x", b"1")}, timeout=30)
    assert error_of(resp) == ("AccessDenied", "Invalid according to Policy: Extra input fields: x-amz-meta-extra")

    sized = s3v4.generate_presigned_post(bucket, "sized", Conditions=[["content-length-range", 10, 20]])
    resp = requests.post(sized["url"], data=sized["fields"], files={"file": ("x", b"y" * 21)}, timeout=30)
    assert resp.status_code == 400 and error_of(resp)[0] == "EntityTooLarge"
    assert ET.fromstring(resp.content).findtext("ProposedSize") == "21"
    resp = requests.post(sized["url"], data=sized["fields"], files={"file": ("x", b"y" * 9)}, timeout=30)
    assert resp.status_code == 400 and error_of(resp)[0] == "EntityTooSmall"
    assert ET.fromstring(resp.content).findtext("MinSizeAllowed") == "10"

    without_key = {k: v for k, v in sized["fields"].items() if k != "key"}
    resp = requests.post(sized["url"], data=without_key, files={"file": ("x", b"y" * 12)}, timeout=30)
    assert resp.status_code == 400
    assert error_of(resp) == ("InvalidArgument", "Bucket POST must contain a field named 'key'.  If it is "
                                                 "specified, please check the order of the fields.")


def test_hand_built_form_streams_a_large_file(s3: Any, endpoint: str, bucket: str) -> None:
    content = bytes(range(256)) * 12_000  # ~3 MB: more than the gateway buffers in memory
    document = policy([{"bucket": bucket}, ["starts-with", "$key", "big/"], ["content-length-range", 0, 5_000_000]])
    body, ctype = multipart([("key", "big/${filename}"), ("policy", document), *form_signature(document)],
                            "data.bin", content, after=(("key", "ignored-after-file"),))
    parts = urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.netloc, timeout=30)
    conn.request("POST", f"/{bucket}", body=body, headers={"Content-Type": ctype})
    resp = conn.getresponse()
    assert resp.status == 204, resp.read()
    conn.close()
    assert s3.get_object(Bucket=bucket, Key="big/data.bin")["Body"].read() == content


def test_virtual_host_form_post_to_versioned_bucket(s3: Any, endpoint: str, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    signed = signed_policy(bucket)
    body, ctype = multipart([("key", "vh.txt"), *signed], "vh.txt", b"virtual")
    port = urlsplit(endpoint).port
    resp = requests.post(f"{endpoint}/", data=body, timeout=30,
                         headers={"Content-Type": ctype, "Host": f"{bucket}.s3.localhost:{port}"})
    assert resp.status_code == 204, resp.text
    version = resp.headers["x-amz-version-id"]
    got = s3.get_object(Bucket=bucket, Key="vh.txt")
    assert got["VersionId"] == version and got["Body"].read() == b"virtual"

    body, ctype = multipart(signed, "x", b"no key")
    resp = requests.post(f"{endpoint}/{bucket}", data=body, headers={"Content-Type": ctype}, timeout=30)
    assert error_of(resp)[0] == "InvalidArgument"


def test_post_emits_object_created_post(s3: Any, s3v4: Any, endpoint: str, bucket: str) -> None:
    sqs = make_client("sqs", endpoint)
    url, arn = new_queue(sqs)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [queue_config(arn, ["s3:ObjectCreated:Post"])]})
    receive(sqs, url)  # the test event
    s3.put_object(Bucket=bucket, Key="not-a-post", Body=b"ignored")  # a Put: not configured
    post = s3v4.generate_presigned_post(bucket, "posted file.txt")
    resp = requests.post(post["url"], data=post["fields"], files={"file": ("f", b"12345")}, timeout=30)
    assert resp.status_code == 204
    (event,) = receive(sqs, url)
    rec = event["Records"][0]
    assert rec["eventName"] == "ObjectCreated:Post"
    assert rec["s3"]["object"]["key"] == "posted+file.txt" and rec["s3"]["object"]["size"] == 5
    assert rec["responseElements"]["x-amz-request-id"] == resp.headers["x-amz-request-id"]


def test_malformed_forms(endpoint: str, bucket: str) -> None:
    boundary = uuid.uuid4().hex
    signed = signed_policy(bucket)
    no_file = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                      for name, value in [("key", "k"), *signed]).encode() + f"--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    resp = requests.post(f"{endpoint}/{bucket}", data=no_file, headers=headers, timeout=30)
    assert resp.status_code == 400
    assert error_of(resp) == ("InvalidArgument", "POST requires exactly one file upload per request.")

    body, ctype = multipart([("key", "k"), *signed, ("x-ignore-padding", "p" * 30_000)], "f", b"1")
    resp = requests.post(f"{endpoint}/{bucket}", data=body, headers={"Content-Type": ctype}, timeout=30)
    assert resp.status_code == 400 and error_of(resp)[0] == "MaxPostPreDataLengthExceeded"

    body, ctype = multipart([("key", "k"), *signed], "f", b"no closing boundary")
    resp = requests.post(f"{endpoint}/{bucket}", data=body[:-30], headers={"Content-Type": ctype}, timeout=30)
    assert resp.status_code == 400 and error_of(resp)[0] == "MalformedPOSTRequest"

    resp = requests.post(f"{endpoint}/missing-{uuid.uuid4().hex[:8]}", data=no_file, headers=headers, timeout=30)
    assert resp.status_code == 404 and error_of(resp)[0] == "NoSuchBucket"


def test_an_incomplete_signature_is_refused_without_verify_signatures(endpoint: str, bucket: str) -> None:
    """A form naming its key but not its signature is malformed (400), checked even when
    signatures are not verified, before its policy (s3-tests' test_post_object_missing_signature)."""
    fields = [("key", "unsigned.txt"), ("AWSAccessKeyId", "test"),
              ("policy", policy([{"bucket": bucket}, ["starts-with", "$key", "elsewhere/"]]))]
    body, ctype = multipart(fields, "f", b"x")
    resp = requests.post(f"{endpoint}/{bucket}", data=body, headers={"Content-Type": ctype}, timeout=30)
    assert resp.status_code == 400
    assert error_of(resp) == ("InvalidArgument", "Bucket POST must contain a field named 'Signature'.  If it is "
                                                 "specified, please check the order of the fields.")
