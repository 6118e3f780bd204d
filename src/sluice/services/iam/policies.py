"""Managed policies: the account's own (create, read, list, delete, with up to five versions)
and AWS's (read-only package data, managed.py)."""

from __future__ import annotations

import sqlite3
from typing import Any

from ...protocol.context import RequestContext
from . import documents, errors, ids
from .common import Shared, page
from .managed import AWS_POLICY_PREFIX, ManagedPolicy, aws_policies, aws_policy
from .policy_records import (
    PolicyRecord,
    add_version,
    attachment_count,
    delete_policy,
    delete_version,
    find_policy,
    find_version,
    insert_policy,
    policies_of,
    policy_attached,
    policy_named,
    set_default_version,
    version_count,
    versions_of,
)

MAX_POLICY_VERSIONS = 5


class Policies:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.clock = shared.clock

    def create_policy(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self.shared.account(ctx)
        name, path, document = params["PolicyName"], params.get("Path") or "/", params["PolicyDocument"]
        _check_managed(document)
        now = self.clock.now()
        policy = PolicyRecord(ids.policy_arn(account, path, name), account, name.lower(), name, path,
                              ids.unique_id(ids.POLICY_ID), params.get("Description"), "v1", 2,
                              params.get("Tags") or [], now, now)

        def insert(conn: sqlite3.Connection) -> None:
            if policy_named(conn, account, name):
                raise errors.exists(f"A policy called {name} already exists. Duplicate names are not allowed.")
            insert_policy(conn, policy, document)

        self.shared.write(insert)
        out = self._policy_out(account, self._policy(account, policy.arn))
        out.pop("Description", None)  # CreatePolicy's answer leaves it out
        return {"Policy": out}

    def get_policy(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, arn = self.shared.account(ctx), params["PolicyArn"]
        managed = aws_policy(arn)
        if managed is not None:
            return {"Policy": self._aws_policy_out(account, managed)}
        return {"Policy": self._policy_out(account, self._policy(account, arn))}

    def list_policies(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self.shared.account(ctx)
        scope, prefix = params.get("Scope") or "All", params.get("PathPrefix") or "/"
        found: list[dict[str, Any]] = []
        if scope in ("All", "AWS"):
            found += [self._aws_policy_out(account, p) for p in aws_policies().values()]
        if scope in ("All", "Local"):
            found += [self._policy_out(account, p) for p in policies_of(self.shared.db.reader, account)]
        found = [p for p in found if p["Path"].startswith(prefix)
                 and (not params.get("OnlyAttached") or p["AttachmentCount"] > 0)]
        for p in found:
            p.pop("Description", None)  # ListPolicies does not return descriptions
            p.pop("Tags", None)
        listed, more = page(found, params)
        return {"Policies": listed, **more}

    def delete_policy(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, arn = self.shared.account(ctx), params["PolicyArn"]
        self._refuse_aws_policy(ctx, "DeletePolicy", arn)

        def delete(conn: sqlite3.Connection) -> None:
            if find_policy(conn, account, arn) is None:
                raise errors.no_policy(arn)
            if policy_attached(conn, account, arn):
                raise errors.delete_conflict("Cannot delete a policy attached to entities.")
            if version_count(conn, arn) > 1:
                raise errors.delete_conflict(
                    "This policy has more than one version. Before you delete a policy, you must delete the "
                    "policy's versions. The default version is deleted with the policy.")
            delete_policy(conn, arn)

        self.shared.write(delete)
        return {}

    # -- versions --

    def create_policy_version(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, arn, document = self.shared.account(ctx), params["PolicyArn"], params["PolicyDocument"]
        self._refuse_aws_policy(ctx, "CreatePolicyVersion", arn)
        _check_managed(document)
        now = self.clock.now()

        def create(conn: sqlite3.Connection) -> str:
            policy = find_policy(conn, account, arn)
            if policy is None:
                raise errors.no_policy(arn)
            if version_count(conn, arn) >= MAX_POLICY_VERSIONS:
                raise errors.limit_exceeded(
                    f"A managed policy can have up to {MAX_POLICY_VERSIONS} versions. Before you create a new "
                    "version, you must delete an existing version.")
            return add_version(conn, policy, document, now, bool(params.get("SetAsDefault")))

        version = self.shared.write(create)
        return {"PolicyVersion": {"VersionId": version, "IsDefaultVersion": bool(params.get("SetAsDefault")),
                                  "CreateDate": ids.timestamp(now)}}

    def get_policy_version(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, arn, version = self.shared.account(ctx), params["PolicyArn"], params["VersionId"]
        managed = aws_policy(arn)
        if managed is not None:
            if version != managed.default_version:
                raise errors.no_version(arn, version)
            return {"PolicyVersion": {"Document": documents.wire(managed.document), "VersionId": version,
                                      "IsDefaultVersion": True, "CreateDate": managed.updated}}
        policy = self._policy(account, arn)
        found = find_version(self.shared.db.reader, arn, version)
        if found is None:
            raise errors.no_version(arn, version)
        return {"PolicyVersion": {"Document": documents.wire(found.document), "VersionId": version,
                                  "IsDefaultVersion": version == policy.default_version,
                                  "CreateDate": ids.timestamp(found.created)}}

    def list_policy_versions(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, arn = self.shared.account(ctx), params["PolicyArn"]
        managed = aws_policy(arn)
        if managed is not None:
            versions = [{"VersionId": managed.default_version, "IsDefaultVersion": True,
                         "CreateDate": managed.updated}]
        else:
            policy = self._policy(account, arn)
            versions = [{"VersionId": v.version_id, "IsDefaultVersion": v.version_id == policy.default_version,
                         "CreateDate": ids.timestamp(v.created)} for v in versions_of(self.shared.db.reader, arn)]
        listed, more = page(versions, params)
        return {"Versions": listed, **more}

    def delete_policy_version(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, arn, version = self.shared.account(ctx), params["PolicyArn"], params["VersionId"]
        self._refuse_aws_policy(ctx, "DeletePolicyVersion", arn)

        def delete(conn: sqlite3.Connection) -> None:
            policy = find_policy(conn, account, arn)
            if policy is None:
                raise errors.no_policy(arn)
            if version == policy.default_version:
                raise errors.delete_conflict("Cannot delete the default version of a policy.")
            if not delete_version(conn, arn, version):
                raise errors.no_version(arn, version)

        self.shared.write(delete)
        return {}

    def set_default_policy_version(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, arn, version = self.shared.account(ctx), params["PolicyArn"], params["VersionId"]
        self._refuse_aws_policy(ctx, "SetDefaultPolicyVersion", arn)
        now = self.clock.now()

        def set_default(conn: sqlite3.Connection) -> None:
            if find_policy(conn, account, arn) is None:
                raise errors.no_policy(arn)
            if find_version(conn, arn, version) is None:
                raise errors.no_version(arn, version)
            set_default_version(conn, arn, version, now)

        self.shared.write(set_default)
        return {}

    # -- helpers --

    def _refuse_aws_policy(self, ctx: RequestContext, operation: str, arn: str) -> None:
        """AWS managed policies are read-only; AWS answers changes to them with AccessDenied."""
        if arn.startswith(AWS_POLICY_PREFIX):
            raise errors.access_denied(f"User: {self.shared.caller(ctx).arn} is not authorized to perform: "
                                       f"iam:{operation} on resource: policy {arn}")

    def _policy(self, account: str, arn: str) -> PolicyRecord:
        found = find_policy(self.shared.db.reader, account, arn)
        if found is None:
            raise errors.no_policy(arn)
        return found

    def _policy_out(self, account: str, p: PolicyRecord) -> dict[str, Any]:
        out: dict[str, Any] = {
            "PolicyName": p.name, "PolicyId": p.policy_id, "Arn": p.arn, "Path": p.path,
            "DefaultVersionId": p.default_version,
            "AttachmentCount": attachment_count(self.shared.db.reader, account, p.arn),
            "PermissionsBoundaryUsageCount": 0, "IsAttachable": True,
            "CreateDate": ids.timestamp(p.created), "UpdateDate": ids.timestamp(p.updated),
        }
        if p.description:
            out["Description"] = p.description
        if p.tags:
            out["Tags"] = p.tags
        return out

    def _aws_policy_out(self, account: str, p: ManagedPolicy) -> dict[str, Any]:
        return {
            "PolicyName": p.name, "PolicyId": p.policy_id, "Arn": p.arn, "Path": p.path,
            "DefaultVersionId": p.default_version,
            "AttachmentCount": attachment_count(self.shared.db.reader, account, p.arn),
            "PermissionsBoundaryUsageCount": 0, "IsAttachable": True, "Description": p.description,
            "CreateDate": p.created, "UpdateDate": p.updated,
        }


def _check_managed(document: str) -> None:
    documents.check(document, "identity")
    if documents.size(document) > documents.MANAGED_LIMIT:
        raise errors.limit_exceeded(f"Cannot exceed quota for PolicySize: {documents.MANAGED_LIMIT}")
