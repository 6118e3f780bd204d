"""What ceph's s3-tests found (issue 16, `make s3-tests`), each pinned with real boto3 or raw HTTP
against a real `sluice up`: listings' url encoding, non-ASCII metadata, Content-Encoding as sent,
multipart completion (repeated, conditional, checksums, parts), POST form fields, suspended
buckets' write responses, and, with --enforce-iam, NoSuchBucket and BucketAlreadyExists."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import REGION
from .s3_raw import form_signature
from .server import SluiceProcess

MIB = 1024 * 1024


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    resp = exc.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"]


def _multipart(s3: Any, bucket: str, key: str, bodies: list[bytes], **create: Any) -> tuple[str, list[dict[str, Any]]]:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    parts = []
    for n, body in enumerate(bodies, 1):
        extra = {"ChecksumAlgorithm": create["ChecksumAlgorithm"]} if "ChecksumAlgorithm" in create else {}
        answer = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=body, **extra)
        part = {"PartNumber": n, "ETag": answer["ETag"]}
        for member in ("ChecksumSHA256", "ChecksumCRC32"):
            if member in answer:
                part[member] = answer[member]
        parts.append(part)
    return upload_id, parts


# -- listings ----------------------------------------------------------------------------------


def test_url_encoded_listing_writes_a_space_as_percent_20(s3: Any, bucket: str) -> None:
    for key in ("quux ab/thud", "foo+1/bar"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    for listed in (s3.list_objects(Bucket=bucket, Delimiter="/", EncodingType="url"),
                   s3.list_objects_v2(Bucket=bucket, Delimiter="/", EncodingType="url")):
        assert sorted(p["Prefix"] for p in listed["CommonPrefixes"]) == ["foo%2B1/", "quux%20ab/"]


def test_list_objects_v1_echoes_its_prefix_unencoded(s3: Any, bucket: str) -> None:
    # boto3 asks for EncodingType=url itself and decodes V1's keys and markers, not its Prefix.
    assert s3.list_objects(Bucket=bucket, Prefix="\n")["Prefix"] == "\n"
    assert s3.list_objects_v2(Bucket=bucket, Prefix="\n")["Prefix"] == "\n"


# -- headers -----------------------------------------------------------------------------------


def test_non_ascii_metadata_sent_as_utf8_round_trips(s3: Any, bucket: str) -> None:
    def utf8_metadata(params: dict[str, Any], **_: Any) -> None:
        params["headers"]["x-amz-meta-meta1"] = "Hello World\xe9"  # botocore sends it as UTF-8

    s3.meta.events.register("before-call.s3.PutObject", utf8_metadata)
    try:
        s3.put_object(Bucket=bucket, Key="meta", Body=b"bar")
    finally:
        s3.meta.events.unregister("before-call.s3.PutObject", utf8_metadata)
    assert s3.get_object(Bucket=bucket, Key="meta")["Metadata"]["meta1"] == "Hello World\xe9"


def test_content_encoding_is_kept_as_sent_less_aws_chunked(s3: Any, bucket: str) -> None:
    for sent, kept in (("deflate, gzip", "deflate, gzip"), ("gzip, aws-chunked", "gzip"),
                       ("aws-chunked, gzip", "gzip"), ("aws-chunked", None)):
        s3.put_object(Bucket=bucket, Key="enc", Body=b"body", ContentEncoding=sent)
        head = s3.head_object(Bucket=bucket, Key="enc")
        assert head.get("ContentEncoding") == kept
        assert s3.get_object(Bucket=bucket, Key="enc")["Body"].read() == b"body"


# -- multipart ---------------------------------------------------------------------------------


def test_repeated_complete_multipart_upload_succeeds_again(s3: Any, bucket: str) -> None:
    upload_id, parts = _multipart(s3, bucket, "mp", [b"a" * (5 * MIB), b"b"])
    first = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": parts})
    again = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": parts})
    assert again["ETag"] == first["ETag"]
    assert s3.get_object(Bucket=bucket, Key="mp")["ContentLength"] == 5 * MIB + 1
    # Once the object is replaced, the old upload is gone for good.
    s3.put_object(Bucket=bucket, Key="mp", Body=b"other")
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": parts})
    assert _error(exc) == (404, "NoSuchUpload")


def test_a_part_listed_twice_completes_with_the_last_entry(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="twice")["UploadId"]
    old = s3.upload_part(Bucket=bucket, Key="twice", UploadId=upload_id, PartNumber=1, Body=b"B" * 8)["ETag"]
    new = s3.upload_part(Bucket=bucket, Key="twice", UploadId=upload_id, PartNumber=1, Body=b"A" * 8)["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="twice", UploadId=upload_id, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": old}, {"PartNumber": 1, "ETag": new}]})
    assert s3.get_object(Bucket=bucket, Key="twice")["Body"].read() == b"A" * 8


def test_complete_multipart_upload_if_match_and_if_none_match(s3: Any, bucket: str) -> None:
    def complete(**conditions: str) -> Any:
        upload_id, parts = _multipart(s3, bucket, "cond", [b"x"])
        return s3.complete_multipart_upload(Bucket=bucket, Key="cond", UploadId=upload_id,
                                            MultipartUpload={"Parts": parts}, **conditions)

    etag = complete(IfNoneMatch="*")["ETag"]
    for conditions in ({"IfNoneMatch": "*"}, {"IfNoneMatch": etag}, {"IfMatch": '"bad"'}):
        with pytest.raises(ClientError) as exc:
            complete(**conditions)
        assert _error(exc) == (412, "PreconditionFailed")
    etag = complete(IfMatch=etag)["ETag"]
    complete(IfMatch="*")
    s3.delete_object(Bucket=bucket, Key="cond")
    with pytest.raises(ClientError) as exc:
        complete(IfMatch="*")
    assert _error(exc) == (404, "NoSuchKey")


def test_part_number_beyond_the_objects_parts_is_invalid_part(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="single", Body=b"body")
    assert s3.get_object(Bucket=bucket, Key="single", PartNumber=1)["Body"].read() == b"body"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="single", PartNumber=2)
    assert _error(exc) == (400, "InvalidPart")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="single", PartNumber=10001)
    assert _error(exc) == (400, "InvalidArgument")


def test_parts_keep_their_checksums(s3: Any, bucket: str) -> None:
    bodies = [b"A" * (5 * MIB), b"B" * 100]
    upload_id, parts = _multipart(s3, bucket, "ck", bodies, ChecksumAlgorithm="SHA256")
    part_sums = [base64.b64encode(hashlib.sha256(b).digest()).decode() for b in bodies]
    assert [p["ChecksumSHA256"] for p in parts] == part_sums
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="ck", UploadId=upload_id, ChecksumSHA256="bad",
                                     MultipartUpload={"Parts": parts})
    assert _error(exc) == (400, "BadDigest")
    done = s3.complete_multipart_upload(Bucket=bucket, Key="ck", UploadId=upload_id, MultipartUpload={"Parts": parts})
    assert done["ChecksumType"] == "COMPOSITE"
    for n, expected in enumerate(part_sums, 1):
        got = s3.get_object(Bucket=bucket, Key="ck", PartNumber=n, ChecksumMode="ENABLED")
        assert (got["ChecksumSHA256"], got["ChecksumType"]) == (expected, "COMPOSITE")
    listed = s3.get_object_attributes(Bucket=bucket, Key="ck", ObjectAttributes=["ObjectParts"])
    assert [p["ChecksumSHA256"] for p in listed["ObjectParts"]["Parts"]] == part_sums


def test_upload_part_copy_takes_only_bytes_first_last(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"12345")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dest")["UploadId"]
    for bad in ("0-2", "bytes=0", "bytes=hello-world", "bytes=0-bar", "bytes=hello-", "bytes=0-2,3-5"):
        with pytest.raises(ClientError) as exc:
            s3.upload_part_copy(Bucket=bucket, Key="dest", UploadId=upload_id, PartNumber=1,
                                CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange=bad)
        assert _error(exc) == (400, "InvalidArgument")
    s3.upload_part_copy(Bucket=bucket, Key="dest", UploadId=upload_id, PartNumber=1,
                        CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange="bytes=0-2")


# -- versioning --------------------------------------------------------------------------------


def test_suspended_bucket_writes_name_no_version(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert "VersionId" not in s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    upload_id, parts = _multipart(s3, bucket, "m", [b"y"])
    done = s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=upload_id, MultipartUpload={"Parts": parts})
    assert "VersionId" not in done
    assert s3.head_object(Bucket=bucket, Key="k")["VersionId"] == "null"


# -- POST uploads ------------------------------------------------------------------------------


def _post(endpoint: str, bucket: str, fields: list[tuple[str, str]], body: bytes) -> tuple[int, bytes]:
    """A form signed with the default key (an anonymous form may not write to a private bucket),
    with a policy letting any key in unless `fields` has one."""
    policy = dict(fields).get("policy") or _policy(bucket, ["starts-with", "$key", ""])
    fields = [*[f for f in fields if f[0] != "policy"], ("policy", policy), *form_signature(policy)]
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{n}"\r\n\r\n{v}\r\n'.encode()
             for n, v in fields]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="foo.txt"\r\n'
                 f"Content-Type: text/plain\r\n\r\n".encode() + body + b"\r\n")
    conn = http.client.HTTPConnection(urlsplit(endpoint).netloc, timeout=30)
    try:
        conn.request("POST", f"/{bucket}", body=b"".join(parts) + f"--{boundary}--\r\n".encode(),
                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _policy(bucket: str, *conditions: Any) -> str:
    document = {"expiration": "2100-01-01T00:00:00Z", "conditions": [{"bucket": bucket}, *conditions]}
    return base64.b64encode(json.dumps(document).encode()).decode()


def test_post_key_conditions_see_the_key_made_from_filename(endpoint: str, s3: Any, bucket: str) -> None:
    policy = _policy(bucket, ["starts-with", "$key", "foo"])
    status, _ = _post(endpoint, bucket, [("key", "${filename}"), ("policy", policy)], b"bar")
    assert status == 204
    assert s3.get_object(Bucket=bucket, Key="foo.txt")["Body"].read() == b"bar"


def test_post_checksum_field_is_checked_without_a_condition(endpoint: str, s3: Any, bucket: str) -> None:
    policy = _policy(bucket, ["starts-with", "$key", ""])
    good = base64.b64encode(hashlib.sha256(b"payload").digest()).decode()
    status, _ = _post(endpoint, bucket, [("key", "ck"), ("policy", policy), ("x-amz-checksum-sha256", good)],
                      b"payload")
    assert status == 204
    assert s3.head_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")["ChecksumSHA256"] == good
    other = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    status, _ = _post(endpoint, bucket, [("key", "ck2"), ("policy", policy), ("x-amz-checksum-sha256", other)],
                      b"payload")
    assert status == 400


def test_post_tagging_field_tags_the_object(endpoint: str, s3: Any, bucket: str) -> None:
    tagging = "<Tagging><TagSet><Tag><Key>b</Key><Value>2</Value></Tag><Tag><Key>a</Key><Value>1</Value></Tag>" \
              "</TagSet></Tagging>"
    policy = _policy(bucket, ["starts-with", "$key", ""], ["starts-with", "$tagging", ""])
    status, _ = _post(endpoint, bucket, [("key", "tagged"), ("tagging", tagging), ("policy", policy)], b"x")
    assert status == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"] == [
        {"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    status, body = _post(endpoint, bucket, [("key", "bad"), ("tagging", "<Tagging><TagSet>"), ("policy", policy)], b"x")
    assert status == 400 and b"MalformedXML" in body


# -- with --enforce-iam --verify-signatures ----------------------------------------------------


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    creds = tmp_path_factory.mktemp("creds") / "credentials.json"
    creds.write_text(json.dumps({"MAINKEYMAINKEYMAINKE": {"secret": "main-secret", "account": "111111111111"},
                                 "ALTKEYALTKEYALTKEYAL": {"secret": "alt-secret", "account": "222222222222"}}))
    proc = SluiceProcess(Path(tmp_path_factory.mktemp("strict")) / "data", "--enforce-iam", "--verify-signatures",
                         "--credentials", str(creds)).start()
    yield proc
    proc.stop()


def _client(endpoint: str, key: str | None, secret: str | None) -> Any:
    config: dict[str, Any] = {"retries": {"max_attempts": 1}}
    if key is None:
        config["signature_version"] = UNSIGNED
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key or "x",
                        aws_secret_access_key=secret or "x", config=Config(**config))


def test_enforced_missing_bucket_is_no_such_bucket_for_anyone(strict: SluiceProcess) -> None:
    gone = f"gone-{uuid.uuid4().hex[:12]}"
    for client in (_client(strict.endpoint, None, None),
                   _client(strict.endpoint, "ALTKEYALTKEYALTKEYAL", "alt-secret")):
        with pytest.raises(ClientError) as exc:
            client.get_object(Bucket=gone, Key="k")
        assert _error(exc) == (404, "NoSuchBucket")
    # Creating a bucket is still the caller's policies' decision: anonymous callers may not.
    with pytest.raises(ClientError) as exc:
        _client(strict.endpoint, None, None).create_bucket(Bucket=gone)
    assert _error(exc) == (403, "AccessDenied")


def test_enforced_create_of_another_accounts_bucket_is_already_exists(strict: SluiceProcess) -> None:
    name = f"taken-{uuid.uuid4().hex[:12]}"
    _client(strict.endpoint, "MAINKEYMAINKEYMAINKE", "main-secret").create_bucket(Bucket=name)
    with pytest.raises(ClientError) as exc:
        _client(strict.endpoint, "ALTKEYALTKEYALTKEYAL", "alt-secret").create_bucket(Bucket=name)
    assert _error(exc) == (409, "BucketAlreadyExists")
    # The other account still may not touch it.
    with pytest.raises(ClientError) as exc:
        _client(strict.endpoint, "ALTKEYALTKEYALTKEYAL", "alt-secret").list_objects(Bucket=name)
    assert _error(exc) == (403, "AccessDenied")


def test_enforced_non_ascii_metadata_signs_and_round_trips(strict: SluiceProcess) -> None:
    s3 = _client(strict.endpoint, "MAINKEYMAINKEYMAINKE", "main-secret")
    name = f"meta-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)

    def utf8_metadata(params: dict[str, Any], **_: Any) -> None:
        params["headers"]["x-amz-meta-meta1"] = "caf\xe9"

    s3.meta.events.register("before-call.s3.PutObject", utf8_metadata)
    s3.put_object(Bucket=name, Key="k", Body=b"x")  # the signature covers the UTF-8 bytes
    assert s3.head_object(Bucket=name, Key="k")["Metadata"]["meta1"] == "caf\xe9"


@pytest.mark.parametrize("scheme", ["v4", "v2"])
def test_enforced_bad_signature_over_non_utf8_header_bytes_is_403(strict: SluiceProcess, scheme: str) -> None:
    now = time.gmtime()
    if scheme == "v4":
        auth = (f"AWS4-HMAC-SHA256 Credential=MAINKEYMAINKEYMAINKE/{time.strftime('%Y%m%d', now)}/us-east-1/s3/"
                "aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-meta-x, Signature=" + "0" * 64)
    else:
        auth = "AWS MAINKEYMAINKEYMAINKE:AAAAAAAAAAAAAAAAAAAAAAAAAAA="
    conn = http.client.HTTPConnection(urlsplit(strict.endpoint).netloc, timeout=30)
    try:
        conn.request("PUT", "/some-bucket/k", body=b"x", headers={
            "Authorization": auth, "x-amz-date": time.strftime("%Y%m%dT%H%M%SZ", now),
            "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-meta-x": "\xff\xfe"})  # latin-1: raw bytes
        resp = conn.getresponse()
        assert resp.status == 403
        assert b"<Code>SignatureDoesNotMatch</Code>" in resp.read()
    finally:
        conn.close()


def _owned_bucket(strict: SluiceProcess, statements: list[dict[str, Any]]) -> tuple[Any, Any, str]:
    main = _client(strict.endpoint, "MAINKEYMAINKEYMAINKE", "main-secret")
    alt = _client(strict.endpoint, "ALTKEYALTKEYALTKEYAL", "alt-secret")
    name = f"pol-{uuid.uuid4().hex[:12]}"
    main.create_bucket(Bucket=name)
    for statement in statements:
        statement.setdefault("Principal", {"AWS": "arn:aws:iam::222222222222:root"})
        statement.setdefault("Effect", "Allow")
        statement["Resource"] = f"arn:aws:s3:::{name}/*"
    if statements:
        main.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    return main, alt, name


def test_enforced_existing_object_tag_condition(strict: SluiceProcess) -> None:
    main, alt, name = _owned_bucket(strict, [{"Action": "s3:GetObject", "Condition": {
        "StringEquals": {"s3:ExistingObjectTag/security": "public"}}}])
    main.put_object(Bucket=name, Key="public", Body=b"p", Tagging="security=public")
    main.put_object(Bucket=name, Key="private", Body=b"q", Tagging="security=private")
    assert alt.get_object(Bucket=name, Key="public")["Body"].read() == b"p"
    with pytest.raises(ClientError) as exc:
        alt.get_object(Bucket=name, Key="private")
    assert _error(exc) == (403, "AccessDenied")


def test_enforced_object_write_condition_keys(strict: SluiceProcess) -> None:
    main, alt, name = _owned_bucket(strict, [
        {"Action": ["s3:PutObject", "s3:GetObject"]},
        {"Action": "s3:PutObject", "Effect": "Deny", "Condition": {"StringLike": {"s3:x-amz-acl": "public*"}}},
        {"Action": "s3:PutObject", "Effect": "Deny",
         "Condition": {"StringEquals": {"s3:RequestObjectTag/security": "secret"}}},
        {"Action": "s3:PutObject", "Effect": "Deny",
         "Condition": {"StringLike": {"s3:x-amz-copy-source": "*/private/*"}}}])
    alt.put_object(Bucket=name, Key="plain", Body=b"x")
    alt.put_object(Bucket=name, Key="tagged", Body=b"x", Tagging="security=open")
    main.put_object(Bucket=name, Key="public/a", Body=b"a")
    main.put_object(Bucket=name, Key="private/b", Body=b"b")
    alt.copy_object(Bucket=name, Key="copied", CopySource={"Bucket": name, "Key": "public/a"})
    for call in (lambda: alt.put_object(Bucket=name, Key="acl", Body=b"x", ACL="public-read"),
                 lambda: alt.put_object(Bucket=name, Key="secret", Body=b"x", Tagging="security=secret"),
                 lambda: alt.copy_object(Bucket=name, Key="copied2", CopySource={"Bucket": name, "Key": "private/b"})):
        with pytest.raises(ClientError) as exc:
            call()
        assert _error(exc) == (403, "AccessDenied")


def test_enforced_referer_condition(strict: SluiceProcess) -> None:
    main, alt, name = _owned_bucket(strict, [{"Action": "s3:GetObject", "Condition": {
        "StringLikeIfExists": {"aws:Referer": "http://www.example.com/*"}}}])
    main.put_object(Bucket=name, Key="k", Body=b"x")
    referer = {"value": "http://www.example.com/index.html"}

    def add_referer(params: dict[str, Any], **_: Any) -> None:
        params["headers"]["Referer"] = referer["value"]

    alt.meta.events.register("before-call.s3.GetObject", add_referer)
    assert alt.get_object(Bucket=name, Key="k")["Body"].read() == b"x"
    referer["value"] = "http://example.com/"
    with pytest.raises(ClientError) as exc:
        alt.get_object(Bucket=name, Key="k")
    assert _error(exc) == (403, "AccessDenied")


def test_enforced_missing_key_is_404_to_who_may_list_it(strict: SluiceProcess) -> None:
    main, alt, name = _owned_bucket(strict, [])
    main.delete_public_access_block(Bucket=name)  # the policy below is public: AWS blocks it by default
    main.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{name}",
        "Condition": {"StringLike": {"s3:prefix": "public/*"}}}]}))
    with pytest.raises(ClientError) as exc:
        alt.head_object(Bucket=name, Key="public/object")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as exc:
        alt.head_object(Bucket=name, Key="private/object")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    main.put_object(Bucket=name, Key="public/there", Body=b"x")  # exists: reading it needs s3:GetObject
    with pytest.raises(ClientError) as exc:
        alt.get_object(Bucket=name, Key="public/there")
    assert _error(exc) == (403, "AccessDenied")


@pytest.mark.parametrize(("expires", "message"), [
    ("-7", b"X-Amz-Expires must be non-negative"),
    ("604801", b"X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be "
               b"less than 604800 seconds")])
def test_sigv4_presigned_url_expiry_out_of_range(endpoint: str, s3: Any, bucket: str, expires: str,
                                                 message: bytes) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    v4 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test",
                      aws_secret_access_key="test", config=Config(signature_version="s3v4"))
    # Signers refuse to make such a URL: the expiry is edited in (the signature is not checked here).
    url = urlsplit(v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60)
                   .replace("X-Amz-Expires=60", f"X-Amz-Expires={expires}"))
    conn = http.client.HTTPConnection(url.netloc, timeout=30)
    try:
        conn.request("GET", f"{url.path}?{url.query}")
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    assert resp.status == 400
    assert b"<Code>AuthorizationQueryParametersError</Code>" in body
    assert message in body


def test_expected_bucket_owner_other_than_the_owner_is_access_denied(s3: Any, bucket: str) -> None:
    owner = "000000000000"  # the test server's account
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ExpectedBucketOwner=owner)
    assert s3.list_objects_v2(Bucket=bucket, ExpectedBucketOwner=owner)["KeyCount"] == 1
    for call in (lambda: s3.list_objects(Bucket=bucket, ExpectedBucketOwner="999999999999"),
                 lambda: s3.put_object(Bucket=bucket, Key="k2", Body=b"x", ExpectedBucketOwner="999999999999"),
                 lambda: s3.copy_object(Bucket=bucket, Key="k3", CopySource={"Bucket": bucket, "Key": "k"},
                                        ExpectedSourceBucketOwner="999999999999")):
        with pytest.raises(ClientError) as exc:
            call()
        assert _error(exc) == (403, "AccessDenied")
    s3.copy_object(Bucket=bucket, Key="k3", CopySource={"Bucket": bucket, "Key": "k"}, ExpectedSourceBucketOwner=owner)
