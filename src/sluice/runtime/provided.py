"""Custom runtimes (provided.al2, provided.al2023): the function's own `bootstrap` executable,
from the task root or else from the layers' root, as Lambda looks for /var/task/bootstrap and
then /opt/bootstrap. It speaks the Runtime API itself, in whatever language it is written in.
"""

from __future__ import annotations

from pathlib import Path

from .launch import Launch, LaunchError, Sandbox
from .spec import FunctionSpec
from .variables import build_environment


def find_bootstrap(spec: FunctionSpec) -> Path:
    task_bootstrap = spec.code_dir / "bootstrap"
    layer_bootstrap = (spec.layers_dir or Path("/opt")) / "bootstrap"
    # Never the host's own /opt: only a function's layers stand for Lambda's /opt.
    search = [task_bootstrap] + ([layer_bootstrap] if spec.layers_dir is not None else [])
    found = next((p for p in search if p.is_file()), None)
    if found is None:
        # Lambda's message: the bootstrap paths it tried, Go-formatted.
        raise LaunchError(f"Couldn't find valid bootstrap(s): [{task_bootstrap} {layer_bootstrap}]")
    return found


def provided_launch(spec: FunctionSpec, runtime_api_address: str, sandbox: Sandbox) -> Launch:
    bootstrap = find_bootstrap(spec)
    task_root = str(spec.code_dir)
    bin_dirs = ["/usr/local/bin", "/usr/bin/", "/bin"]
    lib_dirs = ["/lib64", "/usr/lib64", task_root, f"{task_root}/lib"]
    if spec.layers_dir is not None:
        bin_dirs.append(str(spec.layers_dir / "bin"))
        lib_dirs.append(str(spec.layers_dir / "lib"))
    env = build_environment(
        spec,
        defaults={"PATH": ":".join(bin_dirs), "LD_LIBRARY_PATH": ":".join(lib_dirs)},
        log_stream=sandbox.log_stream,
        api_address=runtime_api_address,
        telemetry_fd=sandbox.telemetry_fd,
        runtime_dir=str(bootstrap.parent),
        home=sandbox.home,
        tmp=sandbox.tmp,
    )
    # The telemetry descriptor is the managed runtimes' framing; a custom runtime logs to stdout
    # and stderr, and Lambda does not give it one. Nor AWS_EXECUTION_ENV: AWS documents it as
    # undefined for the OS-only (provided) runtimes.
    env.pop("_LAMBDA_TELEMETRY_LOG_FD", None)
    env.pop("AWS_EXECUTION_ENV", None)
    return Launch(argv=(str(bootstrap),), env=env, cwd=spec.code_dir)
