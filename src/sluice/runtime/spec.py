"""What the runtime is asked to run, and what comes back.

These three types are the runtime's whole contract with the rest of Sluice: the Lambda service
builds a `FunctionSpec` from a function's configuration, the engine sends `InvocationRequest`s
and records `InvocationResult`s. Nothing here knows about processes or sockets.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

# AWS's limit for a synchronous response payload; the number is the one in AWS's message.
MAX_RESPONSE_BYTES = 6_291_556


@dataclass(frozen=True)
class FunctionSpec:
    """What an execution environment needs to run one function version."""

    function_name: str
    function_arn: str  # unqualified arn:aws:lambda:<region>:<account>:function:<name>
    version: str  # "$LATEST" or "1", "2", ...
    handler: str  # "module.func"; the module part may be a path, "dir/mod.func", as on AWS
    runtime: str  # "python3.9" .. "python3.13", "nodejs18.x" .. "nodejs22.x", "provided.al2023"...
    code_dir: Path  # the extracted task root; environments never write to it
    timeout: int  # seconds
    memory_mb: int
    environment: dict[str, str] = field(default_factory=dict)  # the function's own variables
    log_group: str = ""  # "/aws/lambda/<name>"; derived from the name when empty
    log_format: str = "Text"  # or "JSON": then the two levels below apply
    application_log_level: str | None = None
    system_log_level: str | None = None
    region: str = "us-east-1"
    account_id: str = "000000000000"
    endpoint_url: str = ""  # Sluice's own endpoint, given to handlers as AWS_ENDPOINT_URL
    credentials: tuple[str, str, str] = ("ASIAQSLUICEEXAMPLE00", "secret", "token")
    interpreter: str = sys.executable
    # The runtime's own libraries for that interpreter (awslambdaric, boto3: Lambda's
    # /var/runtime); None: those of Sluice's own Python (runtime/python.py builds them).
    runtime_libs: Path | None = None
    # Set when the interpreter is not the runtime's Python version: said in the INIT log.
    runtime_note: str | None = None
    # The function version's merged layers, what Lambda mounts at /opt; None: no layers.
    layers_dir: Path | None = None
    # Changes whenever code or configuration changes: an environment is only ever reused for
    # the exact (function_arn, version, revision) it was started for.
    revision: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.function_arn, self.version, self.revision)

    @property
    def group(self) -> str:
        return self.log_group or f"/aws/lambda/{self.function_name}"


@dataclass(frozen=True)
class InvocationRequest:
    """One invocation, as the engine sends it to the runtime."""

    request_id: str
    payload: bytes
    invoked_arn: str  # the ARN as invoked: qualified when a qualifier was used
    trace_header: str = ""  # X-Ray header; one is generated when empty, as Lambda always has one
    client_context: str | None = None  # base64 JSON (X-Amz-Client-Context), sync invokes only


@dataclass
class InvocationResult:
    """What one invocation came to: its response or error, and what Lambda reports of the run."""

    request_id: str
    ok: bool  # the handler returned normally and its response was accepted
    payload: bytes  # the response, or the error document {"errorMessage", "errorType", ...}
    function_error: str | None  # "Unhandled" for every failure (X-Amz-Function-Error), else None
    error_type: str | None  # "ZeroDivisionError", "Sandbox.Timedout", "Runtime.ExitError", ...
    error_message: str | None
    duration_ms: float
    billed_duration_ms: int
    init_duration_ms: float | None  # only on the invocation that cold-started its environment
    max_memory_used_mb: int
    log_stream: str
    # This invocation's log text, START through REPORT, bounded to its last 4 KB: that is all
    # that Invoke's LogType=Tail returns, and it keeps a handler printing gigabytes cheap.
    log_tail: str
