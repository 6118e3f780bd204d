"""Node.js functions end to end: a real `sluice up`, real boto3, real `node` running Sluice's own
runtime client. What a handler sees (context, module styles, the AWS SDK for JavaScript v3), what
comes back (AWS's error documents), what CloudWatch Logs shows, and the ends the platform owns
(timeouts, exits)."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsCli, make_client
from .lambda_helpers import ROLE, unique
from .node_helpers import create_node, zip_files

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node on PATH")


@pytest.fixture(scope="module")
def lam(endpoint: str) -> Any:
    return make_client("lambda", endpoint)


def invoke(lam: Any, name: str, payload: Any = None, **extra: Any) -> tuple[dict[str, Any], Any]:
    out = lam.invoke(FunctionName=name, Payload=json.dumps(payload if payload is not None else {}), **extra)
    return out, json.loads(out["Payload"].read() or b"null")


def test_commonjs_async_handler_gets_its_event_and_context(lam: Any) -> None:
    name = create_node(lam, {"index.js": """
        exports.handler = async (event, context) => ({
          event,
          functionName: context.functionName,
          functionVersion: context.functionVersion,
          invokedFunctionArn: context.invokedFunctionArn,
          memoryLimitInMB: context.memoryLimitInMB,
          awsRequestId: context.awsRequestId,
          logGroupName: context.logGroupName,
          logStreamName: context.logStreamName,
          remaining: context.getRemainingTimeInMillis(),
          clientContext: context.clientContext,
          waits: context.callbackWaitsForEmptyEventLoop,
          env: [process.env.AWS_EXECUTION_ENV, process.env._HANDLER, process.env.AWS_REGION],
          telemetryHidden: process.env._LAMBDA_TELEMETRY_LOG_FD === undefined,
        });
        """}, MemorySize=256)
    client_context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    out, body = invoke(lam, name, {"n": 1}, ClientContext=client_context)
    assert "FunctionError" not in out
    assert body["event"] == {"n": 1}
    assert body["functionName"] == name and body["functionVersion"] == "$LATEST"
    assert body["invokedFunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert body["memoryLimitInMB"] == "256"  # a string, as on AWS
    assert body["awsRequestId"] == out["ResponseMetadata"]["RequestId"]
    assert body["logGroupName"] == f"/aws/lambda/{name}"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", body["logStreamName"])
    assert 0 < body["remaining"] <= 10_000
    assert body["clientContext"] == {"custom": {"k": "v"}}
    assert body["waits"] is True
    assert body["env"] == ["AWS_Lambda_nodejs20.x", "index.handler", "us-east-1"]
    assert body["telemetryHidden"] is True


def test_es_module_handlers_mjs_type_module_and_nested_paths(lam: Any) -> None:
    mjs = create_node(lam, {"index.mjs": """
        import { basename } from 'node:path';
        export const handler = async (event) => ({ esm: typeof require === 'undefined', file: basename(import.meta.url) });
        """}, runtime="nodejs22.x")
    assert invoke(lam, mjs)[1] == {"esm": True, "file": "index.mjs"}

    typed = create_node(lam, {
        "package.json": '{"type": "module"}',
        "src/handlers/app.js": "export async function handler() { return { esm: typeof require === 'undefined' }; }",
    }, handler="src/handlers/app.handler", runtime="nodejs18.x")
    assert invoke(lam, typed)[1] == {"esm": True}

    nested = create_node(lam, {"lib/fn.js": "module.exports = { api: { handler: async () => 'nested' } };"},
                         handler="lib/fn.api.handler")
    assert invoke(lam, nested)[1] == "nested"


def test_callback_handlers_wait_for_the_event_loop_unless_told_not_to(lam: Any) -> None:
    source = """
        exports.handler = (event, context, callback) => {
          context.callbackWaitsForEmptyEventLoop = event.wait;
          const result = { late: false };
          // Work still pending when the callback is called: by default Lambda answers after it.
          setTimeout(() => { result.late = true; }, 50);
          callback(null, result);
        };
        """
    name = create_node(lam, {"index.js": source})
    assert invoke(lam, name, {"wait": True})[1] == {"late": True}
    assert invoke(lam, name, {"wait": False})[1] == {"late": False}

    done = create_node(lam, {"index.js": "exports.handler = (e, context) => { context.succeed({ via: 'succeed' }); };"})
    assert invoke(lam, done)[1] == {"via": "succeed"}
    # A synchronous handler that never calls back answers null once its work is done.
    silent = create_node(lam, {"index.js": "exports.handler = (e) => { setTimeout(() => {}, 10); };"})
    out, body = invoke(lam, silent)
    assert "FunctionError" not in out and body is None


def test_handler_errors_are_the_node_runtimes_error_documents(lam: Any) -> None:
    name = create_node(lam, {"index.js": """
        class OrderError extends Error { constructor(m) { super(m); this.name = 'OrderError'; } }
        exports.handler = async (event) => {
          if (event.kind === 'throw') throw new OrderError('bad order');
          if (event.kind === 'string') return Promise.reject('plain text');
          if (event.kind === 'pending') return new Promise(() => {});  // nothing left to run, never settled
          if (event.kind === 'circular') { const a = {}; a.self = a; return a; }
          return new Promise((_, reject) => setImmediate(() => reject(new TypeError('later'))));
        };
        """})
    out, body = invoke(lam, name, {"kind": "throw"})
    assert out["FunctionError"] == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == ("OrderError", "bad order")
    assert body["trace"][0] == "OrderError: bad order"
    assert any("/index.js:" in line for line in body["trace"][1:])
    assert invoke(lam, name, {"kind": "string"})[1] == {"errorType": "string", "errorMessage": "plain text", "trace": []}
    assert invoke(lam, name, {"kind": "later"})[1]["errorType"] == "TypeError"
    pending = invoke(lam, name, {"kind": "pending"})[1]
    assert pending["errorType"] == "Runtime.NodeJsExit"
    assert pending["errorMessage"].startswith("The Lambda runtime client detected an unexpected Node.js exit code.")
    circular = invoke(lam, name, {"kind": "circular"})[1]
    assert (circular["errorType"], circular["errorMessage"]) == ("Runtime.JSONStringifyError",
                                                                 "Unable to stringify response body")
    # A handler error leaves the environment warm: the next invocation works.
    assert invoke(lam, name, {"kind": "throw"})[1]["errorType"] == "OrderError"


@pytest.mark.parametrize(("files", "handler", "error_type", "message"), [
    ({"index.js": "exports.handler = 1;"}, "index.handler", "Runtime.HandlerNotFound", "index.handler is not a function"),
    ({"index.js": "exports.other = () => 1;"}, "index.handler", "Runtime.HandlerNotFound",
     "index.handler is undefined or not exported"),
    ({"index.js": "exports.handler = async () => {"}, "index.handler", "Runtime.UserCodeSyntaxError",
     "SyntaxError: Unexpected end of input"),
    ({"index.js": "exports.handler = 1;"}, "missing.handler", "Runtime.ImportModuleError",
     "Error: Cannot find module 'missing'"),
    ({"index.js": "require('left-pad'); exports.handler = 1;"}, "index.handler", "Runtime.ImportModuleError",
     "Error: Cannot find module 'left-pad'"),
    ({"index.js": "exports.handler = 1;"}, "index", "Runtime.MalformedHandlerName", "Bad handler"),
])
def test_init_errors_name_what_is_wrong(lam: Any, files: dict[str, str], handler: str, error_type: str,
                                        message: str) -> None:
    name = create_node(lam, files, handler=handler)
    out, body = invoke(lam, name)
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == error_type
    assert body["errorMessage"].startswith(message)


def test_the_aws_sdk_v3_reaches_sluice_from_commonjs_and_es_modules(lam: Any, endpoint: str, bucket: str) -> None:
    s3 = make_client("s3", endpoint)
    cjs = create_node(lam, {"index.js": """
        const { S3Client, PutObjectCommand } = require('@aws-sdk/client-s3');
        const s3 = new S3Client({});  // unchanged handler code: no endpoint, no path-style option
        exports.handler = async (event) => {
          await s3.send(new PutObjectCommand({ Bucket: event.bucket, Key: 'from-cjs', Body: 'hello' }));
          return process.env.AWS_ENDPOINT_URL;
        };
        """})
    out, body = invoke(lam, cjs, {"bucket": bucket})
    assert "FunctionError" not in out, body
    assert body == endpoint  # the SDK found Sluice through AWS_ENDPOINT_URL alone
    assert s3.get_object(Bucket=bucket, Key="from-cjs")["Body"].read() == b"hello"

    esm = create_node(lam, {"index.mjs": """
        import { SQSClient, CreateQueueCommand } from '@aws-sdk/client-sqs';
        const sqs = new SQSClient({});
        export const handler = async (event) => (await sqs.send(new CreateQueueCommand({ QueueName: event.q }))).QueueUrl;
        """})
    queue = f"q-{int(time.time() * 1000)}"
    out, body = invoke(lam, esm, {"q": queue})
    assert "FunctionError" not in out, body
    assert body.endswith(f"/{queue}")


def log_messages(endpoint: str, name: str, request_id: str) -> list[str]:
    logs = make_client("logs", endpoint)
    group = f"/aws/lambda/{name}"
    for _ in range(100):  # the environment's batch reaches CloudWatch Logs right after the REPORT
        events = logs.filter_log_events(logGroupName=group)["events"]
        messages = [e["message"] for e in events]
        if any(m.startswith(f"REPORT RequestId: {request_id}") for m in messages):
            return messages
        time.sleep(0.05)
    raise AssertionError(f"no REPORT for {request_id} in {group}")


def test_console_lines_are_formatted_as_on_aws_in_cloudwatch_logs(lam: Any, endpoint: str) -> None:
    name = create_node(lam, {"index.js": """
        console.log('loading');
        exports.handler = async () => {
          console.log('hello %d', 42);
          console.warn({ a: 1 });
          console.error('two\\nlines');
          console.debug('debug');
          throw new Error('boom');
        };
        """})
    out, _ = invoke(lam, name)
    rid = out["ResponseMetadata"]["RequestId"]
    messages = log_messages(endpoint, name, rid)
    stamp = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"
    assert messages[0].startswith("INIT_START Runtime Version: nodejs:20.")
    assert any(re.fullmatch(rf"{stamp}\tundefined\tINFO\tloading\n", m) for m in messages)  # init: no request
    assert any(re.fullmatch(rf"{stamp}\t{rid}\tINFO\thello 42\n", m) for m in messages)
    assert any(re.fullmatch(rf"{stamp}\t{rid}\tWARN\t\{{ a: 1 \}}\n", m) for m in messages)
    assert any(re.fullmatch(rf"{stamp}\t{rid}\tERROR\ttwo\nlines\n", m) for m in messages)  # one event
    assert any(re.fullmatch(rf"{stamp}\t{rid}\tDEBUG\tdebug\n", m) for m in messages)
    [invoke_error] = [m for m in messages if "\tERROR\tInvoke Error \t" in m]
    logged = json.loads(invoke_error.split("\tInvoke Error \t", 1)[1])
    assert (logged["errorType"], logged["errorMessage"], logged["stack"][0]) == ("Error", "boom", "Error: boom")
    order = [m.split(" ", 1)[0] for m in messages if m.startswith(("START", "END", "REPORT"))]
    assert order == ["START", "END", "REPORT"]


def test_timeout_and_exit_end_the_environment_as_lambda_reports_them(lam: Any) -> None:
    name = create_node(lam, {"index.js": """
        exports.handler = async (event) => {
          if (event.exit) process.exit(3);
          return new Promise(() => setInterval(() => {}, 1000));
        };
        """}, Timeout=1)
    out, body = invoke(lam, name)
    rid = out["ResponseMetadata"]["RequestId"]
    assert out["FunctionError"] == "Unhandled"
    assert body == {"errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {rid} Error: Task timed out after 1.00 seconds"}
    out, body = invoke(lam, name, {"exit": True})
    rid = out["ResponseMetadata"]["RequestId"]
    assert body == {"errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: exit status 3"}


def test_refusals_name_what_is_missing(lam: Any) -> None:
    def refused(**params: Any) -> str:
        with pytest.raises(lam.exceptions.InvalidParameterValueException) as exc:
            create_node(lam, {"index.js": ""}, **params)
        return str(exc.value.response["Error"]["Message"])

    assert "a JVM" in refused(runtime="java21")
    assert ".NET runtime" in refused(runtime="dotnet8")
    assert "aws_lambda_ric gem" in refused(runtime="ruby3.3")
    assert refused(runtime="nodejs16.x") == (
        "The runtime parameter of nodejs16.x is no longer supported for creating or updating AWS Lambda functions. "
        "We recommend you use a supported runtime while creating or updating functions.")
    assert "container engine" in refused(PackageType="Image", Code={"ImageUri": "x.dkr.ecr/f:1"})
    name = create_node(lam, {"index.js": "exports.handler = async () => 1;"})
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as exc:
        lam.update_function_configuration(FunctionName=name, Runtime="java17")
    assert "java17" in exc.value.response["Error"]["Message"]


def test_a_runtime_newer_or_older_than_the_machines_node_says_so_in_its_log(lam: Any, endpoint: str) -> None:
    major = subprocess.run(["node", "-p", "process.versions.node.split('.')[0]"], capture_output=True, text=True,
                           check=True).stdout.strip()
    other = "nodejs18.x" if major != "18" else "nodejs20.x"
    name = create_node(lam, {"index.js": "exports.handler = async () => 'ok';"}, runtime=other)
    out, body = invoke(lam, name)
    assert body == "ok"  # it still runs
    messages = log_messages(endpoint, name, out["ResponseMetadata"]["RequestId"])
    [line] = [m for m in messages if m.startswith("SLUICE_NOTE ")]
    assert line.startswith(f"SLUICE_NOTE this {other} function runs on Node.js v{major}.")


def test_node_and_custom_runtime_handlers_use_published_layers(lam: Any) -> None:
    def publish(files: dict[str, str], executable: tuple[str, ...] = ()) -> str:
        try:
            out = lam.publish_layer_version(LayerName=f"layer-{int(time.time() * 1e6)}",
                                            Content={"ZipFile": zip_files(files, executable)})
        except ClientError as exc:
            if exc.response["ResponseMetadata"]["HTTPStatusCode"] == 501:
                pytest.skip("this build has no Lambda layers yet")
            raise
        return str(out["LayerVersionArn"])

    first = publish({"nodejs/node_modules/greeting/index.js": "module.exports = 'first';",
                     "nodejs/node_modules/kept/index.js": "module.exports = 'kept';"})
    second = publish({"nodejs/node_modules/greeting/index.js": "module.exports = 'second';",
                      "nodejs/node_modules/esm-only/package.json": '{"type": "module", "exports": "./i.js"}',
                      "nodejs/node_modules/esm-only/i.js": "export default 'esm';"})
    cjs = create_node(lam, {"index.js": """
        exports.handler = async () => [require('greeting'), require('kept')];
        """}, Layers=[first, second])
    assert invoke(lam, cjs)[1] == ["second", "kept"]  # the later layer wins
    esm = create_node(lam, {"index.mjs": """
        import value from 'esm-only';
        import greeting from 'greeting';
        export const handler = async () => [value, greeting];
        """}, Layers=[first, second])
    assert invoke(lam, esm)[1] == ["esm", "second"]

    runtime = publish({"bootstrap": """\
        #!/bin/sh
        API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
        while true; do
          curl -sS -D "$TMPDIR/h" -o /dev/null "$API/next"
          RID="$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$TMPDIR/h" | cut -d: -f2 | tr -d '[:space:]')"
          curl -sS -o /dev/null -X POST "$API/$RID/response" -d '"from the layer bootstrap"'
        done
        """}, ("bootstrap",))
    if shutil.which("curl") is None:
        return
    name = create_node(lam, {"function.sh": "handler () { :; }\n"}, handler="function.handler",
                       runtime="provided.al2023", Layers=[runtime])
    assert invoke(lam, name)[1] == "from the layer bootstrap"


def test_the_aws_cli_creates_and_invokes_a_node_function_and_is_refused_java(aws_cli: AwsCli, tmp_path: Path) -> None:
    name = unique("cli-node")
    package = tmp_path / "fn.zip"
    package.write_bytes(zip_files({"index.mjs": "export const handler = async (e) => ({ doubled: e.n * 2 });"}))
    aws_cli("lambda", "create-function", "--function-name", name, "--runtime", "nodejs22.x", "--role", ROLE,
            "--handler", "index.handler", "--zip-file", f"fileb://{package}")
    out = tmp_path / "out.json"
    aws_cli("lambda", "invoke", "--function-name", name, "--payload", '{"n": 21}', str(out))
    assert json.loads(out.read_text()) == {"doubled": 42}
    refused = aws_cli("lambda", "create-function", "--function-name", unique("java"), "--runtime", "java21",
                      "--role", ROLE, "--handler", "a.B::handle", "--zip-file", f"fileb://{package}", check=False)
    assert refused.returncode != 0
    assert "InvalidParameterValueException" in refused.stderr and "a JVM" in refused.stderr


def test_a_streaming_handler_answers_what_it_wrote(lam: Any) -> None:
    name = create_node(lam, {"index.mjs": """
        import { pipeline } from 'node:stream/promises';
        import { Readable } from 'node:stream';
        export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
          responseStream.write('chunk 1, ');
          await pipeline(Readable.from([`request ${event.n}`]), responseStream);
        });
        """})
    out = lam.invoke(FunctionName=name, Payload=json.dumps({"n": 7}))
    assert "FunctionError" not in out
    assert out["Payload"].read() == b"chunk 1, request 7"  # the bytes written, not JSON


def test_an_uncaught_exception_fails_the_invocation_with_its_own_error(lam: Any, endpoint: str) -> None:
    name = create_node(lam, {"index.js": """
        exports.handler = async () => {
          setImmediate(() => { throw new RangeError('thrown from a callback'); });
          return new Promise((resolve) => setTimeout(resolve, 5000));
        };
        """})
    out, body = invoke(lam, name, {})
    assert out["FunctionError"] == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == ("RangeError", "thrown from a callback")
    messages = log_messages(endpoint, name, out["ResponseMetadata"]["RequestId"])
    assert any("\tERROR\tUncaught Exception \t" in m and '"thrown from a callback"' in m for m in messages)
