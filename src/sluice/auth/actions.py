"""Which IAM action(s), on which resource(s), with which condition keys, an API call needs.

AWS authorizes an operation by the actions of its service authorization reference, which are
mostly named after the operation but not always (S3 above all: ListObjectsV2 is s3:ListBucket
on the bucket, HeadObject is s3:GetObject, CopyObject needs s3:GetObject on the source and
s3:PutObject on the target). `checks_for` maps one parsed request to the checks it needs; an
empty list means AWS requires no permission (sts:GetCallerIdentity).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote, urlparse

Context = dict[str, "str | list[str]"]


# Tuples, not frozen dataclasses: one or two are made per request, and a frozen dataclass's
# __init__ (object.__setattr__ per field) cost three times as much; immutable all the same.
class Check(NamedTuple):
    action: str  # "s3:GetObject"
    resource: str  # an ARN, or "*"
    # Operation-specific condition keys (s3:prefix, ...); read-only (the default is shared).
    context: Mapping[str, str | list[str]] = MappingProxyType({})
    # The index of the batch item this check is for: a denial fails only that item, not the
    # request (S3 DeleteObjects evaluates s3:DeleteObject key by key).
    item: int | None = None


class Where(NamedTuple):
    """Where the request is made: resources in the caller's account and region get these."""

    region: str
    account: str


Mapper = Callable[[str, Mapping[str, Any], Where], list[Check]]

# -- S3 --------------------------------------------------------------------------------------

