"""`sluice up --enforce-iam`: requests, functions' own calls and Lambda's deliveries are evaluated
against identity and resource policies as AWS evaluates them (issue 7, aws-reference §8)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from .lambda_helpers import unique, zip_code
from .metric_helpers import lambda_metric_sum
from .server import SluiceProcess

ACCOUNT = "000000000000"
OTHER = "111111111111"  # any 12-digit key is the root of that account (secret "test")
TRUST_LAMBDA = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
S3_READ_ONLY = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"

PROCESSOR = """
import urllib.parse
import boto3

s3 = boto3.client("s3")

def handler(event, context):
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        print(f"processed {key}: {len(body)} bytes")
"""

FAILING = """
def handler(event, context):
    raise RuntimeError("Test exception (this is intentional)")
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    proc = SluiceProcess(tmp_path_factory.mktemp("iam") / "data", "--enforce-iam", "--time-scale", "600").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def client(server: SluiceProcess) -> Callable[..., Any]:
    def make(service: str, key: str = "test", secret: str = "test", token: str | None = None) -> Any:
        return boto3.client(service, endpoint_url=server.endpoint, region_name="us-east-1",
                            aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
                            config=Config(retries={"max_attempts": 1}))
    return make


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    err = exc.value.response["Error"]
    return err["Code"], err.get("Message", ""), exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def xml_error(body: bytes) -> tuple[str, str]:
    root = ET.fromstring(body)
    return root.findtext("Code") or "", root.findtext("Message") or ""


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def new_user(iam: Any, *statements: dict[str, Any]) -> tuple[str, str, str]:
    """(user name, key id, secret) of a new user with one inline policy (if any statements)."""
    name = unique("user")
    iam.create_user(UserName=name)
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=document(*statements))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, key["AccessKeyId"], key["SecretAccessKey"]


def new_role(iam: Any, *statements: dict[str, Any], managed: tuple[str, ...] = ()) -> str:
    name = unique("role")
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_LAMBDA)["Role"]["Arn"]
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=document(*statements))
    for policy in managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy)
    return arn


def new_function(lam: Any, source: str, role: str, **extra: Any) -> str:
    name = unique()
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handler",
                        Code={"ZipFile": zip_code(source)}, Timeout=10, **extra)
    return name


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def metric(client: Callable[..., Any], name: str, function: str) -> float:
    return lambda_metric_sum(client("cloudwatch"), name, function)


def log_text(logs: Any, function: str) -> str:
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    except ClientError:
        return ""
    return "".join(e["message"] for e in events)


def new_queue(sqs: Any) -> tuple[str, str]:
    url: str = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


# -- who is calling ------------------------------------------------------------------------


def test_unknown_keys_get_each_services_error(client: Callable[..., Any]) -> None:
    expected = {
        "s3": ("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", 403),
        "sqs": ("InvalidClientTokenId", "The security token included in the request is invalid.", 403),
        "sns": ("InvalidClientTokenId", "The security token included in the request is invalid.", 403),
        "lambda": ("UnrecognizedClientException", "The security token included in the request is invalid.", 403),
        "logs": ("UnrecognizedClientException", "The security token included in the request is invalid.", 400),
    }
    calls = {"s3": "list_buckets", "sqs": "list_queues", "sns": "list_topics", "lambda": "list_functions",
             "logs": "describe_log_groups"}
    for service, (code, message, status) in expected.items():
        with pytest.raises(ClientError) as exc:
            getattr(client(service, "AKIAEXAMPLEUNKNOWN00", "x"), calls[service])()
        assert error(exc) == (code, message, status), service


# -- identity policies -----------------------------------------------------------------------


