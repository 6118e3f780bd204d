"""Bucket policies: Put/Get/DeleteBucketPolicy, GetBucketPolicyStatus, and the policy and owner
account IAM enforcement reads for a bucket or object ARN.

A bucket's owner is the account of the caller that created it (`s3_buckets.account`); the
s3:ResourceAccount condition key and cross-account decisions use it.
"""

from __future__ import annotations

import fnmatch
import sqlite3
from typing import Any

from ...auth.policy import PolicyError, parse_policy
from ...protocol import safejson
from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from . import core
from .access import public_access_block, public_blocked
from .public import policy_is_public
from .records import policies
from .state import S3State

MAX_POLICY_BYTES = 20 * 1024  # S3's limit for a bucket policy


def malformed(message: str) -> ServiceError:
    return ServiceError("MalformedPolicy", message)


def no_such_bucket_policy(bucket: str) -> ServiceError:
    return ServiceError("NoSuchBucketPolicy", "The bucket policy does not exist", BucketName=bucket)


def validate_bucket_policy(bucket: str, text: str) -> None:
    """S3's checks on top of the resource-policy grammar (which wants a Principal in every
    statement): a JSON object, S3 actions only, resources inside this bucket."""
    try:
        text.encode()
    except UnicodeEncodeError:  # bytes that were not UTF-8 (kept as sent): JSON text is UTF-8
        raise malformed("Policies must be valid JSON and the first byte must be '{'") from None
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise malformed("Policies must be less than 20KB")
    try:
        document = safejson.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise malformed("Policies must be valid JSON and the first byte must be '{'")
    try:
        parse_policy(document, "resource")
    except PolicyError as err:
        raise malformed(str(err)) from None
    statements = document.get("Statement")
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict):
            continue
        for action in _as_list(statement.get("Action", statement.get("NotAction"))):
            if action != "*" and not str(action).lower().startswith("s3:"):
                raise malformed("Policy has invalid action")
        for resource in _as_list(statement.get("Resource", statement.get("NotResource"))):
            if not _in_bucket(str(resource), bucket):
                raise malformed("Policy has invalid resource")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _in_bucket(resource: str, bucket: str) -> bool:
    if resource == "*":
        return True
    arn = f"arn:aws:s3:::{bucket}"
    return resource == arn or resource.startswith(arn + "/") or (
        resource.startswith("arn:aws:s3:::") and _wildcard_covers(resource[len("arn:aws:s3:::"):], bucket))


def _wildcard_covers(pattern: str, bucket: str) -> bool:
    """"arn:aws:s3:::my-*" may name this bucket: S3 accepts a wildcard that matches it."""
    name = pattern.split("/", 1)[0]
    return fnmatch.fnmatchcase(bucket, name)


class Policies:
    def __init__(self, state: S3State) -> None:
        self.s = state

    def put_bucket_policy(self, ctx: RequestContext, Bucket: str, Policy: str = "", **_: Any) -> dict[str, Any]:
        found = core.bucket(self.s, Bucket)
        validate_bucket_policy(Bucket, Policy or "")
        if public_access_block(found)["BlockPublicPolicy"] and policy_is_public(Policy):
            raise public_blocked()

        def txn(conn: sqlite3.Connection) -> None:
            core.require_bucket(conn, Bucket)
            policies.put(conn, Bucket, Policy)

        self.s.db.write(txn)
        return {}

    def get_bucket_policy(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        return {"Policy": self._stored_policy(Bucket)}

    def delete_bucket_policy(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        def txn(conn: sqlite3.Connection) -> None:
            core.require_bucket(conn, Bucket)
            policies.delete(conn, Bucket)

        self.s.db.write(txn)
        return {}

    def get_bucket_policy_status(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        return {"PolicyStatus": {"IsPublic": policy_is_public(self._stored_policy(Bucket))}}

    def _stored_policy(self, bucket: str) -> str:
        core.bucket(self.s, bucket)
        policy = policies.get(self.s.db.reader, bucket)
        if policy is None:
            raise no_such_bucket_policy(bucket)
        return policy

    def resource_policy(self, arn: str) -> tuple[str | None, str | None]:
        """(bucket policy, owner account) for arn:aws:s3:::bucket[/key]; (None, None) if no bucket."""
        found = self.s.views.get(arn.split(":::", 1)[-1].split("/", 1)[0])
        return (found.policy, found.record.account) if found is not None else (None, None)