# Operations whose action is not s3:<Operation>; the value is (action, on the object?).
_S3_ACTIONS: dict[str, tuple[str, bool]] = {
    "ListBuckets": ("s3:ListAllMyBuckets", False),
    "ListDirectoryBuckets": ("s3:ListAllMyDirectoryBuckets", False),
    "HeadBucket": ("s3:ListBucket", False),
    "ListObjects": ("s3:ListBucket", False),
    "ListObjectsV2": ("s3:ListBucket", False),
    "ListObjectVersions": ("s3:ListBucketVersions", False),
    "ListMultipartUploads": ("s3:ListBucketMultipartUploads", False),
    "GetObject": ("s3:GetObject", True),
    "HeadObject": ("s3:GetObject", True),
    "GetObjectAttributes": ("s3:GetObjectAttributes", True),
    "PutObject": ("s3:PutObject", True),
    "CreateMultipartUpload": ("s3:PutObject", True),
    "UploadPart": ("s3:PutObject", True),
    "CompleteMultipartUpload": ("s3:PutObject", True),
    "AbortMultipartUpload": ("s3:AbortMultipartUpload", True),
    "ListParts": ("s3:ListMultipartUploadParts", True),
    "DeleteObject": ("s3:DeleteObject", True),
    "GetObjectTagging": ("s3:GetObjectTagging", True),
    "PutObjectTagging": ("s3:PutObjectTagging", True),
    "DeleteObjectTagging": ("s3:DeleteObjectTagging", True),
    "GetObjectAcl": ("s3:GetObjectAcl", True),
    "PutObjectAcl": ("s3:PutObjectAcl", True),
    "RestoreObject": ("s3:RestoreObject", True),
    "PutBucketNotificationConfiguration": ("s3:PutBucketNotification", False),
    "GetBucketNotificationConfiguration": ("s3:GetBucketNotification", False),
    "PutBucketNotification": ("s3:PutBucketNotification", False),
    "GetBucketNotification": ("s3:GetBucketNotification", False),
    "DeleteBucketTagging": ("s3:PutBucketTagging", False),
    "DeleteBucketCors": ("s3:PutBucketCORS", False),
    "GetBucketCors": ("s3:GetBucketCORS", False),
    "PutBucketCors": ("s3:PutBucketCORS", False),
    "GetBucketAccelerateConfiguration": ("s3:GetAccelerateConfiguration", False),
    "PutBucketAccelerateConfiguration": ("s3:PutAccelerateConfiguration", False),
    "GetBucketReplication": ("s3:GetReplicationConfiguration", False),
    "PutBucketReplication": ("s3:PutReplicationConfiguration", False),
    "DeleteBucketReplication": ("s3:PutReplicationConfiguration", False),
    "GetObjectLockConfiguration": ("s3:GetBucketObjectLockConfiguration", False),
    "PutObjectLockConfiguration": ("s3:PutBucketObjectLockConfiguration", False),
    "GetBucketLogging": ("s3:GetBucketLogging", False),
    "PutBucketLogging": ("s3:PutBucketLogging", False),
    "GetBucketLifecycleConfiguration": ("s3:GetLifecycleConfiguration", False),
    "PutBucketLifecycleConfiguration": ("s3:PutLifecycleConfiguration", False),
    "DeleteBucketLifecycle": ("s3:PutLifecycleConfiguration", False),
    "GetBucketLifecycle": ("s3:GetLifecycleConfiguration", False),
    "PutBucketLifecycle": ("s3:PutLifecycleConfiguration", False),
    "GetBucketEncryption": ("s3:GetEncryptionConfiguration", False),
    "PutBucketEncryption": ("s3:PutEncryptionConfiguration", False),
    "DeleteBucketEncryption": ("s3:PutEncryptionConfiguration", False),
    "GetPublicAccessBlock": ("s3:GetBucketPublicAccessBlock", False),
    "PutPublicAccessBlock": ("s3:PutBucketPublicAccessBlock", False),
    "DeletePublicAccessBlock": ("s3:PutBucketPublicAccessBlock", False),
    "DeleteBucketOwnershipControls": ("s3:PutBucketOwnershipControls", False),
}
# Analytics, inventory, metrics and Intelligent-Tiering configurations: reading and listing need
# s3:Get<Kind>Configuration, writing and deleting s3:Put<Kind>Configuration.
_S3_ACTIONS.update({
    f"{verb}Bucket{kind}Configuration{plural}": (f"s3:{action}{kind}Configuration", False)
    for kind in ("Analytics", "Inventory", "Metrics", "IntelligentTiering")
    for verb, plural, action in (("Get", "", "Get"), ("List", "s", "Get"), ("Put", "", "Put"), ("Delete", "", "Put"))
})
# Versioned reads and deletes have their own actions.
_S3_VERSIONED = {"s3:GetObject": "s3:GetObjectVersion", "s3:DeleteObject": "s3:DeleteObjectVersion",
                 "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
                 "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
                 "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
                 "s3:GetObjectAttributes": "s3:GetObjectVersionAttributes",
                 "s3:GetObjectAcl": "s3:GetObjectVersionAcl", "s3:PutObjectAcl": "s3:PutObjectVersionAcl"}


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _copy_source(value: Any) -> tuple[str, str, str | None] | None:
    """(bucket, key, version) of x-amz-copy-source: "bucket/key[?versionId=v]", URL-encoded."""
    if isinstance(value, Mapping):
        return str(value.get("Bucket", "")), str(value.get("Key", "")), value.get("VersionId")
    text = str(value or "")
    path, _, query = text.partition("?")
    bucket, _, key = unquote(path.lstrip("/")).partition("/")
    if not bucket or not key:
        return None
    version = query[len("versionId="):] if query.startswith("versionId=") else None
    return bucket, key, version


# The condition keys of an ACL a request sets (x-amz-acl, x-amz-grant-*), for policies that
# allow or deny writes by the ACL they carry.
_ACL_KEYS = {"ACL": "s3:x-amz-acl", "GrantFullControl": "s3:x-amz-grant-full-control",
             "GrantRead": "s3:x-amz-grant-read", "GrantWrite": "s3:x-amz-grant-write",
             "GrantReadACP": "s3:x-amz-grant-read-acp", "GrantWriteACP": "s3:x-amz-grant-write-acp"}


def _acl_context(p: Mapping[str, Any]) -> Context:
    return {key: str(p[member]) for member, key in _ACL_KEYS.items() if p.get(member) is not None}


