"""AWS::S3::Bucket's access and configuration properties, applied with S3's own operations:
OwnershipControls, PublicAccessBlockConfiguration, AccessControl (a canned ACL),
CorsConfiguration, BucketEncryption, LifecycleConfiguration.

On create they are applied after CreateBucket (ObjectOwnership goes with CreateBucket itself); on
update only the changed ones are applied, and one removed from the template puts the bucket back
as a bucket made without it is on AWS since April 2023: BucketOwnerEnforced, the four Block
Public Access flags on, the private ACL, no CORS configuration, SSE-S3 default encryption.

The order is what lets a public bucket be declared in one template (AWS's guidance since the
2023 defaults): Object Ownership first (an ACL needs ACLs enabled), Block Public Access next (a
public ACL needs BlockPublicAcls off), the ACL last. Going the other way (a public ACL dropped
while ACLs are disabled again), the ACL is made private before the ownership changes, since S3
refuses BucketOwnerEnforced on a bucket whose ACL grants anyone else.
"""

from __future__ import annotations

from typing import Any

from .base import ResourceRequest
from .calls import Caller
from .support import as_bool, invalid_properties

_CANNED = {  # CloudFormation's AccessControl values -> S3's canned ACL names
    "Private": "private", "PublicRead": "public-read", "PublicReadWrite": "public-read-write",
    "AuthenticatedRead": "authenticated-read", "LogDeliveryWrite": "log-delivery-write",
    "BucketOwnerRead": "bucket-owner-read", "BucketOwnerFullControl": "bucket-owner-full-control",
    "AwsExecRead": "aws-exec-read",
}
_OWNER_ONLY = frozenset({"private", "bucket-owner-full-control"})  # allowed (and moot) with ACLs disabled
_PAB_FLAGS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
ENFORCED = "BucketOwnerEnforced"
DEFAULT_ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                                 "BucketKeyEnabled": False}]}
CONFIG_PROPERTIES = ("OwnershipControls", "PublicAccessBlockConfiguration", "AccessControl", "CorsConfiguration",
                     "BucketEncryption", "LifecycleConfiguration")


def object_ownership(req: ResourceRequest, props: dict[str, Any]) -> str:
    """The template's ObjectOwnership (absent: S3's default for a new bucket, BucketOwnerEnforced)."""
    controls = props.get("OwnershipControls")
    if controls is None:
        return ENFORCED
    rules = controls.get("Rules") if isinstance(controls, dict) else None
    if not isinstance(rules, list) or len(rules) != 1 or not isinstance(rules[0], dict) \
            or not rules[0].get("ObjectOwnership"):
        raise invalid_properties(req, "#/OwnershipControls/Rules: expected exactly one rule with ObjectOwnership")
    return str(rules[0]["ObjectOwnership"])


def canned_acl(req: ResourceRequest, props: dict[str, Any]) -> str | None:
    value = props.get("AccessControl")
    if value is None:
        return None
    if value not in _CANNED:
        raise invalid_properties(req, f"#/AccessControl: {value} is not a valid enum value")
    return _CANNED[value]


def _public_access_block(req: ResourceRequest, props: dict[str, Any]) -> dict[str, bool]:
    given = props.get("PublicAccessBlockConfiguration")
    if given is None:
        return dict.fromkeys(_PAB_FLAGS, True)  # a new bucket's default
    if not isinstance(given, dict):
        raise invalid_properties(req, "#/PublicAccessBlockConfiguration: expected type: JSONObject")
    sub = {flag: given.get(flag) for flag in _PAB_FLAGS}
    return {flag: bool(as_bool(req, sub, flag)) for flag in _PAB_FLAGS}  # a flag left out is off, as in S3


