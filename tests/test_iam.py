"""IAM against a real server with boto3 and the AWS CLI: roles, users, inline and managed policies,
AWS managed policies, versions, attachments, access keys, tags, errors, accounts, restarts."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from .conftest import make_client
from .server import SluiceProcess

TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
S3_READ = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/*"}]}
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def name(prefix: str = "r") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def iam(endpoint: str) -> Any:
    return make_client("iam", endpoint)


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    e = exc.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def test_role_lifecycle(iam: Any) -> None:
    role_name = name()
    created = iam.create_role(RoleName=role_name, Path="/service/", AssumeRolePolicyDocument=json.dumps(TRUST),
                              Description="d", MaxSessionDuration=7200)["Role"]
    assert re.fullmatch(r"AROA[A-Z2-7]{17}", created["RoleId"])
    assert created["Arn"] == f"arn:aws:iam::000000000000:role/service/{role_name}"
    assert created["AssumeRolePolicyDocument"] == TRUST  # URL-encoded on the wire, decoded by botocore
    assert created["MaxSessionDuration"] == 7200

    got = iam.get_role(RoleName=role_name.upper())["Role"]  # names are case-insensitive
    assert got["RoleName"] == role_name and got["RoleId"] == created["RoleId"] and got["Description"] == "d"
    assert got["CreateDate"] == created["CreateDate"]

    listed = iam.list_roles(PathPrefix="/service/")["Roles"]
    assert role_name in [r["RoleName"] for r in listed]

    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST))
    assert error(exc) == ("EntityAlreadyExists", f"Role with name {role_name} already exists.", 409)

    new_trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "sts:AssumeRole"}]}
    iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps(new_trust))
    assert iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"] == new_trust

    iam.delete_role(RoleName=role_name)
    with pytest.raises(ClientError) as exc:
        iam.get_role(RoleName=role_name)
    assert error(exc) == ("NoSuchEntity", f"The role with name {role_name} cannot be found.", 404)


def test_bad_input_gets_iam_errors(iam: Any) -> None:
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="bad name", AssumeRolePolicyDocument=json.dumps(TRUST))
    assert error(exc) == ("ValidationError", "1 validation error detected: Value 'bad name' at 'roleName' failed to "
                          "satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", 400)
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=name(), Path="no-slashes", AssumeRolePolicyDocument=json.dumps(TRUST))
    assert error(exc)[0] == "ValidationError"
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=name(), AssumeRolePolicyDocument="{not json")
    assert error(exc)[0] == "MalformedPolicyDocument"
    with pytest.raises(ClientError) as exc:  # a trust policy names who may assume the role
        iam.create_role(RoleName=name(), AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}))
    assert error(exc) == ("MalformedPolicyDocument", "Missing required field Principal", 400)
    role_name = name()
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST))
    with pytest.raises(ClientError) as exc:  # an identity policy must not
        iam.put_role_policy(RoleName=role_name, PolicyName="p", PolicyDocument=json.dumps(TRUST))
    assert error(exc) == ("MalformedPolicyDocument", "Policy document should not specify a principal.", 400)
    unchecked = make_client("iam", iam.meta.endpoint_url, parameter_validation=False)
    with pytest.raises(ClientError) as exc:
        unchecked.update_role(RoleName=role_name, MaxSessionDuration=60)
    assert error(exc) == ("ValidationError", "1 validation error detected: Value '60' at 'maxSessionDuration' failed "
                          "to satisfy constraint: Member must have value greater than or equal to 3600", 400)
    iam.delete_role(RoleName=role_name)


def test_inline_role_policies_and_delete_conflict(iam: Any) -> None:
    role_name = name()
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName=role_name, PolicyName="read", PolicyDocument=json.dumps(S3_READ))
    got = iam.get_role_policy(RoleName=role_name, PolicyName="read")
    assert got["PolicyDocument"] == S3_READ and got["RoleName"] == role_name
    assert iam.list_role_policies(RoleName=role_name)["PolicyNames"] == ["read"]

    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName=role_name)
    assert error(exc) == ("DeleteConflict", "Cannot delete entity, must delete policies first.", 409)
    with pytest.raises(ClientError) as exc:
        iam.get_role_policy(RoleName=role_name, PolicyName="nope")
    assert error(exc) == ("NoSuchEntity", "The role policy with name nope cannot be found.", 404)

    big = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{'x' * 11000}/*"}]}
    with pytest.raises(ClientError) as exc:
        iam.put_role_policy(RoleName=role_name, PolicyName="big", PolicyDocument=json.dumps(big))
    assert error(exc) == ("LimitExceeded", f"Maximum policy size of 10240 bytes exceeded for role {role_name}", 409)

    iam.delete_role_policy(RoleName=role_name, PolicyName="read")
    assert iam.list_role_policies(RoleName=role_name)["PolicyNames"] == []
    iam.delete_role(RoleName=role_name)


def test_aws_managed_policies(iam: Any) -> None:
    policy = iam.get_policy(PolicyArn=BASIC)["Policy"]
    assert policy["PolicyName"] == "AWSLambdaBasicExecutionRole" and policy["Path"] == "/service-role/"
    assert re.fullmatch(r"ANPA[A-Z2-7]{17}", policy["PolicyId"]) and policy["IsAttachable"]
    version = iam.get_policy_version(PolicyArn=BASIC, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
    assert version["Document"]["Statement"][0]["Action"] == [
        "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    admin = iam.get_policy_version(PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess", VersionId="v1")
    assert admin["PolicyVersion"]["Document"]["Statement"][0]["Action"] == "*"

    arns = {p["Arn"] for p in iam.list_policies(Scope="AWS")["Policies"]}
    assert {BASIC, "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess", "arn:aws:iam::aws:policy/AmazonSQSFullAccess",
            "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"} <= arns
    assert not any(":aws:policy/" not in a for a in arns)
    for p in iam.list_policies(Scope="AWS")["Policies"]:  # every document is there, decoded by botocore
        doc = iam.get_policy_version(PolicyArn=p["Arn"], VersionId=p["DefaultVersionId"])["PolicyVersion"]["Document"]
        assert doc["Version"] == "2012-10-17" and doc["Statement"]

    with pytest.raises(ClientError) as exc:
        iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy")
    assert error(exc) == ("NoSuchEntity", "Policy arn:aws:iam::aws:policy/NoSuchPolicy was not found.", 404)
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=BASIC)
    assert error(exc)[0] == "AccessDenied"


def test_attach_detach_and_only_attached(iam: Any) -> None:
    role_name = name()
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.attach_role_policy(RoleName=role_name, PolicyArn=BASIC)
    iam.attach_role_policy(RoleName=role_name, PolicyArn=BASIC)  # again: no-op
    attached = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    assert attached == [{"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": BASIC}]
    assert iam.get_policy(PolicyArn=BASIC)["Policy"]["AttachmentCount"] >= 1
    only = {p["Arn"] for p in iam.list_policies(OnlyAttached=True)["Policies"]}
    assert BASIC in only and "arn:aws:iam::aws:policy/AdministratorAccess" not in only

    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName=role_name)
    assert error(exc) == ("DeleteConflict", "Cannot delete entity, must detach all policies first.", 409)
    bogus = "arn:aws:iam::000000000000:policy/nothing-here"
    with pytest.raises(ClientError) as exc:
        iam.attach_role_policy(RoleName=role_name, PolicyArn=bogus)
    assert error(exc) == ("NoSuchEntity", f"Policy {bogus} does not exist or is not attachable.", 404)

    iam.detach_role_policy(RoleName=role_name, PolicyArn=BASIC)
    with pytest.raises(ClientError) as exc:
        iam.detach_role_policy(RoleName=role_name, PolicyArn=BASIC)
    assert error(exc) == ("NoSuchEntity", f"Policy {BASIC} was not found.", 404)
    iam.delete_role(RoleName=role_name)


def test_customer_managed_policy_versions(iam: Any) -> None:
    policy_name = name("p")
    policy = iam.create_policy(PolicyName=policy_name, Path="/team/", PolicyDocument=json.dumps(S3_READ),
                               Description="reads")["Policy"]
    arn = f"arn:aws:iam::000000000000:policy/team/{policy_name}"
    assert policy["Arn"] == arn and policy["DefaultVersionId"] == "v1" and policy["AttachmentCount"] == 0
    with pytest.raises(ClientError) as exc:
        iam.create_policy(PolicyName=policy_name, PolicyDocument=json.dumps(S3_READ))
    assert error(exc) == ("EntityAlreadyExists",
                          f"A policy called {policy_name} already exists. Duplicate names are not allowed.", 409)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Description"] == "reads"
    assert arn in {p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]}

    v2 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}
    created = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(v2), SetAsDefault=True)
    assert created["PolicyVersion"]["VersionId"] == "v2" and created["PolicyVersion"]["IsDefaultVersion"]
    assert iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]["Document"] == v2
    for _ in range(3):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(S3_READ))
    with pytest.raises(ClientError) as exc:  # five versions at most
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(S3_READ))
    assert error(exc) == ("LimitExceeded", "A managed policy can have up to 5 versions. Before you create a new "
                          "version, you must delete an existing version.", 409)
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == ["v1", "v2", "v3", "v4", "v5"]
    assert [v["VersionId"] for v in versions if v["IsDefaultVersion"]] == ["v2"]

    with pytest.raises(ClientError) as exc:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
    assert error(exc) == ("DeleteConflict", "Cannot delete the default version of a policy.", 409)
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v5")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v5"
    with pytest.raises(ClientError) as exc:
        iam.get_policy_version(PolicyArn=arn, VersionId="v9")
    assert error(exc)[0:2] == ("NoSuchEntity", f"Policy {arn} version v9 does not exist or is not attachable.")

    role_name = name()
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.attach_role_policy(RoleName=role_name, PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    assert error(exc) == ("DeleteConflict", "Cannot delete a policy attached to entities.", 409)
    iam.detach_role_policy(RoleName=role_name, PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    assert error(exc)[0] == "DeleteConflict"  # the other versions go first
    for v in ("v1", "v2", "v3", "v4"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.get_policy(PolicyArn=arn)
    assert error(exc)[0] == "NoSuchEntity"
    iam.delete_role(RoleName=role_name)


def test_users_policies_and_access_keys(iam: Any, endpoint: str) -> None:
    user_name = name("u")
    user = iam.create_user(UserName=user_name)["User"]
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", user["UserId"])
    assert user["Arn"] == f"arn:aws:iam::000000000000:user/{user_name}"
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName=user_name)
    assert error(exc) == ("EntityAlreadyExists", f"User with name {user_name} already exists.", 409)
    iam.put_user_policy(UserName=user_name, PolicyName="read", PolicyDocument=json.dumps(S3_READ))
    assert iam.get_user_policy(UserName=user_name, PolicyName="read")["PolicyDocument"] == S3_READ
    iam.attach_user_policy(UserName=user_name, PolicyArn="arn:aws:iam::aws:policy/AmazonSQSFullAccess")
    assert [p["PolicyName"] for p in iam.list_attached_user_policies(UserName=user_name)["AttachedPolicies"]] == [
        "AmazonSQSFullAccess"]

    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", key["AccessKeyId"]) and len(key["SecretAccessKey"]) == 40
    iam.create_access_key(UserName=user_name)
    with pytest.raises(ClientError) as exc:
        iam.create_access_key(UserName=user_name)
    assert error(exc) == ("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", 409)

    # The new key is the user's: STS and IAM see the user behind it.
    as_user = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    me = as_user.get_caller_identity()
    assert (me["Arn"], me["UserId"], me["Account"]) == (user["Arn"], user["UserId"], "000000000000")

    iam.update_access_key(UserName=user_name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    statuses = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]}
    assert statuses[key["AccessKeyId"]] == "Inactive" and len(statuses) == 2

    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName=user_name)
    assert error(exc) == ("DeleteConflict", "Cannot delete entity, must delete access keys first.", 409)
    for k in statuses:
        iam.delete_access_key(UserName=user_name, AccessKeyId=k)
    with pytest.raises(ClientError) as exc:
        iam.delete_access_key(UserName=user_name, AccessKeyId=key["AccessKeyId"])
    assert error(exc) == ("NoSuchEntity", f"The Access Key with id {key['AccessKeyId']} cannot be found.", 404)
    iam.detach_user_policy(UserName=user_name, PolicyArn="arn:aws:iam::aws:policy/AmazonSQSFullAccess")
    iam.delete_user_policy(UserName=user_name, PolicyName="read")
    iam.delete_user(UserName=user_name)
    assert user_name not in [u["UserName"] for u in iam.list_users()["Users"]]


def test_role_tags_and_paging(iam: Any) -> None:
    prefix = f"/page{uuid.uuid4().hex[:6]}/"
    names = sorted(name() for _ in range(3))
    for n in names:
        iam.create_role(RoleName=n, Path=prefix, AssumeRolePolicyDocument=json.dumps(TRUST))
    first = iam.list_roles(PathPrefix=prefix, MaxItems=2)
    assert first["IsTruncated"] and [r["RoleName"] for r in first["Roles"]] == names[:2]
    rest = iam.list_roles(PathPrefix=prefix, MaxItems=2, Marker=first["Marker"])
    assert not rest["IsTruncated"] and [r["RoleName"] for r in rest["Roles"]] == names[2:]

    iam.tag_role(RoleName=names[0], Tags=[{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "dev"}])
    iam.untag_role(RoleName=names[0], TagKeys=["env"])
    assert iam.list_role_tags(RoleName=names[0])["Tags"] == [{"Key": "team", "Value": "a"}]
    for n in names:
        iam.delete_role(RoleName=n)


def test_aws_cli(aws_cli: Any) -> None:
    role_name = name()
    out = json.loads(aws_cli("iam", "create-role", "--role-name", role_name,
                             "--assume-role-policy-document", json.dumps(TRUST)).stdout)
    assert out["Role"]["RoleName"] == role_name and out["Role"]["AssumeRolePolicyDocument"] == TRUST
    aws_cli("iam", "attach-role-policy", "--role-name", role_name, "--policy-arn", BASIC)
    listed = json.loads(aws_cli("iam", "list-attached-role-policies", "--role-name", role_name).stdout)
    assert listed["AttachedPolicies"] == [{"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": BASIC}]
    failed = aws_cli("iam", "delete-role", "--role-name", role_name, check=False)
    assert failed.returncode != 0 and "DeleteConflict" in failed.stderr
    aws_cli("iam", "detach-role-policy", "--role-name", role_name, "--policy-arn", BASIC)
    aws_cli("iam", "delete-role", "--role-name", role_name)
    me = json.loads(aws_cli("sts", "get-caller-identity").stdout)
    assert me == {"UserId": "000000000000", "Account": "000000000000", "Arn": "arn:aws:iam::000000000000:root"}


def test_entities_belong_to_the_callers_account(endpoint: str) -> None:
    def client(account: str) -> Any:
        return boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id=account, aws_secret_access_key="test")

    role_name = name()
    other, default = client("111111111111"), make_client("iam", endpoint)
    role = other.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
    assert role["Arn"] == f"arn:aws:iam::111111111111:role/{role_name}"
    with pytest.raises(ClientError) as exc:
        default.get_role(RoleName=role_name)  # not in 000000000000
    assert error(exc)[0] == "NoSuchEntity"
    default.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST))  # no clash
    other.delete_role(RoleName=role_name)
    default.delete_role(RoleName=role_name)


def test_state_survives_restart(tmp_path: Path) -> None:
    server = SluiceProcess(tmp_path / "data").start()
    try:
        iam = make_client("iam", server.endpoint)
        iam.create_role(RoleName="kept", AssumeRolePolicyDocument=json.dumps(TRUST))
        iam.attach_role_policy(RoleName="kept", PolicyArn=BASIC)
        iam.create_user(UserName="alice")
        key = iam.create_access_key(UserName="alice")["AccessKey"]
        role_id = iam.get_role(RoleName="kept")["Role"]["RoleId"]
    finally:
        server.stop()
    server.start()
    try:
        iam = make_client("iam", server.endpoint)
        assert iam.get_role(RoleName="kept")["Role"]["RoleId"] == role_id
        assert iam.list_attached_role_policies(RoleName="kept")["AttachedPolicies"][0]["PolicyArn"] == BASIC
        sts = boto3.client("sts", endpoint_url=server.endpoint, region_name="us-east-1",
                           aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
        assert sts.get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:user/alice"
    finally:
        server.stop()


def test_names_are_checked_before_lookup(iam: Any) -> None:
    with pytest.raises(ClientError) as exc:
        iam.get_role(RoleName="no spaces allowed")
    assert error(exc) == ("ValidationError", "1 validation error detected: Value 'no spaces allowed' at 'roleName' "
                          "failed to satisfy constraint: Member must satisfy regular expression pattern: "
                          "[\\w+=,.@-]+", 400)