# Request members an object write's policy conditions may name (s3:x-amz-acl, ...).
_WRITE_KEYS = {"ACL": "s3:x-amz-acl", "GrantRead": "s3:x-amz-grant-read", "GrantWrite": "s3:x-amz-grant-write",
               "GrantReadACP": "s3:x-amz-grant-read-acp", "GrantWriteACP": "s3:x-amz-grant-write-acp",
               "GrantFullControl": "s3:x-amz-grant-full-control", "MetadataDirective": "s3:x-amz-metadata-directive",
               "ServerSideEncryption": "s3:x-amz-server-side-encryption", "StorageClass": "s3:x-amz-storage-class",
               "SSEKMSKeyId": "s3:x-amz-server-side-encryption-aws-kms-key-id"}


def _write_context(p: Mapping[str, Any]) -> Context:
    """The condition keys of an object write: its x-amz-* request headers and the tags it sets
    (s3:RequestObjectTag/<key>, s3:RequestObjectTagKeys)."""
    context: Context = {key: str(p[member]) for member, key in _WRITE_KEYS.items() if p.get(member)}
    tagging = p.get("Tagging")
    if isinstance(tagging, str) and tagging:
        tags = dict(parse_qsl(tagging, keep_blank_values=True))
        for name, value in tags.items():
            context[f"s3:RequestObjectTag/{name}"] = value
        context["s3:RequestObjectTagKeys"] = list(tags)
    return context


def _s3(operation: str, p: Mapping[str, Any], where: Where) -> list[Check]:
    bucket = p.get("Bucket")
    key = p.get("Key")
    if operation == "ListBuckets" or not bucket:
        action = _S3_ACTIONS.get(operation, (f"s3:{operation}", False))[0]
        return [Check(action, "*")]
    if operation in ("CopyObject", "UploadPartCopy"):
        source = _copy_source(p.get("CopySource"))
        written = _write_context(p)
        if source is not None:
            written["s3:x-amz-copy-source"] = f"{source[0]}/{source[1]}"
        checks = [Check("s3:PutObject", object_arn(bucket, key or ""), written)]
        if source is not None:
            action = "s3:GetObjectVersion" if source[2] else "s3:GetObject"
            checks.insert(0, Check(action, object_arn(source[0], source[1])))
        return checks
    if operation == "PostObject":  # a browser form: s3:PutObject on the key it names, as post.py names it
        fields = p.get("Fields") or {}
        if "key" not in fields:
            return []  # S3 refuses a form without a key before it asks who may write it
        filename = str(p.get("FileName") or "").replace("\\", "/").rsplit("/", 1)[-1]
        return [Check("s3:PutObject", object_arn(bucket, str(fields.get("key", "")).replace("${filename}", filename)))]
    if operation == "DeleteObjects":
        objects = (p.get("Delete") or {}).get("Objects") or []
        return [Check("s3:DeleteObjectVersion" if o.get("VersionId") else "s3:DeleteObject",
                      object_arn(bucket, o.get("Key", "")), item=i) for i, o in enumerate(objects)]
    action, on_object = _S3_ACTIONS.get(operation, (f"s3:{operation}", key is not None))
    if p.get("VersionId") and action in _S3_VERSIONED:
        action = _S3_VERSIONED[action]
    if on_object:
        return [Check(action, object_arn(bucket, key or ""),
                      _write_context(p) if action == "s3:PutObject" else _acl_context(p))]
    context: Context = _acl_context(p)
    if action == "s3:ListBucket" and operation != "HeadBucket":
        context["s3:prefix"] = p.get("Prefix") or ""
        if p.get("Delimiter"):
            context["s3:delimiter"] = p["Delimiter"]
        if p.get("MaxKeys") is not None:
            context["s3:max-keys"] = str(p["MaxKeys"])
    return [Check(action, bucket_arn(bucket), context)]


# -- SQS -------------------------------------------------------------------------------------

_SQS_ACTIONS = {"SendMessageBatch": "sqs:SendMessage", "DeleteMessageBatch": "sqs:DeleteMessage",
                "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility"}


@functools.lru_cache(maxsize=1024)  # a queue's URL, asked about at each of its requests
def queue_arn_from_url(url: str, where: Where) -> str:
    """arn:aws:sqs:<region>:<account>:<name> of a queue URL (http://host/<account>/<name>)."""
    try:
        path = urlparse(url).path
    except ValueError:  # a host urllib cannot read ("http://[x/..."): the service says the queue is not there
        path = url
    parts = [s for s in path.split("/") if s]
    if len(parts) >= 2:
        return f"arn:aws:sqs:{where.region}:{parts[-2]}:{parts[-1]}"
    return f"arn:aws:sqs:{where.region}:{where.account}:{parts[-1] if parts else url}"


