"""The environment variables of an execution environment, as Lambda sets them.

Built from nothing, never from Sluice's own environment: a handler must not see the server's
AWS_* credentials, profile or PYTHONPATH.
"""

from __future__ import annotations

import os
from pathlib import Path

from .spec import FunctionSpec

# Lambda refuses these in a function's configuration and sets them itself; a value the user
# managed to configure anyway never wins. (TZ, PATH, LANG, PYTHONPATH, ... are not reserved:
# users may override them, as on AWS.)
RESERVED = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_LOG_FORMAT",
        "AWS_LAMBDA_LOG_LEVEL",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "_LAMBDA_TELEMETRY_LOG_FD",
    }
)


def build_environment(
    spec: FunctionSpec,
    *,
    log_stream: str,
    api_port: int,
    telemetry_fd: int,
    runtime_dir: Path,
    home: Path,
    tmp: Path,
) -> dict[str, str]:
    task_root = str(spec.code_dir)
    interpreter_dir = os.path.dirname(spec.interpreter)
    search_path, opt_bin, opt_lib = task_root, "/opt/bin", ""
    if spec.layers_dir is not None:
        # The layers stand where AWS mounts /opt; Python's path as on AWS: the task root, then the
        # layers' site-packages of the runtime's version, then their python/.
        opt = spec.layers_dir
        search_path = f"{task_root}:{opt / 'python' / 'lib' / spec.runtime / 'site-packages'}:{opt / 'python'}"
        opt_bin, opt_lib = str(opt / "bin"), str(opt / "lib")
    env: dict[str, str] = {
        # Lambda's PATH starts with the runtime's own bin directory (/var/lang/bin).
        "PATH": f"{interpreter_dir}:/usr/local/bin:/usr/bin/:/bin:{opt_bin}",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": search_path,
        # Not Lambda's: a home and temp dir of the environment's own, so that nothing reads the
        # host user's ~/.aws and temporary files vanish with the environment.
        "HOME": str(home),
        "TMPDIR": str(tmp),
    }
    if os.environ.get("LD_LIBRARY_PATH"):
        # An interpreter outside the system paths (pyenv, conda) may need it to start at all.
        env["LD_LIBRARY_PATH"] = os.environ["LD_LIBRARY_PATH"]
    if opt_lib:  # AWS's library path ends with /opt/lib
        env["LD_LIBRARY_PATH"] = f"{env['LD_LIBRARY_PATH']}:{opt_lib}" if env.get("LD_LIBRARY_PATH") else opt_lib
    if spec.endpoint_url:
        env["AWS_ENDPOINT_URL"] = spec.endpoint_url
    for name, value in spec.environment.items():
        if name in RESERVED:
            continue
        if name == "PYTHONPATH":
            # Extends rather than replaces: the task root stays first, as on AWS.
            env[name] = f"{search_path}:{value}" if value else search_path
        else:
            env[name] = value
    key_id, secret, token = spec.credentials
    env.update(
        {
            "_HANDLER": spec.handler,
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.group,
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_ACCESS_KEY_ID": key_id,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_SESSION_TOKEN": token,
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api_port}",
            "LAMBDA_TASK_ROOT": task_root,
            "LAMBDA_RUNTIME_DIR": str(runtime_dir),
            # awslambdaric frames each log record on this descriptor and removes the variable
            # before user code runs.
            "_LAMBDA_TELEMETRY_LOG_FD": str(telemetry_fd),
        }
    )
    if spec.log_format.upper() == "JSON":
        env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        env["AWS_LAMBDA_LOG_LEVEL"] = (spec.application_log_level or "INFO").upper()
    return env
