"""Lambda pages: the function list, creating a function from a pasted handler, and a function's
page with its code (edit and deploy for a single-file package) and the Test button. The other
tabs (configuration, triggers, asynchronous invocation, concurrency, versions and aliases) are
in lambda_config.py."""

from __future__ import annotations

import base64
import io
import json
import re
import time
import uuid
import zipfile
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ...protocol.errors import ServiceError
from ...protocol.http import HttpResponse
from ...runtime.runtimes import NODE, PYTHON
from ..request import ConsoleRequest
from ..sse import EventStream
from . import lambda_config

if TYPE_CHECKING:
    from ..app import Console
    from ..router import Router

RUNTIMES = (*reversed(PYTHON), *reversed(NODE))  # newest first, as the AWS console offers them
EDITABLE_BYTES = 1024 * 1024  # a single-file package up to this size is edited in the page
TRUST_LAMBDA = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
# The Test tab's event templates (the AWS console's "hello-world" and "s3-put", shortened).
TEMPLATES = {
    "hello-world": {"key1": "value1", "key2": "value2", "key3": "value3"},
    "s3-put": {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "testConfigRule",
               "bucket": {"name": "example-bucket", "arn": "arn:aws:s3:::example-bucket"},
               "object": {"key": "test/key", "size": 1024}}}]},
}
_REPORT = re.compile(r"REPORT RequestId: \S+\s+Duration: ([\d.]+) ms\s+Billed Duration: (\d+) ms"
                     r"\s+Memory Size: (\d+) MB\s+Max Memory Used: (\d+) MB")


def register(router: Router, console: Console) -> None:
    router.get("/lambda", lambda_functions)
    router.get("/lambda/live", lambda_functions_live)
    router.get("/lambda/create", lambda_create_form)
    router.post("/lambda/create", lambda_create)
    router.get("/lambda/functions/{name}", lambda_function)
    router.get("/lambda/functions/{name}/live", lambda_live)
    router.post("/lambda/functions/{name}/code", lambda_deploy)
    router.post("/lambda/functions/{name}/test", lambda_test)
    router.post("/lambda/functions/{name}/delete", lambda_delete)
    lambda_config.register(router, console)


# -- the list and creating a function -------------------------------------------------------------


async def lambda_functions(r: ConsoleRequest) -> HttpResponse:
    listed, error = await r.attempt_all("lambda", "ListFunctions", "Functions")
    if error is not None:
        raise error
    functions = sorted(listed, key=lambda f: f["FunctionName"])
    return r.render("lambda/functions.html", functions=functions)


async def lambda_functions_live(r: ConsoleRequest) -> EventStream:
    """The function table pushed whenever it changes (a function created, updated, its state)."""

    async def render() -> str:
        listed, err = await r.attempt_all("lambda", "ListFunctions", "Functions")
        functions = sorted(listed, key=lambda f: f["FunctionName"])
        return r.render_text("lambda/_functions.html", functions=functions, error=err)

    return EventStream.watch("functions", render, interval=2.0)


async def lambda_create_form(r: ConsoleRequest) -> HttpResponse:
    roles, roles_error = await r.attempt_all("iam", "ListRoles", "Roles")
    return r.render("lambda/create.html", runtimes=RUNTIMES, roles=roles, roles_error=roles_error)


async def lambda_create(r: ConsoleRequest) -> HttpResponse:
    name = r.field("name").strip()
    runtime = r.field("runtime") or RUNTIMES[0]
    handler = r.field("handler").strip() or _default_handler(runtime)
    role = r.field("role").strip()
    if role in ("", "new"):
        role = await _new_role(r, name)
    source = r.field("code") or _hello(runtime)
    params: dict[str, Any] = {"FunctionName": name, "Runtime": runtime, "Role": role, "Handler": handler,
                              "Code": {"ZipFile": _zip_one(_file_name(handler, runtime), source)}}
    for field, member in (("timeout", "Timeout"), ("memory", "MemorySize")):
        if r.field(field).strip():
            params[member] = lambda_config.whole(r.field(field), member)
    await r.call("lambda", "CreateFunction", **params)
    return r.redirect(r.url("lambda_function", name=name))


async def _new_role(r: ConsoleRequest, function: str) -> str:
    """What the AWS console's "Create a new role with basic Lambda permissions" makes."""
    role_name = f"{function or 'function'}-role-{uuid.uuid4().hex[:8]}"[:64]
    created = await r.call("iam", "CreateRole", RoleName=role_name, AssumeRolePolicyDocument=TRUST_LAMBDA,
                           Path="/service-role/")
    await r.call("iam", "AttachRolePolicy", RoleName=role_name, PolicyArn=BASIC_EXECUTION)
    return str(created["Role"]["Arn"])


async def lambda_delete(r: ConsoleRequest) -> HttpResponse:
    await r.call("lambda", "DeleteFunction", FunctionName=r.params["name"])
    return r.redirect(r.url("lambda_functions"))


# -- a function's page ----------------------------------------------------------------------------


TabLoader = Callable[[ConsoleRequest, str, dict[str, Any]], Awaitable[dict[str, Any]]]


