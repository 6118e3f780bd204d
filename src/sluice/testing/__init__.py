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

__all__ = ["Advanced", "Attempt", "ClockControl", "Outcome", "QueueMessage", "SluiceTesting", "TestingApiError"]
