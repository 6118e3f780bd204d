"""Plain mode (no --enforce-iam) is AWS without identity policies (issue 16): who calls counts.

An unsigned request is anonymous in every service; a caller from another account, or an anonymous
one, gets what the resource side grants (bucket policy, ACLs, queue policy); a Deny in a resource
policy applies to the owner's account too; keys with a secret of their own are verified, while
`test`, 12-digit ids and keys nobody issued are taken unchecked; a web page cannot act through a
browser with forged credentials of such a key.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import socket
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import REGION, listed
from .lambda_helpers import create
from .s3_raw import form_signature, send
from .server import SluiceProcess

OWNER = "000000000000"  # the default account (`test`)
OTHER = "222222222222"  # a 12-digit key id: the root of that account
CONFIGURED_KEY, CONFIGURED_SECRET = "AKIAPLAINMODEKEY0001", "configured-secret"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    directory = tmp_path_factory.mktemp("plain-auth")
    creds = directory / "credentials.json"
    creds.write_text(json.dumps({CONFIGURED_KEY: {"secret": CONFIGURED_SECRET, "account": "333333333333"}}))
    proc = SluiceProcess(directory / "data", "--credentials", str(creds)).start()
    yield proc
    proc.stop()


def client(server: SluiceProcess, service: str, key: str = "test", secret: str = "test", **config: Any) -> Any:
    return boto3.client(service, endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}, **config))


def code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def s3(server: SluiceProcess) -> Any:
    return client(server, "s3")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"plain-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="private.txt", Body=b"secret")
    return name


def test_anonymous_callers_get_what_acls_grant(server: SluiceProcess, s3: Any) -> None:
    name = f"plain-acl-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    s3.delete_public_access_block(Bucket=name)
    s3.put_object(Bucket=name, Key="private.txt", Body=b"secret")
    s3.put_object(Bucket=name, Key="public.txt", Body=b"hello", ACL="public-read")
    anonymous = client(server, "s3", signature_version=UNSIGNED)
    assert anonymous.get_object(Bucket=name, Key="public.txt")["Body"].read() == b"hello"
    with pytest.raises(ClientError) as exc:
        anonymous.get_object(Bucket=name, Key="private.txt")
    assert code(exc) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as exc:
        anonymous.list_objects_v2(Bucket=name)
    assert code(exc) == ("AccessDenied", 403)
    s3.put_bucket_acl(Bucket=name, ACL="public-read")  # now anyone may list it
    assert {o["Key"] for o in anonymous.list_objects_v2(Bucket=name)["Contents"]} == {"private.txt", "public.txt"}
    with pytest.raises(ClientError) as exc:
        anonymous.put_object(Bucket=name, Key="planted.txt", Body=b"x")
    assert code(exc) == ("AccessDenied", 403)


def test_anonymous_callers_get_what_a_bucket_policy_grants(server: SluiceProcess, s3: Any, bucket: str) -> None:
    assert send(server.endpoint, "GET", f"/{bucket}/private.txt", signed=False).status == 403
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="site/index.html", Body=b"<p>hi</p>")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/site/*"}]}))
    answer = send(server.endpoint, "GET", f"/{bucket}/site/index.html", signed=False)
    assert (answer.status, answer.body) == (200, b"<p>hi</p>")
    denied = send(server.endpoint, "GET", f"/{bucket}/private.txt", signed=False)
    assert denied.status == 403 and denied.error()["Code"] == "AccessDenied"


def test_another_account_needs_a_grant(server: SluiceProcess, s3: Any, bucket: str) -> None:
    other = client(server, "s3", key=OTHER)
    with pytest.raises(ClientError) as exc:
        other.get_object(Bucket=bucket, Key="private.txt")
    assert code(exc) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as exc:
        other.put_object(Bucket=bucket, Key="from-other.txt", Body=b"x")
    assert code(exc) == ("AccessDenied", 403)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    assert other.get_object(Bucket=bucket, Key="private.txt")["Body"].read() == b"secret"
    with pytest.raises(ClientError) as exc:  # the grant is to read, not to write
        other.put_object(Bucket=bucket, Key="from-other.txt", Body=b"x")
    assert code(exc) == ("AccessDenied", 403)
    # The other account's own buckets are its own: created there, listed there only.
    mine = f"plain-other-{uuid.uuid4().hex[:8]}"
    other.create_bucket(Bucket=mine)
    assert mine in [b["Name"] for b in other.list_buckets()["Buckets"]]
    assert mine not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=mine)
    assert code(exc) == ("AccessDenied", 403)


def test_queue_of_another_account_needs_its_policy(server: SluiceProcess) -> None:
    sqs = client(server, "sqs")
    url = sqs.create_queue(QueueName=f"plain-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert arn.split(":")[4] == OWNER
    other = client(server, "sqs", key=OTHER)
    with pytest.raises(ClientError) as exc:
        other.send_message(QueueUrl=url, MessageBody="x")
    assert code(exc) == ("AccessDenied", 403)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "sqs:SendMessage", "Resource": arn}]})})
    other.send_message(QueueUrl=url, MessageBody="granted")
    with pytest.raises(ClientError) as exc:
        other.delete_queue(QueueUrl=url)
    assert code(exc) == ("AccessDenied", 403)
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "granted"


def test_a_resource_policy_deny_applies_to_the_owner_too(server: SluiceProcess, s3: Any, bucket: str) -> None:
    sqs = client(server, "sqs")
    url = sqs.create_queue(QueueName=f"plain-deny-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": arn}]})})
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    assert code(exc) == ("AccessDenied", 403)
    # A bucket policy denying everything: the owner's root can still read and remove it (AWS's
    # way out of a lock-out), nothing else.
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{bucket}",
                                                                          f"arn:aws:s3:::{bucket}/*"]}]}))
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="private.txt")
    assert code(exc) == ("AccessDenied", 403)
    assert "Deny" in s3.get_bucket_policy(Bucket=bucket)["Policy"]
    s3.delete_bucket_policy(Bucket=bucket)
    assert s3.get_object(Bucket=bucket, Key="private.txt")["Body"].read() == b"secret"


def test_unsigned_requests_to_other_services_are_refused(server: SluiceProcess) -> None:
    lam = requests.get(f"{server.endpoint}/2015-03-31/functions/", timeout=30)
    assert (lam.status_code, lam.headers.get("x-amzn-ErrorType", "").split(":")[0]) == (
        403, "MissingAuthenticationTokenException")
    sqs = client(server, "sqs", signature_version=UNSIGNED)
    with pytest.raises(ClientError) as exc:
        sqs.list_queues()
    assert code(exc) == ("MissingAuthenticationToken", 403)
    logs = client(server, "logs", signature_version=UNSIGNED)
    with pytest.raises(ClientError) as exc:
        logs.describe_log_groups()
    assert code(exc) == ("MissingAuthenticationTokenException", 403)


def test_a_web_page_cannot_delete_a_queue(server: SluiceProcess) -> None:
    """What a page on another site can make a browser send without a preflight: a form-encoded
    POST, unsigned or with query credentials it forged for the public `test` key."""
    sqs = client(server, "sqs")
    url = sqs.create_queue(QueueName=f"plain-page-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    page = {"Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"}
    form = urllib.parse.urlencode({"Action": "DeleteQueue", "QueueUrl": url})
    unsigned = requests.post(f"{server.endpoint}/", data=form, headers=page, timeout=30)
    assert unsigned.status_code >= 400
    now = dt.datetime.now(dt.timezone.utc)
    forged = urllib.parse.urlencode({
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"test/{now:%Y%m%d}/{REGION}/sqs/aws4_request",
        "X-Amz-Date": f"{now:%Y%m%dT%H%M%SZ}", "X-Amz-Expires": "300", "X-Amz-SignedHeaders": "host",
        "X-Amz-Signature": "0" * 64})
    refused = requests.post(f"{server.endpoint}/?{forged}", data=form, headers=page, timeout=30)
    assert refused.status_code == 403 and b"<Code>MissingAuthenticationToken</Code>" in refused.content
    assert url in listed(sqs, "list_queues", "QueueUrls")


def test_a_web_page_acts_on_a_bucket_only_where_its_cors_rules_let_it_in(server: SluiceProcess, s3: Any,
                                                                         bucket: str) -> None:
    """A page on another site can sign a form for the public `test` key itself and POST it
    without a preflight: from a page, such a write is anonymous unless the bucket's CORS rules let
    that origin in, as a web app's own set-up does on AWS. Reads stay as on AWS: answered, but
    without the CORS grant the page cannot read them."""
    expires = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    policy = base64.b64encode(json.dumps({"expiration": expires, "conditions": [
        {"bucket": bucket}, ["starts-with", "$key", ""]]}).encode()).decode()

    def upload(origin: str | None) -> requests.Response:
        fields = [("key", "from-page"), ("policy", policy), *form_signature(policy)]
        return requests.post(f"{server.endpoint}/{bucket}", data=fields, files={"file": ("f", b"page")},
                             headers={"Origin": origin} if origin else {}, timeout=30)

    assert upload("http://evil.example").status_code == 403
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    unreadable = requests.get(url, headers={"Origin": "http://evil.example"}, timeout=30)
    assert unreadable.status_code == 200 and "Access-Control-Allow-Origin" not in unreadable.headers
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["http://app.example"], "AllowedMethods": ["GET", "POST"]}]})
    assert upload("http://evil.example").status_code == 403
    assert upload("http://app.example").status_code == 204
    assert s3.get_object(Bucket=bucket, Key="from-page")["Body"].read() == b"page"
    allowed = requests.get(url, headers={"Origin": "http://app.example"}, timeout=30)
    assert allowed.content == b"secret" and allowed.headers["Access-Control-Allow-Origin"] == "http://app.example"


def test_a_key_with_its_own_secret_must_be_signed_with_it(server: SluiceProcess) -> None:
    good = client(server, "s3", key=CONFIGURED_KEY, secret=CONFIGURED_SECRET)
    good.list_buckets()
    for service, operation in (("s3", "list_buckets"), ("sqs", "list_queues"), ("sts", "get_caller_identity")):
        bad = client(server, service, key=CONFIGURED_KEY, secret="not-the-secret")
        with pytest.raises(ClientError) as exc:
            getattr(bad, operation)()
        assert code(exc) == ("SignatureDoesNotMatch", 403), service
    # A key IAM issued, likewise.
    iam = client(server, "iam")
    user = f"plain-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    issued = iam.create_access_key(UserName=user)["AccessKey"]
    assert client(server, "sts", key=issued["AccessKeyId"], secret=issued["SecretAccessKey"]) \
        .get_caller_identity()["Arn"].endswith(f":user/{user}")
    with pytest.raises(ClientError) as exc:
        client(server, "sts", key=issued["AccessKeyId"], secret="wrong").get_caller_identity()
    assert code(exc) == ("SignatureDoesNotMatch", 403)


def test_default_and_unknown_keys_are_taken_unchecked(server: SluiceProcess) -> None:
    for key, secret, account in (("test", "anything", OWNER), ("AKIAUSERSOWNKEY00000", "whatever", OWNER),
                                 (OTHER, "not-test", OTHER)):
        who = client(server, "sts", key=key, secret=secret).get_caller_identity()
        assert who["Account"] == account, key
        client(server, "sqs", key=key, secret=secret).list_queues()


def test_a_function_acts_in_its_own_account(server: SluiceProcess) -> None:
    """A function created in another account calls with placeholder credentials (no
    enforcement): its calls are its account's, so its own bucket is its own."""
    s3 = client(server, "s3", key=OTHER)
    name = f"plain-fn-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="data.txt", Body=b"mine")
    lam = client(server, "lambda", key=OTHER)
    function = create(lam, """
        import boto3
        def handler(event, context):
            body = boto3.client("s3").get_object(Bucket=event["bucket"], Key="data.txt")["Body"].read()
            return {"body": body.decode(), "account": boto3.client("sts").get_caller_identity()["Account"]}
    """, Role=f"arn:aws:iam::{OTHER}:role/fn-role")
    out = lam.invoke(FunctionName=function, Payload=json.dumps({"bucket": name}).encode())
    assert json.loads(out["Payload"].read()) == {"body": "mine", "account": OTHER}