def _cors(req: ResourceRequest, cfn: Any) -> dict[str, Any]:
    rules = cfn.get("CorsRules") if isinstance(cfn, dict) else None
    if not isinstance(rules, list):
        raise invalid_properties(req, "#/CorsConfiguration: required key [CorsRules] not found")
    out = []
    for rule in rules:
        entry: dict[str, Any] = {"AllowedMethods": list(rule.get("AllowedMethods") or []),
                                 "AllowedOrigins": list(rule.get("AllowedOrigins") or [])}
        for cfn_name, s3_name in (("AllowedHeaders", "AllowedHeaders"), ("ExposedHeaders", "ExposeHeaders"),
                                  ("Id", "ID")):
            if rule.get(cfn_name) is not None:
                entry[s3_name] = rule[cfn_name]
        if rule.get("MaxAge") is not None:
            entry["MaxAgeSeconds"] = int(rule["MaxAge"])
        out.append(entry)
    return {"CORSRules": out}


def _encryption(req: ResourceRequest, cfn: Any) -> dict[str, Any]:
    rules = cfn.get("ServerSideEncryptionConfiguration") if isinstance(cfn, dict) else None
    if not isinstance(rules, list):
        raise invalid_properties(req, "#/BucketEncryption: required key [ServerSideEncryptionConfiguration] not found")
    out = []
    for rule in rules:
        entry: dict[str, Any] = {}
        default = rule.get("ServerSideEncryptionByDefault")
        if default is not None:
            entry["ApplyServerSideEncryptionByDefault"] = {
                k: v for k, v in (("SSEAlgorithm", default.get("SSEAlgorithm")),
                                  ("KMSMasterKeyID", default.get("KMSMasterKeyID"))) if v is not None}
        if rule.get("BucketKeyEnabled") is not None:
            entry["BucketKeyEnabled"] = bool(as_bool(req, rule, "BucketKeyEnabled"))
        out.append(entry)
    return {"Rules": out}


