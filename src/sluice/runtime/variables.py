"""The environment variables of an execution environment, as Lambda sets them.

Built from nothing, never from Sluice's own environment: a handler must not see the server's
AWS_* credentials, profile or PYTHONPATH.
"""

from __future__ import annotations

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
    defaults: dict[str, str],
    log_stream: str,
    api_address: str,
    telemetry_fd: int,
    runtime_dir: str,
    home: Path,
    tmp: Path,
) -> dict[str, str]:
    """Lambda's variables for `spec`'s process. `defaults` are the runtime family's own (PATH,
    PYTHONPATH, NODE_PATH, LD_LIBRARY_PATH ...), which the function's variables may override."""
    env: dict[str, str] = {
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        **defaults,
        # Not Lambda's: a home and temp dir of the environment's own, so that nothing reads the
        # host user's ~/.aws and temporary files vanish with the environment.
        "HOME": str(home),
        "TMPDIR": str(tmp),
    }
    if spec.endpoint_url:
        env["AWS_ENDPOINT_URL"] = spec.endpoint_url
    for name, value in spec.environment.items():
        if name not in RESERVED:
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
            "AWS_LAMBDA_RUNTIME_API": api_address,
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "LAMBDA_RUNTIME_DIR": runtime_dir,
            # awslambdaric frames each log record on this descriptor and removes the variable
            # before user code runs.
            "_LAMBDA_TELEMETRY_LOG_FD": str(telemetry_fd),
        }
    )
    if spec.log_format.upper() == "JSON":
        env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        env["AWS_LAMBDA_LOG_LEVEL"] = (spec.application_log_level or "INFO").upper()
    return env
