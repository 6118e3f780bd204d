"""STS against a real server: GetCallerIdentity for every kind of key, AssumeRole round trips,
trust policies under enforcement, GetSessionToken, the credentials file, durability; and the
expiry of temporary credentials on a manual clock."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sluice.auth.identity import parse_credentials
from sluice.clock import ManualClock
from sluice.schema import SCHEMA
from sluice.services.iam.service import IamService
from sluice.settings import Settings
from sluice.store import Store

from .conftest import make_client
from .server import SluiceProcess

LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def trust(principal: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]})


def client(service: str, endpoint: str, key: str, secret: str = "test", token: str | None = None) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, aws_session_token=token)


def session_client(service: str, endpoint: str, creds: dict[str, Any]) -> Any:
    return client(service, endpoint, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    e = exc.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def test_caller_identity_of_root_keys(endpoint: str) -> None:
    me = make_client("sts", endpoint).get_caller_identity()
    assert (me["UserId"], me["Account"], me["Arn"]) == ("000000000000", "000000000000",
                                                         "arn:aws:iam::000000000000:root")
    other = client("sts", endpoint, "222222222222").get_caller_identity()
    assert (other["Account"], other["Arn"]) == ("222222222222", "arn:aws:iam::222222222222:root")


def test_assume_role_round_trip(endpoint: str) -> None:
    iam, sts = make_client("iam", endpoint), make_client("sts", endpoint)
    name = f"role-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(RoleName=name, Path="/app/", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST),
                           MaxSessionDuration=7200)["Role"]
    out = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="job-1", DurationSeconds=7200)
    creds, user = out["Credentials"], out["AssumedRoleUser"]
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", creds["AccessKeyId"]) and creds["SessionToken"]
    assert user == {"AssumedRoleId": f"{role['RoleId']}:job-1",
                    "Arn": f"arn:aws:sts::000000000000:assumed-role/{name}/job-1"}
    lifetime = (creds["Expiration"] - dt.datetime.now(dt.timezone.utc)).total_seconds()
    assert 7000 < lifetime <= 7201  # DurationSeconds from now
    me = session_client("sts", endpoint, creds).get_caller_identity()
    assert (me["UserId"], me["Account"], me["Arn"]) == (user["AssumedRoleId"], "000000000000", user["Arn"])

    with pytest.raises(ClientError) as exc:  # beyond the role's MaxSessionDuration
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="long", DurationSeconds=10800)
    assert error(exc) == ("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set "
                          "for this role.", 400)
    missing = "arn:aws:iam::000000000000:role/does-not-exist"
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=missing, RoleSessionName="s1")
    assert error(exc) == ("AccessDenied", "User: arn:aws:iam::000000000000:root is not authorized to perform: "
                          f"sts:AssumeRole on resource: {missing}", 403)
    iam.delete_role(RoleName=name)


def test_get_session_token(endpoint: str) -> None:
    iam = make_client("iam", endpoint)
    user = f"u-{uuid.uuid4().hex[:8]}"
    arn = iam.create_user(UserName=user)["User"]["Arn"]
    key = iam.create_access_key(UserName=user)["AccessKey"]
    creds = client("sts", endpoint, key["AccessKeyId"], key["SecretAccessKey"]).get_session_token()["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert session_client("sts", endpoint, creds).get_caller_identity()["Arn"] == arn
    with pytest.raises(ClientError) as exc:
        session_client("sts", endpoint, creds).get_session_token()
    assert error(exc)[0] == "AccessDenied"


def test_aws_cli_assume_role(aws_cli: Any) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    arn = json.loads(aws_cli("iam", "create-role", "--role-name", name, "--assume-role-policy-document",
                             json.dumps(LAMBDA_TRUST)).stdout)["Role"]["Arn"]
    out = json.loads(aws_cli("sts", "assume-role", "--role-arn", arn, "--role-session-name", "cli").stdout)
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::000000000000:assumed-role/{name}/cli"
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_trust_policy_is_enforced(tmp_path: Path) -> None:
    server = SluiceProcess(tmp_path / "data", "--enforce-iam").start()
    try:
        iam = make_client("iam", server.endpoint)
        sts = make_client("sts", server.endpoint)
        iam.create_user(UserName="alice")
        alice_key = iam.create_access_key(UserName="alice")["AccessKey"]
        alice_arn = "arn:aws:iam::000000000000:user/alice"
        trusting = iam.create_role(RoleName="trusts-alice", AssumeRolePolicyDocument=trust(alice_arn))["Role"]
        lambda_only = iam.create_role(RoleName="lambda-only",
                                      AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]
        as_alice = client("sts", server.endpoint, alice_key["AccessKeyId"], alice_key["SecretAccessKey"])

        creds = as_alice.assume_role(RoleArn=trusting["Arn"], RoleSessionName="ok")["Credentials"]
        assert session_client("sts", server.endpoint, creds).get_caller_identity()["Arn"] == \
            "arn:aws:sts::000000000000:assumed-role/trusts-alice/ok"
        with pytest.raises(ClientError) as exc:
            as_alice.assume_role(RoleArn=lambda_only["Arn"], RoleSessionName="no")
        assert error(exc) == ("AccessDenied", f"User: {alice_arn} is not authorized to perform: sts:AssumeRole "
                              f"on resource: {lambda_only['Arn']}", 403)
        with pytest.raises(ClientError) as exc:  # the account's root is not named either
            sts.assume_role(RoleArn=trusting["Arn"], RoleSessionName="root")
        assert error(exc)[0] == "AccessDenied"

        # Another account may assume a role whose trust policy names that account.
        iam.create_role(RoleName="cross", AssumeRolePolicyDocument=trust("333333333333"))
        other = client("sts", server.endpoint, "333333333333")
        assumed = other.assume_role(RoleArn="arn:aws:iam::000000000000:role/cross", RoleSessionName="xa")
        assert assumed["AssumedRoleUser"]["Arn"] == "arn:aws:sts::000000000000:assumed-role/cross/xa"
        with pytest.raises(ClientError) as exc:
            client("sts", server.endpoint, "444444444444").assume_role(
                RoleArn="arn:aws:iam::000000000000:role/cross", RoleSessionName="xa")
        assert error(exc)[0] == "AccessDenied"
    finally:
        server.stop()


def test_credentials_file_and_durable_sessions(tmp_path: Path) -> None:
    creds_file = tmp_path / "credentials.json"
    creds_file.write_text(json.dumps({
        "AKIAEXAMPLEROOT00001": {"secret": "s3cret", "account": "555555555555"},
        "AKIAEXAMPLEUSER00001": {"secret": "s3cret", "user": "arn:aws:iam::555555555555:user/bob"},
    }))
    server = SluiceProcess(tmp_path / "data", "--credentials", str(creds_file)).start()
    try:
        root = client("sts", server.endpoint, "AKIAEXAMPLEROOT00001", "s3cret").get_caller_identity()
        assert root["Arn"] == "arn:aws:iam::555555555555:root"
        bob = client("sts", server.endpoint, "AKIAEXAMPLEUSER00001", "s3cret").get_caller_identity()
        assert (bob["Account"], bob["Arn"]) == ("555555555555", "arn:aws:iam::555555555555:user/bob")
        iam = client("iam", server.endpoint, "AKIAEXAMPLEROOT00001", "s3cret")
        arn = iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
        assert arn == "arn:aws:iam::555555555555:role/r"
        creds = client("sts", server.endpoint, "AKIAEXAMPLEROOT00001", "s3cret").assume_role(
            RoleArn=arn, RoleSessionName="kept")["Credentials"]
    finally:
        server.stop()
    server.start()
    try:  # temporary credentials survive a restart
        me = session_client("sts", server.endpoint, creds).get_caller_identity()
        assert me["Arn"] == "arn:aws:sts::555555555555:assumed-role/r/kept"
    finally:
        server.stop()


def test_bad_credentials_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="12-digit"):
        parse_credentials({"AKIA1": {"secret": "x", "account": "12"}}, "000000000000")
    with pytest.raises(ValueError, match="secret"):
        parse_credentials({"AKIA1": {"account": "123456789012"}}, "000000000000")


def test_temporary_credentials_expire_on_the_clock(tmp_path: Path) -> None:
    clock = ManualClock()
    store = Store(tmp_path, SCHEMA)
    try:
        iam = IamService(store, clock, Settings(data_dir=tmp_path))
        role_arn = "arn:aws:iam::000000000000:role/fn-role"
        first = iam.role_credentials(role_arn, "fn")
        assert first.kind == "assumed-role" and first.arn == "arn:aws:sts::000000000000:assumed-role/fn-role/fn"
        assert iam.identity(first.access_key) == first
        asyncio.run(clock.advance(1800))
        assert iam.role_credentials(role_arn, "fn") == first  # reused while far from expiry
        asyncio.run(clock.advance(1600))  # 200 s left: too close, a new session
        second = iam.role_credentials(role_arn, "fn")
        assert second.access_key != first.access_key and iam.identity(first.access_key) is not None
        asyncio.run(clock.advance(300))
        assert iam.identity(first.access_key) is None and iam.lookup(first.access_key).expired
        assert iam.identity(second.access_key) == second
        assert not iam.role_exists(role_arn)
    finally:
        store.close()
