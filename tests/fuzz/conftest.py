"""The fuzzed servers: one as `sluice up` starts by default, one with --verify-signatures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..server import SluiceProcess
from .target import FuzzTarget


def _fuzz_target(tmp_path_factory: pytest.TempPathFactory, *args: str) -> Iterator[FuzzTarget]:
    server = SluiceProcess(tmp_path_factory.mktemp("fuzz") / "data", *args).start()
    try:
        target = FuzzTarget(server)
        target.prepare()
        yield target
    finally:
        server.stop()


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    yield from _fuzz_target(tmp_path_factory)


@pytest.fixture(scope="module")
def signed_fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    yield from _fuzz_target(tmp_path_factory, "--verify-signatures")