def _outside_address() -> str | None:
    """This machine's address on a non-loopback interface, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 9))  # no packet is sent: this only picks a route
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_a_secure_transport_deny_holds_for_http_from_elsewhere_not_from_this_machine(tmp_path: Path) -> None:
    """The common `Deny` on `aws:SecureTransport: false` (the SAM CLI's artifacts bucket has one):
    on AWS every request is TLS; here loopback traffic counts as secure, so unchanged templates
    keep working, and plain http from another machine is refused."""
    outside = _outside_address()
    if outside is None:
        pytest.skip("this machine has no non-loopback address to send from")
    server = SluiceProcess(tmp_path / "data", "--host", "0.0.0.0").start()
    try:
        local = boto3.client("s3", endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id="test",
                             aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))
        local.create_bucket(Bucket="tls-only")
        local.put_bucket_policy(Bucket="tls-only", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": ["arn:aws:s3:::tls-only", "arn:aws:s3:::tls-only/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))
        local.put_object(Bucket="tls-only", Key="k", Body=b"x")
        remote = boto3.client("s3", endpoint_url=f"http://{outside}:{server.port}", region_name=REGION,
                              aws_access_key_id="test", aws_secret_access_key="test",
                              config=Config(retries={"max_attempts": 1}))
        with pytest.raises(ClientError) as refused:
            remote.get_object(Bucket="tls-only", Key="k")
        assert code(refused) == ("AccessDenied", 403)
        assert local.get_object(Bucket="tls-only", Key="k")["Body"].read() == b"x"
    finally:
        server.stop()
