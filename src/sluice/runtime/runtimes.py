"""Which Lambda runtimes exist, which of them Sluice can run on this machine, and why not.

The one place that knows the runtime identifiers: CreateFunction and UpdateFunctionConfiguration
ask `refusal()` before storing a runtime, and the environment asks `family()` how to start one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# The AWS SDK for JavaScript v3 that `make` installs for Node functions (runtime/node/node_modules).
NODE_SDK = Path(__file__).with_name("node") / "node_modules" / "@aws-sdk"

PYTHON = ("python3.9", "python3.10", "python3.11", "python3.12", "python3.13")
NODE = ("nodejs18.x", "nodejs20.x", "nodejs22.x")
PROVIDED = ("provided.al2", "provided.al2023")
RUNNABLE = PYTHON + NODE + PROVIDED

# Lambda runtimes AWS still accepts but Sluice cannot run: what each would need.
_NOT_PROVIDED = {
    "java": "a Java runtime needs a JVM and AWS's Java runtime interface client "
            "(aws-lambda-java-runtime-interface-client), which Sluice does not provide",
    "dotnet": "a .NET runtime needs the .NET runtime and Amazon.Lambda.RuntimeSupport, "
              "which Sluice does not provide",
    "ruby": "a Ruby runtime needs Ruby and AWS's aws_lambda_ric gem, which Sluice does not provide",
}
_SUPPORTED_WORDS = (
    "Sluice runs python3.9-python3.13, nodejs18.x/nodejs20.x/nodejs22.x (with `node` on PATH) "
    "and provided.al2/provided.al2023 (a `bootstrap` executable of any language)"
)

# Runtimes AWS itself no longer accepts for new or updated functions.
DEPRECATED = frozenset(
    {
        "nodejs", "nodejs4.3", "nodejs4.3-edge", "nodejs6.10", "nodejs8.10", "nodejs10.x",
        "nodejs12.x", "nodejs14.x", "nodejs16.x", "python2.7", "python3.6", "python3.7",
        "python3.8", "dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1",
        "dotnet5.0", "dotnet6", "ruby2.5", "ruby2.7", "java8", "go1.x", "provided",
    }
)


def family(runtime: str) -> str:
    """"python", "nodejs" or "provided": how an environment of this runtime is started."""
    if runtime.startswith("nodejs"):
        return "nodejs"
    if runtime.startswith("provided"):
        return "provided"
    return "python"


def node_executable(runtime: str | None = None) -> str | None:
    """The `node` that runs nodejs* functions: `node22` for nodejs22.x when PATH has one (as
    side-by-side installs name them), else the first `node` on Sluice's PATH."""
    if runtime is not None:
        versioned = shutil.which(f"node{runtime.removeprefix('nodejs').removesuffix('.x')}")
        if versioned is not None:
            return versioned
    return shutil.which("node")


def refusal(runtime: str) -> str | None:
    """Why a function of `runtime` cannot be created or updated here; None when it can run."""
    if runtime in DEPRECATED:
        # AWS's own refusal, word for word.
        return (f"The runtime parameter of {runtime} is no longer supported for creating or updating "
                "AWS Lambda functions. We recommend you use a supported runtime while creating or "
                "updating functions.")
    if runtime in NODE:
        if node_executable() is None:
            return (f"The runtime parameter of {runtime} cannot run here: Node.js functions run on the "
                    "machine's `node`, and no `node` executable was found on Sluice's PATH "
                    f"({os.environ.get('PATH', '')}). Install Node.js 18 or later and restart Sluice.")
        return None
    if runtime in RUNNABLE:
        return None
    for prefix, missing in _NOT_PROVIDED.items():
        if runtime.startswith(prefix):
            return f"The runtime parameter of {runtime} is not supported by Sluice: {missing}. {_SUPPORTED_WORDS}."
    return f"The runtime parameter of {runtime} is not supported by Sluice. {_SUPPORTED_WORDS}."


def runtime_version(runtime: str) -> str:
    """The "Runtime Version" INIT_START names, in Lambda's shape ("nodejs:20.v37"): Sluice has no
    managed runtime builds, so the build part says sluice."""
    if runtime.startswith("python"):
        return f"python:{runtime.removeprefix('python')}.sluice"
    if runtime.startswith("nodejs"):
        return f"nodejs:{runtime.removeprefix('nodejs').removesuffix('.x')}.sluice"
    return f"{runtime.replace('.', ':', 1)}.sluice"


def node_summary() -> str:
    """One line for `sluice up`'s output: can Node.js functions run here, and with the SDK?"""
    node = node_executable()
    if node is None:
        return "Node.js functions: refused, no `node` on PATH (Python and provided.* runtimes run)"
    sdk = "with" if NODE_SDK.is_dir() else "WITHOUT (run `make node-sdk`)"
    return f"Node.js functions: run on {node}, {sdk} the AWS SDK for JavaScript v3"
