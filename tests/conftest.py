from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

import boto3
import pluggy
import pytest
from botocore.config import Config

from .fuzz.stats import pytest_terminal_summary  # noqa: F401  (the fuzzer's counts, also under xdist)
from .server import SluiceProcess

REGION = "us-east-1"

# Real clients, fake credentials: Sluice accepts any key unless IAM enforcement is on.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
os.environ.pop("AWS_PROFILE", None)

T = TypeVar("T")

_LOG_SIZES = pytest.StashKey[dict[Path, int]]()
_LOG_LINES = 150  # of each server's log, at most, under a failed test


def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_LOG_SIZES] = {path: _size(path) for path in SluiceProcess.logs}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                               call: pytest.CallInfo[None]) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    """A failed test's report shows what each Sluice server wrote to its log during the test (the
    session's server, and those it started): a failure seen once in CI can be read afterwards."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed or call.when == "teardown":
        return
    sizes = item.stash.get(_LOG_SIZES, {})
    for path in SluiceProcess.logs:
        try:
            with open(path, "rb") as log:
                log.seek(sizes.get(path, 0))
                written = log.read().decode("utf-8", "replace").splitlines()
        except OSError:  # its temporary dir is gone already
            continue
        if written:
            report.sections.append((f"Captured sluice log {path.name} (its last {_LOG_LINES} lines at most)",
                                    "\n".join(written[-_LOG_LINES:])))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class AwsCli(Protocol):
    """The `aws_cli` fixture: runs the real AWS CLI against Sluice."""

    def __call__(self, *args: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess[str]: ...


@pytest.fixture(scope="session")
def sluice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    server = SluiceProcess(tmp_path_factory.mktemp("sluice") / "data").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def endpoint(sluice: SluiceProcess) -> str:
    return sluice.endpoint


def make_client(service: str, endpoint: str, **config: Any) -> Any:
    """A boto3 client for Sluice. `Any`: boto3 builds its clients at run time from botocore's
    models, and typed stubs would reject the malformed requests error tests send on purpose."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, **config),
    )


def listed(client: Any, operation: str, key: str, **params: Any) -> list[Any]:
    """Every item of a listing, all its pages (boto3's paginator): a session's server holds the
    other tests' resources too, and a first page (50 functions, 100 roles) may not reach the one
    a test looks for."""
    return [item for page in client.get_paginator(operation).paginate(**params) for item in page.get(key, [])]


@pytest.fixture(scope="session")
def s3(endpoint: str) -> Any:
    return make_client("s3", endpoint)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def aws_cli(endpoint: str) -> AwsCli:
    """Run the real AWS CLI against Sluice; returns CompletedProcess."""

    def run(*args: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = os.environ.copy()
        env["AWS_ENDPOINT_URL"] = endpoint
        cmd = [sys.executable, "-m", "awscli", *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
        if check and proc.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    return run


def wait_for(check: Callable[[], T], timeout: float = 20.0, interval: float = 0.2) -> T:
    """Poll `check` until it returns something truthy or `timeout` passes; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