async def lambda_function(r: ConsoleRequest) -> HttpResponse:
    name = r.params["name"]
    tab = r.arg("tab", "code")
    loaders: dict[str, TabLoader] = {"code": _code_tab, "test": _test_tab, **lambda_config.TABS}
    if tab not in loaders:
        tab = "code"
    fn = await r.call("lambda", "GetFunction", FunctionName=name)
    context = await loaders[tab](r, name, fn)
    return r.render("lambda/function.html", name=name, fn=fn, cfg=fn["Configuration"], tab=tab, **context)


async def lambda_live(r: ConsoleRequest) -> EventStream:
    """The function's state and last update, pushed while the page is open (SSE)."""
    name = r.params["name"]

    async def render() -> str:
        found, err = await r.attempt("lambda", "GetFunctionConfiguration", FunctionName=name)
        return r.render_text("lambda/_state.html", cfg=found, error=err)

    return EventStream.watch("state", render, interval=2.0)


async def _code_tab(r: ConsoleRequest, name: str, fn: dict[str, Any]) -> dict[str, Any]:
    files = await r.console.run_blocking(_package_files, r, fn)
    editable = None
    if len(files) == 1 and files[0]["text"] is not None:
        editable = files[0]
    return {"files": files, "editable": editable}


def _package_files(r: ConsoleRequest, fn: dict[str, Any]) -> list[dict[str, Any]]:
    """The files of the function's package (read through the URL GetFunction gives, as AWS's
    console downloads it): name, size, and the text of a small UTF-8 file."""
    code_zip = r.console.views.code_zip
    location = urlsplit(fn.get("Code", {}).get("Location", "")).path
    name, _, package = location.rpartition("/lambda-code/")[2].partition("/")
    data = code_zip(name, package.removesuffix(".zip")) if code_zip is not None and package else None
    if data is None:
        return []
    out = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            text = None
            if info.file_size <= EDITABLE_BYTES:
                try:
                    text = archive.read(info).decode("utf-8")
                except UnicodeDecodeError:
                    text = None
            out.append({"name": info.filename, "size": info.file_size, "text": text})
    return out


async def lambda_deploy(r: ConsoleRequest) -> HttpResponse:
    """Deploy the edited file: a new package of that one file (UpdateFunctionCode)."""
    name, file_name = r.params["name"], r.field("file").strip()
    if not file_name or ".." in file_name.split("/"):
        raise ServiceError("InvalidParameterValueException", "The file name is not valid.")
    await r.call("lambda", "UpdateFunctionCode", FunctionName=name, ZipFile=_zip_one(file_name, r.field("code")))
    return r.render("lambda/_deployed.html", name=name)


async def _test_tab(r: ConsoleRequest, name: str, fn: dict[str, Any]) -> dict[str, Any]:
    template = r.arg("template", "hello-world")
    event = TEMPLATES.get(template, TEMPLATES["hello-world"])
    return {"event": json.dumps(event, indent=2), "templates": list(TEMPLATES), "template": template}


async def lambda_test(r: ConsoleRequest) -> HttpResponse:
    """The Test button: a synchronous Invoke with the JSON event, its result, log tail and duration."""
    name = r.params["name"]
    event = r.field("event").strip() or "{}"
    try:
        json.loads(event)
    except ValueError as exc:
        # The AWS console refuses to send an event that is not JSON; its words.
        raise ServiceError("InvalidRequestContentException", f"Event JSON is not valid: {exc}") from None
    started = time.perf_counter()
    result = await r.call("lambda", "Invoke", FunctionName=name, Payload=event.encode(), LogType="Tail",
                          Qualifier=r.field("qualifier") or None)
    elapsed_ms = (time.perf_counter() - started) * 1000
    logs = base64.b64decode(result.get("LogResult", "")).decode("utf-8", "replace")
    report = _REPORT.search(logs)
    payload = result.get("Payload", b"")
    return r.render("lambda/_test_result.html", result=result, logs=logs,
                    payload=payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload),
                    duration=report.group(1) if report else f"{elapsed_ms:.2f}",
                    billed=report.group(2) if report else "", memory=report.group(3) if report else "",
                    max_memory=report.group(4) if report else "")


# -- helpers ---------------------------------------------------------------------------------------


def _zip_one(file_name: str, source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(file_name.strip("/"), date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16  # readable by the runtime's user
        archive.writestr(info, source)
    return buf.getvalue()


def _default_handler(runtime: str) -> str:
    return "index.handler" if runtime.startswith("nodejs") else "lambda_function.lambda_handler"


def _file_name(handler: str, runtime: str) -> str:
    """The file the handler names: `lambda_function.lambda_handler` -> lambda_function.py."""
    module = handler.rsplit(".", 1)[0] if "." in handler else handler
    return module + (".mjs" if runtime.startswith("nodejs") else ".py")


def _hello(runtime: str) -> str:
    if runtime.startswith("nodejs"):
        return ("export const handler = async (event) => {\n"
                "  return { statusCode: 200, body: JSON.stringify('Hello from Lambda!') };\n};\n")
    return ("import json\n\n\ndef lambda_handler(event, context):\n"
            "    return {'statusCode': 200, 'body': json.dumps('Hello from Lambda!')}\n")


