"""AWS::S3::Bucket and AWS::S3::BucketPolicy."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from ....protocol.errors import ServiceError
from .base import ResourceRequest, ResourceResult
from .calls import Caller
from .s3_config import ENFORCED, BucketConfiguration, object_ownership
from .support import (
    as_bool,
    as_json_text,
    changed,
    check_properties,
    invalid_properties,
    physical_name,
    tag_list,
    undo_on_failure,
)

# Regions whose website endpoints are `s3-website-<region>` rather than `s3-website.<region>`.
_DASH_WEBSITE_REGIONS = frozenset({"us-east-1", "us-west-1", "us-west-2", "ap-southeast-1", "ap-southeast-2",
                                   "ap-northeast-1", "eu-west-1", "sa-east-1", "us-gov-west-1"})

# Every property of the type's schema: the ones below the line have no effect on one machine
# (replication, analytics, ...) and are accepted as AWS accepts them.
_BUCKET_PROPERTIES = frozenset({
    "BucketName", "NotificationConfiguration", "VersioningConfiguration", "Tags",
    "AccessControl", "BucketEncryption", "CorsConfiguration", "OwnershipControls", "PublicAccessBlockConfiguration",
    "AccelerateConfiguration", "AnalyticsConfigurations", "IntelligentTieringConfigurations", "InventoryConfigurations",
    "LifecycleConfiguration", "LoggingConfiguration", "MetricsConfigurations", "ObjectLockConfiguration",
    "ObjectLockEnabled", "ReplicationConfiguration",
    "WebsiteConfiguration", "MetadataTableConfiguration", "MetadataConfiguration", "AbacStatus",
})

_EVENT_KINDS = (  # CloudFormation's list, S3's list, the target's member in each
    ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
    ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
    ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
)


def bucket_attributes(name: str, region: str) -> dict[str, Any]:
    website = "s3-website-" if region in _DASH_WEBSITE_REGIONS else "s3-website."
    return {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
        "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
        "WebsiteURL": f"http://{name}.{website}{region}.amazonaws.com",
    }


def _filter(cfn: dict[str, Any] | None) -> dict[str, Any] | None:
    if not cfn:
        return None
    rules = ((cfn.get("S3Key") or {}).get("Rules")) or []
    return {"Key": {"FilterRules": [{"Name": r.get("Name"), "Value": r.get("Value")} for r in rules]}}


def notification_configuration(req: ResourceRequest, cfn: dict[str, Any] | None) -> dict[str, Any]:
    """CloudFormation's NotificationConfiguration in PutBucketNotificationConfiguration's shape
    (an empty one removes every notification, as leaving it out of the template does)."""
    out: dict[str, Any] = {}
    cfn = cfn or {}
    for cfn_list, s3_list, cfn_target, s3_target in _EVENT_KINDS:
        entries: list[dict[str, Any]] = []
        for item in cfn.get(cfn_list) or []:
            if not item.get(cfn_target) or not item.get("Event"):
                missing = cfn_target if not item.get(cfn_target) else "Event"
                raise invalid_properties(
                    req, f"#/NotificationConfiguration/{cfn_list}/{len(entries)}: required key [{missing}] not found")
            entry: dict[str, Any] = {s3_target: item[cfn_target], "Events": [item["Event"]]}
            found = _filter(item.get("Filter"))
            if found is not None:
                entry["Filter"] = found
            entries.append(entry)
        if entries:
            out[s3_list] = entries
    bridge = cfn.get("EventBridgeConfiguration")
    if bridge is not None and str(bridge.get("EventBridgeEnabled", True)).lower() == "true":
        out["EventBridgeConfiguration"] = {}
    return out


class BucketProvider:
    type_name: ClassVar[str] = "AWS::S3::Bucket"
    replace_on: ClassVar[frozenset[str]] = frozenset({"BucketName", "ObjectLockEnabled"})

    def __init__(self, call: Caller) -> None:
        self.call = call
        self.access = BucketConfiguration(call)

    def create(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, _BUCKET_PROPERTIES)
        name = props.get("BucketName") or physical_name(req, 63, lower=True, random_length=12)
        params: dict[str, Any] = {}
        if req.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": req.region}
        if as_bool(req, props, "ObjectLockEnabled"):
            params["ObjectLockEnabledForBucket"] = True
        if object_ownership(req, props) != ENFORCED:  # ACLs enabled from the start, as CreateBucket allows
            params["ObjectOwnership"] = object_ownership(req, props)
        try:
            self.call(req, "s3", "CreateBucket", Bucket=name, **params)
        except ServiceError as err:
            # A create resumed after a crash asks again for the name it generated: it is ours.
            if not (err.code == "BucketAlreadyOwnedByYou" and not props.get("BucketName")):
                raise
        with undo_on_failure(lambda: self.delete(replace(req, physical_id=name))):
            self._configure(req, name, props, None)
        return ResourceResult(name, bucket_attributes(name, req.region))

    def update(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, _BUCKET_PROPERTIES)
        name = req.physical_id or props["BucketName"]
        self._configure(req, name, props, req.old_properties or {})
        return ResourceResult(name, bucket_attributes(name, req.region))

    def _configure(self, req: ResourceRequest, name: str, props: dict[str, Any], old: dict[str, Any] | None) -> None:
        first = old is None
        self.access.apply(req, name, props, old)
        if props.get("VersioningConfiguration") is not None and (first or changed(req, "VersioningConfiguration")):
            status = props["VersioningConfiguration"].get("Status")
            self.call(req, "s3", "PutBucketVersioning", Bucket=name, VersioningConfiguration={"Status": status})
        elif not first and old and old.get("VersioningConfiguration") and not props.get("VersioningConfiguration"):
            # Versioning cannot be turned off once on: removing it from the template suspends it.
            self.call(req, "s3", "PutBucketVersioning", Bucket=name, VersioningConfiguration={"Status": "Suspended"})
        if (first and props.get("NotificationConfiguration")) or (not first and changed(req, "NotificationConfiguration")):
            config = notification_configuration(req, props.get("NotificationConfiguration"))
            self.call(req, "s3", "PutBucketNotificationConfiguration", Bucket=name, NotificationConfiguration=config)
        if (first and props.get("Tags")) or (not first and changed(req, "Tags")):
            self._tag(req, name, props)

    def _tag(self, req: ResourceRequest, name: str, props: dict[str, Any]) -> None:
        tags = tag_list(props)
        if tags:
            self.call(req, "s3", "PutBucketTagging", Bucket=name, Tagging={"TagSet": tags})
        else:
            self.call(req, "s3", "DeleteBucketTagging", Bucket=name)

    def delete(self, req: ResourceRequest) -> None:
        if not req.physical_id:
            return
        try:
            self.call(req, "s3", "DeleteBucket", Bucket=req.physical_id)
        except ServiceError as err:
            if err.code != "NoSuchBucket":
                raise


class BucketPolicyProvider:
    type_name: ClassVar[str] = "AWS::S3::BucketPolicy"
    replace_on: ClassVar[frozenset[str]] = frozenset({"Bucket"})

    def __init__(self, call: Caller) -> None:
        self.call = call

    def create(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, ("Bucket", "PolicyDocument"), ("Bucket", "PolicyDocument"))
        self.call(req, "s3", "PutBucketPolicy", Bucket=props["Bucket"], Policy=as_json_text(props["PolicyDocument"]))
        # The physical id is the bucket's name (the type's primary identifier).
        return ResourceResult(props["Bucket"], {})

    def update(self, req: ResourceRequest) -> ResourceResult:
        return self.create(req)

    def delete(self, req: ResourceRequest) -> None:
        bucket = (req.properties or {}).get("Bucket") or req.physical_id
        if not bucket:
            return
        try:
            self.call(req, "s3", "DeleteBucketPolicy", Bucket=bucket)
        except ServiceError as err:
            if err.code not in ("NoSuchBucket", "NoSuchBucketPolicy"):
                raise
