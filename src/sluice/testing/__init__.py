"""Testing with Sluice: the testing API's client (any test runner) and the pytest plugin.

`SluiceTesting(endpoint)` drives a `sluice up --clock manual` server: `.clock.advance(minutes=1)`,
`.reset()`, `.outcome(request_id)`, `.journey("bucket/key")`, `.queue_messages("queue")`.
The pytest plugin (`sluice.testing.plugin`, loaded by pytest through the `pytest11` entry point)
starts such a server for the session and offers the `sluice`, `aws` and `sluice_clock` fixtures.
"""

from .client import (
    Advanced,
    Attempt,
    ClockControl,
    Outcome,
    QueueMessage,
    SluiceTesting,
    TestingApiError,
)

__all__ = ["Advanced", "Attempt", "ClockControl", "DeployedStack", "Outcome", "QueueMessage", "SluiceTesting",
           "StackDeployFailed", "TestingApiError"]


def __getattr__(name: str) -> object:
    # The stack deployer needs boto3 and the template reader: loaded only when asked for, since the
    # plugin imports this package in every pytest run of an environment where Sluice is installed.
    if name in ("DeployedStack", "StackDeployFailed"):
        from . import stacks

        return getattr(stacks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
