"""AWS::IAM::Role (Ref = its name), AWS::IAM::Policy (inline policies of roles and users),
AWS::IAM::ManagedPolicy (Ref = its ARN)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar

from ....protocol.errors import ServiceError
from .base import ResourceRequest, ResourceResult
from .calls import Caller
from .support import as_json_text, check_properties, physical_name, tag_list, undo_on_failure

_ROLE_PROPERTIES = ("AssumeRolePolicyDocument", "Description", "ManagedPolicyArns", "MaxSessionDuration", "Path",
                    "PermissionsBoundary", "Policies", "RoleName", "Tags")
# The entities a policy may be attached to: (property, IAM's name for them, the member naming one).
_ENTITIES = (("Roles", "Role", "RoleName"), ("Users", "User", "UserName"), ("Groups", "Group", "GroupName"))


def _gone(err: ServiceError) -> bool:
    return err.code == "NoSuchEntity"


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _inline_policies(props: dict[str, Any]) -> dict[str, str]:
    return {p["PolicyName"]: as_json_text(p["PolicyDocument"]) or "" for p in props.get("Policies") or []}


class RoleProvider:
    type_name: ClassVar[str] = "AWS::IAM::Role"
    replace_on: ClassVar[frozenset[str]] = frozenset({"RoleName", "Path"})

    def __init__(self, call: Caller) -> None:
        self.call = call

    def create(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, _ROLE_PROPERTIES, ("AssumeRolePolicyDocument",))
        name = props.get("RoleName") or physical_name(req, 64, random_length=12)
        try:
            role = self.call(req, "iam", "CreateRole", RoleName=name, Path=props.get("Path"),
                             AssumeRolePolicyDocument=as_json_text(props["AssumeRolePolicyDocument"]),
                             Description=props.get("Description"), MaxSessionDuration=props.get("MaxSessionDuration"),
                             Tags=tag_list(props) or None)["Role"]
        except ServiceError as err:
            # A create resumed after a crash: the role it generated the name for is there.
            if err.code != "EntityAlreadyExists" or props.get("RoleName"):
                raise
            role = self.call(req, "iam", "GetRole", RoleName=name)["Role"]
        with undo_on_failure(lambda: self.delete(replace(req, physical_id=name))):
            for policy, document in _inline_policies(props).items():
                self.call(req, "iam", "PutRolePolicy", RoleName=name, PolicyName=policy, PolicyDocument=document)
            for arn in props.get("ManagedPolicyArns") or []:
                self.call(req, "iam", "AttachRolePolicy", RoleName=name, PolicyArn=arn)
        return ResourceResult(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def update(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, _ROLE_PROPERTIES, ("AssumeRolePolicyDocument",))
        old = req.old_properties or {}
        name = req.physical_id or props["RoleName"]
        if props.get("AssumeRolePolicyDocument") != old.get("AssumeRolePolicyDocument"):
            self.call(req, "iam", "UpdateAssumeRolePolicy", RoleName=name,
                      PolicyDocument=as_json_text(props["AssumeRolePolicyDocument"]))
        if any(props.get(k) != old.get(k) for k in ("Description", "MaxSessionDuration")):
            self.call(req, "iam", "UpdateRole", RoleName=name, Description=props.get("Description") or "",
                      MaxSessionDuration=props.get("MaxSessionDuration") or 3600)
        new_inline, old_inline = _inline_policies(props), _inline_policies(old)
        for policy, document in new_inline.items():
            if old_inline.get(policy) != document:
                self.call(req, "iam", "PutRolePolicy", RoleName=name, PolicyName=policy, PolicyDocument=document)
        for policy in old_inline.keys() - new_inline.keys():
            self._quietly(req, "DeleteRolePolicy", RoleName=name, PolicyName=policy)
        new_arns, old_arns = set(props.get("ManagedPolicyArns") or []), set(old.get("ManagedPolicyArns") or [])
        for arn in sorted(new_arns - old_arns):
            self.call(req, "iam", "AttachRolePolicy", RoleName=name, PolicyArn=arn)
        for arn in sorted(old_arns - new_arns):
            self._quietly(req, "DetachRolePolicy", RoleName=name, PolicyArn=arn)
        if props.get("Tags") != old.get("Tags"):
            new_tags = tag_list(props)
            gone = [t["Key"] for t in tag_list(old) if t["Key"] not in {n["Key"] for n in new_tags}]
            if gone:
                self.call(req, "iam", "UntagRole", RoleName=name, TagKeys=gone)
            if new_tags:
                self.call(req, "iam", "TagRole", RoleName=name, Tags=new_tags)
        role = self.call(req, "iam", "GetRole", RoleName=name)["Role"]
        return ResourceResult(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def _quietly(self, req: ResourceRequest, operation: str, **members: Any) -> None:
        try:
            self.call(req, "iam", operation, **members)
        except ServiceError as err:
            if not _gone(err):
                raise

    def delete(self, req: ResourceRequest) -> None:
        name = req.physical_id
        if not name:
            return
        # IAM refuses to delete a role that still has policies: take them all off first.
        try:
            inline = self.call(req, "iam", "ListRolePolicies", RoleName=name).get("PolicyNames") or []
            attached = self.call(req, "iam", "ListAttachedRolePolicies", RoleName=name).get("AttachedPolicies") or []
        except ServiceError as err:
            if _gone(err):
                return
            raise
        for policy in inline:
            self._quietly(req, "DeleteRolePolicy", RoleName=name, PolicyName=policy)
        for found in attached:
            self._quietly(req, "DetachRolePolicy", RoleName=name, PolicyArn=found["PolicyArn"])
        self._quietly(req, "DeleteRole", RoleName=name)


class PolicyProvider:
    """An inline policy put into each listed role and user; Ref and `Fn::GetAtt Id` are the
    generated physical id."""

    type_name: ClassVar[str] = "AWS::IAM::Policy"
    replace_on: ClassVar[frozenset[str]] = frozenset()
    _known = ("PolicyName", "PolicyDocument", "Roles", "Users", "Groups")

    def __init__(self, call: Caller) -> None:
        self.call = call

    def _put(self, req: ResourceRequest, props: dict[str, Any]) -> None:
        document = as_json_text(props["PolicyDocument"])
        for prop, kind, member in _ENTITIES:
            for entity in props.get(prop) or []:
                self.call(req, "iam", f"Put{kind}Policy", PolicyName=props["PolicyName"], PolicyDocument=document,
                              **{member: entity})

    def _remove(self, req: ResourceRequest, name: str, entities: Iterable[tuple[str, str]]) -> None:
        members = {kind: member for _, kind, member in _ENTITIES}
        for kind, entity in entities:
            try:
                self.call(req, "iam", f"Delete{kind}Policy", PolicyName=name, **{members[kind]: entity})
            except ServiceError as err:
                if not _gone(err):
                    raise

    @staticmethod
    def _entities(props: dict[str, Any]) -> set[tuple[str, str]]:
        return {(kind, e) for prop, kind, _ in _ENTITIES for e in props.get(prop) or []}

    def create(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, self._known, ("PolicyName", "PolicyDocument"))
        with undo_on_failure(lambda: self.delete(req)):
            self._put(req, props)
        pid = physical_name(req, 128)
        return ResourceResult(pid, {"Id": pid})

    def update(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, self._known, ("PolicyName", "PolicyDocument"))
        old = req.old_properties or {}
        self._put(req, props)
        if old.get("PolicyName") and old.get("PolicyName") != props["PolicyName"]:
            self._remove(req, old["PolicyName"], self._entities(old))
        else:
            self._remove(req, props["PolicyName"], self._entities(old) - self._entities(props))
        pid = req.physical_id or physical_name(req, 128)
        return ResourceResult(pid, {"Id": pid})

    def delete(self, req: ResourceRequest) -> None:
        props = req.properties or {}
        if props.get("PolicyName"):
            self._remove(req, props["PolicyName"], self._entities(props))


class ManagedPolicyProvider:
    type_name: ClassVar[str] = "AWS::IAM::ManagedPolicy"
    replace_on: ClassVar[frozenset[str]] = frozenset({"ManagedPolicyName", "Path", "Description"})
    _known = ("ManagedPolicyName", "Path", "Description", "PolicyDocument", "Roles", "Users", "Groups")

    def __init__(self, call: Caller) -> None:
        self.call = call

    def _attributes(self, req: ResourceRequest, arn: str) -> dict[str, Any]:
        p = self.call(req, "iam", "GetPolicy", PolicyArn=arn)["Policy"]
        return {"PolicyArn": arn, "PolicyId": p.get("PolicyId"), "DefaultVersionId": p.get("DefaultVersionId"),
                "AttachmentCount": p.get("AttachmentCount", 0), "IsAttachable": p.get("IsAttachable", True),
                "PermissionsBoundaryUsageCount": p.get("PermissionsBoundaryUsageCount", 0),
                "CreateDate": _text(p.get("CreateDate")), "UpdateDate": _text(p.get("UpdateDate"))}

    def _attach(self, req: ResourceRequest, arn: str, entities: Iterable[tuple[str, str]], verb: str) -> None:
        members = {kind: member for _, kind, member in _ENTITIES}
        for kind, entity in sorted(entities):
            try:
                self.call(req, "iam", f"{verb}{kind}Policy", PolicyArn=arn, **{members[kind]: entity})
            except ServiceError as err:
                if verb == "Attach" or not _gone(err):
                    raise

    def create(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, self._known, ("PolicyDocument",))
        name = props.get("ManagedPolicyName") or physical_name(req, 128, random_length=12)
        try:
            arn = self.call(req, "iam", "CreatePolicy", PolicyName=name, Path=props.get("Path"),
                            Description=props.get("Description"),
                            PolicyDocument=as_json_text(props["PolicyDocument"]))["Policy"]["Arn"]
        except ServiceError as err:
            # A create resumed after a crash: the policy it generated the name for is there.
            if err.code != "EntityAlreadyExists" or props.get("ManagedPolicyName"):
                raise
            arn = f"arn:aws:iam::{req.account_id}:policy{props.get('Path') or '/'}{name}"
        with undo_on_failure(lambda: self.delete(replace(req, physical_id=arn))):
            self._attach(req, arn, PolicyProvider._entities(props), "Attach")
        return ResourceResult(arn, self._attributes(req, arn))

    def update(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, self._known, ("PolicyDocument",))
        old = req.old_properties or {}
        arn = req.physical_id or ""
        if props.get("PolicyDocument") != old.get("PolicyDocument"):
            self._prune_versions(req, arn)
            self.call(req, "iam", "CreatePolicyVersion", PolicyArn=arn, SetAsDefault=True,
                      PolicyDocument=as_json_text(props["PolicyDocument"]))
        new, before = PolicyProvider._entities(props), PolicyProvider._entities(old)
        self._attach(req, arn, new - before, "Attach")
        self._attach(req, arn, before - new, "Detach")
        return ResourceResult(arn, self._attributes(req, arn))

    def _prune_versions(self, req: ResourceRequest, arn: str, keep: int = 4) -> None:
        # IAM keeps five versions: the oldest non-default one goes to make room, as AWS's handler does.
        versions = self.call(req, "iam", "ListPolicyVersions", PolicyArn=arn).get("Versions") or []
        spare = sorted((v for v in versions if not v.get("IsDefaultVersion")), key=lambda v: str(v.get("CreateDate")))
        while len(versions) > keep and spare:
            oldest = spare.pop(0)
            self.call(req, "iam", "DeletePolicyVersion", PolicyArn=arn, VersionId=oldest["VersionId"])
            versions = [v for v in versions if v["VersionId"] != oldest["VersionId"]]

    def delete(self, req: ResourceRequest) -> None:
        arn = req.physical_id
        if not arn:
            return
        self._attach(req, arn, PolicyProvider._entities(req.properties or {}), "Detach")
        try:
            self._prune_versions(req, arn, keep=1)
            self.call(req, "iam", "DeletePolicy", PolicyArn=arn)
        except ServiceError as err:
            if not _gone(err):
                raise