def _lifecycle_filter(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's flat Prefix / TagFilters / ObjectSize* -> S3's Filter (And when several)."""
    parts: dict[str, Any] = {}
    if rule.get("Prefix") is not None:
        parts["Prefix"] = rule["Prefix"]
    tags = [{"Key": t.get("Key"), "Value": t.get("Value")} for t in rule.get("TagFilters") or []]
    for name in ("ObjectSizeGreaterThan", "ObjectSizeLessThan"):
        if rule.get(name) is not None:
            parts[name] = int(rule[name])
    if len(parts) + len(tags) > 1:
        return {"And": {**parts, **({"Tags": tags} if tags else {})}}
    if tags:
        return {"Tag": tags[0]}
    return parts or {"Prefix": ""}


def _lifecycle(req: ResourceRequest, cfn: Any) -> dict[str, Any]:
    """CloudFormation's LifecycleConfiguration -> PutBucketLifecycleConfiguration's members."""
    rules = cfn.get("Rules") if isinstance(cfn, dict) else None
    if not isinstance(rules, list):
        raise invalid_properties(req, "#/LifecycleConfiguration: required key [Rules] not found")
    out = []
    for rule in rules:
        if not isinstance(rule, dict) or rule.get("Status") is None:
            raise invalid_properties(req, "#/LifecycleConfiguration/Rules: required key [Status] not found")
        entry: dict[str, Any] = {"Status": rule["Status"], "Filter": _lifecycle_filter(rule)}
        if rule.get("Id") is not None:
            entry["ID"] = rule["Id"]
        expiration = {name: value for name, value in (
            ("Days", rule.get("ExpirationInDays")), ("Date", rule.get("ExpirationDate")),
            ("ExpiredObjectDeleteMarker", rule.get("ExpiredObjectDeleteMarker"))) if value is not None}
        if expiration:
            entry["Expiration"] = expiration
        noncurrent = dict(rule.get("NoncurrentVersionExpiration") or {})
        if rule.get("NoncurrentVersionExpirationInDays") is not None:
            noncurrent.setdefault("NoncurrentDays", rule["NoncurrentVersionExpirationInDays"])
        if noncurrent:
            entry["NoncurrentVersionExpiration"] = noncurrent
        if rule.get("AbortIncompleteMultipartUpload") is not None:
            entry["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
        transitions = list(rule.get("Transitions") or []) + ([rule["Transition"]] if rule.get("Transition") else [])
        if transitions:
            entry["Transitions"] = [{k: v for k, v in (("Days", t.get("TransitionInDays")), ("Date", t.get("TransitionDate")),
                                                        ("StorageClass", t.get("StorageClass"))) if v is not None}
                                    for t in transitions]
        noncurrent_transitions = list(rule.get("NoncurrentVersionTransitions") or []) + (
            [rule["NoncurrentVersionTransition"]] if rule.get("NoncurrentVersionTransition") else [])
        if noncurrent_transitions:
            entry["NoncurrentVersionTransitions"] = [
                {k: v for k, v in (("NoncurrentDays", t.get("TransitionInDays")), ("StorageClass", t.get("StorageClass")),
                                   ("NewerNoncurrentVersions", t.get("NewerNoncurrentVersions"))) if v is not None}
                for t in noncurrent_transitions]
        out.append(entry)
    return {"Rules": out}


class BucketConfiguration:
    """Applies the properties above to bucket `name`: all of them on create (`old` None), the
    changed ones on update."""

    def __init__(self, call: Caller) -> None:
        self.call = call

    def apply(self, req: ResourceRequest, name: str, props: dict[str, Any], old: dict[str, Any] | None) -> None:
        first = old is None
        before = old or {}

        def moved(prop: str) -> bool:
            return first and props.get(prop) is not None or not first and before.get(prop) != props.get(prop)

        ownership, old_ownership = object_ownership(req, props), object_ownership(req, before)
        acl, old_acl = canned_acl(req, props), canned_acl(req, before)
        acl_changes = moved("AccessControl")
        if not first and old_acl not in (None, *_OWNER_ONLY) and old_ownership != ENFORCED and (
                ownership == ENFORCED or acl is None):
            # A grant to others must go before ACLs are disabled (S3 refuses the ownership change).
            self.call(req, "s3", "PutBucketAcl", Bucket=name, ACL="private")
            acl_changes = acl not in (None, "private")
        if not first and ownership != old_ownership:
            self.call(req, "s3", "PutBucketOwnershipControls", Bucket=name,
                      OwnershipControls={"Rules": [{"ObjectOwnership": ownership}]})
        if moved("PublicAccessBlockConfiguration"):
            self.call(req, "s3", "PutPublicAccessBlock", Bucket=name,
                      PublicAccessBlockConfiguration=_public_access_block(req, props))
        if acl_changes and acl is not None and not (ownership == ENFORCED and acl in _OWNER_ONLY):
            self.call(req, "s3", "PutBucketAcl", Bucket=name, ACL=acl)
        if moved("CorsConfiguration"):
            if props.get("CorsConfiguration") is None:
                self.call(req, "s3", "DeleteBucketCors", Bucket=name)
            else:
                self.call(req, "s3", "PutBucketCors", Bucket=name,
                          CORSConfiguration=_cors(req, props["CorsConfiguration"]))
        if moved("BucketEncryption"):
            if props.get("BucketEncryption") is None:
                self.call(req, "s3", "DeleteBucketEncryption", Bucket=name)  # back to SSE-S3
            else:
                self.call(req, "s3", "PutBucketEncryption", Bucket=name,
                          ServerSideEncryptionConfiguration=_encryption(req, props["BucketEncryption"]))
        if moved("LifecycleConfiguration"):
            if props.get("LifecycleConfiguration") is None:
                self.call(req, "s3", "DeleteBucketLifecycle", Bucket=name)
            else:
                self.call(req, "s3", "PutBucketLifecycleConfiguration", Bucket=name,
                          LifecycleConfiguration=_lifecycle(req, props["LifecycleConfiguration"]))
