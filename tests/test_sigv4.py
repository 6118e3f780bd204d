"""SigV4 verification (`sluice up --verify-signatures`) with real boto3 and hand-signed requests."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import io
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
import zlib
from base64 import b64decode, b64encode
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import REGION
from .lambda_helpers import unique
from .server import SluiceProcess

SECRET = "test"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    proc = SluiceProcess(tmp_path_factory.mktemp("sigv4") / "data", "--verify-signatures").start()
    yield proc
    proc.stop()


def client(service: str, endpoint: str, key: str = "test", secret: str = SECRET) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))


def error_of(call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as err:
        call(*args, **kwargs)
    return err.value.response


@pytest.fixture(scope="module")
def bucket(server: SluiceProcess) -> str:
    name = f"sig-{uuid.uuid4().hex[:12]}"
    client("s3", server.endpoint).create_bucket(Bucket=name)
    return name


# --- the right key works; the wrong one does not --------------------------------------------

def test_right_key_works_for_s3_sqs_lambda(server: SluiceProcess, bucket: str) -> None:
    s3 = client("s3", server.endpoint)
    s3.put_object(Bucket=bucket, Key="dir/a b+c.txt", Body=b"hello", Metadata={"color": "red"})
    assert s3.get_object(Bucket=bucket, Key="dir/a b+c.txt")["Body"].read() == b"hello"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="dir/")["Contents"]] == ["dir/a b+c.txt"]

    sqs = client("sqs", server.endpoint, key="123456789012")
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hi there")
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "hi there"

    lam = client("lambda", server.endpoint)
    assert "Functions" in lam.list_functions()
    missing = error_of(lam.get_function, FunctionName="arn:aws:lambda:us-east-1:000000000000:function:nope")
    assert missing["Error"]["Code"] == "ResourceNotFoundException"  # an encoded path verified fine


def test_wrong_secret(server: SluiceProcess, bucket: str) -> None:
    s3 = error_of(client("s3", server.endpoint, secret="wrong").get_object, Bucket=bucket, Key="x")
    assert s3["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert s3["Error"]["Code"] == "SignatureDoesNotMatch"
    assert s3["Error"]["Message"] == ("The request signature we calculated does not match the signature you "
                                      "provided. Check your key and signing method.")
    assert s3["Error"]["StringToSign"].startswith("AWS4-HMAC-SHA256\n")
    assert s3["Error"]["CanonicalRequest"].startswith(f"GET\n/{bucket}/x\n")
    assert s3["Error"]["AWSAccessKeyId"] == "test"

    sqs = error_of(client("sqs", server.endpoint, secret="wrong").list_queues)
    assert sqs["Error"]["Code"] == "SignatureDoesNotMatch"
    assert sqs["ResponseMetadata"]["HTTPStatusCode"] == 403

    lam = error_of(client("lambda", server.endpoint, secret="wrong").list_functions)
    assert lam["Error"]["Code"] == "InvalidSignatureException"
    assert lam["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_key(server: SluiceProcess, bucket: str) -> None:
    s3 = error_of(client("s3", server.endpoint, key="AKIANOBODY").get_object, Bucket=bucket, Key="x")
    assert s3["Error"]["Code"] == "InvalidAccessKeyId"
    assert s3["Error"]["Message"] == "The AWS Access Key Id you provided does not exist in our records."
    assert s3["Error"]["AWSAccessKeyId"] == "AKIANOBODY"

    sqs = error_of(client("sqs", server.endpoint, key="AKIANOBODY").list_queues)
    assert sqs["Error"]["Code"] == "InvalidClientTokenId"
    assert sqs["Error"]["Message"] == "The security token included in the request is invalid."

    lam = error_of(client("lambda", server.endpoint, key="AKIANOBODY").list_functions)
    assert lam["Error"]["Code"] == "UnrecognizedClientException"
    assert lam["Error"]["Message"] == "The security token included in the request is invalid."
    assert lam["ResponseMetadata"]["HTTPStatusCode"] == 403

    # The awsJson-protocol services answer 400 (Lambda, rest-json, 403 as above).
    logs = error_of(client("logs", server.endpoint, key="AKIANOBODY").describe_log_groups)
    events = error_of(client("events", server.endpoint, key="AKIANOBODY").list_rules)
    for err in (logs, events):
        assert err["Error"]["Code"] == "UnrecognizedClientException"
        assert err["Error"]["Message"] == "The security token included in the request is invalid."
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    wrong = error_of(client("logs", server.endpoint, secret="wrong").describe_log_groups)
    assert (wrong["Error"]["Code"], wrong["ResponseMetadata"]["HTTPStatusCode"]) == ("InvalidSignatureException", 400)


def test_off_by_default_nothing_is_checked(endpoint: str) -> None:
    s3 = client("s3", endpoint, key="AKIANOBODY", secret="wrong")
    name = f"sig-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"v")
    assert client("lambda", endpoint, key="AKIANOBODY", secret="wrong").list_functions()["Functions"] is not None


# --- tampering --------------------------------------------------------------------------------

def _tamper(c: Any, event: str, fn: Any) -> Any:
    c.meta.events.register(f"before-send.{event}", fn)
    return c


def test_tampered_body(server: SluiceProcess, bucket: str) -> None:
    def swap_s3(request: Any, **_: Any) -> None:
        request.body = b"jello"

    s3 = _tamper(client("s3", server.endpoint), "s3.PutObject", swap_s3)
    err = error_of(s3.put_object, Bucket=bucket, Key="tampered", Body=b"hello")
    assert err["Error"]["Code"] == "XAmzContentSHA256Mismatch"
    assert err["Error"]["S3ComputedContentSHA256"] == hashlib.sha256(b"jello").hexdigest()
    assert error_of(client("s3", server.endpoint).head_object, Bucket=bucket, Key="tampered")[
        "ResponseMetadata"]["HTTPStatusCode"] == 404

    sqs = client("sqs", server.endpoint)
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]

    def swap_sqs(request: Any, **_: Any) -> None:
        request.body = request.body.replace(b"hello", b"jello")

    err = error_of(_tamper(client("sqs", server.endpoint), "sqs.SendMessage", swap_sqs).send_message,
                   QueueUrl=url, MessageBody="hello")
    assert err["Error"]["Code"] == "SignatureDoesNotMatch"
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)


def test_tampered_signed_header(server: SluiceProcess, bucket: str) -> None:
    def recolor(request: Any, **_: Any) -> None:
        request.headers["x-amz-meta-color"] = "blue"

    s3 = _tamper(client("s3", server.endpoint), "s3.PutObject", recolor)
    err = error_of(s3.put_object, Bucket=bucket, Key="recolored", Body=b"x", Metadata={"color": "red"})
    assert err["Error"]["Code"] == "SignatureDoesNotMatch"
    assert "x-amz-meta-color:blue" in err["Error"]["CanonicalRequest"]

    def retarget(request: Any, **_: Any) -> None:
        request.headers["X-Amz-Target"] = "AmazonSQS.ListQueues"

    sqs = _tamper(client("sqs", server.endpoint), "sqs.CreateQueue", retarget)
    assert error_of(sqs.create_queue, QueueName=unique("q"))["Error"]["Code"] == "SignatureDoesNotMatch"


# --- a small SigV4 signer, for dates and bodies boto3 will not produce ----------------------

def _key(secret: str, date: str, service: str) -> bytes:
    key = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (REGION, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _hmac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _canonical_query(query: dict[str, str]) -> str:
    return "&".join(f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
                    for k, v in sorted(query.items()))


class Signer:
    def __init__(self, endpoint: str, service: str, when: float | None = None, key: str = "test") -> None:
        self.host = urllib.parse.urlsplit(endpoint).netloc
        self.service = service
        self.access_key = key
        moment = dt.datetime.fromtimestamp(when if when is not None else time.time(), dt.timezone.utc)
        self.timestamp = moment.strftime("%Y%m%dT%H%M%SZ")
        self.date = self.timestamp[:8]
        self.scope = f"{self.date}/{REGION}/{service}/aws4_request"
        self.key = _key(SECRET, self.date, service)

    def sign(self, method: str, path: str, headers: dict[str, str], payload_hash: str,
             query: dict[str, str] | None = None) -> tuple[dict[str, str], str]:
        """Headers with Authorization added, and the signature."""
        headers = {**headers, "host": self.host, "x-amz-date": self.timestamp}
        if self.service == "s3":
            headers["x-amz-content-sha256"] = payload_hash
        names = sorted(h.lower() for h in headers)
        lowered = {k.lower(): v for k, v in headers.items()}
        canonical = "\n".join([method, path, _canonical_query(query or {}),
                               "".join(f"{n}:{lowered[n].strip()}\n" for n in names), ";".join(names), payload_hash])
        string_to_sign = "\n".join(["AWS4-HMAC-SHA256", self.timestamp, self.scope,
                                    hashlib.sha256(canonical.encode()).hexdigest()])
        signature = _hmac(self.key, string_to_sign)
        headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.access_key}/{self.scope}, "
                                    f"SignedHeaders={';'.join(names)}, Signature={signature}")
        return headers, signature

    def presign(self, method: str, path: str, expires: int) -> str:
        query = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": f"{self.access_key}/{self.scope}",
                 "X-Amz-Date": self.timestamp, "X-Amz-Expires": str(expires), "X-Amz-SignedHeaders": "host"}
        canonical = "\n".join([method, path, _canonical_query(query), f"host:{self.host}\n", "host",
                               "UNSIGNED-PAYLOAD"])
        string_to_sign = "\n".join(["AWS4-HMAC-SHA256", self.timestamp, self.scope,
                                    hashlib.sha256(canonical.encode()).hexdigest()])
        query["X-Amz-Signature"] = _hmac(self.key, string_to_sign)
        return f"http://{self.host}{path}?{_canonical_query(query)}"

    def chunked(self, seed: str, chunks: list[bytes], trailers: dict[str, str] | None = None) -> bytes:
        """An aws-chunked body, each chunk signed over the previous signature."""
        out = io.BytesIO()
        previous = seed
        for data in [*chunks, b""]:
            string_to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", self.timestamp, self.scope, previous,
                                        hashlib.sha256(b"").hexdigest(), hashlib.sha256(data).hexdigest()])
            previous = _hmac(self.key, string_to_sign)
            out.write(f"{len(data):x};chunk-signature={previous}\r\n".encode() + data)
            if data:
                out.write(b"\r\n")
        if trailers is None:
            out.write(b"\r\n")
        else:
            lines = "".join(f"{k}:{v}\n" for k, v in trailers.items())
            string_to_sign = "\n".join(["AWS4-HMAC-SHA256-TRAILER", self.timestamp, self.scope, previous,
                                        hashlib.sha256(lines.encode()).hexdigest()])
            for k, v in trailers.items():
                out.write(f"{k}:{v}\r\n".encode())
            out.write(f"x-amz-trailer-signature:{_hmac(self.key, string_to_sign)}\r\n\r\n".encode())
        return out.getvalue()


def send(endpoint: str, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(urllib.parse.urlsplit(endpoint).netloc, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --- dates and presigned URLs -----------------------------------------------------------------

def test_skewed_date(server: SluiceProcess, bucket: str) -> None:
    old = Signer(server.endpoint, "s3", when=time.time() - 20 * 60)
    headers, _ = old.sign("GET", f"/{bucket}", {}, hashlib.sha256(b"").hexdigest())
    status, body = send(server.endpoint, "GET", f"/{bucket}", headers)
    assert status == 403
    assert b"<Code>RequestTimeTooSkewed</Code>" in body
    assert b"The difference between the request time and the current time is too large." in body
    assert f"<RequestTime>{old.timestamp}</RequestTime>".encode() in body

    fresh = Signer(server.endpoint, "s3", when=time.time() - 60)
    headers, _ = fresh.sign("GET", f"/{bucket}", {}, hashlib.sha256(b"").hexdigest())
    assert send(server.endpoint, "GET", f"/{bucket}", headers)[0] == 200

    form = b"Action=ListQueues&Version=2012-11-05"
    sqs = Signer(server.endpoint, "sqs", when=time.time() + 20 * 60)
    headers, _ = sqs.sign("POST", "/", {"content-type": "application/x-www-form-urlencoded"},
                          hashlib.sha256(form).hexdigest())
    status, body = send(server.endpoint, "POST", "/", headers, form)
    assert status == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in body
    assert b"Signature not yet current: " + sqs.timestamp.encode() in body


def test_credential_scope_date_must_be_the_request_day(server: SluiceProcess, bucket: str) -> None:
    def day_before(service: str) -> Signer:
        signer = Signer(server.endpoint, service)
        signer.date = (dt.datetime.strptime(signer.date, "%Y%m%d") - dt.timedelta(days=1)).strftime("%Y%m%d")
        signer.scope = f"{signer.date}/{REGION}/{service}/aws4_request"
        signer.key = _key(SECRET, signer.date, service)  # signed correctly, with the wrong day
        return signer

    s3 = day_before("s3")
    headers, _ = s3.sign("GET", f"/{bucket}", {}, hashlib.sha256(b"").hexdigest())
    status, body = send(server.endpoint, "GET", f"/{bucket}", headers)
    assert status == 400 and b"<Code>AuthorizationHeaderMalformed</Code>" in body
    assert (b"<Message>The authorization header is malformed; Invalid credential date. Date is not the same as "
            b"X-Amz-Date.</Message>") in body
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(s3.presign("GET", f"/{bucket}/x", 300))
    assert err.value.code == 400 and b"<Code>AuthorizationQueryParametersError</Code>" in err.value.read()

    message = (f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
               f"'{s3.date}' != '{s3.timestamp[:8]}', from '{s3.timestamp}'.")
    form = b"Action=ListQueues&Version=2012-11-05"
    sqs = day_before("sqs")
    headers, _ = sqs.sign("POST", "/", {"content-type": "application/x-www-form-urlencoded"},
                          hashlib.sha256(form).hexdigest())
    status, body = send(server.endpoint, "POST", "/", headers, form)
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    assert message.replace(s3.timestamp, sqs.timestamp).encode() in body

    logs = day_before("logs")
    payload = b"{}"
    headers, _ = logs.sign("POST", "/", {"content-type": "application/x-amz-json-1.1",
                                         "x-amz-target": "Logs_20140328.DescribeLogGroups"},
                           hashlib.sha256(payload).hexdigest())
    status, body = send(server.endpoint, "POST", "/", headers, payload)
    assert status == 400 and b"InvalidSignatureException" in body and b"Date in Credential scope" in body


@pytest.mark.parametrize("version", ["s3v4", None])  # None: boto3's default, signature V2 for S3
def test_presigned_urls(server: SluiceProcess, bucket: str, version: str | None) -> None:
    def presign(secret: str, **params: Any) -> str:
        c = boto3.client("s3", endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id="test",
                         aws_secret_access_key=secret, config=Config(signature_version=version))
        return str(c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared.txt", **params},
                                            ExpiresIn=300))

    client("s3", server.endpoint).put_object(Bucket=bucket, Key="shared.txt", Body=b"shared")
    with urllib.request.urlopen(presign(SECRET)) as r:
        assert r.read() == b"shared"
    with urllib.request.urlopen(presign(SECRET, ResponseContentType="text/x-shared")) as r:
        assert r.headers["Content-Type"] == "text/x-shared"

    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(presign("wrong"))
    assert err.value.code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in err.value.read()


def test_expired_presigned_url(server: SluiceProcess, bucket: str) -> None:
    client("s3", server.endpoint).put_object(Bucket=bucket, Key="shared.txt", Body=b"shared")

    expired = Signer(server.endpoint, "s3", when=time.time() - 120).presign("GET", f"/{bucket}/shared.txt", 60)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(expired)
    assert err.value.code == 403
    body = err.value.read()
    assert b"<Code>AccessDenied</Code>" in body
    assert b"<Message>Request has expired</Message>" in body

    current = Signer(server.endpoint, "s3", when=time.time() - 120).presign("GET", f"/{bucket}/shared.txt", 600)
    with urllib.request.urlopen(current) as r:
        assert r.read() == b"shared"


# --- streaming (aws-chunked) signatures -------------------------------------------------------

def _streaming_put(server: SluiceProcess, bucket: str, key: str, chunks: list[bytes], alter: int | None = None,
                   trailer: bool = False, bad_trailer: bool = False) -> tuple[int, bytes]:
    signer = Signer(server.endpoint, "s3")
    data = b"".join(chunks)
    headers = {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))}
    crc = b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    if trailer:
        headers["x-amz-trailer"] = "x-amz-checksum-crc32"
    payload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" if trailer else "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    # Content-Length is that of the encoded body, so sign after encoding once without it.
    body = signer.chunked("0" * 64, chunks, {"x-amz-checksum-crc32": crc} if trailer else None)
    headers["content-length"] = str(len(body))
    signed, seed = signer.sign("PUT", f"/{bucket}/{key}", headers, payload)
    body = signer.chunked(seed, chunks, {"x-amz-checksum-crc32": crc} if trailer else None)
    if alter is not None:
        body = body.replace(chunks[alter], bytes([chunks[alter][0] ^ 1]) + chunks[alter][1:], 1)
    if bad_trailer:
        body = body.replace(crc.encode(), b64encode(b"\0\0\0\0"))
    return send(server.endpoint, "PUT", f"/{bucket}/{key}", signed, body)


def test_streaming_signed_put_accepted(server: SluiceProcess, bucket: str) -> None:
    chunks = [b"a" * 65536, b"b" * 65536, b"tail"]
    status, body = _streaming_put(server, bucket, "streamed", chunks)
    assert status == 200, body
    got = client("s3", server.endpoint).get_object(Bucket=bucket, Key="streamed")["Body"].read()
    assert got == b"".join(chunks)


def test_streaming_signed_put_with_trailer(server: SluiceProcess, bucket: str) -> None:
    chunks = [b"x" * 70000, b"y" * 10]
    status, body = _streaming_put(server, bucket, "trailed", chunks, trailer=True)
    assert status == 200, body
    head = client("s3", server.endpoint).head_object(Bucket=bucket, Key="trailed", ChecksumMode="ENABLED")
    assert head["ContentLength"] == 70010

    status, body = _streaming_put(server, bucket, "trailed-bad", chunks, trailer=True, bad_trailer=True)
    assert status == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in body


@pytest.mark.parametrize("altered", [0, 2])
def test_streaming_signed_put_rejects_an_altered_chunk(server: SluiceProcess, bucket: str, altered: int) -> None:
    chunks = [b"a" * 65536, b"b" * 65536, b"tail"]
    status, body = _streaming_put(server, bucket, f"altered-{altered}", chunks, alter=altered)
    assert status == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in body
    err = error_of(client("s3", server.endpoint).head_object, Bucket=bucket, Key=f"altered-{altered}")
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_large_streaming_put_is_checked_while_streaming(server: SluiceProcess, bucket: str) -> None:
    """Bigger than the in-memory limit: the body streams to disk and is still checked."""
    chunks = [bytes([i]) * (512 * 1024) for i in range(1, 5)]
    assert _streaming_put(server, bucket, "big", chunks)[0] == 200
    assert _streaming_put(server, bucket, "big-bad", chunks, alter=3)[0] == 403
    s3 = client("s3", server.endpoint)
    assert s3.head_object(Bucket=bucket, Key="big")["ContentLength"] == 2 * 1024 * 1024
    assert error_of(s3.head_object, Bucket=bucket, Key="big-bad")["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_unsigned_requests(server: SluiceProcess, bucket: str) -> None:
    """Anonymous S3 requests are refused unless a bucket policy allows them (none does here);
    other services want a signature."""
    status, body = send(server.endpoint, "GET", f"/{bucket}/shared-nothing", {})
    assert status == 403
    assert b"<Code>AccessDenied</Code>" in body
    status, body = send(server.endpoint, "GET", "/2015-03-31/functions/", {})
    assert status == 403
    assert b"Missing Authentication Token" in body


def test_s3_signature_v2_header(server: SluiceProcess, bucket: str) -> None:
    def v2(secret: str) -> Any:
        return boto3.client("s3", endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id="test",
                            aws_secret_access_key=secret, config=Config(signature_version="s3",
                                                                        retries={"max_attempts": 1}))

    v2(SECRET).put_object(Bucket=bucket, Key="v2.txt", Body=b"legacy", Metadata={"a": "b"})
    assert v2(SECRET).get_object(Bucket=bucket, Key="v2.txt")["Body"].read() == b"legacy"
    err = error_of(v2("wrong").get_object, Bucket=bucket, Key="v2.txt")
    assert err["Error"]["Code"] == "SignatureDoesNotMatch"
    assert err["Error"]["StringToSign"].endswith(f"/{bucket}/v2.txt")


def test_s3_signature_v2_bucket_requests(server: SluiceProcess) -> None:
    """botocore signs a bucket-level V2 request with the virtual-hosted resource "/bucket/" while
    sending it path-style to an endpoint URL ("/bucket"): both resources are accepted, a wrong
    secret still is not."""
    def v2(secret: str) -> Any:
        return boto3.client("s3", endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id="test",
                            aws_secret_access_key=secret, config=Config(signature_version="s3",
                                                                        retries={"max_attempts": 1}))

    v2(SECRET).create_bucket(Bucket="v2-bucket-level")
    v2(SECRET).put_bucket_versioning(Bucket="v2-bucket-level", VersioningConfiguration={"Status": "Enabled"})
    assert v2(SECRET).list_objects(Bucket="v2-bucket-level")["Name"] == "v2-bucket-level"
    err = error_of(v2("wrong").list_objects, Bucket="v2-bucket-level")
    assert err["Error"]["Code"] == "SignatureDoesNotMatch"
    v2(SECRET).delete_bucket(Bucket="v2-bucket-level")


# --- browser forms (POST Object): the policy is what is signed ---------------------------------

def _form_client(server: SluiceProcess, version: str, key: str = "test", secret: str = SECRET) -> Any:
    return boto3.client("s3", endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(signature_version=version))


def _post_form(url: str, fields: dict[str, str]) -> tuple[int, dict[str, str]]:
    resp = requests.post(url, data=fields, files={"file": ("f.txt", b"form")}, timeout=30)
    if resp.status_code < 300:
        return resp.status_code, {}
    return resp.status_code, {child.tag: child.text or "" for child in ET.fromstring(resp.content)}


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_signed_forms(server: SluiceProcess, bucket: str, version: str) -> None:
    post = _form_client(server, version).generate_presigned_post(bucket, f"forms/{version}")
    assert _post_form(post["url"], post["fields"])[0] == 204
    signature_field = "x-amz-signature" if version == "s3v4" else "signature"

    # A policy altered after signing: S3 names the policy as the string it signed.
    altered = b64encode(b64decode(post["fields"]["policy"]).replace(b"forms/", b"other/")).decode()
    status, err = _post_form(post["url"], {**post["fields"], "key": f"other/{version}", "policy": altered})
    assert status == 403 and err["Code"] == "SignatureDoesNotMatch"
    assert err["StringToSign"] == altered and err["SignatureProvided"] == post["fields"][signature_field]
    assert err["AWSAccessKeyId"] == "test"

    wrong = _form_client(server, version, secret="wrong").generate_presigned_post(bucket, "forms/x")
    assert _post_form(wrong["url"], wrong["fields"])[1]["Code"] == "SignatureDoesNotMatch"
    nobody = _form_client(server, version, key="AKIANOBODY").generate_presigned_post(bucket, "forms/x")
    status, err = _post_form(nobody["url"], nobody["fields"])
    assert (status, err["Code"], err["AWSAccessKeyId"]) == (403, "InvalidAccessKeyId", "AKIANOBODY")

    unsigned = {k: v for k, v in post["fields"].items() if k != signature_field}
    status, err = _post_form(post["url"], unsigned)
    name = "X-Amz-Signature" if version == "s3v4" else "Signature"
    assert (status, err["Code"], err["ArgumentName"]) == (400, "InvalidArgument", name)
    assert err["Message"] == (f"Bucket POST must contain a field named '{name}'.  If it is specified, please check "
                              "the order of the fields.")


def test_form_signed_with_session_credentials(server: SluiceProcess, bucket: str) -> None:
    creds = client("sts", server.endpoint).get_session_token()["Credentials"]
    signer = boto3.client("s3", endpoint_url=server.endpoint, region_name=REGION,
                          aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                          aws_session_token=creds["SessionToken"], config=Config(signature_version="s3v4"))
    post = signer.generate_presigned_post(bucket, "forms/session")
    assert post["fields"]["x-amz-security-token"] == creds["SessionToken"]
    assert _post_form(post["url"], post["fields"])[0] == 204
    status, err = _post_form(post["url"], {**post["fields"], "x-amz-security-token": "forged"})
    assert status == 400 and err["Code"] == "InvalidToken"


def test_unsigned_form_is_anonymous(server: SluiceProcess) -> None:
    """Without signature fields a form is anonymous: only a bucket policy may let it upload."""
    s3 = client("s3", server.endpoint)
    name = f"sig-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    status, err = _post_form(f"{server.endpoint}/{name}", {"key": "forms/anonymous"})
    assert (status, err["Code"]) == (403, "AccessDenied")
    s3.delete_public_access_block(Bucket=name)  # new buckets block public policies, as on AWS
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{name}/forms/*"}]}))
    assert _post_form(f"{server.endpoint}/{name}", {"key": "forms/anonymous"})[0] == 204
