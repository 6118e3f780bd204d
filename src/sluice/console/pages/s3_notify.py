"""A bucket's event notifications (S3 console: Properties > Event notifications): the triggers
that send its object events to a Lambda function, an SQS queue or an SNS topic.

Adding one reads the bucket's configuration, adds the new entry and writes it back with
PutBucketNotificationConfiguration: the API's validation (events, filter rules, overlaps, the
destination's permission) decides, and its error shows. For a Lambda target the console first
grants S3 the right to invoke the function (lambda:AddPermission for this bucket and account),
as AWS's consoles do when they add a trigger; unticking the box leaves that to the user.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from ...protocol.errors import ServiceError
from ...protocol.http import HttpResponse
from ..request import ConsoleRequest

if TYPE_CHECKING:
    from ..app import Console
    from ..router import Router

# (configuration list member, ARN member, label)
KINDS = {
    "lambda": ("LambdaFunctionConfigurations", "LambdaFunctionArn", "Lambda function"),
    "sqs": ("QueueConfigurations", "QueueArn", "SQS queue"),
    "sns": ("TopicConfigurations", "TopicArn", "SNS topic"),
}
# The event types the S3 console offers, in its order.
EVENTS = (
    "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post", "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectRemoved:*", "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated", "s3:ObjectRestore:*", "s3:ObjectTagging:*", "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete", "s3:ObjectAcl:Put", "s3:LifecycleExpiration:*",
)


def register(router: Router, console: Console) -> None:
    router.get("/s3/buckets/{bucket}/notifications", s3_notifications)
    router.post("/s3/buckets/{bucket}/notifications", s3_add_notification)
    router.post("/s3/buckets/{bucket}/notifications/delete", s3_delete_notification)


def entries(config: dict[str, Any]) -> list[dict[str, Any]]:
    """A configuration's entries as rows: id, kind, target ARN, events, prefix, suffix."""
    rows = []
    for kind, (member, arn_member, label) in KINDS.items():
        for item in config.get(member) or []:
            rules = {r["Name"].lower(): r["Value"] for r in (item.get("Filter") or {}).get("Key", {}).get("FilterRules", [])}
            rows.append({"id": item.get("Id", ""), "kind": kind, "label": label, "target": item.get(arn_member, ""),
                         "events": item.get("Events", []), "prefix": rules.get("prefix", ""),
                         "suffix": rules.get("suffix", "")})
    return rows


async def targets(r: ConsoleRequest) -> dict[str, list[str]]:
    """The ARNs a trigger can point at (what each list operation the user may call shows)."""
    out: dict[str, list[str]] = {"lambda": [], "sqs": [], "sns": []}
    functions, _ = await r.attempt_all("lambda", "ListFunctions", "Functions")
    out["lambda"] = [f["FunctionArn"] for f in functions]
    queues, _ = await r.attempt_all("sqs", "ListQueues", "QueueUrls", MaxResults=1000)
    for url in queues:
        attrs, _ = await r.attempt("sqs", "GetQueueAttributes", QueueUrl=url, AttributeNames=["QueueArn"])
        if attrs.get("Attributes", {}).get("QueueArn"):
            out["sqs"].append(attrs["Attributes"]["QueueArn"])
    topics, _ = await r.attempt_all("sns", "ListTopics", "Topics")
    out["sns"] = [t["TopicArn"] for t in topics]
    return out


async def s3_notifications(r: ConsoleRequest) -> HttpResponse:
    bucket = r.params["bucket"]
    config = await r.call("s3", "GetBucketNotificationConfiguration", Bucket=bucket)
    return r.render("s3/notifications.html", tab="notifications", bucket=bucket, rows=entries(config),
                    events=EVENTS, targets=await targets(r), kinds=KINDS)


async def s3_add_notification(r: ConsoleRequest) -> HttpResponse:
    bucket = r.params["bucket"]
    await add(r, bucket)
    return r.redirect(r.back(r.url("s3_notifications", bucket=bucket)))


async def add(r: ConsoleRequest, bucket: str) -> None:
    """Add the form's notification to the bucket's configuration (also the Lambda page's "Add
    trigger")."""
    kind = r.field("kind")
    if kind not in KINDS:
        raise ServiceError("InvalidArgument", "Choose a destination: a Lambda function, an SQS queue or an SNS topic.")
    member, arn_member, _ = KINDS[kind]
    target = (r.field("target_arn") or r.field("target")).strip()
    rules = [{"Name": name, "Value": r.field(name.lower())} for name in ("Prefix", "Suffix") if r.field(name.lower())]
    item: dict[str, Any] = {arn_member: target, "Events": r.fields("events")}
    if r.field("id").strip():
        item["Id"] = r.field("id").strip()
    if rules:
        item["Filter"] = {"Key": {"FilterRules": rules}}
    config = await r.call("s3", "GetBucketNotificationConfiguration", Bucket=bucket)
    config.setdefault(member, []).append(item)
    if kind == "lambda" and r.field("grant") and target:
        await _grant_invoke(r, bucket, target)
    await r.call("s3", "PutBucketNotificationConfiguration", Bucket=bucket, NotificationConfiguration=config)


async def s3_delete_notification(r: ConsoleRequest) -> HttpResponse:
    bucket, wanted = r.params["bucket"], r.field("id")
    config = await r.call("s3", "GetBucketNotificationConfiguration", Bucket=bucket)
    for member, _, _ in KINDS.values():
        if member in config:
            config[member] = [item for item in config[member] if item.get("Id") != wanted]
            if not config[member]:
                del config[member]
    await r.call("s3", "PutBucketNotificationConfiguration", Bucket=bucket, NotificationConfiguration=config)
    return r.redirect(r.back(r.url("s3_notifications", bucket=bucket)))


async def _grant_invoke(r: ConsoleRequest, bucket: str, function_arn: str) -> None:
    """Let S3 invoke the function for this bucket (the statement AWS's consoles add), unless a
    statement of the function's policy already does."""
    account = r.console.settings.account_id
    policy, _ = await r.attempt("lambda", "GetPolicy", FunctionName=function_arn)
    if _grants_s3(policy.get("Policy", ""), bucket):
        return
    try:
        await r.call("lambda", "AddPermission", FunctionName=function_arn,
                     StatementId=f"s3-{bucket}-{uuid.uuid4().hex[:8]}"[:100], Action="lambda:InvokeFunction",
                     Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}", SourceAccount=account)
    except ServiceError as err:
        if err.code != "ResourceConflictException":
            raise


def _grants_s3(policy: str, bucket: str) -> bool:
    try:
        statements = json.loads(policy).get("Statement", []) if policy else []
    except ValueError:
        return False
    for st in statements if isinstance(statements, list) else []:
        principal = (st.get("Principal") or {}) if isinstance(st, dict) else {}
        service = principal.get("Service") if isinstance(principal, dict) else None
        arn_like = ((st.get("Condition") or {}).get("ArnLike") or {}).get("AWS:SourceArn")
        if st.get("Effect") == "Allow" and service == "s3.amazonaws.com" and arn_like in (None, f"arn:aws:s3:::{bucket}"):
            return True
    return False
