"""ACL grants in the access decision under `sluice up --enforce-iam` (issue 16): a grant to an
account's canonical id (or e-mail) lets that account in, AllUsers lets anonymous callers in,
IgnorePublicAcls and BucketOwnerEnforced take the grants away, RestrictPublicBuckets confines a
public bucket policy to the owner's account, and Object Ownership decides who owns a new object."""

from __future__ import annotations

import hashlib
import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import REGION
from .server import SluiceProcess

MAIN = "000000000000"
ALT = "222222222222"
ALT_KEY, ALT_SECRET, ALT_EMAIL = "AKIAALTACCOUNT000001", "alt-secret", "alt@example.com"
ALT_ID = hashlib.sha256(ALT.encode()).hexdigest()
MAIN_ID = hashlib.sha256(MAIN.encode()).hexdigest()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    base: Path = tmp_path_factory.mktemp("acl-enforced")
    credentials = base / "credentials.json"
    credentials.write_text(json.dumps({ALT_KEY: {"secret": ALT_SECRET, "account": ALT, "email": ALT_EMAIL}}))
    proc = SluiceProcess(base / "data", "--enforce-iam", "--credentials", str(credentials)).start()
    yield proc
    proc.stop()


def _client(endpoint: str, key: str = "test", secret: str = "test", **config: Any) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}, **config))


@pytest.fixture(scope="module")
def main(server: SluiceProcess) -> Any:
    return _client(server.endpoint)


@pytest.fixture(scope="module")
def alt(server: SluiceProcess) -> Any:
    return _client(server.endpoint, ALT_KEY, ALT_SECRET)


@pytest.fixture(scope="module")
def anonymous(server: SluiceProcess) -> Any:
    return _client(server.endpoint, signature_version=UNSIGNED)


@pytest.fixture
def bucket(main: Any) -> str:
    """ACLs enabled (ObjectWriter), no public access block, one private object "k"."""
    name = f"acl-{uuid.uuid4().hex[:12]}"
    main.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    main.delete_public_access_block(Bucket=name)
    main.put_object(Bucket=name, Key="k", Body=b"secret")
    return name


def denied(call: Any, **params: Any) -> bool:
    with pytest.raises(ClientError) as exc:
        call(**params)
    return exc.value.response["Error"]["Code"] == "AccessDenied"


def test_a_grant_to_an_account_lets_it_in(main: Any, alt: Any, bucket: str) -> None:
    assert denied(alt.get_object, Bucket=bucket, Key="k")
    assert denied(alt.get_object_acl, Bucket=bucket, Key="k")
    main.put_object_acl(Bucket=bucket, Key="k", GrantRead=f'id="{ALT_ID}"', GrantFullControl=f'id="{MAIN_ID}"')
    assert alt.get_object(Bucket=bucket, Key="k")["Body"].read() == b"secret"
    assert denied(alt.get_object_acl, Bucket=bucket, Key="k")  # READ is not READ_ACP
    main.put_object_acl(Bucket=bucket, Key="k", AccessControlPolicy={"Owner": {"ID": MAIN_ID}, "Grants": [
        {"Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": ALT_EMAIL}, "Permission": "READ_ACP"}]})
    grants = alt.get_object_acl(Bucket=bucket, Key="k")["Grants"]
    # An e-mail grant is kept as the account's canonical user, as S3 answers it.
    assert grants == [{"Grantee": {"Type": "CanonicalUser", "ID": ALT_ID, "DisplayName": ALT},
                       "Permission": "READ_ACP"}]
    assert denied(alt.get_object, Bucket=bucket, Key="k")  # the new ACL replaced the READ grant


