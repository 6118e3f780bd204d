"""S3 ACLs, Object Ownership and Block Public Access (issue 16), with boto3 and the AWS CLI against
a plain `sluice up`: new buckets as AWS makes them since April 2023 (BucketOwnerEnforced, all four
Block Public Access flags on), canned ACLs, grant headers and AccessControlPolicy bodies on buckets
whose ACLs are enabled, and AWS's errors for each refusal. Who ACL grants let in under
--enforce-iam: test_s3_acl_enforced.py."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsCli, make_client
from .s3_raw import send
from .server import SluiceProcess

ACCOUNT = "000000000000"
OWNER_ID = hashlib.sha256(ACCOUNT.encode()).hexdigest()
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
OWNER_FULL = {"Grantee": {"Type": "CanonicalUser", "ID": OWNER_ID, "DisplayName": ACCOUNT}, "Permission": "FULL_CONTROL"}
ALL_PAB = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def error(call: Callable[..., Any], **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as exc:
        call(**params)
    err = exc.value.response["Error"]
    return err["Code"], err["Message"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def group(uri: str, permission: str) -> dict[str, Any]:
    return {"Grantee": {"Type": "Group", "URI": uri}, "Permission": permission}


@pytest.fixture
def acl_bucket(s3: Any) -> str:
    """A bucket with ACLs enabled (ObjectWriter) and no public access block."""
    name = f"acl-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    s3.delete_public_access_block(Bucket=name)
    return name


def test_new_bucket_is_owner_enforced_with_public_access_blocked(s3: Any, bucket: str) -> None:
    controls = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert controls == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == ALL_PAB
    acl = s3.get_bucket_acl(Bucket=bucket)
    assert acl["Owner"] == {"ID": OWNER_ID, "DisplayName": ACCOUNT}
    assert acl["Grants"] == [OWNER_FULL]
    assert s3.list_buckets()["Owner"] == acl["Owner"]  # one canonical id per account everywhere
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.get_object_acl(Bucket=bucket, Key="k")["Grants"] == [OWNER_FULL]


def test_owner_enforced_refuses_acls_but_bucket_owner_full_control(s3: Any, bucket: str) -> None:
    not_supported = ("AccessControlListNotSupported", "The bucket does not allow ACLs", 400)
    assert error(s3.put_bucket_acl, Bucket=bucket, ACL="private") == not_supported
    assert error(s3.put_object, Bucket=bucket, Key="k", Body=b"x", ACL="public-read") == not_supported
    assert error(s3.put_object, Bucket=bucket, Key="k", Body=b"x", ACL="private") == not_supported
    assert error(s3.create_multipart_upload, Bucket=bucket, Key="k", ACL="authenticated-read") == not_supported
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    assert error(s3.put_object_acl, Bucket=bucket, Key="k", ACL="private") == not_supported
    assert error(s3.copy_object, Bucket=bucket, Key="c", CopySource=f"{bucket}/k", ACL="public-read") == not_supported
    s3.copy_object(Bucket=bucket, Key="c", CopySource=f"{bucket}/k", ACL="bucket-owner-full-control")


def test_create_bucket_acl_must_suit_ownership_and_block_public_access(s3: Any) -> None:
    name = f"acl-{uuid.uuid4().hex[:12]}"
    assert error(s3.create_bucket, Bucket=name, ACL="public-read") == (
        "InvalidBucketAclWithObjectOwnership",
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting", 400)
    assert error(s3.create_bucket, Bucket=name, ACL="public-read", ObjectOwnership="ObjectWriter") == (
        "InvalidBucketAclWithBlockPublicAccessError",
        "Bucket cannot have public ACLs set with BlockPublicAccess enabled", 400)
    s3.create_bucket(Bucket=name, ACL="private")  # the owner's full control is no ACL to refuse
    s3.create_bucket(Bucket=name + "-w", ObjectOwnership="ObjectWriter", GrantRead=f'id="{OWNER_ID}"')
    assert s3.get_bucket_acl(Bucket=name + "-w")["Grants"] == [
        {"Grantee": OWNER_FULL["Grantee"], "Permission": "READ"}]
    assert error(s3.create_bucket, Bucket=name + "-x", ObjectOwnership="Nobody")[0] == "InvalidArgument"


@pytest.mark.parametrize(("canned", "extra"), [
    ("private", []),
    ("public-read", [group(ALL_USERS, "READ")]),
    ("public-read-write", [group(ALL_USERS, "READ"), group(ALL_USERS, "WRITE")]),
    ("authenticated-read", [group(AUTHENTICATED, "READ")]),
    ("log-delivery-write", [group(LOG_DELIVERY, "WRITE"), group(LOG_DELIVERY, "READ_ACP")]),
])
def test_canned_bucket_acls(s3: Any, acl_bucket: str, canned: str, extra: list[dict[str, Any]]) -> None:
    s3.put_bucket_acl(Bucket=acl_bucket, ACL=canned)
    assert s3.get_bucket_acl(Bucket=acl_bucket)["Grants"] == [*extra, OWNER_FULL]  # (the order: acl.canned)


@pytest.mark.parametrize(("canned", "extra"), [
    ("public-read", [group(ALL_USERS, "READ")]),
    ("aws-exec-read", [{"Grantee": {"Type": "CanonicalUser", "ID":
                                    "6aa5a366c34c1cbe25dc49211496e913e0351eb0e8c37aa3477e40942ec6b97c"},
                        "Permission": "READ"}]),
    ("bucket-owner-read", []),  # the writer owns the bucket: nothing to add
    ("bucket-owner-full-control", []),
])
def test_canned_object_acls_on_each_write(s3: Any, acl_bucket: str, canned: str, extra: list[dict[str, Any]]) -> None:
    s3.put_object(Bucket=acl_bucket, Key="put", Body=b"x", ACL=canned)
    s3.copy_object(Bucket=acl_bucket, Key="copy", CopySource=f"{acl_bucket}/put", ACL=canned)
    upload = s3.create_multipart_upload(Bucket=acl_bucket, Key="mpu", ACL=canned)["UploadId"]
    etag = s3.upload_part(Bucket=acl_bucket, Key="mpu", UploadId=upload, PartNumber=1, Body=b"p")["ETag"]
    s3.complete_multipart_upload(Bucket=acl_bucket, Key="mpu", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    for key in ("put", "copy", "mpu"):
        assert s3.get_object_acl(Bucket=acl_bucket, Key=key)["Grants"] == [*extra, OWNER_FULL], key


def test_copy_takes_the_requests_acl_not_the_sources(s3: Any, acl_bucket: str) -> None:
    s3.put_object(Bucket=acl_bucket, Key="src", Body=b"x", ACL="public-read")
    s3.copy_object(Bucket=acl_bucket, Key="dst", CopySource=f"{acl_bucket}/src")
    assert s3.get_object_acl(Bucket=acl_bucket, Key="dst")["Grants"] == [OWNER_FULL]
    s3.put_object(Bucket=acl_bucket, Key="src", Body=b"y")  # a new write: the default ACL again
    assert s3.get_object_acl(Bucket=acl_bucket, Key="src")["Grants"] == [OWNER_FULL]


def test_grant_headers_and_their_errors(s3: Any, acl_bucket: str) -> None:
    other = hashlib.sha256(b"111111111111").hexdigest()
    s3.put_object(Bucket=acl_bucket, Key="k", Body=b"x", GrantRead=f'id="{other}", uri="{AUTHENTICATED}"',
                  GrantFullControl=f'id="{OWNER_ID}"')
    assert s3.get_object_acl(Bucket=acl_bucket, Key="k")["Grants"] == [  # group grants first
        group(AUTHENTICATED, "READ"),
        OWNER_FULL,
        {"Grantee": {"Type": "CanonicalUser", "ID": other}, "Permission": "READ"},
    ]
    assert error(s3.put_object, Bucket=acl_bucket, Key="k", Body=b"x", ACL="private", GrantRead=f'id="{other}"') == (
        "InvalidRequest", "Specifying both Canned ACLs and Header Grants is not allowed", 400)
    assert error(s3.put_object_acl, Bucket=acl_bucket, Key="k", GrantRead="everyone")[:2] == (
        "InvalidArgument", "Argument format not recognized")
    assert error(s3.put_object_acl, Bucket=acl_bucket, Key="k", GrantRead='id="not-an-id"')[:2] == (
        "InvalidArgument", "Invalid id")
    assert error(s3.put_object_acl, Bucket=acl_bucket, Key="k", GrantWrite='emailAddress="nobody@example.com"') == (
        "UnresolvableGrantByEmailAddress", "The e-mail address you provided does not match any account on record.",
        400)


def test_access_control_policy_bodies(s3: Any, acl_bucket: str) -> None:
    other = hashlib.sha256(b"111111111111").hexdigest()
    owner = {"ID": OWNER_ID}
    s3.put_bucket_acl(Bucket=acl_bucket, AccessControlPolicy={"Owner": owner, "Grants": [
        {"Grantee": {"Type": "CanonicalUser", "ID": other}, "Permission": "WRITE"},
        group(LOG_DELIVERY, "READ_ACP"),
    ]})
    assert s3.get_bucket_acl(Bucket=acl_bucket)["Grants"] == [
        group(LOG_DELIVERY, "READ_ACP"), {"Grantee": {"Type": "CanonicalUser", "ID": other}, "Permission": "WRITE"}]

    def refused(grant: dict[str, Any], policy_owner: dict[str, str] = owner) -> tuple[str, str, int]:
        return error(s3.put_bucket_acl, Bucket=acl_bucket,
                     AccessControlPolicy={"Owner": policy_owner, "Grants": [grant]})

    malformed = ("MalformedACLError", "The XML you provided was not well-formed or did not validate against our "
                 "published schema", 400)
    assert refused({"Grantee": {"Type": "CanonicalUser", "ID": other}, "Permission": "EVERYTHING"}) == malformed
    assert refused(group("http://acs.amazonaws.com/groups/global/Everyone", "READ"))[:2] == (
        "InvalidArgument", "Invalid group uri")
    assert refused({"Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "no@example.com"},
                    "Permission": "READ"})[0] == "UnresolvableGrantByEmailAddress"
    assert refused(group(ALL_USERS, "READ"), {"ID": other}) == ("AccessDenied", "Access Denied", 403)
    assert error(s3.put_bucket_acl, Bucket=acl_bucket)[0] == "MissingSecurityHeader"


def test_block_public_acls_refuses_public_grants(s3: Any) -> None:
    name = f"acl-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")  # Block Public Access still on
    denied = ("AccessDenied", "Access Denied", 403)
    assert error(s3.put_bucket_acl, Bucket=name, ACL="public-read") == denied
    assert error(s3.put_object, Bucket=name, Key="k", Body=b"x", ACL="authenticated-read") == denied
    assert error(s3.put_object, Bucket=name, Key="k", Body=b"x", GrantRead=f'uri="{ALL_USERS}"') == denied
    s3.put_object(Bucket=name, Key="k", Body=b"x", ACL="private")
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={"BlockPublicPolicy": True})
    s3.put_object_acl(Bucket=name, Key="k", ACL="public-read")
    assert group(ALL_USERS, "READ") in s3.get_object_acl(Bucket=name, Key="k")["Grants"]


def test_ownership_controls_put_get_delete(s3: Any, acl_bucket: str) -> None:
    s3.put_bucket_acl(Bucket=acl_bucket, ACL="public-read")
    enforced = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert error(s3.put_bucket_ownership_controls, Bucket=acl_bucket, OwnershipControls=enforced) == (
        "InvalidBucketAclWithObjectOwnership",
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting", 400)
    s3.put_bucket_acl(Bucket=acl_bucket, ACL="private")
    s3.put_bucket_ownership_controls(Bucket=acl_bucket, OwnershipControls=enforced)
    assert s3.get_bucket_ownership_controls(Bucket=acl_bucket)["OwnershipControls"] == enforced
    assert error(s3.put_bucket_ownership_controls, Bucket=acl_bucket,
                 OwnershipControls={"Rules": [{"ObjectOwnership": "Whoever"}]})[0] == "MalformedXML"
    assert s3.delete_bucket_ownership_controls(Bucket=acl_bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error(s3.get_bucket_ownership_controls, Bucket=acl_bucket) == (
        "OwnershipControlsNotFoundError", "The bucket ownership controls were not found", 404)
    s3.delete_bucket_ownership_controls(Bucket=acl_bucket)  # deleting what is not there succeeds
    assert error(s3.get_bucket_ownership_controls, Bucket="no-such-bucket-acl")[0] == "NoSuchBucket"


def test_public_access_block_put_get_delete(s3: Any, bucket: str) -> None:
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"IgnorePublicAcls": True})
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": False, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": False}
    assert s3.delete_public_access_block(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error(s3.get_public_access_block, Bucket=bucket) == (
        "NoSuchPublicAccessBlockConfiguration", "The public access block configuration was not found", 404)


def _policy(bucket: str, principal: Any, condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject",
                                 "Resource": f"arn:aws:s3:::{bucket}/*"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.mark.parametrize(("principal", "condition", "public"), [
    ("*", None, True),
    ({"AWS": ["*"]}, {"StringLike": {"s3:prefix": "public/*"}}, True),  # a prefix does not say who calls
    ({"AWS": "*"}, {"StringEquals": {"aws:SourceAccount": "111111111111"}}, False),
    ({"AWS": "*"}, {"StringLike": {"aws:SourceAccount": "11111*"}}, True),
    ("*", {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, False),
    ("*", {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}, True),
    ({"AWS": "arn:aws:iam::111111111111:root"}, None, False),
    ({"Service": "logging.s3.amazonaws.com"}, None, False),
])
def test_policy_status_and_block_public_policy(s3: Any, bucket: str, principal: Any,
                                               condition: dict[str, Any] | None, public: bool) -> None:
    text = _policy(bucket, principal, condition)
    if public:
        assert error(s3.put_bucket_policy, Bucket=bucket, Policy=text) == ("AccessDenied", "Access Denied", 403)
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    s3.put_bucket_policy(Bucket=bucket, Policy=text)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"] == {"IsPublic": public}


def test_aws_cli(aws_cli: AwsCli, s3: Any) -> None:
    name = f"acl-cli-{uuid.uuid4().hex[:10]}"
    aws_cli("s3api", "create-bucket", "--bucket", name, "--object-ownership", "BucketOwnerPreferred")
    out = json.loads(aws_cli("s3api", "get-bucket-ownership-controls", "--bucket", name).stdout)
    assert out["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerPreferred"}]
    aws_cli("s3api", "put-public-access-block", "--bucket", name, "--public-access-block-configuration",
            "BlockPublicAcls=false,IgnorePublicAcls=false,BlockPublicPolicy=true,RestrictPublicBuckets=true")
    aws_cli("s3api", "put-bucket-acl", "--bucket", name, "--acl", "public-read")
    grants = json.loads(aws_cli("s3api", "get-bucket-acl", "--bucket", name).stdout)["Grants"]
    assert grants == [group(ALL_USERS, "READ"), OWNER_FULL]
    aws_cli("s3api", "put-object", "--bucket", name, "--key", "k", "--grant-read", f'uri="{AUTHENTICATED}"')
    grants = json.loads(aws_cli("s3api", "get-object-acl", "--bucket", name, "--key", "k").stdout)["Grants"]
    assert grants == [group(AUTHENTICATED, "READ")]  # grant headers give exactly what they name
    aws_cli("s3api", "delete-public-access-block", "--bucket", name)
    missing = aws_cli("s3api", "get-public-access-block", "--bucket", name, check=False)
    assert missing.returncode != 0 and "NoSuchPublicAccessBlockConfiguration" in missing.stderr
    aws_cli("s3api", "delete-bucket-ownership-controls", "--bucket", name)
    missing = aws_cli("s3api", "get-bucket-ownership-controls", "--bucket", name, check=False)
    assert "OwnershipControlsNotFoundError" in missing.stderr


SSE_S3 = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def test_legacy_bucket_defaults(tmp_path: Path) -> None:
    """`sluice up --s3-legacy-bucket-defaults`: new buckets as before 2023 (and as S3-compatible
    stores make them): ACLs enabled, no ownership controls, no public access block, no default
    encryption (objects written plain unless the request asks)."""
    server = SluiceProcess(tmp_path / "data", "--s3-legacy-bucket-defaults").start()
    try:
        s3 = make_client("s3", server.endpoint)
        s3.create_bucket(Bucket="legacy", ACL="public-read")
        assert s3.get_bucket_acl(Bucket="legacy")["Grants"] == [group(ALL_USERS, "READ"), OWNER_FULL]
        assert error(s3.get_bucket_ownership_controls, Bucket="legacy")[0] == "OwnershipControlsNotFoundError"
        assert error(s3.get_public_access_block, Bucket="legacy")[0] == "NoSuchPublicAccessBlockConfiguration"
        assert error(s3.get_bucket_encryption, Bucket="legacy")[0] == "ServerSideEncryptionConfigurationNotFoundError"
        written = s3.put_object(Bucket="legacy", Key="k", Body=b"x", ACL="public-read-write")
        assert "ServerSideEncryption" not in written
        assert "ServerSideEncryption" not in s3.head_object(Bucket="legacy", Key="k")
        asked = s3.put_object(Bucket="legacy", Key="sse", Body=b"x", ServerSideEncryption="AES256")
        assert asked["ServerSideEncryption"] == s3.get_object(Bucket="legacy", Key="sse")["ServerSideEncryption"]
        s3.put_bucket_encryption(Bucket="legacy", ServerSideEncryptionConfiguration=SSE_S3)
        assert s3.put_object(Bucket="legacy", Key="k2", Body=b"x")["ServerSideEncryption"] == "AES256"
        s3.delete_bucket_encryption(Bucket="legacy")  # back to none, as it was then
        assert error(s3.get_bucket_encryption, Bucket="legacy")[0] == "ServerSideEncryptionConfigurationNotFoundError"
        s3.put_bucket_policy(Bucket="legacy", Policy=_policy("legacy", "*"))
        s3.create_bucket(Bucket="enforced", ObjectOwnership="BucketOwnerEnforced")  # asked for: as asked
        assert error(s3.put_bucket_acl, Bucket="enforced", ACL="private")[0] == "AccessControlListNotSupported"
    finally:
        server.stop()


XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


@pytest.mark.parametrize(("body", "code"), [
    (f"<AccessControlPolicy><Owner><ID>{OWNER_ID}</ID></Owner><AccessControlList><Grant><Grantee {XSI}>"
     "<ID>x</ID></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>",
     "MalformedXML"),  # a grantee without xsi:type: the schema's required attribute (the protocol layer's word)
    (f"<AccessControlPolicy><Owner><ID>{OWNER_ID}</ID></Owner><AccessControlList><Grant>"
     "<Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>", "MalformedACLError"),
    (f'<AccessControlPolicy><Owner><ID>{OWNER_ID}</ID></Owner><AccessControlList><Grant><Grantee {XSI} '
     f'xsi:type="CanonicalUser"><ID>{OWNER_ID}</ID></Grantee></Grant></AccessControlList></AccessControlPolicy>',
     "MalformedACLError"),  # no permission
    ("<AccessControlPolicy><AccessControlList/></AccessControlPolicy>", "MalformedACLError"),  # no owner
    ("<AccessControlPolicy><Owner>", "MalformedXML"),
])
def test_malformed_acl_documents_are_refused(endpoint: str, acl_bucket: str, body: str, code: str) -> None:
    answer = send(endpoint, "PUT", f"/{acl_bucket}?acl", body=body.encode())
    assert (answer.status, answer.error()["Code"]) == (400, code)


@pytest.mark.parametrize(("query", "body"), [
    ("ownershipControls", b"<OwnershipControls/>"),
    ("ownershipControls", b"<OwnershipControls><Rule><ObjectOwnership>x</ObjectOwnership></Rule></OwnershipControls>"),
    ("publicAccessBlock", b"<PublicAccessBlockConfiguration><BlockPublicAcls>maybe</BlockPublicAcls>"
                          b"</PublicAccessBlockConfiguration>"),
    ("acl", b""),
])
def test_bad_configuration_bodies_get_a_4xx(endpoint: str, acl_bucket: str, query: str, body: bytes) -> None:
    answer = send(endpoint, "PUT", f"/{acl_bucket}?{query}", body=body)
    assert 400 <= answer.status < 500, answer.body
