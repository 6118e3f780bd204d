"""IAM policy evaluation as a table: (policies, request) -> decision, and malformed documents ->
IAM's MalformedPolicyDocument messages."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from sluice.auth.policy import (
    ANONYMOUS,
    AuthRequest,
    Decision,
    PolicyError,
    Principal,
    denied_message,
    evaluate,
    parse_policy,
)
from sluice.auth.resources import cached_policy

A = "111111111111"
B = "222222222222"
ALICE = Principal(f"arn:aws:iam::{A}:user/alice", A, "user")
BOB = Principal(f"arn:aws:iam::{B}:user/bob", B, "user")
ROOT_A = Principal(f"arn:aws:iam::{A}:root", A, "root")
ROOT_B = Principal(f"arn:aws:iam::{B}:root", B, "root")
ROLE_A = f"arn:aws:iam::{A}:role/worker"
SESSION_A = Principal(f"arn:aws:sts::{A}:assumed-role/worker/s1", A, "assumed-role", ROLE_A)
S3 = Principal("s3.amazonaws.com", None, "service")

OBJ = "arn:aws:s3:::bucket/key.txt"
FN = f"arn:aws:lambda:us-east-1:{A}:function:f"
QUEUE = f"arn:aws:sqs:us-east-1:{A}:q"


def allow(action: Any = "s3:GetObject", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource, **extra}]}


def deny(action: Any = "s3:GetObject", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": action, "Resource": resource, **extra}]}


def grant(principal: Any, action: Any = "s3:GetObject", resource: Any = OBJ, effect: str = "Allow",
          **extra: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": effect, "Principal": principal, "Action": action, "Resource": resource, **extra}]}


def cond(operator: str, key: str, value: Any, action: str = "s3:GetObject") -> dict[str, Any]:
    return allow(action, "*", Condition={operator: {key: value}})


def req(principal: Principal = ALICE, /, action: str = "s3:GetObject", resource: str = OBJ,
        account: str | None = A, **context: Any) -> AuthRequest:
    return AuthRequest(principal, action, resource, account, {k.replace("__", ":"): v for k, v in context.items()})


# (name, identity policies, resource policy, request, allowed)
CASES: list[tuple[str, list[dict[str, Any]], dict[str, Any] | None, AuthRequest, bool]] = [
    # actions
    ("no policy: implicit deny", [], None, req(), False),
    ("exact action", [allow()], None, req(), True),
    ("action is case-insensitive", [allow("S3:getobject")], None, req(), True),
    ("action star", [allow("s3:*")], None, req(), True),
    ("action prefix wildcard", [allow("s3:Get*")], None, req(), True),
    ("action question mark", [allow("s3:GetObjec?")], None, req(), True),
    ("action wildcard elsewhere", [allow("s3:Put*")], None, req(), False),
    ("other service", [allow("sqs:*")], None, req(), False),
    ("action list", [allow(["sqs:SendMessage", "s3:GetObject"])], None, req(), True),
    ("full wildcard", [allow("*")], None, req(), True),
    ("NotAction excludes", [{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "NotAction": "s3:GetObject", "Resource": "*"}}], None, req(), False),
    ("NotAction includes the rest", [{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}], None, req(), True),
    # resources
    ("resource exact", [allow(resource=OBJ)], None, req(), True),
    ("resource wildcard", [allow(resource="arn:aws:s3:::bucket/*")], None, req(), True),
    ("resource other bucket", [allow(resource="arn:aws:s3:::other/*")], None, req(), False),
    ("resource is case-sensitive", [allow(resource="arn:aws:s3:::BUCKET/*")], None, req(), False),
    ("resource ? wildcard", [allow(resource="arn:aws:s3:::bucket/key.tx?")], None, req(), True),
    ("resource wildcard stays in its ARN part", [allow("lambda:*", "arn:aws:lambda:*:function:f")], None, req(action="lambda:InvokeFunction", resource=FN), False),
    ("resource wildcard per ARN part", [allow("lambda:*", "arn:aws:lambda:*:*:function:*")], None, req(action="lambda:InvokeFunction", resource=FN), True),
    ("resource part may hold colons", [allow("lambda:*", "arn:aws:lambda:*:*:function:f*")], None, req(action="lambda:InvokeFunction", resource=FN + ":live"), True),
    ("NotResource excludes", [{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::bucket/*"}}], None, req(), False),
    ("NotResource includes the rest", [{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"}}], None, req(), True),
    ("policy variable in resource", [allow(resource="arn:aws:s3:::bucket/${aws:username}/*")], None, req(resource="arn:aws:s3:::bucket/alice/x"), True),
    ("policy variable, other user's folder", [allow(resource="arn:aws:s3:::bucket/${aws:username}/*")], None, req(resource="arn:aws:s3:::bucket/bob/x"), False),
    ("policy variable missing: no match", [allow(resource="arn:aws:s3:::bucket/${aws:username}/*")], None, req(SESSION_A, resource="arn:aws:s3:::bucket/alice/x"), False),
    ("policy variable default", [allow(resource="arn:aws:s3:::bucket/${aws:username, 'shared'}/*")], None, req(SESSION_A, resource="arn:aws:s3:::bucket/shared/x"), True),
    ("2008 policies take ${} literally", [{"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::bucket/${aws:username}/*"}}], None, req(resource="arn:aws:s3:::bucket/alice/x"), False),
    ("${*} is a literal star", [allow(resource="arn:aws:s3:::bucket/${*}")], None, req(resource="arn:aws:s3:::bucket/x"), False),
    ("PrincipalAccount variable", [allow("sqs:*", "arn:aws:sqs:*:${aws:PrincipalAccount}:*")], None, req(action="sqs:SendMessage", resource=QUEUE), True),
    # explicit deny
    ("explicit deny wins over allow", [allow("s3:*"), deny()], None, req(), False),
    ("deny in the same policy", [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Action": "s3:Get*", "Resource": "*"}]}], None, req(), False),
    ("deny elsewhere does not apply", [allow(), deny("s3:PutObject")], None, req(), True),
    ("resource policy deny beats identity allow", [allow()], grant("*", effect="Deny"), req(), False),
    ("resource deny applies to root", [], grant({"AWS": A}, effect="Deny"), req(ROOT_A), False),
    ("conditional deny not met", [allow(), deny(Condition={"Bool": {"aws:SecureTransport": "false"}})], None, req(aws__SecureTransport="true"), True),
    ("conditional deny met", [allow(), deny(Condition={"Bool": {"aws:SecureTransport": "false"}})], None, req(aws__SecureTransport="false"), False),
    # principals and accounts
    ("root needs no identity policy", [], None, req(ROOT_A), True),
    ("root of another account needs the resource policy", [], None, req(ROOT_B), False),
    ("cross-account root with bucket grant to the account", [], grant({"AWS": B}), req(ROOT_B), True),
    ("same account: resource policy alone", [], grant({"AWS": ALICE.arn}), req(), True),
    ("same account: identity policy alone", [allow()], grant({"AWS": BOB.arn}), req(), True),
    ("cross-account: resource policy alone is not enough", [], grant({"AWS": BOB.arn}), req(BOB), False),
    ("cross-account: identity alone is not enough", [allow()], None, req(BOB), False),
    ("cross-account: both allow", [allow()], grant({"AWS": BOB.arn}), req(BOB), True),
    ("cross-account: grant names someone else", [allow()], grant({"AWS": f"arn:aws:iam::{B}:user/carol"}), req(BOB), False),
    ("account id principal matches its users", [allow()], grant({"AWS": B}), req(BOB), True),
    ("account root ARN principal matches its users", [allow()], grant({"AWS": f"arn:aws:iam::{B}:root"}), req(BOB), True),
    ("star principal", [allow()], grant({"AWS": "*"}), req(BOB), True),
    ("role ARN principal matches its sessions", [], grant({"AWS": ROLE_A}), req(SESSION_A), True),
    ("session ARN principal", [], grant({"AWS": SESSION_A.arn}), req(SESSION_A), True),
    ("other session of the role", [], grant({"AWS": f"arn:aws:sts::{A}:assumed-role/worker/s2"}), req(SESSION_A), False),
    ("principal list", [], grant({"AWS": [BOB.arn, ALICE.arn]}), req(), True),
    ("NotPrincipal deny spares the named", [allow()], {"Version": "2012-10-17", "Statement": {"Effect": "Deny", "NotPrincipal": {"AWS": ALICE.arn}, "Action": "s3:*", "Resource": "*"}}, req(), True),
    ("NotPrincipal deny hits the others", [allow()], {"Version": "2012-10-17", "Statement": {"Effect": "Deny", "NotPrincipal": {"AWS": ALICE.arn}, "Action": "s3:*", "Resource": "*"}}, req(BOB), False),
    ("resource statement without principal grants nobody", [], {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}, req(), False),
    ("identity policies ignore Principal lines", [grant({"AWS": BOB.arn})], None, req(), True),
    # service principals
    ("service principal via resource policy", [], grant({"Service": "s3.amazonaws.com"}, "lambda:InvokeFunction", FN), req(S3, "lambda:InvokeFunction", FN), True),
    ("service principal list", [], grant({"Service": ["sns.amazonaws.com", "s3.amazonaws.com"]}, "lambda:InvokeFunction", FN), req(S3, "lambda:InvokeFunction", FN), True),
    ("service principal other service", [], grant({"Service": "sns.amazonaws.com"}, "lambda:InvokeFunction", FN), req(S3, "lambda:InvokeFunction", FN), False),
    ("service principal ignores identity policies", [allow("*")], None, req(S3, "lambda:InvokeFunction", FN), False),
    ("service principal with SourceArn", [], grant({"Service": "s3.amazonaws.com"}, "lambda:InvokeFunction", FN, Condition={"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}}), req(S3, "lambda:InvokeFunction", FN, aws__SourceArn="arn:aws:s3:::bucket"), True),
    ("service principal, wrong SourceArn", [], grant({"Service": "s3.amazonaws.com"}, "lambda:InvokeFunction", FN, Condition={"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}}), req(S3, "lambda:InvokeFunction", FN, aws__SourceArn="arn:aws:s3:::other"), False),
    ("service principal, SourceAccount", [], grant({"Service": "s3.amazonaws.com"}, "lambda:InvokeFunction", FN, Condition={"StringEquals": {"aws:SourceAccount": A}}), req(S3, "lambda:InvokeFunction", FN, aws__SourceAccount=A), True),
    ("service principal, missing SourceAccount", [], grant({"Service": "s3.amazonaws.com"}, "lambda:InvokeFunction", FN, Condition={"StringEquals": {"aws:SourceAccount": A}}), req(S3, "lambda:InvokeFunction", FN), False),
    ("star principal admits services (SNS to SQS)", [], grant("*", "sqs:SendMessage", QUEUE, Condition={"ArnEquals": {"aws:SourceArn": f"arn:aws:sns:us-east-1:{A}:t"}}), req(Principal("sns.amazonaws.com", None, "service"), "sqs:SendMessage", QUEUE, aws__SourceArn=f"arn:aws:sns:us-east-1:{A}:t"), True),
    ("anonymous with public grant", [], grant("*"), req(ANONYMOUS), True),
    ("anonymous without grant", [allow("*")], None, req(ANONYMOUS), False),
    ("anonymous is not in an account grant", [], grant({"AWS": A}), req(ANONYMOUS), False),
    # string conditions
    ("StringEquals match", [cond("StringEquals", "s3:prefix", "home/")], None, req(s3__prefix="home/"), True),
    ("StringEquals mismatch", [cond("StringEquals", "s3:prefix", "home/")], None, req(s3__prefix="Home/"), False),
    ("StringEquals values are ORed", [cond("StringEquals", "s3:prefix", ["a", "home/"])], None, req(s3__prefix="home/"), True),
    ("StringEquals missing key", [cond("StringEquals", "s3:prefix", "home/")], None, req(), False),
    ("condition key names are case-insensitive", [cond("StringEquals", "S3:PREFIX", "home/")], None, req(s3__prefix="home/"), True),
    ("StringNotEquals match", [cond("StringNotEquals", "s3:prefix", "home/")], None, req(s3__prefix="tmp/"), True),
    ("StringNotEquals equal", [cond("StringNotEquals", "s3:prefix", "home/")], None, req(s3__prefix="home/"), False),
    ("StringNotEquals none of several", [cond("StringNotEquals", "s3:prefix", ["a", "b"])], None, req(s3__prefix="b"), False),
    ("StringNotEquals missing key is true", [cond("StringNotEquals", "s3:prefix", "home/")], None, req(), True),
    ("StringEqualsIgnoreCase", [cond("StringEqualsIgnoreCase", "s3:prefix", "HOME/")], None, req(s3__prefix="home/"), True),
    ("StringNotEqualsIgnoreCase", [cond("StringNotEqualsIgnoreCase", "s3:prefix", "HOME/")], None, req(s3__prefix="home/"), False),
    ("StringLike", [cond("StringLike", "s3:prefix", "home/*")], None, req(s3__prefix="home/a/b"), True),
    ("StringLike ?", [cond("StringLike", "s3:prefix", "home?")], None, req(s3__prefix="homes"), True),
    ("StringLike no match", [cond("StringLike", "s3:prefix", "home/*")], None, req(s3__prefix="tmp/"), False),
    ("StringNotLike", [cond("StringNotLike", "s3:prefix", "home/*")], None, req(s3__prefix="tmp/"), True),
    ("StringNotLike match", [cond("StringNotLike", "s3:prefix", "home/*")], None, req(s3__prefix="home/x"), False),
    ("StringLike with a variable", [cond("StringLike", "s3:prefix", "${aws:username}/*")], None, req(s3__prefix="alice/x"), True),
    ("StringLike with a variable, other user", [cond("StringLike", "s3:prefix", "${aws:username}/*")], None, req(BOB, account=B, s3__prefix="alice/x"), False),
    ("StringEqualsIfExists missing", [cond("StringEqualsIfExists", "s3:prefix", "home/")], None, req(), True),
    ("StringEqualsIfExists present", [cond("StringEqualsIfExists", "s3:prefix", "home/")], None, req(s3__prefix="x"), False),
    # numeric
    ("NumericEquals", [cond("NumericEquals", "s3:max-keys", "10")], None, req(**{"s3:max-keys": "10"}), True),
    ("NumericEquals as float", [cond("NumericEquals", "s3:max-keys", 10)], None, req(**{"s3:max-keys": "10.0"}), True),
    ("NumericNotEquals", [cond("NumericNotEquals", "s3:max-keys", "10")], None, req(**{"s3:max-keys": "10"}), False),
    ("NumericLessThan", [cond("NumericLessThan", "s3:max-keys", "10")], None, req(**{"s3:max-keys": "9"}), True),
    ("NumericLessThan equal", [cond("NumericLessThan", "s3:max-keys", "10")], None, req(**{"s3:max-keys": "10"}), False),
    ("NumericLessThanEquals", [cond("NumericLessThanEquals", "s3:max-keys", "10")], None, req(**{"s3:max-keys": "10"}), True),
    ("NumericGreaterThan", [cond("NumericGreaterThan", "s3:max-keys", "10")], None, req(**{"s3:max-keys": "11"}), True),
    ("NumericGreaterThanEquals", [cond("NumericGreaterThanEquals", "s3:max-keys", "10")], None, req(**{"s3:max-keys": "9"}), False),
    ("Numeric not a number", [cond("NumericLessThan", "s3:max-keys", "10")], None, req(**{"s3:max-keys": "abc"}), False),
    ("Numeric missing key", [cond("NumericLessThan", "s3:max-keys", "10")], None, req(), False),
    ("NumericNotEquals missing key", [cond("NumericNotEquals", "s3:max-keys", "10")], None, req(), True),
    # dates
    ("DateLessThan ISO", [cond("DateLessThan", "aws:CurrentTime", "2030-01-01T00:00:00Z")], None, req(aws__CurrentTime="2026-05-01T12:00:00Z"), True),
    ("DateLessThan past", [cond("DateLessThan", "aws:CurrentTime", "2020-01-01T00:00:00Z")], None, req(aws__CurrentTime="2026-05-01T12:00:00Z"), False),
    ("DateGreaterThan date only", [cond("DateGreaterThan", "aws:CurrentTime", "2020-01-01")], None, req(aws__CurrentTime="2026-05-01T12:00:00Z"), True),
    ("DateGreaterThanEquals epoch", [cond("DateGreaterThanEquals", "aws:EpochTime", "1700000000")], None, req(aws__EpochTime="1700000000"), True),
    ("DateLessThanEquals epoch vs ISO", [cond("DateLessThanEquals", "aws:CurrentTime", "1700000000")], None, req(aws__CurrentTime="2023-11-14T22:13:20Z"), True),
    ("DateEquals", [cond("DateEquals", "aws:CurrentTime", "2026-05-01T12:00:00+00:00")], None, req(aws__CurrentTime="2026-05-01T12:00:00Z"), True),
    ("DateNotEquals", [cond("DateNotEquals", "aws:CurrentTime", "2026-05-01T12:00:00Z")], None, req(aws__CurrentTime="2026-05-01T12:00:00Z"), False),
    # booleans, IPs, ARNs, Null
    ("Bool true", [cond("Bool", "aws:SecureTransport", "true")], None, req(aws__SecureTransport="true"), True),
    ("Bool JSON false", [cond("Bool", "aws:SecureTransport", False)], None, req(aws__SecureTransport="false"), True),
    ("Bool mismatch", [cond("Bool", "aws:SecureTransport", "true")], None, req(aws__SecureTransport="false"), False),
    ("Bool missing key", [cond("Bool", "aws:SecureTransport", "true")], None, req(), False),
    ("BoolIfExists missing key", [cond("BoolIfExists", "aws:SecureTransport", "true")], None, req(), True),
    ("IpAddress CIDR", [cond("IpAddress", "aws:SourceIp", "10.0.0.0/8")], None, req(aws__SourceIp="10.1.2.3"), True),
    ("IpAddress outside", [cond("IpAddress", "aws:SourceIp", "10.0.0.0/8")], None, req(aws__SourceIp="192.168.0.1"), False),
    ("IpAddress single address", [cond("IpAddress", "aws:SourceIp", "127.0.0.1")], None, req(aws__SourceIp="127.0.0.1"), True),
    ("IpAddress IPv6", [cond("IpAddress", "aws:SourceIp", "::1/128")], None, req(aws__SourceIp="::1"), True),
    ("IpAddress list", [cond("IpAddress", "aws:SourceIp", ["10.0.0.0/8", "127.0.0.0/8"])], None, req(aws__SourceIp="127.0.0.1"), True),
    ("NotIpAddress", [cond("NotIpAddress", "aws:SourceIp", "10.0.0.0/8")], None, req(aws__SourceIp="127.0.0.1"), True),
    ("NotIpAddress inside", [cond("NotIpAddress", "aws:SourceIp", "10.0.0.0/8")], None, req(aws__SourceIp="10.0.0.1"), False),
    ("ArnEquals", [cond("ArnEquals", "aws:SourceArn", "arn:aws:s3:::bucket")], None, req(aws__SourceArn="arn:aws:s3:::bucket"), True),
    ("ArnLike wildcard", [cond("ArnLike", "aws:SourceArn", "arn:aws:sns:*:111111111111:*")], None, req(aws__SourceArn=f"arn:aws:sns:us-east-1:{A}:t"), True),
    ("ArnLike wildcard does not cross parts", [cond("ArnLike", "aws:SourceArn", "arn:aws:sns:*:t")], None, req(aws__SourceArn=f"arn:aws:sns:us-east-1:{A}:t"), False),
    ("ArnNotEquals", [cond("ArnNotEquals", "aws:SourceArn", "arn:aws:s3:::bucket")], None, req(aws__SourceArn="arn:aws:s3:::other"), True),
    ("ArnNotLike match", [cond("ArnNotLike", "aws:SourceArn", "arn:aws:s3:::b*")], None, req(aws__SourceArn="arn:aws:s3:::bucket"), False),
    ("ArnNotLike missing key", [cond("ArnNotLike", "aws:SourceArn", "arn:aws:s3:::b*")], None, req(), True),
    ("ArnLikeIfExists missing", [cond("ArnLikeIfExists", "aws:SourceArn", "arn:aws:s3:::b*")], None, req(), True),
    ("Null true: key absent", [cond("Null", "aws:SourceArn", "true")], None, req(), True),
    ("Null true: key present", [cond("Null", "aws:SourceArn", "true")], None, req(aws__SourceArn="arn:aws:s3:::b"), False),
    ("Null false: key present", [cond("Null", "aws:SourceArn", "false")], None, req(aws__SourceArn="arn:aws:s3:::b"), True),
    # derived keys
    ("aws:PrincipalAccount", [cond("StringEquals", "aws:PrincipalAccount", A)], None, req(), True),
    ("aws:PrincipalArn of a session is its role", [cond("ArnEquals", "aws:PrincipalArn", ROLE_A)], None, req(SESSION_A), True),
    ("aws:PrincipalType", [cond("StringEquals", "aws:PrincipalType", "AssumedRole")], None, req(SESSION_A), True),
    ("s3:ResourceAccount own account", [cond("StringEquals", "s3:ResourceAccount", A, "s3:PutObject")], None, req(action="s3:PutObject"), True),
    ("s3:ResourceAccount someone else's bucket", [cond("StringEquals", "s3:ResourceAccount", A, "s3:PutObject")], grant({"AWS": A}, "s3:PutObject"), req(action="s3:PutObject", account=B), False),
    ("aws:SourceIp from context", [cond("IpAddress", "aws:SourceIp", "127.0.0.0/8")], None, req(aws__SourceIp="127.0.0.1"), True),
    # set qualifiers
    ("ForAnyValue one matches", [cond("ForAnyValue:StringEquals", "aws:TagKeys", ["a", "b"])], None, req(aws__TagKeys=["x", "b"]), True),
    ("ForAnyValue none matches", [cond("ForAnyValue:StringEquals", "aws:TagKeys", ["a", "b"])], None, req(aws__TagKeys=["x", "y"]), False),
    ("ForAnyValue missing key", [cond("ForAnyValue:StringEquals", "aws:TagKeys", ["a"])], None, req(), False),
    ("ForAnyValue empty set", [cond("ForAnyValue:StringEquals", "aws:TagKeys", ["a"])], None, req(aws__TagKeys=[]), False),
    ("ForAnyValue:StringNotEquals", [cond("ForAnyValue:StringNotEquals", "aws:TagKeys", ["a"])], None, req(aws__TagKeys=["a", "b"]), True),
    ("ForAllValues all match", [cond("ForAllValues:StringLike", "aws:TagKeys", ["a*", "b"])], None, req(aws__TagKeys=["ab", "b"]), True),
    ("ForAllValues one fails", [cond("ForAllValues:StringLike", "aws:TagKeys", ["a*", "b"])], None, req(aws__TagKeys=["ab", "c"]), False),
    ("ForAllValues missing key is true", [cond("ForAllValues:StringEquals", "aws:TagKeys", ["a"])], None, req(), True),
    ("ForAllValues:StringNotEquals", [cond("ForAllValues:StringNotEquals", "aws:TagKeys", ["a"])], None, req(aws__TagKeys=["b", "c"]), True),
    ("ForAllValues:StringNotEquals hit", [cond("ForAllValues:StringNotEquals", "aws:TagKeys", ["a"])], None, req(aws__TagKeys=["b", "a"]), False),
    ("ForAnyValue:StringEqualsIfExists missing", [cond("ForAnyValue:StringEqualsIfExists", "aws:TagKeys", ["a"])], None, req(), True),
    # several keys and operators: AND
    ("two keys both hold", [allow(Condition={"StringEquals": {"s3:prefix": "a", "aws:SourceAccount": A}})], None, req(s3__prefix="a", aws__SourceAccount=A), True),
    ("two keys one fails", [allow(Condition={"StringEquals": {"s3:prefix": "a", "aws:SourceAccount": A}})], None, req(s3__prefix="a", aws__SourceAccount=B), False),
    ("two operators both hold", [allow(Condition={"StringEquals": {"s3:prefix": "a"}, "Bool": {"aws:SecureTransport": "true"}})], None, req(s3__prefix="a", aws__SecureTransport="true"), True),
    ("two operators one fails", [allow(Condition={"StringEquals": {"s3:prefix": "a"}, "Bool": {"aws:SecureTransport": "true"}})], None, req(s3__prefix="a", aws__SecureTransport="false"), False),
]


@pytest.mark.parametrize(("name", "identity", "resource", "request_", "allowed"), CASES, ids=[c[0] for c in CASES])
def test_decision(name: str, identity: list[dict[str, Any]], resource: dict[str, Any] | None,
                  request_: AuthRequest, allowed: bool) -> None:
    policies = [parse_policy(json.dumps(d)) for d in identity]
    decision = evaluate(request_, policies, parse_policy(resource) if resource else None)
    assert decision.allowed is allowed, decision.reason
    assert (decision.reason == "") is allowed


def test_current_time_comes_from_the_given_clock() -> None:
    policy = parse_policy(cond("DateLessThan", "aws:CurrentTime", "2030-01-01T00:00:00Z"))
    assert evaluate(req(), [policy], None, now=1_700_000_000).allowed
    assert not evaluate(req(), [policy], None, now=1_900_000_000 + 86400 * 365 * 2).allowed
    epoch = parse_policy(cond("NumericLessThan", "aws:EpochTime", "1800000000"))
    assert evaluate(req(), [epoch], None, now=1_700_000_000).allowed
    assert not evaluate(req(), [epoch], None).allowed  # no clock: the key is missing


# Decision reasons and AWS's AccessDenied text.
MESSAGES = [
    (req(), [], None,
     f'User: {ALICE.arn} is not authorized to perform: s3:GetObject on resource: "{OBJ}" '
     "because no identity-based policy allows the s3:GetObject action"),
    (req(), [deny()], None,
     f'User: {ALICE.arn} is not authorized to perform: s3:GetObject on resource: "{OBJ}" '
     "with an explicit deny in an identity-based policy"),
    (req(), [allow()], grant("*", effect="Deny"), None),
    (req(BOB, "sqs:SendMessage", QUEUE), [allow("sqs:*")], None,
     f"User: {BOB.arn} is not authorized to perform: sqs:SendMessage on resource: {QUEUE} "
     "because no resource-based policy allows the sqs:SendMessage action"),
    (req(S3, "lambda:InvokeFunction", FN), [], None,
     f"User: s3.amazonaws.com is not authorized to perform: lambda:InvokeFunction on resource: {FN} "
     "because no resource-based policy allows the lambda:InvokeFunction action"),
    (req(SESSION_A, "sqs:ListQueues", "*"), [], None,
     f"User: {SESSION_A.arn} is not authorized to perform: sqs:ListQueues "
     "because no identity-based policy allows the sqs:ListQueues action"),
    (req(ANONYMOUS), [], None, "Access Denied"),
]


@pytest.mark.parametrize(("request_", "identity", "resource", "message"), MESSAGES)
def test_denied_message(request_: AuthRequest, identity: list[dict[str, Any]], resource: dict[str, Any] | None,
                        message: str | None) -> None:
    decision = evaluate(request_, [parse_policy(d) for d in identity], parse_policy(resource) if resource else None)
    assert not decision.allowed
    if message is None:
        assert decision.reason == "an explicit deny in a resource-based policy"
        assert denied_message(request_, decision).endswith(" with an explicit deny in a resource-based policy")
    else:
        assert denied_message(request_, decision) == message


def _statement(**fields: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", **fields}]}


# (document, kind, IAM's message)
MALFORMED: list[tuple[Any, str, str]] = [
    ("{not json", "identity", "Syntax errors in policy."),
    ("[]", "identity", "Syntax errors in policy."),
    ({"Version": "2012-10-17"}, "identity", "Syntax errors in policy."),
    ({"Version": "2012-10-17", "Statement": []}, "identity", "Syntax errors in policy."),
    ({"Version": "2012-10-17", "Statement": [{}], "Extra": 1}, "identity", "Syntax errors in policy."),
    ({"Version": "2012-10-18", "Statement": _statement()["Statement"]}, "identity", "Syntax errors in policy."),
    (_statement(Effect="Maybe"), "identity", "Syntax errors in policy."),
    (_statement(Foo="bar"), "identity", "Syntax errors in policy."),
    (_statement(Action=["s3:*", 3]), "identity", "Syntax errors in policy."),
    (_statement(NotAction="s3:*"), "identity", "Syntax errors in policy."),
    (_statement(Condition={"StringEqualz": {"a:b": "c"}}), "identity", "Syntax errors in policy."),
    (_statement(Condition={"StringEquals": "x"}), "identity", "Syntax errors in policy."),
    ({"Statement": _statement()["Statement"]}, "identity", "Policy document must be version 2012-10-17 or greater."),
    (_statement(Principal="*"), "identity", "Policy document should not specify a principal."),
    (_statement(), "resource", "Missing required field Principal"),
    ({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                             "Action": "sts:AssumeRole", "Resource": "*"}}, "trust", "Has prohibited field Resource"),
    (_statement(Effect="allow"), "identity", "The policy failed legacy parsing"),
    ({"Version": "2012-10-17", "Statement": [{"Sid": "x", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}] * 2},
     "identity", "Statement IDs (SID) in a single policy must be unique."),
    (_statement(Action=[]), "identity", "Policy statement must contain actions."),
    ({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*"}}, "identity", "Policy statement must contain resources."),
    (_statement(Resource="bucket"), "identity", 'Resource bucket must be in ARN format or "*".'),
    (_statement(Resource="arn:aws:*:::x"), "identity", "Resource vendor must be fully qualified and cannot contain regexes."),
    (_statement(Action="GetObject"), "identity", "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
    (_statement(Action="s3:Get:Object"), "identity", "Actions/Condition can contain only one colon."),
    (_statement(Action="s 3:GetObject"), "identity", "Vendor s 3 is not valid"),
    (_statement(Principal={"AWS": "bob"}), "resource", 'Invalid principal in policy: "AWS":"bob"'),
    (_statement(Principal={"Alien": "x"}), "resource", "Syntax errors in policy."),
]


@pytest.mark.parametrize(("document", "kind", "message"), MALFORMED, ids=[m[2] for m in MALFORMED])
def test_malformed(document: Any, kind: Any, message: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(document, kind)
    assert str(err.value) == message


def test_well_formed_documents_of_each_kind() -> None:
    """Each kind parses, and the compiled policy decides as its document says."""
    assert evaluate(req(), [parse_policy(allow(), "identity")], None) == Decision(True, "")
    resource = parse_policy(grant({"AWS": A}), "resource")
    assert evaluate(req(ALICE), [], resource) == Decision(True, "")
    assert evaluate(req(BOB, account=A), [], resource).allowed is False
    lambda_service = Principal("lambda.amazonaws.com", None, "service")
    trust = parse_policy({"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                                  "Action": "sts:AssumeRole"}}, "trust")
    assert evaluate(AuthRequest(lambda_service, "sts:AssumeRole", ROLE_A, A), [], trust) == Decision(True, "")
    federated = parse_policy({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                                                                      "Action": "sts:AssumeRoleWithWebIdentity"}}, "trust")
    # Federated principals have no callers here: the statement names nobody.
    assert evaluate(AuthRequest(lambda_service, "sts:AssumeRoleWithWebIdentity", ROLE_A, A), [], federated) == Decision(
        False, "no resource-based policy allows the sts:AssumeRoleWithWebIdentity action")
    # Unknown but empty condition operators pass, as in IAM, and restrict nothing.
    empty_condition = parse_policy(_statement(Condition={"Whatever": {}}), "identity")
    assert evaluate(req(), [empty_condition], None) == Decision(True, "")


def test_a_stored_policy_is_parsed_once_and_decides_every_request() -> None:
    """Services read resource policies through cached_policy: one parse per distinct text, then
    the compiled policy answers each request (its cost is measured by bench/iam.py, not here)."""
    identity = [parse_policy(allow(["sqs:*", "s3:Get*", "s3:List*"], ["arn:aws:s3:::bucket", "arn:aws:s3:::bucket/*"],
                                   Condition={"Bool": {"aws:SecureTransport": "false"}}))]
    document = json.dumps(grant({"AWS": [ROLE_A, B]}, ["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::bucket/*",
                                Sid=f"once-{uuid.uuid4().hex}"))  # a text no other test has cached
    before = cached_policy.cache_info()
    resource = cached_policy(document)
    assert cached_policy(document) is resource
    after = cached_policy.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)
    assert resource is not None

    plain = req(SESSION_A, aws__SecureTransport="false", aws__SourceIp="127.0.0.1")
    decisions = {evaluate(plain, identity, resource) for _ in range(3)}
    assert decisions == {Decision(True, "")}  # the same answer each time: nothing is re-parsed
    # The identity policy's condition fails over TLS: the resource policy still names the role.
    secure = req(SESSION_A, aws__SecureTransport="true")
    assert evaluate(secure, identity, resource) == Decision(True, "")
    # Neither policy allows DeleteObject.
    delete = req(SESSION_A, "s3:DeleteObject", aws__SecureTransport="false")
    assert evaluate(delete, identity, resource) == Decision(
        False, "no identity-based policy allows the s3:DeleteObject action")
    # Account B is named by the resource policy but has no identity policy of its own here.
    assert evaluate(req(BOB, account=A), [], resource) == Decision(
        False, "no identity-based policy allows the s3:GetObject action")
