"""The hook the pytest plugin adds: implement it in a conftest.py to set up a fresh server."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .session import SluiceSession


def pytest_sluice_setup(sluice: SluiceSession) -> None:
    """Create what every test expects on the server (buckets, functions, queues...).

    Called once the session's server has started, and again after each automatic reset (a reset
    empties everything), so that every test starts from the state this hook makes. The test
    environment already points boto3 at the server: `boto3.client("s3")` works here."""
