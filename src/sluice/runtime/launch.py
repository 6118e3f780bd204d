"""How an execution environment's process is started: its argv, environment and working dir.

One function per runtime family, `command_for` dispatching on the runtime name. Each branch
turns AWS's file-system layout into this machine's: /var/task is the function's extracted code
(`spec.code_dir`), /opt its merged layers (`spec.layers_dir`), /var/runtime the runtime's own
libraries (for Python, `spec.runtime_libs`: awslambdaric and boto3, never Sluice's virtualenv).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

from . import runtimes
from .python import OWN_VERSION, build_from_installed, libs_dir
from .spec import FunctionSpec
from .variables import build_environment


@dataclass(frozen=True)
class Sandbox:
    """What the environment prepared for its process before starting it."""

    log_stream: str
    telemetry_fd: int  # where awslambdaric frames log records (_LAMBDA_TELEMETRY_LOG_FD)
    scratch_dir: Path  # the environment's own directory, removed with it
    home: Path
    tmp: Path


@dataclass(frozen=True)
class Launch:
    """How to start an execution environment's process (what `command_for` returns)."""

    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: Path


class LaunchError(OSError):
    """The runtime cannot be started at all (no bootstrap, no node): Lambda's init error
    Runtime.InvalidEntrypoint, with `detail` as its message."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def spawn_failure(error: OSError, command: str) -> str:
    """The message of a runtime that could not be started, in the words of Lambda's (Go) platform."""
    if isinstance(error, LaunchError):
        return error.detail
    return f"fork/exec {command}: {(error.strerror or str(error)).lower()}"


def command_for(spec: FunctionSpec, runtime_api_address: str, sandbox: Sandbox) -> Launch:
    """The process that runs `spec`'s runtime against the Runtime API at `runtime_api_address`."""
    kind = runtimes.family(spec.runtime)
    # Imported here: runtime/nodejs.py and runtime/provided.py take Launch from this module.
    if kind == "nodejs":
        from .nodejs import node_launch

        return node_launch(spec, runtime_api_address, sandbox)
    if kind == "provided":
        from .provided import provided_launch

        return provided_launch(spec, runtime_api_address, sandbox)
    return python_launch(spec, runtime_api_address, sandbox)


# ---------------------------------------------------------------------------------- Python

# Run with -S -s (no site-packages of the interpreter, no user site) and -B (the task root is
# read-only: no __pycache__ written into it), then this bootstrap lays out sys.path as Lambda's
# Python runtimes have it and hands over to awslambdaric, as /var/runtime/bootstrap.py does.
# -E is not used: PYTHONWARNINGS, PYTHONUNBUFFERED, ... are the user's to set, as on AWS.
# It must run on every Python Lambda supports (3.9+), so nothing newer than 3.9 here.
_PYTHON_BOOTSTRAP = """\
import sys
def _sluice_boot():
    import json, runpy, site
    head, tail, handler = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
    # '' (the -c working directory) goes; PYTHONPATH entries stay after the head, the
    # runtime's libraries come last so that a function's own boto3 wins, as on AWS.
    rest = [p for p in sys.path if p and p not in head and p not in tail]
    sys.path[:] = head + rest + tail
    site.setquit()
    site.sethelper()
    sys.argv = ["awslambdaric", handler]
    runpy.run_module("awslambdaric", run_name="__main__", alter_sys=True)
_sluice_boot()
"""


@functools.cache
def own_libs() -> Path:
    """Sluice's own Python's runtime libraries, for specs that name none (built once)."""
    path = libs_dir(OWN_VERSION)
    return path if path.is_dir() else build_from_installed(path)


def python_paths(spec: FunctionSpec, version: str) -> tuple[list[str], list[str]]:
    """sys.path's head and tail for a Python function: Lambda's order is /var/task, then
    /opt/python/lib/python3.X/site-packages, /opt/python, the interpreter's standard library,
    then the runtime's own libraries (/var/runtime)."""
    head = [str(spec.code_dir)]
    if spec.layers_dir is not None:
        head += [str(spec.layers_dir / "python" / "lib" / f"python{version}" / "site-packages"),
                 str(spec.layers_dir / "python")]
    tail = [str(spec.runtime_libs)] if spec.runtime_libs is not None else []
    return head, tail


def python_launch(spec: FunctionSpec, runtime_api_address: str, sandbox: Sandbox) -> Launch:
    # The layer path is named after the runtime the user packaged for, even when a fallback
    # interpreter of another version runs it.
    if spec.runtime_libs is None:
        spec = dataclasses.replace(spec, runtime_libs=own_libs())
    head, tail = python_paths(spec, spec.runtime.removeprefix("python"))
    task_root = str(spec.code_dir)
    runtime_dir = str(spec.runtime_libs)
    bin_dirs = [os.path.dirname(spec.interpreter), "/usr/local/bin", "/usr/bin/", "/bin"]
    lib_dirs = [runtime_dir, f"{runtime_dir}/lib", task_root, f"{task_root}/lib"]
    if spec.layers_dir is not None:
        bin_dirs.append(str(spec.layers_dir / "bin"))
        lib_dirs.append(str(spec.layers_dir / "lib"))
    host_libs = os.environ.get("LD_LIBRARY_PATH")
    if host_libs:
        # An interpreter outside the system paths (pyenv, conda) may need it to start at all.
        lib_dirs.insert(0, host_libs)
    env = build_environment(
        spec,
        defaults={
            # Lambda's PATH starts with the runtime's own bin directory (/var/lang/bin).
            "PATH": ":".join(bin_dirs),
            "LD_LIBRARY_PATH": ":".join(lib_dirs),
            # AWS's default is $LAMBDA_RUNTIME_DIR; the bootstrap moves it to sys.path's end.
            "PYTHONPATH": runtime_dir,
        },
        log_stream=sandbox.log_stream,
        api_address=runtime_api_address,
        telemetry_fd=sandbox.telemetry_fd,
        runtime_dir=runtime_dir,
        home=sandbox.home,
        tmp=sandbox.tmp,
    )
    argv = (
        spec.interpreter, "-B", "-s", "-S", "-c", _PYTHON_BOOTSTRAP,
        json.dumps(head), json.dumps(tail), spec.handler,
    )
    return Launch(argv=argv, env=env, cwd=spec.code_dir)