def test_bucket_grants_cover_listing_and_writing(main: Any, alt: Any, anonymous: Any, bucket: str) -> None:
    assert denied(alt.list_objects_v2, Bucket=bucket)
    assert denied(alt.put_object, Bucket=bucket, Key="from-alt", Body=b"a")
    main.put_bucket_acl(Bucket=bucket, GrantRead=f'id="{ALT_ID}"', GrantWrite=f'emailAddress="{ALT_EMAIL}"',
                        GrantFullControl=f'id="{MAIN_ID}"')
    assert [o["Key"] for o in alt.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
    alt.put_object(Bucket=bucket, Key="from-alt", Body=b"a")
    # ObjectWriter: the writer owns what it writes.
    assert alt.get_object_acl(Bucket=bucket, Key="from-alt")["Owner"] == {"ID": ALT_ID, "DisplayName": ALT}
    assert denied(anonymous.list_objects_v2, Bucket=bucket)
    main.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert [o["Key"] for o in anonymous.list_objects_v2(Bucket=bucket)["Contents"]] == ["from-alt", "k"]


def test_public_read_and_ignore_public_acls(main: Any, anonymous: Any, bucket: str) -> None:
    assert denied(anonymous.get_object, Bucket=bucket, Key="k")
    main.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    assert anonymous.get_object(Bucket=bucket, Key="k")["Body"].read() == b"secret"
    main.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"IgnorePublicAcls": True})
    assert denied(anonymous.get_object, Bucket=bucket, Key="k")


def test_owner_enforced_turns_acls_off(main: Any, alt: Any, bucket: str) -> None:
    main.put_object_acl(Bucket=bucket, Key="k", GrantRead=f'id="{ALT_ID}"')
    assert alt.get_object(Bucket=bucket, Key="k")["Body"].read() == b"secret"
    main.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert denied(alt.get_object, Bucket=bucket, Key="k")
    acl = main.get_object_acl(Bucket=bucket, Key="k")  # reads show the owner's full control
    assert acl["Grants"] == [{"Grantee": {"Type": "CanonicalUser", "ID": MAIN_ID, "DisplayName": MAIN},
                              "Permission": "FULL_CONTROL"}]


def test_bucket_owner_preferred_takes_objects_given_full_control(main: Any, alt: Any, bucket: str) -> None:
    main.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    main.put_bucket_acl(Bucket=bucket, GrantWrite=f'id="{ALT_ID}"', GrantFullControl=f'id="{MAIN_ID}"')
    alt.put_object(Bucket=bucket, Key="given", Body=b"g", ACL="bucket-owner-full-control")
    assert main.get_object_acl(Bucket=bucket, Key="given")["Owner"]["ID"] == MAIN_ID
    alt.put_object(Bucket=bucket, Key="kept", Body=b"k")
    assert alt.get_object_acl(Bucket=bucket, Key="kept")["Owner"]["ID"] == ALT_ID


def test_multipart_uploads_list_each_uploads_own_owner(main: Any, alt: Any, bucket: str) -> None:
    """Under ObjectWriter another account's upload is its own: ListMultipartUploads names each
    upload's owner and initiator, whoever lists them (s3-tests' test_list_multipart_upload_owner)."""
    main.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    mine = main.create_multipart_upload(Bucket=bucket, Key="up-main")["UploadId"]
    theirs = alt.create_multipart_upload(Bucket=bucket, Key="up-alt")["UploadId"]
    for caller in (main, alt):
        uploads = {u["UploadId"]: u for u in caller.list_multipart_uploads(Bucket=bucket)["Uploads"]}
        for upload_id, owner_id, name in ((mine, MAIN_ID, MAIN), (theirs, ALT_ID, ALT)):
            assert uploads[upload_id]["Owner"] == {"ID": owner_id, "DisplayName": name}
            assert uploads[upload_id]["Initiator"] == {"ID": owner_id, "DisplayName": name}
    main.abort_multipart_upload(Bucket=bucket, Key="up-main", UploadId=mine)
    alt.abort_multipart_upload(Bucket=bucket, Key="up-alt", UploadId=theirs)