def test_identity_policy_allows_and_denies(client: Callable[..., Any]) -> None:
    s3, iam = client("s3"), client("iam")
    bucket = unique("bkt")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="public/a.txt", Body=b"a")
    s3.put_object(Bucket=bucket, Key="secret/b.txt", Body=b"b")
    name, key, secret = new_user(
        iam,
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Effect": "Deny", "Action": "s3:*", "Resource": f"arn:aws:s3:::{bucket}/secret/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
         "Condition": {"StringLike": {"s3:prefix": "public/*"}}})
    user = client("s3", key, secret)
    assert user.get_object(Bucket=bucket, Key="public/a.txt")["Body"].read() == b"a"
    assert user.head_object(Bucket=bucket, Key="public/a.txt")["ContentLength"] == 1  # s3:GetObject too
    who = f"arn:aws:iam::{ACCOUNT}:user/{name}"
    with pytest.raises(ClientError) as exc:
        user.put_object(Bucket=bucket, Key="public/new.txt", Body=b"n")
    assert error(exc) == ("AccessDenied", f'User: {who} is not authorized to perform: s3:PutObject on resource: '
                          f'"arn:aws:s3:::{bucket}/public/new.txt" because no identity-based policy allows the '
                          "s3:PutObject action", 403)
    with pytest.raises(ClientError) as exc:
        user.get_object(Bucket=bucket, Key="secret/b.txt")
    assert error(exc) == ("AccessDenied", f'User: {who} is not authorized to perform: s3:GetObject on resource: '
                          f'"arn:aws:s3:::{bucket}/secret/b.txt" with an explicit deny in an identity-based '
                          "policy", 403)
    listed = user.list_objects_v2(Bucket=bucket, Prefix="public/")
    assert [o["Key"] for o in listed["Contents"]] == ["public/a.txt"]
    with pytest.raises(ClientError) as exc:  # ListObjectsV2 is s3:ListBucket with the s3:prefix condition key
        user.list_objects_v2(Bucket=bucket, Prefix="secret/")
    assert error(exc)[0] == "AccessDenied"
    with pytest.raises(ClientError) as exc:  # CopyObject needs s3:PutObject on the target as well
        user.copy_object(Bucket=bucket, Key="public/copy.txt", CopySource={"Bucket": bucket, "Key": "public/a.txt"})
    assert "s3:PutObject" in error(exc)[1]

    sqs, lam, sns = client("sqs", key, secret), client("lambda", key, secret), client("sns", key, secret)
    url, arn = new_queue(client("sqs"))
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="hi")
    assert error(exc) == ("AccessDenied", f"User: {who} is not authorized to perform: sqs:sendmessage on resource: "
                          f"{arn} because no identity-based policy allows the sqs:sendmessage action", 403)
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName="anything")
    assert error(exc)[0] == "AccessDeniedException" and "lambda:InvokeFunction" in error(exc)[1]
    topic = client("sns").create_topic(Name=unique("t"))["TopicArn"]
    with pytest.raises(ClientError) as exc:
        sns.publish(TopicArn=topic, Message="hi")
    assert error(exc) == ("AuthorizationError", f"User: {who} is not authorized to perform: SNS:Publish on resource: "
                          f"{topic} because no identity-based policy allows the SNS:Publish action", 403)
    iam.put_user_policy(UserName=name, PolicyName="send", PolicyDocument=document(
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn}))
    assert sqs.send_message(QueueUrl=url, MessageBody="hi")["MessageId"]


