"""AWS::S3::Bucket's access and configuration properties through real stacks: Object Ownership,
Block Public Access, a canned ACL, CORS and default encryption applied on create, changed in place
on update, and put back to a new bucket's defaults when removed; a public bucket policy that needs
Block Public Access relaxed first. Checked with boto3 against the server, as a user would."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import make_client
from .test_cfn_resources import failures, outputs, physical, settle

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
OPEN = {"BlockPublicAcls": False, "BlockPublicPolicy": False, "IgnorePublicAcls": False,
        "RestrictPublicBuckets": False}
BLOCKED = dict.fromkeys(OPEN, True)


@pytest.fixture(scope="module")
def cfn(endpoint: str) -> Any:
    return make_client("cloudformation", endpoint)


@pytest.fixture(scope="module")
def s3(endpoint: str) -> Any:
    return make_client("s3", endpoint)


def bucket_template(properties: dict[str, Any], policy: bool = False) -> str:
    resources: dict[str, Any] = {"Site": {"Type": "AWS::S3::Bucket", "Properties": properties}}
    if policy:  # public reads: refused while BlockPublicPolicy is on
        resources["SitePolicy"] = {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "Site"},
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Resource": {"Fn::Sub": "arn:aws:s3:::${Site}/*"}}]}}}
    return json.dumps({"Resources": resources, "Outputs": {"Name": {"Value": {"Ref": "Site"}}}})


def deploy(cfn: Any, stack: str, body: str, update: bool = False) -> dict[str, Any]:
    (cfn.update_stack if update else cfn.create_stack)(StackName=stack, TemplateBody=body)
    found = settle(cfn, stack)
    assert found["StackStatus"] == ("UPDATE_COMPLETE" if update else "CREATE_COMPLETE"), failures(cfn, stack)
    return found


def error_code(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call(**params)
    return str(refused.value.response["Error"]["Code"])


CONFIGURED = {
    "OwnershipControls": {"Rules": [{"ObjectOwnership": "ObjectWriter"}]},
    "PublicAccessBlockConfiguration": {**OPEN, "BlockPublicPolicy": "true"},  # strings, as YAML often gives
    "AccessControl": "PublicRead",
    "CorsConfiguration": {"CorsRules": [{"Id": "site", "AllowedMethods": ["GET", "HEAD"],
                                         "AllowedOrigins": ["https://example.com"], "AllowedHeaders": ["*"],
                                         "ExposedHeaders": ["ETag"], "MaxAge": 600}]},
    "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
        "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/site"},
        "BucketKeyEnabled": True}]},
}


def test_bucket_configuration_applied_changed_in_place_and_put_back_to_the_defaults(cfn: Any, s3: Any) -> None:
    stack = f"site-{uuid.uuid4().hex[:6]}"
    created = deploy(cfn, stack, bucket_template(CONFIGURED))
    bucket = outputs(created)["Name"]

    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "ObjectWriter"}]
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        **OPEN, "BlockPublicPolicy": True}
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert {"Type": "Group", "URI": ALL_USERS} in [g["Grantee"] for g in grants if g["Permission"] == "READ"]
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == [{
        "ID": "site", "AllowedHeaders": ["*"], "AllowedMethods": ["GET", "HEAD"],
        "AllowedOrigins": ["https://example.com"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}]
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"] == [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/site"},
        "BucketKeyEnabled": True}]

    changed = {**CONFIGURED, "AccessControl": "Private",
               "PublicAccessBlockConfiguration": BLOCKED,
               "CorsConfiguration": {"CorsRules": [{"AllowedMethods": ["PUT"], "AllowedOrigins": ["*"]}]},
               "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
                   "ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}}
    deploy(cfn, stack, bucket_template(changed), update=True)
    assert physical(cfn, stack)["Site"] == bucket  # in place
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == BLOCKED
    assert [g["Grantee"].get("URI") for g in s3.get_bucket_acl(Bucket=bucket)["Grants"]] == [None]  # owner only
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == [{"AllowedMethods": ["PUT"], "AllowedOrigins": ["*"]}]
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}

    deploy(cfn, stack, bucket_template({**CONFIGURED, "Tags": [{"Key": "k", "Value": "v"}]}), update=True)
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        **OPEN, "BlockPublicPolicy": True}  # and back, the public ACL with it
    assert ALL_USERS in [g["Grantee"].get("URI") for g in s3.get_bucket_acl(Bucket=bucket)["Grants"]]

    deploy(cfn, stack, bucket_template({"Tags": [{"Key": "k", "Value": "v"}]}), update=True)  # all removed
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == BLOCKED
    assert [g["Grantee"].get("URI") for g in s3.get_bucket_acl(Bucket=bucket)["Grants"]] == [None]
    assert error_code(s3.get_bucket_cors, Bucket=bucket) == "NoSuchCORSConfiguration"
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}  # S3's default: SSE-S3

    cfn.delete_stack(StackName=stack)
    assert settle(cfn, created["StackId"])["StackStatus"] == "DELETE_COMPLETE", failures(cfn, created["StackId"])


def test_a_public_bucket_policy_needs_block_public_access_relaxed_by_the_template(cfn: Any, s3: Any) -> None:
    stack = f"blocked-{uuid.uuid4().hex[:6]}"
    cfn.create_stack(StackName=stack, TemplateBody=bucket_template({}, policy=True))
    assert settle(cfn, stack)["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = dict(failures(cfn, stack))["SitePolicy"]
    assert reason.startswith('Resource handler returned message: "Access Denied') and "AccessDenied" in reason

    stack = f"public-{uuid.uuid4().hex[:6]}"
    found = deploy(cfn, stack, bucket_template({"PublicAccessBlockConfiguration": OPEN}, policy=True))
    bucket = outputs(found)["Name"]
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][0]["Principal"] == "*"
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    cfn.delete_stack(StackName=stack)
    assert settle(cfn, found["StackId"])["StackStatus"] == "DELETE_COMPLETE"


def test_a_public_acl_without_acls_enabled_fails_as_on_aws(cfn: Any) -> None:
    stack = f"acl-{uuid.uuid4().hex[:6]}"
    cfn.create_stack(StackName=stack, TemplateBody=bucket_template({"AccessControl": "PublicRead"}))
    assert settle(cfn, stack)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "AccessControlListNotSupported" in dict(failures(cfn, stack))["Site"]


def test_lifecycle_rules_applied_changed_and_removed(cfn: Any, s3: Any) -> None:
    stack = f"aging-{uuid.uuid4().hex[:6]}"
    lifecycle = {"Rules": [
        {"Id": "logs", "Status": "Enabled", "Prefix": "logs/", "ExpirationInDays": 7,
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
        {"Id": "big-tagged", "Status": "Enabled", "TagFilters": [{"Key": "tier", "Value": "tmp"}],
         "ObjectSizeGreaterThan": 1024, "NoncurrentVersionExpiration": {"NoncurrentDays": 3},
         "Transitions": [{"TransitionInDays": 30, "StorageClass": "GLACIER"}]},
    ]}
    bucket = outputs(deploy(cfn, stack, bucket_template({"LifecycleConfiguration": lifecycle})))["Name"]
    rules = {rule["ID"]: rule for rule in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["logs"]["Filter"] == {"Prefix": "logs/"}
    assert rules["logs"]["Expiration"] == {"Days": 7}
    assert rules["logs"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert rules["big-tagged"]["Filter"] == {"And": {"Tags": [{"Key": "tier", "Value": "tmp"}],
                                                     "ObjectSizeGreaterThan": 1024}}
    assert rules["big-tagged"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 3
    assert rules["big-tagged"]["Transitions"] == [{"Days": 30, "StorageClass": "GLACIER"}]

    changed = {"Rules": [{"Id": "logs", "Status": "Disabled", "Prefix": "logs/", "ExpirationInDays": 30}]}
    deploy(cfn, stack, bucket_template({"LifecycleConfiguration": changed}), update=True)
    assert [(r["ID"], r["Status"], r["Expiration"]) for r in
            s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]] == [("logs", "Disabled", {"Days": 30})]

    deploy(cfn, stack, bucket_template({}), update=True)
    assert error_code(s3.get_bucket_lifecycle_configuration, Bucket=bucket) == "NoSuchLifecycleConfiguration"
    cfn.delete_stack(StackName=stack)
