"""A function page's other tabs: configuration (memory, timeout, environment, role, reserved
concurrency), triggers (S3 notifications and SQS event source mappings), asynchronous
invocation (retry attempts, maximum event age, DLQ, on-success / on-failure destinations) and
versions / aliases. Each save is the Lambda operation the API has, with its validation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...protocol.errors import ServiceError
from ...protocol.http import HttpResponse
from ..request import ConsoleRequest
from . import s3_notify

if TYPE_CHECKING:
    from ..app import Console
    from ..router import Router

DEFAULT_RETRIES = 2  # Lambda's defaults when a function has no event invoke config
DEFAULT_MAX_AGE = 21600


def register(router: Router, console: Console) -> None:
    base = "/lambda/functions/{name}"
    router.post(base + "/configuration", lambda_save_config)
    router.post(base + "/concurrency", lambda_save_concurrency)
    router.post(base + "/async", lambda_save_async)
    router.post(base + "/versions", lambda_publish)
    router.post(base + "/aliases", lambda_create_alias)
    router.post(base + "/aliases/delete", lambda_delete_alias)
    router.post(base + "/s3-trigger", lambda_add_s3_trigger)
    router.post(base + "/mappings", lambda_add_mapping)
    router.post(base + "/mappings/delete", lambda_delete_mapping)


def _tab(r: ConsoleRequest, name: str, tab: str) -> str:
    return r.url("lambda_function", name=name, _query={"tab": tab})


# -- tab loaders (lambda_.lambda_function renders them) ---------------------------------------------


async def _config_tab(r: ConsoleRequest, name: str, fn: dict[str, Any]) -> dict[str, Any]:
    roles, _ = await r.attempt_all("iam", "ListRoles", "Roles")
    concurrency, _ = await r.attempt("lambda", "GetFunctionConcurrency", FunctionName=name)
    env = (fn["Configuration"].get("Environment") or {}).get("Variables") or {}
    return {"roles": roles, "env_text": "".join(f"{k}={v}\n" for k, v in env.items()),
            "reserved": concurrency.get("ReservedConcurrentExecutions")}


async def _triggers_tab(r: ConsoleRequest, name: str, fn: dict[str, Any]) -> dict[str, Any]:
    arn = fn["Configuration"]["FunctionArn"]
    buckets, _ = await r.attempt("s3", "ListBuckets")
    s3_triggers = []
    for bucket in buckets.get("Buckets", []):
        config, err = await r.attempt("s3", "GetBucketNotificationConfiguration", Bucket=bucket["Name"])
        for row in s3_notify.entries(config) if err is None else []:
            if row["kind"] == "lambda" and row["target"].split(":")[6:7] == [name]:
                s3_triggers.append({**row, "bucket": bucket["Name"]})
    mappings, _ = await r.attempt_all("lambda", "ListEventSourceMappings", "EventSourceMappings", FunctionName=name)
    queues = (await s3_notify.targets(r))["sqs"]
    return {"s3_triggers": s3_triggers, "mappings": mappings,
            "buckets": [b["Name"] for b in buckets.get("Buckets", [])], "events": s3_notify.EVENTS,
            "queues": queues, "function_arn": arn}


async def _async_tab(r: ConsoleRequest, name: str, fn: dict[str, Any]) -> dict[str, Any]:
    found, err = await r.attempt("lambda", "GetFunctionEventInvokeConfig", FunctionName=name)
    if err is not None and err.code != "ResourceNotFoundException":
        raise err
    dest = found.get("DestinationConfig") or {}
    targets = await s3_notify.targets(r)
    return {"retries": found.get("MaximumRetryAttempts", DEFAULT_RETRIES),
            "max_age": found.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE),
            "dlq": (fn["Configuration"].get("DeadLetterConfig") or {}).get("TargetArn", ""),
            "on_success": (dest.get("OnSuccess") or {}).get("Destination", ""),
            "on_failure": (dest.get("OnFailure") or {}).get("Destination", ""),
            "dlq_targets": targets["sqs"] + targets["sns"],
            "destinations": targets["sqs"] + targets["sns"] + targets["lambda"]}


async def _versions_tab(r: ConsoleRequest, name: str, fn: dict[str, Any]) -> dict[str, Any]:
    versions = await r.call("lambda", "ListVersionsByFunction", FunctionName=name)
    aliases = await r.call("lambda", "ListAliases", FunctionName=name)
    return {"versions": versions.get("Versions", []), "aliases": aliases.get("Aliases", [])}


TABS = {"config": _config_tab, "triggers": _triggers_tab, "async": _async_tab, "versions": _versions_tab}


# -- saves ---------------------------------------------------------------------------------------


async def lambda_save_config(r: ConsoleRequest) -> HttpResponse:
    name = r.params["name"]
    params: dict[str, Any] = {"FunctionName": name}
    for field, member in (("memory", "MemorySize"), ("timeout", "Timeout")):
        if r.field(field).strip():
            params[member] = whole(r.field(field), member)
    for field, member in (("handler", "Handler"), ("role", "Role"), ("description", "Description")):
        if field in r.form:
            params[member] = r.field(field).strip()
    if "environment" in r.form:
        variables = {}
        for line in r.field("environment").splitlines():
            if line.strip():
                key, sep, value = line.partition("=")
                if not sep:
                    raise ServiceError("InvalidParameterValueException",
                                       f"Environment variables are KEY=value lines; {line.strip()!r} has no '='.")
                variables[key.strip()] = value
        params["Environment"] = {"Variables": variables}
    await r.call("lambda", "UpdateFunctionConfiguration", **params)
    return r.render("_saved.html", what="Configuration")


async def lambda_save_concurrency(r: ConsoleRequest) -> HttpResponse:
    name, value = r.params["name"], r.field("reserved").strip()
    if value:
        await r.call("lambda", "PutFunctionConcurrency", FunctionName=name,
                     ReservedConcurrentExecutions=whole(value, "ReservedConcurrentExecutions"))
    else:  # "Use unreserved account concurrency"
        await r.call("lambda", "DeleteFunctionConcurrency", FunctionName=name)
    return r.render("_saved.html", what="Concurrency")


async def lambda_save_async(r: ConsoleRequest) -> HttpResponse:
    """The exercise's steps 4 and 5: retries and event age (PutFunctionEventInvokeConfig), the
    DLQ (UpdateFunctionConfiguration's DeadLetterConfig) and the destinations."""
    name = r.params["name"]
    destinations = {condition: ({"Destination": arn} if arn else {})
                    for condition, arn in (("OnSuccess", r.field("on_success").strip()),
                                           ("OnFailure", r.field("on_failure").strip()))}
    dlq = r.field("dlq").strip()
    current = await r.call("lambda", "GetFunctionConfiguration", FunctionName=name)
    if dlq != (current.get("DeadLetterConfig") or {}).get("TargetArn", ""):
        await r.call("lambda", "UpdateFunctionConfiguration", FunctionName=name, DeadLetterConfig={"TargetArn": dlq})
    await r.call("lambda", "PutFunctionEventInvokeConfig", FunctionName=name,
                 MaximumRetryAttempts=whole(r.field("retries", str(DEFAULT_RETRIES)), "MaximumRetryAttempts"),
                 MaximumEventAgeInSeconds=whole(r.field("max_age", str(DEFAULT_MAX_AGE)), "MaximumEventAgeInSeconds"),
                 DestinationConfig=destinations)
    return r.render("_saved.html", what="Asynchronous invocation")


async def lambda_publish(r: ConsoleRequest) -> HttpResponse:
    name = r.params["name"]
    await r.call("lambda", "PublishVersion", FunctionName=name, Description=r.field("description"))
    return r.redirect(_tab(r, name, "versions"))


async def lambda_create_alias(r: ConsoleRequest) -> HttpResponse:
    name = r.params["name"]
    await r.call("lambda", "CreateAlias", FunctionName=name, Name=r.field("alias").strip(),
                 FunctionVersion=r.field("version").strip(), Description=r.field("description"))
    return r.redirect(_tab(r, name, "versions"))


async def lambda_delete_alias(r: ConsoleRequest) -> HttpResponse:
    name = r.params["name"]
    await r.call("lambda", "DeleteAlias", FunctionName=name, Name=r.field("alias"))
    return r.redirect(_tab(r, name, "versions"))


async def lambda_add_s3_trigger(r: ConsoleRequest) -> HttpResponse:
    """"Add trigger" > S3: the bucket's notification to this function (and S3's invoke permission)."""
    await s3_notify.add(r, r.field("bucket"))
    return r.redirect(_tab(r, r.params["name"], "triggers"))


async def lambda_add_mapping(r: ConsoleRequest) -> HttpResponse:
    """An SQS trigger: an event source mapping from the queue to the function."""
    name = r.params["name"]
    params: dict[str, Any] = {"FunctionName": name, "EventSourceArn": r.field("queue").strip()}
    if r.field("batch_size").strip():
        params["BatchSize"] = whole(r.field("batch_size"), "BatchSize")
    await r.call("lambda", "CreateEventSourceMapping", **params)
    return r.redirect(_tab(r, name, "triggers"))


async def lambda_delete_mapping(r: ConsoleRequest) -> HttpResponse:
    await r.call("lambda", "DeleteEventSourceMapping", UUID=r.field("uuid"))
    return r.redirect(_tab(r, r.params["name"], "triggers"))


def whole(text: str, member: str) -> int:
    """A form's number field; Lambda's own error word for one that is not a number."""
    try:
        return int(text.strip())
    except ValueError:
        raise ServiceError("InvalidParameterValueException", f"{member} must be a whole number.") from None
