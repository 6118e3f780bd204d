"""The asynchronous invocation engine on a fast clock: retries, gaps, event age, concurrency, crashes.

The server runs with --time-scale 120: AWS's 1- and 2-minute retry gaps last 0.5 s and 1 s.
Handlers record each attempt in a file, so attempts are counted by the code that ran.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import make_client
from .lambda_helpers import create, read_jsonl
from .server import SluiceProcess

SCALE = 120

RECORDING_HANDLER = """
import json, os, time

def handler(event, context):
    with open(os.environ["MARKS"], "a") as f:
        f.write(json.dumps({"t": time.time(), "id": context.aws_request_id}) + "\\n")
    if event.get("fail"):
        raise RuntimeError("intentional failure")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"done": True}
"""


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    server = SluiceProcess(tmp_path_factory.mktemp("fast") / "data", "--time-scale", str(SCALE)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lam(fast: SluiceProcess) -> Any:
    return make_client("lambda", fast.endpoint)


def event_state(endpoint: str, request_id: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{endpoint}/_sluice/events/{request_id}", timeout=5) as r:
            return json.load(r)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def wait_done(endpoint: str, request_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = event_state(endpoint, request_id)
        if state and state["state"] == "done":
            return state
        time.sleep(0.05)
    raise AssertionError(f"event {request_id} did not finish: {event_state(endpoint, request_id)}")


def marks(path: Path, request_id: str | None = None) -> list[float]:
    rows = read_jsonl(path)
    return [r["t"] for r in rows if request_id is None or r["id"] == request_id]


def recording_function(lam: Any, tmp_path: Path, **extra: Any) -> tuple[str, Path]:
    marks_file = tmp_path / "marks.jsonl"
    name = create(lam, RECORDING_HANDLER, Environment={"Variables": {"MARKS": str(marks_file)}}, **extra)
    return name, marks_file


def send(lam: Any, name: str, event: dict) -> str:
    resp = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event))
    assert resp["StatusCode"] == 202
    return resp["ResponseMetadata"]["RequestId"]


def test_success_is_one_attempt(lam: Any, fast: SluiceProcess, tmp_path: Path) -> None:
    name, file = recording_function(lam, tmp_path)
    rid = send(lam, name, {})
    state = wait_done(fast.endpoint, rid)
    assert (state["condition"], state["attempts"]) == ("Success", 1)
    assert state["functionArn"].endswith(f":function:{name}:$LATEST")
    assert len(marks(file, rid)) == 1


def test_failing_event_three_attempts_with_one_and_two_minute_gaps(lam: Any, fast: SluiceProcess, tmp_path: Path) -> None:
    name, file = recording_function(lam, tmp_path)
    rid = send(lam, name, {"fail": True})
    state = wait_done(fast.endpoint, rid)
    assert (state["condition"], state["attempts"]) == ("RetriesExhausted", 3)
    assert state["response"]["errorType"] == "RuntimeError"
    times = marks(file, rid)
    assert len(times) == 3
    first_gap, second_gap = times[1] - times[0], times[2] - times[1]
    # Never early: AWS's 60 s and 120 s, divided by the time scale. (Upper bounds are loose liveness bounds.)
    assert 60 / SCALE <= first_gap < 60 / SCALE * 10
    assert 120 / SCALE <= second_gap < 120 / SCALE * 10


def test_zero_retries_one_attempt(lam: Any, fast: SluiceProcess, tmp_path: Path) -> None:
    name, file = recording_function(lam, tmp_path)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    rid = send(lam, name, {"fail": True})
    state = wait_done(fast.endpoint, rid)
    assert (state["condition"], state["attempts"]) == ("RetriesExhausted", 1)
    assert len(marks(file, rid)) == 1


@pytest.mark.parametrize("max_age,attempts", [(60, 1), (90, 2)])
def test_max_event_age_look_ahead(lam: Any, fast: SluiceProcess, tmp_path: Path, max_age: int, attempts: int) -> None:
    name, file = recording_function(lam, tmp_path)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=max_age)
    rid = send(lam, name, {"fail": True})
    state = wait_done(fast.endpoint, rid)
    assert (state["condition"], state["attempts"]) == ("EventAgeExceeded", attempts)
    assert len(marks(file, rid)) == attempts


def test_reserved_concurrency_zero_never_runs(lam: Any, fast: SluiceProcess, tmp_path: Path) -> None:
    name, file = recording_function(lam, tmp_path)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    rid = send(lam, name, {})
    state = wait_done(fast.endpoint, rid)
    assert (state["condition"], state["attempts"]) == ("ZeroReservedConcurrency", 0)
    assert state["response"] is None
    assert marks(file) == []


def test_concurrency_cap_holds_under_a_burst(lam: Any, fast: SluiceProcess, tmp_path: Path) -> None:
    running = tmp_path / "running"
    running.mkdir()
    name = create(lam, """
        import os, time
        def handler(event, context):
            d = os.environ["RUNNING"]
            mine = os.path.join(d, context.aws_request_id)
            open(mine, "w").close()
            now = len(os.listdir(d))
            with open(os.environ["PEAK"], "a") as f:
                f.write(f"{now}\\n")
            time.sleep(0.05)
            os.remove(mine)
            return now
    """, Environment={"Variables": {"RUNNING": str(running), "PEAK": str(tmp_path / "peak")}})
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)
    ids = [send(lam, name, {}) for _ in range(80)]
    states = [wait_done(fast.endpoint, rid, timeout=120) for rid in ids]
    assert all(s["condition"] == "Success" for s in states)
    peaks = [int(x) for x in (tmp_path / "peak").read_text().split()]
    assert len(peaks) == 80
    assert max(peaks) <= 3


def test_events_survive_sigkill_in_every_state(tmp_path: Path) -> None:
    """Queued, waiting for a retry and running when the server is killed: each still ends once."""
    server = SluiceProcess(tmp_path / "data", "--time-scale", "60").start()
    try:
        lam = make_client("lambda", server.endpoint)
        file = tmp_path / "marks.jsonl"
        env = {"Variables": {"MARKS": str(file)}}
        slow = create(lam, RECORDING_HANDLER, Environment=env)
        failing = create(lam, RECORDING_HANDLER, Environment=env)
        running_id = send(lam, slow, {"sleep": 3})
        waiting_id = send(lam, failing, {"fail": True})
        # Wait until the first is running and the second has failed once (now waiting 60 s / 60).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
                marks(file, running_id) and (event_state(server.endpoint, waiting_id) or {}).get("attempts") == 1):
            time.sleep(0.02)
        queued_ids = [send(lam, slow, {}) for _ in range(3)]
        server.kill()
        server = SluiceProcess(tmp_path / "data", "--time-scale", "60", port=server.port).start()
        assert wait_done(server.endpoint, running_id)["condition"] == "Success"
        waited = wait_done(server.endpoint, waiting_id)
        assert (waited["condition"], waited["attempts"]) == ("RetriesExhausted", 3)
        assert len(marks(file, waiting_id)) == 3
        for rid in queued_ids:
            assert wait_done(server.endpoint, rid)["condition"] == "Success"
    finally:
        server.stop()
