"""Unsigned S3 requests, in plain mode and under `--verify-signatures` and/or `--enforce-iam`
(issue 11, defect 5; issue 16 for plain mode).

An unsigned request is anonymous, as on AWS: only a bucket policy granting "*" lets it read or
write; otherwise 403 AccessDenied "Access Denied" (before, with --verify-signatures alone, a
private object was served; before issue 16, plain mode served it too). Signed requests and
presigned URLs work as before.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import REGION
from .s3_raw import send
from .server import SluiceProcess

DENIED = ("AccessDenied", "Access Denied")


# --enforce-iam without --verify-signatures trusts the access key a request names (what a user
# testing policies expects), so a request naming none is just as anonymous.
@pytest.fixture(scope="module", params=[(), ("--verify-signatures",), ("--enforce-iam",),
                                        ("--verify-signatures", "--enforce-iam")], ids=lambda p: " ".join(p) or "plain")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    proc = SluiceProcess(tmp_path_factory.mktemp("anon") / "data", *request.param).start()
    yield proc
    proc.stop()


def _client(endpoint: str, **config: Any) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test",
                        aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}, **config))


@pytest.fixture
def s3(server: SluiceProcess) -> Any:
    return _client(server.endpoint)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"anon-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="private.txt", Body=b"secret")
    return name


def _denied(answer: Any) -> bool:
    if answer.status != 403:
        return False
    if not answer.body:  # HEAD: the status is all there is
        return True
    err = answer.error()
    return (err["Code"], err["Message"]) == DENIED


def test_unsigned_requests_are_anonymous_and_refused(server: SluiceProcess, s3: Any, bucket: str) -> None:
    ep = server.endpoint
    requests_ = [
        ("GET", f"/{bucket}/private.txt", b""),
        ("HEAD", f"/{bucket}/private.txt", b""),
        ("GET", f"/{bucket}/missing.txt", b""),
        ("PUT", f"/{bucket}/planted.txt", b"planted"),
        ("DELETE", f"/{bucket}/private.txt", b""),
        ("GET", f"/{bucket}?list-type=2", b""),
        ("GET", f"/{bucket}", b""),
        ("GET", f"/{bucket}?versions", b""),
        ("PUT", f"/{bucket}/private.txt?tagging", b"<Tagging><TagSet/></Tagging>"),
        ("PUT", f"/{bucket}?versioning", b"<VersioningConfiguration><Status>Enabled</Status>"
                                         b"</VersioningConfiguration>"),
        ("DELETE", f"/{bucket}", b""),
        ("GET", "/", b""),
        ("PUT", f"/anon-new-{uuid.uuid4().hex[:8]}", b""),
    ]
    for method, path, body in requests_:
        assert _denied(send(ep, method, path, body=body, signed=False)), (method, path)
    assert s3.get_object(Bucket=bucket, Key="private.txt")["Body"].read() == b"secret"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["private.txt"]
    assert s3.get_bucket_versioning(Bucket=bucket).get("Status") is None


def test_boto3_without_credentials_is_refused(server: SluiceProcess, bucket: str) -> None:
    anonymous = _client(server.endpoint, signature_version=UNSIGNED)
    with pytest.raises(ClientError) as exc:
        anonymous.get_object(Bucket=bucket, Key="private.txt")
    assert (exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "AccessDenied", 403)
    with pytest.raises(ClientError):
        anonymous.put_object(Bucket=bucket, Key="planted.txt", Body=b"x")


def test_unsigned_form_upload_is_refused(server: SluiceProcess, s3: Any, bucket: str) -> None:
    resp = requests.post(f"{server.endpoint}/{bucket}", data={"key": "form.txt"}, files={"file": ("f", b"x")},
                         timeout=30)
    assert resp.status_code == 403 and b"<Code>AccessDenied</Code>" in resp.content
    signed = s3.generate_presigned_post(bucket, "form.txt")
    assert requests.post(signed["url"], data=signed["fields"], files={"file": ("f", b"x")}, timeout=30).ok


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"])
def test_presigned_urls_still_work(server: SluiceProcess, bucket: str, signature_version: str) -> None:
    signer = _client(server.endpoint, signature_version=signature_version)
    get_url = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "private.txt"})
    with urllib.request.urlopen(get_url, timeout=30) as r:
        assert r.read() == b"secret"
    put_url = signer.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": f"{signature_version}.txt"})
    assert requests.put(put_url, data=b"uploaded", timeout=30).status_code == 200
    assert signer.get_object(Bucket=bucket, Key=f"{signature_version}.txt")["Body"].read() == b"uploaded"


def test_a_public_bucket_policy_lets_anonymous_callers_do_what_it_grants(server: SluiceProcess, s3: Any,
                                                                          bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="public/index.html", Body=b"<h1>hi</h1>")
    s3.delete_public_access_block(Bucket=bucket)  # new buckets block public policies, as on AWS
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/public/*"},
    ]}))
    ok = send(server.endpoint, "GET", f"/{bucket}/public/index.html", signed=False)
    assert (ok.status, ok.body) == (200, b"<h1>hi</h1>")
    assert _denied(send(server.endpoint, "GET", f"/{bucket}/private.txt", signed=False))
    assert _denied(send(server.endpoint, "PUT", f"/{bucket}/public/x", body=b"x", signed=False))
    assert _denied(send(server.endpoint, "GET", f"/{bucket}?list-type=2", signed=False))
