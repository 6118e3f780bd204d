"""Execution environments: real handlers in awslambdaric worker processes, driven in-process.

Every test runs its own EnvironmentPool on its own event loop (asyncio.run), with handler files
written into a temporary task root, and asserts the exact fields and log lines AWS produces.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import re
import sys
import textwrap
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from sluice.runtime import (
    EnvironmentPool,
    FunctionSpec,
    InvocationRequest,
    InvocationResult,
    interpreter_for,
)

T = TypeVar("T")

ARN = "arn:aws:lambda:us-east-1:000000000000:function:{}"
STREAM = re.compile(r"^\d{4}/\d{2}/\d{2}/\[(\$LATEST|\d+)\][0-9a-f]{32}$")
REPORT = re.compile(
    r"^REPORT RequestId: (?P<id>[0-9a-f-]+)\tDuration: (?P<duration>\d+\.\d{2}) ms"
    r"\tBilled Duration: (?P<billed>\d+) ms\tMemory Size: (?P<memory>\d+) MB"
    r"\tMax Memory Used: (?P<used>\d+) MB\t(Init Duration: (?P<init>\d+\.\d{2}) ms\t)?\n$"
)
ISO = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"


class Sink:
    """Records what the runtime hands to CloudWatch Logs."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list[tuple[int, str]]]] = []

    def __call__(self, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        assert asyncio.get_running_loop()  # called on the event loop's thread
        self.calls.append((group, stream, list(events)))

    def messages(self, stream: str | None = None) -> list[str]:
        return [m for _, s, evs in self.calls if stream in (None, s) for _, m in evs]

    def invocation(self, request_id: str) -> list[str]:
        """The messages from START to REPORT of one invocation."""
        messages = self.messages()
        start = messages.index(
            next(m for m in messages if m.startswith(f"START RequestId: {request_id} "))
        )
        end = messages.index(
            next(m for m in messages if m.startswith(f"REPORT RequestId: {request_id}\t"))
        )
        return messages[start : end + 1]


def report(line: str) -> re.Match[str]:
    match = REPORT.match(line)
    assert match, line
    return match


def gone(pid: int) -> bool:
    """Dead: no such process, or a zombie waiting for init (an orphan is init's to reap)."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        if stat[stat.rfind(")") + 2] in "ZX":
            return True
        time.sleep(0.02)
    return False


def write(root: Path, name: str, source: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))


def make_spec(
    root: Path, handler: str = "app.handler", name: str = "fn", **changes: Any
) -> FunctionSpec:
    spec = FunctionSpec(
        function_name=name,
        function_arn=ARN.format(name),
        version="$LATEST",
        handler=handler,
        runtime="python3.12",
        code_dir=root,
        timeout=10,
        memory_mb=256,
        environment={},
        log_group=f"/aws/lambda/{name}",
        endpoint_url="http://127.0.0.1:4566",
        credentials=("ASIAEXAMPLEKEY000000", "example-secret", "example-token"),
        interpreter=interpreter_for("python3.12"),
        revision="r1",
    )
    return dataclasses.replace(spec, **changes)


def request(spec: FunctionSpec, payload: Any = None, **kw: Any) -> InvocationRequest:
    body = json.dumps(payload if payload is not None else {}).encode()
    return InvocationRequest(
        str(uuid.uuid4()), body, kw.pop("invoked_arn", spec.function_arn), **kw
    )


def with_pool(
    tmp_path: Path,
    body: Callable[[EnvironmentPool, Sink], Awaitable[T]],
    **options: Any,
) -> tuple[T, Sink]:
    sink = Sink()

    async def main() -> T:
        pool = EnvironmentPool(sink, scratch_dir=tmp_path / "scratch", **options)
        try:
            return await body(pool, sink)
        finally:
            await pool.shutdown()

    return asyncio.run(main()), sink


def error_doc(result: InvocationResult) -> dict[str, Any]:
    doc = json.loads(result.payload)
    assert isinstance(doc, dict)
    return doc


def assert_platform_failure(result: InvocationResult, error_type: str, message: str) -> None:
    assert result.ok is False
    assert result.function_error == "Unhandled"
    assert result.error_type == error_type
    assert result.error_message == message
    assert json.loads(result.payload) == {"errorMessage": message, "errorType": error_type}


# ---------------------------------------------------------------------------------- success


CONTEXT_HANDLER = """
    import os, sys

    def handler(event, context):
        names = [
            "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
            "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
            "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API",
            "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "TZ", "AWS_ENDPOINT_URL", "PYTHONPATH",
            "AWS_PROFILE", "MY_SETTING", "AWS_LAMBDA_LOG_FORMAT", "_LAMBDA_TELEMETRY_LOG_FD",
        ]
        cc = context.client_context
        return {
            "event": event,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "invoked_function_arn": context.invoked_function_arn,
            "remaining": context.get_remaining_time_in_millis(),
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "client_context": None if cc is None else cc.custom,
            "env": {name: os.environ.get(name) for name in names},
            "cwd": os.getcwd(),
            "pid": os.getpid(),
        }
"""


def test_success_context_and_environment(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(root, "app.py", CONTEXT_HANDLER)
    spec = make_spec(
        root,
        environment={"MY_SETTING": "on", "AWS_REGION": "eu-west-3", "LAMBDA_TASK_ROOT": "/x"},
    )
    os.environ["AWS_PROFILE"] = "host-profile"  # must not leak into the environment
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    qualified = spec.function_arn + ":live"

    async def body(pool: EnvironmentPool, sink: Sink) -> InvocationResult:
        req = request(
            spec,
            {"hello": "world"},
            trace_header=trace,
            client_context=context,
            invoked_arn=qualified,
        )
        result = await pool.invoke(spec, req)
        assert result.request_id == req.request_id
        return result

    try:
        result, _ = with_pool(tmp_path, body)
    finally:
        del os.environ["AWS_PROFILE"]
    assert result.ok is True
    assert (
        result.function_error is None and result.error_type is None and result.error_message is None
    )
    out = json.loads(result.payload)
    assert out["event"] == {"hello": "world"}
    assert out["function_name"] == "fn"
    assert out["function_version"] == "$LATEST"
    assert out["memory_limit_in_mb"] == "256"
    assert out["aws_request_id"] == result.request_id
    assert out["invoked_function_arn"] == qualified
    assert 9000 < out["remaining"] <= 10000
    assert out["log_group_name"] == "/aws/lambda/fn"
    assert out["log_stream_name"] == result.log_stream
    assert STREAM.match(result.log_stream) and "/[$LATEST]" in result.log_stream
    assert out["client_context"] == {"k": "v"}
    assert out["cwd"] == str(root)
    env = out["env"]
    port = env.pop("AWS_LAMBDA_RUNTIME_API")
    assert re.fullmatch(r"127\.0\.0\.1:\d+", port)
    runtime_dir = env.pop("LAMBDA_RUNTIME_DIR")
    assert env.pop("PYTHONPATH") == runtime_dir  # AWS's default: $LAMBDA_RUNTIME_DIR
    assert env == {
        "_HANDLER": "app.handler",
        "_X_AMZN_TRACE_ID": trace,
        "AWS_REGION": "us-east-1",  # reserved: the user's value never wins
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
        "AWS_LAMBDA_LOG_STREAM_NAME": result.log_stream,
        "AWS_ACCESS_KEY_ID": "ASIAEXAMPLEKEY000000",
        "AWS_SECRET_ACCESS_KEY": "example-secret",
        "AWS_SESSION_TOKEN": "example-token",
        "LAMBDA_TASK_ROOT": str(root),
        "TZ": ":UTC",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        "AWS_PROFILE": None,
        "MY_SETTING": "on",
        "AWS_LAMBDA_LOG_FORMAT": None,
        "_LAMBDA_TELEMETRY_LOG_FD": None,  # awslambdaric takes it before user code runs
    }
    assert result.init_duration_ms is not None and 0 < result.init_duration_ms < 5000
    assert 0 < result.duration_ms < 5000
    assert result.billed_duration_ms >= 1 and result.billed_duration_ms >= result.duration_ms
    assert 5 < result.max_memory_used_mb < 256
    # The process is reaped once the pool is shut down.
    with pytest.raises(ProcessLookupError):
        os.kill(out["pid"], 0)


def test_warm_reuse_and_new_revision(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(root, "app.py", CONTEXT_HANDLER)
    spec = make_spec(root)

    async def body(pool: EnvironmentPool, sink: Sink) -> list[InvocationResult]:
        first = await pool.invoke(spec, request(spec, {"n": 1}))
        second = await pool.invoke(spec, request(spec, {"n": 2}))
        third = await pool.invoke(dataclasses.replace(spec, revision="r2"), request(spec, {"n": 3}))
        fourth = await pool.invoke(spec, request(spec, {"n": 4}))  # r1's env is still warm
        assert pool.busy() == 0
        return [first, second, third, fourth]

    (first, second, third, fourth), _ = with_pool(tmp_path, body)
    assert all(r.ok for r in (first, second, third, fourth))
    pids = [json.loads(r.payload)["pid"] for r in (first, second, third, fourth)]
    assert first.init_duration_ms is not None
    assert second.init_duration_ms is None
    assert second.log_stream == first.log_stream and pids[1] == pids[0]
    assert third.init_duration_ms is not None
    assert third.log_stream != first.log_stream and pids[2] != pids[0]
    assert fourth.init_duration_ms is None and fourth.log_stream == first.log_stream
    # Lambda reports the environment's peak so far: never lower on a later invocation.
    assert second.max_memory_used_mb >= first.max_memory_used_mb


def test_log_lines_exact_format(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(
        root,
        "app.py",
        """
        import logging
        logger = logging.getLogger()
        logger.setLevel(logging.INFO)
        print("loading")

        def handler(event, context):
            print("two\\nlines")
            logger.info("from logging %s", event["n"])
            return "done"
        """,
    )
    spec = make_spec(root, version="7", memory_mb=128)

    async def body(pool: EnvironmentPool, sink: Sink) -> list[InvocationResult]:
        return [await pool.invoke(spec, request(spec, {"n": i})) for i in range(2)]

    (cold, warm), sink = with_pool(tmp_path, body)
    assert cold.ok and cold.payload == b'"done"'
    assert STREAM.match(cold.log_stream) and "/[7]" in cold.log_stream
    assert {group for group, _, _ in sink.calls} == {"/aws/lambda/fn"}
    assert {stream for _, stream, _ in sink.calls} == {cold.log_stream}
    messages = sink.messages()
    assert re.fullmatch(
        r"INIT_START Runtime Version: \S+\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}\n",
        messages[0],
    )
    assert messages[1] == "loading\n"
    for result, n in ((cold, 0), (warm, 1)):
        rid = result.request_id
        lines = sink.invocation(rid)
        assert lines[0] == f"START RequestId: {rid} Version: 7\n"
        assert lines[1:3] == ["two\n", "lines\n"]
        assert re.fullmatch(rf"\[INFO\]\t{ISO}\t{rid}\tfrom logging {n}\n", lines[3])
        assert lines[4] == f"END RequestId: {rid}\n"
        match = report(lines[5])
        assert len(lines) == 6
        assert match["id"] == rid
        assert float(match["duration"]) == pytest.approx(result.duration_ms, abs=0.006)
        assert int(match["billed"]) == result.billed_duration_ms
        assert match["memory"] == "128" and int(match["used"]) == result.max_memory_used_mb
        assert "".join(lines) == result.log_tail  # what LogType=Tail returns
    assert report(sink.invocation(cold.request_id)[-1])["init"] == f"{cold.init_duration_ms:.2f}"
    assert report(sink.invocation(warm.request_id)[-1])["init"] is None
    # One sink call per invocation (plus the init lines), timestamps never going back.
    stamps = [ts for _, _, evs in sink.calls for ts, _ in evs]
    assert stamps == sorted(stamps) and abs(stamps[0] - time.time() * 1000) < 60_000
    assert len(sink.calls) == 3


def test_json_log_format(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(
        root,
        "app.py",
        """
        import logging
        def handler(event, context):
            logging.getLogger().debug("hidden")
            logging.getLogger().warning("shown")
            return 1
        """,
    )
    spec = make_spec(root, log_format="JSON", application_log_level="WARN")

    async def body(pool: EnvironmentPool, sink: Sink) -> InvocationResult:
        return await pool.invoke(spec, request(spec))

    result, sink = with_pool(tmp_path, body)
    assert result.ok
    records = [json.loads(m) for m in sink.messages()]
    assert [r.get("type") or r.get("level") for r in records] == [
        "platform.initStart",
        "platform.start",
        "WARNING",
        "platform.report",
    ]
    assert records[1]["record"] == {"requestId": result.request_id, "version": "$LATEST"}
    assert records[2]["message"] == "shown" and records[2]["requestId"] == result.request_id
    report = records[3]["record"]
    assert report["status"] == "success" and report["requestId"] == result.request_id
    assert report["metrics"]["memorySizeMB"] == 256
    assert report["metrics"]["initDurationMs"] == round(result.init_duration_ms or 0, 2)


# ---------------------------------------------------------------------------------- failures


def test_handler_exception(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(
        root,
        "app.py",
        """
        def handler(event, context):
            if event.get("fail"):
                return 1 / 0
            return "fine"
        """,
    )
    spec = make_spec(root)

    async def body(pool: EnvironmentPool, sink: Sink) -> list[InvocationResult]:
        return [
            await pool.invoke(spec, request(spec, {"fail": True})),
            await pool.invoke(spec, request(spec, {})),
        ]

    (failed, after), sink = with_pool(tmp_path, body)
    assert failed.ok is False
    assert failed.function_error == "Unhandled"
    assert failed.error_type == "ZeroDivisionError"
    assert failed.error_message == "division by zero"
    doc = error_doc(failed)
    assert doc["errorMessage"] == "division by zero"
    assert doc["errorType"] == "ZeroDivisionError"
    assert doc["requestId"] == failed.request_id
    assert isinstance(doc["stackTrace"], list) and "return 1 / 0" in "".join(doc["stackTrace"])
    # The traceback is one log event, as awslambdaric frames it; END follows it directly.
    lines = sink.invocation(failed.request_id)
    error = lines[1]
    assert error.startswith(
        "[ERROR] ZeroDivisionError: division by zero\nTraceback (most recent call last):\n"
    )
    assert "return 1 / 0" in error
    assert lines[2] == f"END RequestId: {failed.request_id}\n"
    # A handler exception does not cost the environment.
    assert after.ok and after.init_duration_ms is None and after.log_stream == failed.log_stream


def test_timeout_kills_environment_and_its_children(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(
        root,
        "app.py",
        """
        import subprocess, time
        def handler(event, context):
            if event.get("sleep"):
                child = subprocess.Popen(["sleep", "30"])
                print("child", child.pid)
                time.sleep(5)
            return "awake"
        """,
    )
    spec = make_spec(root, timeout=1)

    async def body(pool: EnvironmentPool, sink: Sink) -> list[InvocationResult]:
        timed_out = await pool.invoke(spec, request(spec, {"sleep": True}))
        return [timed_out, await pool.invoke(spec, request(spec, {}))]

    started = time.monotonic()
    (timed_out, after), sink = with_pool(tmp_path, body)
    assert time.monotonic() - started < 4.5
    rid = timed_out.request_id
    assert_platform_failure(
        timed_out, "Sandbox.Timedout", f"RequestId: {rid} Error: Task timed out after 1.00 seconds"
    )
    assert 1000 <= timed_out.duration_ms < 2000
    lines = sink.invocation(rid)
    assert re.fullmatch(rf"{ISO} {rid} Task timed out after 1\.00 seconds\n", lines[-3])
    assert lines[-2] == f"END RequestId: {rid}\n"
    child = int(next(m for m in lines if m.startswith("child ")).split()[1])
    assert gone(child)  # the whole process group went down with the runtime
    # The next invocation gets a fresh environment.
    assert (
        after.ok and after.init_duration_ms is not None and after.log_stream != timed_out.log_stream
    )


def test_exit_is_runtime_exit_error(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(
        root,
        "app.py",
        """
        import os, sys
        def handler(event, context):
            if event["how"] == "exit3":
                sys.exit(3)
            if event["how"] == "exit0":
                sys.exit(0)
            os.kill(os.getpid(), 11)
        """,
    )
    spec = make_spec(root)

    async def body(pool: EnvironmentPool, sink: Sink) -> list[InvocationResult]:
        return [
            await pool.invoke(spec, request(spec, {"how": how}))
            for how in ("exit3", "exit0", "segv")
        ]

    (exit3, exit0, segv), sink = with_pool(tmp_path, body)
    reasons = [
        "Runtime exited with error: exit status 3",
        "Runtime exited without providing a reason",
        "Runtime exited with error: signal: segmentation fault",
    ]
    for result, reason in zip((exit3, exit0, segv), reasons, strict=True):
        message = f"RequestId: {result.request_id} Error: {reason}"
        assert_platform_failure(result, "Runtime.ExitError", message)
        lines = sink.invocation(result.request_id)
        assert lines[-3:-1] == [
            f"{message}\nRuntime.ExitError\n",
            f"END RequestId: {result.request_id}\n",
        ]
        assert result.init_duration_ms is not None  # each one cost its environment
    assert len({exit3.log_stream, exit0.log_stream, segv.log_stream}) == 3


@pytest.mark.parametrize(
    ("source", "handler", "error_type", "message"),
    [
        (
            "import nope_not_installed\ndef handler(e, c):\n    return 1\n",
            "app.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'app': No module named 'nope_not_installed'",
        ),
        (
            "def handler(e, c)\n    return 1\n",
            "app.handler",
            "Runtime.UserCodeSyntaxError",
            None,
        ),
        (
            "def handler(e, c):\n    return 1\n",
            "app.missing",
            "Runtime.HandlerNotFound",
            "Handler 'missing' missing on module 'app'",
        ),
        (
            "def handler(e, c):\n    return 1\n",
            "nomodule.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'nomodule': No module named 'nomodule'",
        ),
    ],
    ids=["import-error", "syntax-error", "handler-not-found", "no-module"],
)
def test_init_errors(
    tmp_path: Path, source: str, handler: str, error_type: str, message: str | None
) -> None:
    root = tmp_path / "task"
    write(root, "app.py", source)
    spec = make_spec(root, handler=handler)

    async def body(pool: EnvironmentPool, sink: Sink) -> list[InvocationResult]:
        first = await pool.invoke(spec, request(spec))
        assert pool.busy() == 0
        return [first, await pool.invoke(spec, request(spec))]

    (first, second), sink = with_pool(tmp_path, body)
    for result in (first, second):
        assert result.ok is False
        assert result.function_error == "Unhandled"
        assert result.error_type == error_type
        doc = error_doc(result)
        assert doc["errorType"] == error_type
        assert doc["requestId"] == ""  # awslambdaric reports init errors outside any request
        assert isinstance(doc["stackTrace"], list)
        if message is None:
            assert result.error_message and result.error_message.startswith(
                "Syntax error in module 'app': "
            )
        else:
            assert result.error_message == message
        assert doc["errorMessage"] == result.error_message
        # A failed init is billed as the invocation: no Init Duration.
        assert result.init_duration_ms is None and result.duration_ms > 0
        lines = sink.invocation(result.request_id)
        assert any(
            line.startswith(f"[ERROR] {error_type}: {result.error_message}") for line in lines
        )
        assert report(lines[-1])["init"] is None
        assert result.log_tail.startswith(f"START RequestId: {result.request_id} ")
    assert first.log_stream != second.log_stream  # the environment was discarded


def test_out_of_memory(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(
        root,
        "app.py",
        """
        def handler(event, context):
            chunks = []
            for _ in range(40):
                chunks.append(b"x" * (10 * 1024 * 1024))
            return len(chunks)
        """,
    )
    spec = make_spec(root, memory_mb=128)

    async def body(pool: EnvironmentPool, sink: Sink) -> list[InvocationResult]:
        return [await pool.invoke(spec, request(spec)), await pool.invoke(spec, request(spec))]

    (first, second), sink = with_pool(tmp_path, body)
    for result in (first, second):
        message = f"RequestId: {result.request_id} Error: Runtime exited with error: signal: killed"
        assert_platform_failure(result, "Runtime.OutOfMemory", message)
        assert result.max_memory_used_mb == 128
        assert "Max Memory Used: 128 MB\t" in sink.invocation(result.request_id)[-1]
    assert first.log_stream != second.log_stream


def test_printing_megabytes(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(
        root,
        "app.py",
        """
        import logging, sys
        def handler(event, context):
            line = "y" * 999
            for _ in range(4000):
                print(line)
            sys.stdout.write("z" * (1024 * 1024) + "\\n")   # one line over CloudWatch's event limit
            logging.getLogger().error("w" * (600 * 1024))   # one log record over it too
            print("last", end="")
            return "ok"
        """,
    )
    spec = make_spec(root)

    async def body(pool: EnvironmentPool, sink: Sink) -> list[InvocationResult]:
        return [await pool.invoke(spec, request(spec)) for _ in range(2)]

    results, sink = with_pool(tmp_path, body)
    for result in results:
        assert result.ok and result.payload == b'"ok"'
        lines = sink.invocation(result.request_id)
        assert lines.count("y" * 999 + "\n") == 4000
        big = [m for m in lines if m.startswith("zzz")]
        assert len(big) == 1 and len(big[0].encode()) == 262_144 - 26
        record = [m for m in lines if m.startswith("[ERROR]")]
        assert len(record) == 1 and len(record[0].encode()) == 262_144 - 26
        assert lines[-3] == "last"  # a line without its newline still lands before END
        assert len(result.log_tail.encode()) <= 4096 and result.log_tail.endswith("\t\n")
    assert results[1].init_duration_ms is None
    # Batches respect PutLogEvents's limits.
    for _, _, events in sink.calls:
        assert len(events) <= 10_000
        assert sum(len(m.encode()) + 26 for _, m in events) <= 1_048_576


def test_unserializable_return_is_marshal_error(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(root, "app.py", "def handler(event, context):\n    return {1, 2}\n")
    spec = make_spec(root)

    async def body(pool: EnvironmentPool, sink: Sink) -> InvocationResult:
        return await pool.invoke(spec, request(spec))

    result, _ = with_pool(tmp_path, body)
    assert result.ok is False and result.function_error == "Unhandled"
    assert result.error_type == "Runtime.MarshalError"
    assert (
        result.error_message
        == "Unable to marshal response: Object of type set is not JSON serializable"
    )
    assert error_doc(result) == {
        "errorMessage": result.error_message,
        "errorType": "Runtime.MarshalError",
        "requestId": result.request_id,
        "stackTrace": [],
    }


def test_response_too_large(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(
        root,
        "app.py",
        """
        def handler(event, context):
            return "x" * event["size"]
        """,
    )
    spec = make_spec(root)

    async def body(pool: EnvironmentPool, sink: Sink) -> list[InvocationResult]:
        return [
            await pool.invoke(spec, request(spec, {"size": 6_291_556 - 2})),  # exactly the limit
            await pool.invoke(spec, request(spec, {"size": 7 * 1024 * 1024})),
        ]

    (fits, too_large), _ = with_pool(tmp_path, body)
    assert fits.ok and len(fits.payload) == 6_291_556
    assert_platform_failure(
        too_large,
        "Function.ResponseSizeTooLarge",
        "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
    )


def test_handler_in_a_directory(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(root, "src/handlers/main.py", "def run(event, context):\n    return event['x'] * 2\n")
    spec = make_spec(root, handler="src/handlers/main.run")

    async def body(pool: EnvironmentPool, sink: Sink) -> InvocationResult:
        return await pool.invoke(spec, request(spec, {"x": 21}))

    result, _ = with_pool(tmp_path, body)
    assert result.ok and result.payload == b"42"


def test_missing_interpreter(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(root, "app.py", "def handler(e, c):\n    return 1\n")
    spec = make_spec(root, interpreter=str(tmp_path / "no-python"))

    async def body(pool: EnvironmentPool, sink: Sink) -> InvocationResult:
        return await pool.invoke(spec, request(spec))

    result, _ = with_pool(tmp_path, body)
    assert result.ok is False and result.error_type == "Runtime.InvalidEntrypoint"
    assert result.error_message == (
        f"RequestId: {result.request_id} Error: fork/exec {tmp_path / 'no-python'}: no such file or directory"
    )


# ---------------------------------------------------------------------------------- the pool


def test_capacity_waits_instead_of_failing(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(
        root,
        "app.py",
        "import time, os\ndef handler(e, c):\n    time.sleep(0.3)\n    return os.getpid()\n",
    )
    spec = make_spec(root)
    other = make_spec(root, name="other")
    busy_seen: list[int] = []

    async def body(pool: EnvironmentPool, sink: Sink) -> list[InvocationResult]:
        async def watch() -> None:
            while True:
                busy_seen.append(pool.busy())
                await asyncio.sleep(0.02)

        watcher = asyncio.create_task(watch())
        results = await asyncio.gather(
            *(pool.invoke(spec, request(spec, {"i": i})) for i in range(4)),
            pool.invoke(other, request(other)),
        )
        watcher.cancel()
        assert pool.busy() == 0 and pool.busy(spec.function_arn) == 0
        return list(results)

    results, _ = with_pool(tmp_path, body, max_environments=2)
    assert all(r.ok for r in results), [r.error_message for r in results]
    assert max(busy_seen) == 2
    assert len({r.payload for r in results}) <= 3  # "other" took the place of an idle "fn"
    assert len({r.log_stream for r in results[:4]}) <= 2


def test_invalidate_reap_and_shutdown(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(root, "app.py", "import os\ndef handler(e, c):\n    return os.getpid()\n")
    spec = make_spec(root)

    async def body(pool: EnvironmentPool, sink: Sink) -> list[int]:
        pids = [json.loads((await pool.invoke(spec, request(spec))).payload)]
        pool.invalidate(spec.function_arn)
        second = await pool.invoke(spec, request(spec))
        assert second.init_duration_ms is not None
        pids.append(json.loads(second.payload))
        await asyncio.sleep(0.3)
        await pool.reap_idle()  # idle_timeout=0.2
        third = await pool.invoke(spec, request(spec))
        assert third.init_duration_ms is not None
        pids.append(json.loads(third.payload))
        await pool.start()  # the background reaper
        await asyncio.sleep(0.5)
        fourth = await pool.invoke(spec, request(spec))
        assert fourth.init_duration_ms is not None
        pids.append(json.loads(fourth.payload))
        return pids

    pids, _ = with_pool(tmp_path, body, idle_timeout=0.2)
    assert len(set(pids)) == 4
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_shutdown_ends_busy_invocations(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(root, "app.py", "import time\ndef handler(e, c):\n    time.sleep(5)\n")
    spec = make_spec(root)

    async def body(pool: EnvironmentPool, sink: Sink) -> InvocationResult:
        task = asyncio.create_task(pool.invoke(spec, request(spec)))
        while pool.busy() == 0 or not sink.calls:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        await pool.shutdown()
        with pytest.raises(RuntimeError):
            await pool.invoke(spec, request(spec))
        return await task

    result, _ = with_pool(tmp_path, body)
    assert result.error_type == "Runtime.ExitError"
    assert (
        result.error_message
        == f"RequestId: {result.request_id} Error: Runtime exited with error: signal: killed"
    )


def test_interpreter_for() -> None:
    assert interpreter_for("python3.12") == sys.executable
    assert (
        interpreter_for("python3.13", {"python3.13": "/opt/py313/bin/python"})
        == "/opt/py313/bin/python"
    )
    assert interpreter_for("python3.9", {"python3.13": "/x"}) == sys.executable


def test_environment_dying_while_idle_is_replaced(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(
        root,
        "app.py",
        """
        import os, threading, time
        def handler(event, context):
            if event.get("die"):
                threading.Thread(target=lambda: (time.sleep(0.1), os._exit(7)), daemon=True).start()
            return os.getpid()
        """,
    )
    spec = make_spec(root)

    async def body(pool: EnvironmentPool, sink: Sink) -> list[InvocationResult]:
        first = await pool.invoke(spec, request(spec, {"die": True}))
        await asyncio.sleep(0.4)
        return [first, await pool.invoke(spec, request(spec))]

    (first, second), _ = with_pool(tmp_path, body)
    assert first.ok and second.ok
    assert second.init_duration_ms is not None and second.payload != first.payload


def test_cancelled_invocation_frees_its_environment(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(
        root,
        "app.py",
        "import os, time\ndef handler(e, c):\n    time.sleep(e['s'])\n    return os.getpid()\n",
    )
    spec = make_spec(root)

    async def body(pool: EnvironmentPool, sink: Sink) -> InvocationResult:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(pool.invoke(spec, request(spec, {"s": 5})), 0.5)
        assert pool.busy() == 0
        return await pool.invoke(spec, request(spec, {"s": 0}))

    result, _ = with_pool(tmp_path, body, max_environments=1)
    assert result.ok and result.init_duration_ms is not None  # the abandoned one was not reused


def test_under_uvloop(tmp_path: Path) -> None:
    uvloop = pytest.importorskip("uvloop")
    root = tmp_path / "task"
    write(
        root,
        "app.py",
        """
        import time
        def handler(event, context):
            if event.get("fail"):
                raise KeyError("k")
            time.sleep(event.get("sleep", 0))
            return event
        """,
    )
    spec = make_spec(root, timeout=1)
    sink = Sink()

    async def main() -> list[InvocationResult]:
        pool = EnvironmentPool(sink, scratch_dir=tmp_path / "scratch", max_environments=2)
        try:
            return list(
                await asyncio.gather(
                    pool.invoke(spec, request(spec, {"n": 1})),
                    pool.invoke(spec, request(spec, {"fail": True})),
                    pool.invoke(spec, request(spec, {"sleep": 3})),
                    pool.invoke(spec, request(spec, {"n": 2})),
                )
            )
        finally:
            await pool.shutdown()

    ok, failed, timed_out, ok2 = uvloop.run(main())
    assert ok.ok and ok.payload == b'{"n": 1}' and ok2.ok and ok2.payload == b'{"n": 2}'
    assert failed.error_type == "KeyError" and failed.error_message == "'k'"
    assert timed_out.error_type == "Sandbox.Timedout"


def test_memory_of_child_processes_counts(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(
        root,
        "app.py",
        """
        import subprocess, sys
        def handler(event, context):
            code = "import time; x = b'x' * (300 * 2**20); time.sleep(20)"
            subprocess.run([sys.executable, "-c", code])
            return "survived"
        """,
    )
    spec = make_spec(root, memory_mb=128)

    async def body(pool: EnvironmentPool, sink: Sink) -> InvocationResult:
        return await pool.invoke(spec, request(spec))

    started = time.monotonic()
    result, _ = with_pool(tmp_path, body)
    assert result.error_type == "Runtime.OutOfMemory" and result.max_memory_used_mb == 128
    assert time.monotonic() - started < 5