def test_iam_changes_take_effect_on_the_very_next_request(client: Callable[..., Any]) -> None:
    """Keys and policies are remembered between requests; every IAM change (and a new STS session)
    makes the next request see the new state."""
    s3, iam = client("s3"), client("iam")
    bucket = unique("bkt")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    name, key, secret = new_user(iam)
    iam.attach_user_policy(UserName=name, PolicyArn=S3_READ_ONLY)
    user = client("s3", key, secret)
    for _ in range(3):  # the key and the user's policies are now remembered
        assert user.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    iam.detach_user_policy(UserName=name, PolicyArn=S3_READ_ONLY)
    with pytest.raises(ClientError) as exc:
        user.get_object(Bucket=bucket, Key="k")
    assert error(exc)[1].endswith("because no identity-based policy allows the s3:GetObject action")
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=document(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}))
    assert user.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=document(  # a new text, same name
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}))
    with pytest.raises(ClientError) as exc:
        user.get_object(Bucket=bucket, Key="k")
    assert error(exc)[1].endswith("with an explicit deny in an identity-based policy")
    iam.update_access_key(UserName=name, AccessKeyId=key, Status="Inactive")
    with pytest.raises(ClientError) as exc:
        user.get_object(Bucket=bucket, Key="k")
    assert error(exc)[0] == "InvalidAccessKeyId"

    # A role session: its role's managed policy changes between two calls with the same key.
    role = new_role(iam)
    iam.update_assume_role_policy(RoleName=role.rsplit("/", 1)[1], PolicyDocument=document({
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}))
    creds = client("sts").assume_role(RoleArn=role, RoleSessionName="reader")["Credentials"]
    session = client("s3", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    with pytest.raises(ClientError) as exc:
        session.get_object(Bucket=bucket, Key="k")
    assert error(exc)[0] == "AccessDenied"
    policy_arn = iam.create_policy(PolicyName=unique("read"), PolicyDocument=document(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=role.rsplit("/", 1)[1], PolicyArn=policy_arn)
    assert session.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    iam.create_policy_version(PolicyArn=policy_arn, SetAsDefault=True, PolicyDocument=document(
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}))
    with pytest.raises(ClientError) as exc:
        session.get_object(Bucket=bucket, Key="k")
    assert error(exc)[0] == "AccessDenied"


def test_delete_objects_denies_key_by_key(client: Callable[..., Any]) -> None:
    """S3 evaluates s3:DeleteObject (s3:DeleteObjectVersion with a version) per key: the denied
    keys come back as Errors, the others are deleted."""
    s3, iam = client("s3"), client("iam")
    bucket = unique("bkt")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    versions = {k: s3.put_object(Bucket=bucket, Key=k, Body=b"x")["VersionId"]
                for k in ("tmp/a", "keep/b", "tmp/c", "tmp/d")}
    _, key, secret = new_user(iam, {"Effect": "Allow", "Action": "s3:DeleteObject",
                                    "Resource": f"arn:aws:s3:::{bucket}/tmp/*"})
    user = client("s3", key, secret)
    out = user.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "tmp/a"}, {"Key": "keep/b"}, {"Key": "tmp/c"},
        {"Key": "tmp/d", "VersionId": versions["tmp/d"]}]})  # needs s3:DeleteObjectVersion
    assert [d["Key"] for d in out["Deleted"]] == ["tmp/a", "tmp/c"]
    assert all(d["DeleteMarker"] for d in out["Deleted"])
    assert [(e["Key"], e.get("VersionId"), e["Code"], e["Message"]) for e in out["Errors"]] == [
        ("keep/b", None, "AccessDenied", "Access Denied"),
        ("tmp/d", versions["tmp/d"], "AccessDenied", "Access Denied")]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 2  # keep/b and tmp/d are still there
    quiet = user.delete_objects(Bucket=bucket, Delete={"Quiet": True, "Objects": [{"Key": "keep/b"}]})
    assert "Deleted" not in quiet and quiet["Errors"][0]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as exc:  # one key at a time is the request's own denial
        user.delete_object(Bucket=bucket, Key="keep/b")
    assert error(exc)[0] == "AccessDenied"


def test_browser_form_upload_is_authorized_as_its_signer(server: SluiceProcess, client: Callable[..., Any]) -> None:
    """POST Object is s3:PutObject by whoever signed the form (its x-amz-credential, or
    AWSAccessKeyId for signature V2), on the key the form names; an unsigned form is anonymous."""
    s3, iam = client("s3"), client("iam")
    bucket = unique("forms")
    s3.create_bucket(Bucket=bucket)
    name, key, secret = new_user(iam, {"Effect": "Allow", "Action": "s3:PutObject",
                                       "Resource": f"arn:aws:s3:::{bucket}/uploads/*"})
    for version in ("s3v4", "s3"):
        signer = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=key,
                              aws_secret_access_key=secret, config=Config(signature_version=version))
        post = signer.generate_presigned_post(bucket, "uploads/${filename}")
        resp = requests.post(post["url"], data=post["fields"], files={"file": (f"{version}.txt", b"hi")}, timeout=30)
        assert resp.status_code == 204, resp.text
        assert s3.get_object(Bucket=bucket, Key=f"uploads/{version}.txt")["Body"].read() == b"hi"
        outside = signer.generate_presigned_post(bucket, "elsewhere/${filename}")
        resp = requests.post(outside["url"], data=outside["fields"], files={"file": ("x.txt", b"no")}, timeout=30)
        assert resp.status_code == 403
        assert xml_error(resp.content) == ("AccessDenied", f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not "
                                           f'authorized to perform: s3:PutObject on resource: "arn:aws:s3:::{bucket}/'
                                           'elsewhere/x.txt" because no identity-based policy allows the '
                                           "s3:PutObject action")
    resp = requests.post(f"{server.endpoint}/{bucket}", data={"key": "uploads/anon.txt"},
                         files={"file": ("anon.txt", b"anon")}, timeout=30)
    assert resp.status_code == 403 and xml_error(resp.content) == ("AccessDenied", "Access Denied")
    resp = requests.post(outside["url"], data={k: v for k, v in outside["fields"].items() if k != "key"},
                         files={"file": ("x.txt", b"no")}, timeout=30)
    assert resp.status_code == 400 and xml_error(resp.content)[0] == "InvalidArgument"  # the form's fault first
    unknown = dict(post["fields"], AWSAccessKeyId="AKIAEXAMPLEUNKNOWN00")  # the V2 form, another key
    resp = requests.post(post["url"], data=unknown, files={"file": ("u.txt", b"u")}, timeout=30)
    assert resp.status_code == 403 and xml_error(resp.content)[0] == "InvalidAccessKeyId"


