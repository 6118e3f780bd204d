"""Custom runtimes (provided.al2, provided.al2023): the function's own `bootstrap` executable,
from the task root or else from the layers' root, as Lambda looks for /var/task/bootstrap and
then /opt/bootstrap. It speaks the Runtime API itself, in whatever language it is written in.
"""

from __future__ import annotations

from pathlib import Path

from .launch import Launch, LaunchError, with_layers
from .spec import FunctionSpec


def provided_launch(spec: FunctionSpec, env: dict[str, str]) -> Launch:
    task_bootstrap = spec.code_dir / "bootstrap"
    layer_bootstrap = (spec.layers_dir or Path("/opt")) / "bootstrap"
    # Never the host's own /opt: only a function's layers stand for Lambda's /opt.
    search = [task_bootstrap] + ([layer_bootstrap] if spec.layers_dir is not None else [])
    found = next((p for p in search if p.is_file()), None)
    if found is None:
        # Lambda's message: the bootstrap paths it tried, Go-formatted.
        raise LaunchError(f"Couldn't find valid bootstrap(s): [{task_bootstrap} {layer_bootstrap}]")
    env = with_layers(dict(env), spec)
    # Nothing of a language runtime: the bootstrap brings its own. (The telemetry descriptor is
    # the managed runtimes' framing; a custom runtime logs to stdout and stderr.)
    env.pop("PYTHONPATH", None)
    env.pop("_LAMBDA_TELEMETRY_LOG_FD", None)
    return Launch([str(found)], env, spec.code_dir)