def _sqs(operation: str, p: Mapping[str, Any], where: Where) -> list[Check]:
    action = _SQS_ACTIONS.get(operation, f"sqs:{operation}")
    if p.get("QueueUrl"):
        return [Check(action, queue_arn_from_url(p["QueueUrl"], where))]
    if p.get("QueueName"):
        owner = p.get("QueueOwnerAWSAccountId") or where.account
        return [Check(action, f"arn:aws:sqs:{where.region}:{owner}:{p['QueueName']}")]
    if p.get("SourceArn"):  # message move tasks
        return [Check(action, p["SourceArn"])]
    return [Check(action, "*")]


# -- SNS -------------------------------------------------------------------------------------

_SNS_ACTIONS = {"PublishBatch": "sns:Publish"}


def _sns(operation: str, p: Mapping[str, Any], where: Where) -> list[Check]:
    action = _SNS_ACTIONS.get(operation, f"sns:{operation}")
    arn = p.get("TopicArn") or p.get("TargetArn") or p.get("ResourceArn")
    if not arn and p.get("SubscriptionArn"):
        arn = str(p["SubscriptionArn"]).rsplit(":", 1)[0]  # a subscription is authorized on its topic
    if not arn and operation == "CreateTopic" and p.get("Name"):
        arn = f"arn:aws:sns:{where.region}:{where.account}:{p['Name']}"
    return [Check(action, arn or "*")]


# -- Lambda ----------------------------------------------------------------------------------

_LAMBDA_ACTIONS = {"Invoke": "lambda:InvokeFunction", "InvokeAsync": "lambda:InvokeFunction",
                   "InvokeWithResponseStream": "lambda:InvokeFunction", "GetLayerVersionByArn": "lambda:GetLayerVersion"}


def function_arn_of(name: str, qualifier: str | None, where: Where) -> str:
    """The ARN a FunctionName (name, partial ARN or ARN, maybe qualified) and Qualifier name."""
    parts = name.split(":")
    if name.startswith("arn:"):
        region, account, fn = parts[3], parts[4], parts[6] if len(parts) > 6 else ""
        qualifier = qualifier or (parts[7] if len(parts) > 7 else None)
    elif len(parts) >= 3 and parts[1] == "function":  # 123456789012:function:name[:qualifier]
        region, account, fn = where.region, parts[0], parts[2]
        qualifier = qualifier or (parts[3] if len(parts) > 3 else None)
    else:
        region, account, fn = where.region, where.account, parts[0]
        qualifier = qualifier or (parts[1] if len(parts) > 1 else None)
    arn = f"arn:aws:lambda:{region}:{account}:function:{fn}"
    return f"{arn}:{qualifier}" if qualifier else arn


def _lambda(operation: str, p: Mapping[str, Any], where: Where) -> list[Check]:
    action = _LAMBDA_ACTIONS.get(operation, f"lambda:{operation}")
    if p.get("FunctionName"):
        return [Check(action, function_arn_of(str(p["FunctionName"]), p.get("Qualifier"), where))]
    if p.get("Resource"):  # tags
        return [Check(action, str(p["Resource"]))]
    if p.get("UUID"):
        return [Check(action, f"arn:aws:lambda:{where.region}:{where.account}:event-source-mapping:{p['UUID']}")]
    if p.get("LayerName") and operation != "ListLayerVersions":  # AWS: ListLayerVersions is on "*"
        name = str(p["LayerName"])
        layer = name if name.startswith("arn:") else f"arn:aws:lambda:{where.region}:{where.account}:layer:{name}"
        # PublishLayerVersion is on the layer; every other layer operation on the layer version.
        return [Check(action, f"{layer}:{p['VersionNumber']}" if p.get("VersionNumber") else layer)]
    if p.get("Arn"):  # GetLayerVersionByArn
        return [Check(action, str(p["Arn"]))]
    return [Check(action, "*")]