def test_root_of_an_account_needs_no_policy_and_sees_its_own_account(client: Callable[..., Any]) -> None:
    sts = client("sts", OTHER, "test")
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{OTHER}:root"
    s3 = client("s3", OTHER, "test")
    bucket = unique("other")
    s3.create_bucket(Bucket=bucket)
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket not in [b["Name"] for b in client("s3").list_buckets()["Buckets"]]


# -- resource policies, across accounts ------------------------------------------------------------


def test_bucket_policy_grants_another_account_and_both_sides_must_allow(client: Callable[..., Any]) -> None:
    s3 = client("s3")
    bucket = unique("shared")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"shared")
    other_root = client("s3", OTHER, "test")
    with pytest.raises(ClientError) as exc:
        other_root.get_object(Bucket=bucket, Key="k")
    assert error(exc) == ("AccessDenied", f'User: arn:aws:iam::{OTHER}:root is not authorized to perform: '
                          f's3:GetObject on resource: "arn:aws:s3:::{bucket}/k" because no resource-based policy '
                          "allows the s3:GetObject action", 403)
    s3.put_bucket_policy(Bucket=bucket, Policy=document({
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}))
    assert other_root.get_object(Bucket=bucket, Key="k")["Body"].read() == b"shared"

    # A user of the other account: the bucket policy trusts its account, but across accounts the
    # user's own identity policy must allow the call too.
    other_iam = client("iam", OTHER, "test")
    name, key, secret = new_user(other_iam)
    with pytest.raises(ClientError) as exc:
        client("s3", key, secret).get_object(Bucket=bucket, Key="k")
    assert error(exc)[1].endswith("because no identity-based policy allows the s3:GetObject action")
    other_iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=document(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}))
    assert client("s3", key, secret).get_object(Bucket=bucket, Key="k")["Body"].read() == b"shared"
    # An explicit deny in the bucket policy wins over everything.
    s3.put_bucket_policy(Bucket=bucket, Policy=document(
        {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}))
    with pytest.raises(ClientError) as exc:
        other_root.get_object(Bucket=bucket, Key="k")  # from this machine: the condition holds
    assert error(exc)[1].endswith("with an explicit deny in a resource-based policy")


def test_function_policy_lets_another_account_invoke(client: Callable[..., Any]) -> None:
    lam = client("lambda")
    name = new_function(lam, FAILING, new_role(client("iam")))
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    other = client("lambda", OTHER, "test")
    with pytest.raises(ClientError) as exc:
        other.invoke(FunctionName=arn, InvocationType="DryRun")
    assert error(exc) == ("AccessDeniedException", f"User: arn:aws:iam::{OTHER}:root is not authorized to perform: "
                          f"lambda:InvokeFunction on resource: {arn} because no resource-based policy allows the "
                          "lambda:InvokeFunction action", 403)
    lam.add_permission(FunctionName=name, StatementId="other", Action="lambda:InvokeFunction", Principal=OTHER)
    assert other.invoke(FunctionName=arn, InvocationType="DryRun")["StatusCode"] == 204


def test_anonymous_reads_need_a_public_bucket_policy(server: SluiceProcess, client: Callable[..., Any]) -> None:
    s3 = client("s3")
    bucket = unique("site")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="index.html", Body=b"<h1>hi</h1>")
    url = f"{server.endpoint}/{bucket}/index.html"
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(url)
    assert exc.value.code == 403
    body = exc.value.read().decode()
    assert "<Code>AccessDenied</Code>" in body and "<Message>Access Denied</Message>" in body
    s3.delete_public_access_block(Bucket=bucket)  # new buckets block public policies, as on AWS
    s3.put_bucket_policy(Bucket=bucket, Policy=document({
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}))
    with urllib.request.urlopen(url) as r:
        assert r.read() == b"<h1>hi</h1>"