def test_an_upload_names_who_started_it(main: Any, alt: Any, bucket: str) -> None:
    """Under BucketOwnerEnforced the bucket owner owns every upload, yet ListParts and
    ListMultipartUploads name the account that started it as its Initiator, whoever asks."""
    main.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    main.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ALT}:root"},
        "Action": ["s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
        "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    upload_id = alt.create_multipart_upload(Bucket=bucket, Key="by-alt")["UploadId"]
    for caller in (main, alt):
        parts = caller.list_parts(Bucket=bucket, Key="by-alt", UploadId=upload_id)
        assert parts["Initiator"] == {"ID": ALT_ID, "DisplayName": ALT}
        assert parts["Owner"] == {"ID": MAIN_ID, "DisplayName": MAIN}
    listed = main.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Initiator"]["ID"], u["Owner"]["ID"]) for u in listed] == [(ALT_ID, MAIN_ID)]
    alt.abort_multipart_upload(Bucket=bucket, Key="by-alt", UploadId=upload_id)


def _first_status_line(endpoint: str, path: str) -> str:
    """The first status line answering an unsigned PUT that waits for "100 Continue" (body not sent)."""
    host, port = endpoint.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(f"PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 10\r\n"
                     "Expect: 100-continue\r\n\r\n".encode())
        return conn.makefile("rb").readline().decode().strip()


def test_a_refused_anonymous_upload_is_answered_before_100_continue(server: SluiceProcess, main: Any,
                                                                     bucket: str) -> None:
    """S3 refuses before asking for the body (s3-tests' test_100_continue); once the ACL lets
    everyone write, the client is told to send it."""
    assert _first_status_line(server.endpoint, f"/{bucket}/waiting").startswith("HTTP/1.1 403")
    main.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    assert _first_status_line(server.endpoint, f"/{bucket}/waiting") == "HTTP/1.1 100 Continue"


def test_restrict_public_buckets_confines_a_public_policy(main: Any, alt: Any, anonymous: Any, bucket: str) -> None:
    main.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    assert anonymous.get_object(Bucket=bucket, Key="k")["Body"].read() == b"secret"
    assert alt.get_object(Bucket=bucket, Key="k")["Body"].read() == b"secret"
    main.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"RestrictPublicBuckets": True})
    assert denied(anonymous.get_object, Bucket=bucket, Key="k")
    assert denied(alt.get_object, Bucket=bucket, Key="k")
    assert main.get_object(Bucket=bucket, Key="k")["Body"].read() == b"secret"


def test_an_object_another_account_owns_is_read_by_its_acl_alone(main: Any, alt: Any, bucket: str) -> None:
    main.put_bucket_acl(Bucket=bucket, GrantWrite=f'id="{ALT_ID}"', GrantFullControl=f'id="{MAIN_ID}"')
    alt.put_object(Bucket=bucket, Key="alts", Body=b"mine")
    assert denied(main.get_object, Bucket=bucket, Key="alts")  # the bucket's owner, but not the object's
    assert denied(main.get_object_acl, Bucket=bucket, Key="alts")
    main.delete_object(Bucket=bucket, Key="alts")  # deleting is the bucket's business
    alt.put_object(Bucket=bucket, Key="shared", Body=b"ours", ACL="bucket-owner-full-control")
    assert main.get_object(Bucket=bucket, Key="shared")["Body"].read() == b"ours"
    assert main.get_object_acl(Bucket=bucket, Key="shared")["Owner"]["ID"] == ALT_ID


def _user(server: SluiceProcess, root_key: str, root_secret: str, name: str, *actions: str) -> Any:
    """An S3 client for a new IAM user of the root key's account, allowed `actions` on "*"."""
    iam = boto3.client("iam", endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id=root_key,
                       aws_secret_access_key=root_secret)
    iam.create_user(UserName=name)
    if actions:
        iam.put_user_policy(UserName=name, PolicyName="s3", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return _client(server.endpoint, key["AccessKeyId"], key["SecretAccessKey"])


def test_a_grant_to_an_account_is_to_its_root(server: SluiceProcess, main: Any, bucket: str) -> None:
    """An ACL grant names an account, as a policy naming the account's root: its users and roles
    still need their own identity policy (the owner's full control lets no user of the owner's
    account in by itself), while AllUsers lets anyone in."""
    tag = uuid.uuid4().hex[:8]
    nobody = _user(server, "test", "test", f"nobody-{tag}")
    assert denied(nobody.get_object, Bucket=bucket, Key="k")
    assert denied(nobody.put_object, Bucket=bucket, Key="n", Body=b"n")
    main.put_object_acl(Bucket=bucket, Key="k", GrantRead=f'id="{ALT_ID}"', GrantFullControl=f'id="{MAIN_ID}"')
    alt_reader = _user(server, ALT_KEY, ALT_SECRET, f"reader-{tag}", "s3:GetObject")
    alt_idle = _user(server, ALT_KEY, ALT_SECRET, f"idle-{tag}")
    assert alt_reader.get_object(Bucket=bucket, Key="k")["Body"].read() == b"secret"
    assert denied(alt_idle.get_object, Bucket=bucket, Key="k")
    main.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    assert nobody.get_object(Bucket=bucket, Key="k")["Body"].read() == b"secret"