# -- EventBridge, CloudWatch Logs, CloudWatch ------------------------------------------------------


def _bus_arn(name: str | None, where: Where) -> str:
    if name and name.startswith("arn:"):
        return name
    return f"arn:aws:events:{where.region}:{where.account}:event-bus/{name or 'default'}"


def _events(operation: str, p: Mapping[str, Any], where: Where) -> list[Check]:
    action = f"events:{operation}"
    if operation == "PutEvents":
        buses = sorted({_bus_arn(e.get("EventBusName"), where) for e in p.get("Entries") or []})
        return [Check(action, b) for b in buses] or [Check(action, _bus_arn(None, where))]
    if p.get("Rule") or (p.get("Name") and operation.endswith("Rule")):
        name = p.get("Rule") or p.get("Name")
        bus = p.get("EventBusName")
        if bus and bus.startswith("arn:"):
            bus = bus.rsplit("/", 1)[-1]
        path = f"rule/{bus}/{name}" if bus and bus != "default" else f"rule/{name}"
        return [Check(action, f"arn:aws:events:{where.region}:{where.account}:{path}")]
    if operation.endswith("EventBus") and p.get("Name"):
        return [Check(action, _bus_arn(p["Name"], where))]
    if p.get("ResourceARN"):
        return [Check(action, str(p["ResourceARN"]))]
    return [Check(action, "*")]


def _logs(operation: str, p: Mapping[str, Any], where: Where) -> list[Check]:
    action = f"logs:{operation}"
    group = p.get("logGroupName")
    if group is None and p.get("logGroupIdentifier"):
        ident = str(p["logGroupIdentifier"])
        group = ident.split(":log-group:", 1)[1].removesuffix(":*") if ident.startswith("arn:") else ident
    if not group:
        return [Check(action, str(p.get("resourceArn") or "*"))]
    arn = f"arn:aws:logs:{where.region}:{where.account}:log-group:{group}"
    if p.get("logStreamName"):
        return [Check(action, f"{arn}:log-stream:{p['logStreamName']}")]
    return [Check(action, f"{arn}:*")]


def _cloudwatch(operation: str, p: Mapping[str, Any], where: Where) -> list[Check]:
    action = f"cloudwatch:{operation}"
    if p.get("AlarmName"):
        return [Check(action, f"arn:aws:cloudwatch:{where.region}:{where.account}:alarm:{p['AlarmName']}")]
    return [Check(action, "*")]


# -- IAM, STS --------------------------------------------------------------------------------


def _iam(operation: str, p: Mapping[str, Any], where: Where) -> list[Check]:
    action = f"iam:{operation}"
    if p.get("PolicyArn") and "User" not in operation and "Role" not in operation:
        return [Check(action, str(p["PolicyArn"]))]
    for member, kind in (("RoleName", "role"), ("UserName", "user"), ("GroupName", "group")):
        if p.get(member):
            return [Check(action, f"arn:aws:iam::{where.account}:{kind}/{p[member]}")]
    return [Check(action, "*")]


def _sts(operation: str, p: Mapping[str, Any], where: Where) -> list[Check]:
    if operation in ("GetCallerIdentity", "AssumeRole"):
        # GetCallerIdentity needs no permission (AWS). AssumeRole: STS itself evaluates the role's
        # trust policy together with the caller's identity policies (services/sts).
        return []
    if p.get("RoleArn"):
        return [Check(f"sts:{operation}", str(p["RoleArn"]))]
    return [Check(f"sts:{operation}", "*")]


_MAPPERS: dict[str, Mapper] = {
    "s3": _s3, "sqs": _sqs, "sns": _sns, "lambda": _lambda, "events": _events, "logs": _logs,
    "cloudwatch": _cloudwatch, "iam": _iam, "sts": _sts,
}


def checks_for(service: str, operation: str, params: Mapping[str, Any], where: Where) -> list[Check]:
    """The authorization checks one request needs (all must pass)."""
    mapper = _MAPPERS.get(service)
    if mapper is None:
        return [Check(f"{service}:{operation}", "*")]
    return mapper(operation, params, where)