# -- functions run as their execution role ---------------------------------------------------


def test_lambda_refuses_a_role_it_cannot_assume(client: Callable[..., Any]) -> None:
    iam, lam = client("iam"), client("lambda")
    not_trusting = iam.create_role(RoleName=unique("role"), AssumeRolePolicyDocument=document({
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}))["Role"]["Arn"]
    for role in (f"arn:aws:iam::{ACCOUNT}:role/does-not-exist", not_trusting):
        with pytest.raises(ClientError) as exc:
            new_function(lam, FAILING, role)
        assert error(exc) == ("InvalidParameterValueException",
                              "The role defined for the function cannot be assumed by Lambda.", 400)


def test_handler_denied_by_its_role_retries_lands_in_dlq_and_redrives(  # the seed's failure step
        server: SluiceProcess, client: Callable[..., Any]) -> None:
    s3, iam, lam, sqs, logs = (client(s) for s in ("s3", "iam", "lambda", "sqs", "logs"))
    bucket = unique("uploads")
    s3.create_bucket(Bucket=bucket)
    dlq_url, dlq_arn = new_queue(sqs)
    role = new_role(iam, {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": dlq_arn},
                    managed=(S3_READ_ONLY,))
    name = new_function(lam, PROCESSOR, role, DeadLetterConfig={"TargetArn": dlq_arn})
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}", SourceAccount=ACCOUNT)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": lam.get_function(FunctionName=name)[
            "Configuration"]["FunctionArn"], "Events": ["s3:ObjectCreated:*"]}]})
    s3.put_object(Bucket=bucket, Key="ok.txt", Body=b"fine")
    wait_for("the first upload to be processed", lambda: "processed ok.txt: 4 bytes" in log_text(logs, name))

    iam.detach_role_policy(RoleName=role.rsplit("/", 1)[1], PolicyArn=S3_READ_ONLY)
    s3.put_object(Bucket=bucket, Key="denied.txt", Body=b"nope")
    message = wait_for("the DLQ message", lambda: sqs.receive_message(
        QueueUrl=dlq_url, WaitTimeSeconds=1, MessageAttributeNames=["All"]).get("Messages"))[0]
    assert json.loads(message["Body"])["Records"][0]["s3"]["object"]["key"] == "denied.txt"
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.rsplit('/', 1)[1]}/{name}"
    denial = (f'User: {session} is not authorized to perform: s3:GetObject on resource: '
              f'"arn:aws:s3:::{bucket}/denied.txt" because no identity-based policy allows the s3:GetObject action')
    error_message = message["MessageAttributes"]["ErrorMessage"]["StringValue"]
    assert "AccessDenied" in error_message and denial in error_message
    request_id = message["MessageAttributes"]["RequestID"]["StringValue"]
    with urllib.request.urlopen(f"{server.endpoint}/_sluice/events/{request_id}") as r:
        state = json.load(r)
    assert state["condition"] == "RetriesExhausted" and state["attempts"] == 3  # first try + 2 retries
    assert denial in log_text(logs, name)
    sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)

    iam.attach_role_policy(RoleName=role.rsplit("/", 1)[1], PolicyArn=S3_READ_ONLY)
    proc = subprocess.run([sys.executable, "-m", "sluice", "dlq", "redrive", dlq_url, "--to", name,
                           "--endpoint", server.endpoint], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ": Success after 1 attempt(s)" in proc.stdout
    wait_for("the redriven event to be processed", lambda: "processed denied.txt: 4 bytes" in log_text(logs, name))


def test_queue_mapping_needs_a_role_that_may_poll_the_queue(client: Callable[..., Any]) -> None:
    iam, lam, sqs = client("iam"), client("lambda"), client("sqs")
    _, arn = new_queue(sqs)
    role = new_role(iam)
    name = new_function(lam, FAILING, role)
    role_name = role.rsplit("/", 1)[1]
    for missing, allowed in (("ReceiveMessage", []), ("DeleteMessage", ["sqs:ReceiveMessage"]),
                             ("GetQueueAttributes", ["sqs:ReceiveMessage", "sqs:DeleteMessage"])):
        if allowed:
            iam.put_role_policy(RoleName=role_name, PolicyName="poll", PolicyDocument=document(
                {"Effect": "Allow", "Action": allowed, "Resource": arn}))
        with pytest.raises(ClientError) as exc:
            lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, Enabled=False)
        assert error(exc) == ("InvalidParameterValueException", "The function execution role does not have "
                              f"permissions to call {missing} on SQS", 400)
    iam.delete_role_policy(RoleName=role_name, PolicyName="poll")
    iam.attach_role_policy(RoleName=role_name,
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole")
    mapping = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, Enabled=False)
    assert mapping["EventSourceArn"] == arn
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_dlq_the_role_may_not_send_to_counts_dead_letter_errors(client: Callable[..., Any]) -> None:
    iam, lam, sqs = client("iam"), client("lambda"), client("sqs")
    url, arn = new_queue(sqs)
    name = new_function(lam, FAILING, new_role(iam), DeadLetterConfig={"TargetArn": arn})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
    assert wait_for("DeadLetterErrors", lambda: metric(client, "DeadLetterErrors", name)) == 1
    depth = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_resource_account_condition_stops_a_sniped_failure_bucket(client: Callable[..., Any]) -> None:
    """aws-reference §8: a failure-destination bucket re-created by someone else (another account,
    whose bucket policy lets anyone write) gets nothing when the role's s3:PutObject is limited to
    buckets of its own account."""
    iam, lam = client("iam"), client("lambda")
    own, sniped = unique("own"), unique("sniped")
    client("s3").create_bucket(Bucket=own)
    attacker = client("s3", OTHER, "test")
    attacker.create_bucket(Bucket=sniped)
    attacker.delete_public_access_block(Bucket=sniped)  # new buckets block public policies, as on AWS
    attacker.put_bucket_policy(Bucket=sniped, Policy=document({
        "Effect": "Allow", "Principal": "*", "Action": ["s3:PutObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{sniped}", f"arn:aws:s3:::{sniped}/*"]}))
    role = new_role(iam, {"Effect": "Allow", "Action": ["s3:PutObject", "s3:ListBucket"], "Resource": "*",
                          "Condition": {"StringEquals": {"s3:ResourceAccount": ACCOUNT}}})
    functions = {}
    for bucket in (own, sniped):
        functions[bucket] = new_function(lam, FAILING, role)
        lam.put_function_event_invoke_config(FunctionName=functions[bucket], MaximumRetryAttempts=0, DestinationConfig={
            "OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}})
        lam.invoke(FunctionName=functions[bucket], InvocationType="Event", Payload=b"{}")
    landed = wait_for("the record in the own bucket", lambda: client("s3").list_objects_v2(Bucket=own).get("Contents"))
    assert landed[0]["Key"].startswith(f"aws/lambda/async/{functions[own]}/")
    assert wait_for("DestinationDeliveryFailures", lambda: metric(
        client, "DestinationDeliveryFailures", functions[sniped])) == 1
    assert attacker.list_objects_v2(Bucket=sniped).get("KeyCount") == 0
    assert metric(client, "DestinationDeliveryFailures", functions[own]) == 0


def test_layer_operations_are_authorized_on_the_layer_version(client: Callable[..., Any]) -> None:
    admin = client("lambda")
    name = unique("layer")
    for _ in range(2):
        admin.publish_layer_version(LayerName=name, Content={"ZipFile": zip_code("X = 1\n")})
    version_1 = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:{name}:1"
    _, key, secret = new_user(client("iam"), {"Effect": "Allow", "Action": "lambda:GetLayerVersion",
                                              "Resource": version_1})
    lam = client("lambda", key, secret)
    assert lam.get_layer_version(LayerName=name, VersionNumber=1)["LayerVersionArn"] == version_1
    assert lam.get_layer_version_by_arn(Arn=version_1)["Version"] == 1
    with pytest.raises(ClientError) as exc:
        lam.get_layer_version(LayerName=name, VersionNumber=2)
    assert error(exc)[0] == "AccessDeniedException"
    with pytest.raises(ClientError) as exc:
        lam.publish_layer_version(LayerName=name, Content={"ZipFile": zip_code("X = 2\n")})
    assert error(exc)[0] == "AccessDeniedException"
    assert f"lambda:PublishLayerVersion on resource: arn:aws:lambda:us-east-1:{ACCOUNT}:layer:{name}" in error(exc)[1]
