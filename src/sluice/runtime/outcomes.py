"""How an invocation ended, and the error documents Lambda itself writes for the ends that are
not the handler's own (timeouts, crashes, memory, oversized responses).

The handler's own errors (exceptions, init faults, marshalling) are written by awslambdaric
inside the environment and passed through untouched.
"""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass

from ..protocol import safejson
from .spec import MAX_RESPONSE_BYTES

TIMED_OUT = "Sandbox.Timedout"
EXIT_ERROR = "Runtime.ExitError"
OUT_OF_MEMORY = "Runtime.OutOfMemory"
RESPONSE_TOO_LARGE = "Function.ResponseSizeTooLarge"
INVALID_ENTRYPOINT = "Runtime.InvalidEntrypoint"
UNHANDLED = "Unhandled"

RESPONSE_TOO_LARGE_MESSAGE = (
    f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
)

# Lambda's platform is written in Go and names signals the way Go's os.ProcessState does.
_GO_SIGNAL_NAMES = {
    signal.SIGKILL: "killed",
    signal.SIGTERM: "terminated",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction",
    signal.SIGINT: "interrupt",
    signal.SIGHUP: "hangup",
    signal.SIGPIPE: "broken pipe",
    signal.SIGQUIT: "quit",
    signal.SIGUSR1: "user defined signal 1",
    signal.SIGUSR2: "user defined signal 2",
}


@dataclass
class Outcome:
    """What ended a phase of an environment (init or one invocation)."""

    kind: str  # ready | response | error | init_error | timeout | exit | oom | too_large | spawn_failed
    body: bytes = b""
    error_type: str | None = None
    returncode: int | None = None
    detail: str = ""

    @property
    def keeps_environment(self) -> bool:
        """Only a clean response or a handler error leave the environment fit for reuse."""
        return self.kind in ("ready", "response", "error")


def exit_reason(returncode: int | None) -> str:
    if returncode is None or returncode == 0:
        return "Runtime exited without providing a reason"
    if returncode > 0:
        return f"Runtime exited with error: exit status {returncode}"
    try:
        sig = signal.Signals(-returncode)
        name = _GO_SIGNAL_NAMES.get(sig) or (signal.strsignal(sig) or sig.name).lower()
    except ValueError:
        name = f"signal {-returncode}"
    return f"Runtime exited with error: signal: {name}"


def platform_error(request_id: str, outcome: Outcome, timeout: float) -> tuple[str, str]:
    """(errorType, errorMessage) for an outcome that Lambda itself reports."""
    if outcome.kind == "timeout":
        return (
            TIMED_OUT,
            f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds",
        )
    if outcome.kind == "oom":
        return (
            OUT_OF_MEMORY,
            f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
        )
    if outcome.kind == "too_large":
        return RESPONSE_TOO_LARGE, RESPONSE_TOO_LARGE_MESSAGE
    if outcome.kind == "spawn_failed":
        return INVALID_ENTRYPOINT, f"RequestId: {request_id} Error: {outcome.detail}"
    return EXIT_ERROR, f"RequestId: {request_id} Error: {exit_reason(outcome.returncode)}"


def error_document(error_type: str, message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


def parse_error(body: bytes, header_type: str | None) -> tuple[str, str]:
    """(errorType, errorMessage) from an error document awslambdaric posted."""
    error_type, message = header_type or "", ""
    try:
        doc = safejson.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        error_type = str(doc.get("errorType") or error_type)
        message = str(doc.get("errorMessage") or "")
    return error_type or "Runtime.Unknown", message


def described(outcome: Outcome, request_id: str, timeout: float) -> tuple[bytes, str | None, str | None]:
    """(payload, errorType, errorMessage) of an invocation's outcome: the handler's response, the
    error document its runtime posted, or the one Lambda writes for what it reports itself."""
    if outcome.kind == "response":
        return outcome.body, None, None
    if outcome.kind in ("error", "init_error"):
        return (outcome.body, *parse_error(outcome.body, outcome.error_type))
    error_type, message = platform_error(request_id, outcome, timeout)
    return error_document(error_type, message), error_type, message
