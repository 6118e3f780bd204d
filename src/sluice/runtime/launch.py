"""How an execution environment's process is started, per runtime family: its command line,
its variables and its working directory.

The variables common to every runtime (Lambda's reserved ones, the function's own) come from
variables.build_environment; each family adds what its runtime needs on top.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import runtimes
from .spec import FunctionSpec


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: Path


class LaunchError(Exception):
    """The runtime cannot be started at all (no bootstrap, no node): Lambda's init error."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def command_for(spec: FunctionSpec, env: dict[str, str]) -> Launch:
    kind = runtimes.family(spec.runtime)
    if kind == "nodejs":
        from .nodejs import node_launch

        return node_launch(spec, env)
    if kind == "provided":
        from .provided import provided_launch

        return provided_launch(spec, env)
    return python_launch(spec, env)


def python_launch(spec: FunctionSpec, env: dict[str, str]) -> Launch:
    argv = [
        spec.interpreter,
        "-B",  # the task root is read-only: no __pycache__ written into it
        "-m",
        "awslambdaric",
        spec.handler,
    ]
    return Launch(argv, env, spec.code_dir)


def with_layers(env: dict[str, str], spec: FunctionSpec) -> dict[str, str]:
    """The layers' bin/ on PATH and lib/ on the library path, as Lambda has /opt/bin and /opt/lib."""
    layers = spec.layers_dir
    if layers is None:
        return env
    env["PATH"] = f"{env.get('PATH', '')}:{layers / 'bin'}".lstrip(":")
    libs = [p for p in (env.get("LD_LIBRARY_PATH"), str(layers / "lib")) if p]
    env["LD_LIBRARY_PATH"] = ":".join(libs)
    return env
