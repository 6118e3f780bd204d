"""`sluice status`: async backlogs, in-flight counts, error rates and DLQ depths of a running server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .pipeline_helpers import build, dead_letters, sluice_cli
from .server import SluiceProcess

SLOW = """
import time

def handler(event, context):
    time.sleep(10)  # long enough for the status to be read while it runs
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    proc = SluiceProcess(tmp_path_factory.mktemp("status") / "data", "--time-scale", "600").start()
    yield proc
    proc.stop()


def _status(endpoint: str) -> dict[str, Any]:
    done = sluice_cli("status", "--json", endpoint=endpoint)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _row(body: dict[str, Any], key: str, name: str, value: str) -> dict[str, Any]:
    return next(r for r in body[key] if r[name] == value)


def test_status_shows_backlog_in_flight_errors_and_dlq_depth(server: SluiceProcess) -> None:
    failing = build(server.endpoint, retries=0)
    for i in range(2):
        failing.s3.put_object(Bucket=failing.bucket, Key=f"bad-{i}", Body=b"1")
    dead_letters(failing, 2)  # received, so now in flight in the DLQ
    failing.s3.put_object(Bucket=failing.bucket, Key="bad-2", Body=b"1")
    # One execution at a time: the first upload runs for seconds, the others wait in the queue.
    slow = build(server.endpoint, SLOW, dead_letter=False)
    slow.lam.put_function_concurrency(FunctionName=slow.function, ReservedConcurrentExecutions=1)
    for i in range(3):
        slow.s3.put_object(Bucket=slow.bucket, Key=f"k{i}", Body=b"1")

    deadline = time.monotonic() + 30
    while True:
        body = _status(server.endpoint)
        queue = _row(body, "deadLetterQueues", "arn", failing.dlq_arn)
        busy = _row(body, "functions", "name", slow.function)
        if (queue["messages"] == 1 and busy["inFlight"] == 1 and busy["queued"] == 2) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert queue == {**queue, "name": failing.dlq_arn.rsplit(":", 1)[1], "exists": True, "messages": 1,
                     "messagesInFlight": 2, "usedBy": [{"function": failing.function, "as": "DeadLetterConfig"}]}
    assert busy["inFlight"] == 1 and busy["queued"] == 2 and busy["oldestEventAgeSeconds"] > 0
    assert busy["errorRate5m"] is None  # nothing finished yet
    errors = _row(body, "functions", "name", failing.function)
    assert errors["invocations5m"] == errors["errors5m"] == 3 and errors["errorRate5m"] == 1.0
    assert errors["queued"] == errors["inFlight"] == 0 and errors["oldestEventAgeSeconds"] is None

    human = sluice_cli("status", endpoint=server.endpoint)
    assert human.returncode == 0, human.stderr
    lines = human.stdout.splitlines()
    assert "FUNCTION" in lines[2] and "QUEUED" in lines[2] and "ERROR RATE" in lines[2]
    slow_line = next(line for line in lines if line.startswith(slow.function))
    assert slow_line.split()[1:3] == ["2", "1"]
    failing_line = next(line for line in lines if line.startswith(failing.function))
    assert failing_line.split()[-3:] == ["3", "3", "100.0%"]
    dlq_line = next(line for line in lines if line.startswith(queue["name"]))
    assert dlq_line.split() == [queue["name"], "1", "2", failing.function, "(DeadLetterConfig)"]


def test_status_watch_refreshes_until_ctrl_c(server: SluiceProcess) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "sluice", "status", "--watch", "--endpoint", server.endpoint],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    frames = out.split("\x1b[H\x1b[2J")[1:]
    assert len(frames) >= 2 and all(frame.startswith("Sluice status at ") for frame in frames)
