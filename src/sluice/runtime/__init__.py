"""Execution environments: worker processes running real Python handlers, as Lambda does.

Each environment is a process running AWS's runtime interface client (`python -m awslambdaric`)
against Sluice's implementation of the Lambda Runtime API; `EnvironmentPool` starts, reuses,
limits and stops them.
"""

from .pool import EnvironmentPool
from .spec import FunctionSpec, InvocationRequest, InvocationResult

__all__ = [
    "EnvironmentPool",
    "FunctionSpec",
    "InvocationRequest",
    "InvocationResult",
]
