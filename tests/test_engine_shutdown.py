"""Stop always stops (issue 11, defect 3): SIGTERM ends a real server within a few seconds
whatever the engine is doing: SQS pollers in their long polls, a handler mid-run (async or
RequestResponse), an event waiting for its retry. Work cut short runs again after the restart."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from .conftest import make_client, wait_for
from .lambda_helpers import create, read_jsonl
from .server import SluiceProcess

STOP_BOUND = 10.0  # seconds: a hang guard, far above the engine's 2 s grace

RECORDER = """
import json, os

def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps({"records": len(event.get("Records", []))}) + "\\n")
"""

SLOW = """
import json, os, time

def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps({"request": context.aws_request_id}) + "\\n")
    time.sleep(float(event.get("sleep", 100)))
    return "done"
"""

FAILING = """
import json, os

def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps({"request": context.aws_request_id}) + "\\n")
    raise RuntimeError("always fails")
"""


def sigterm_exit_code(server: SluiceProcess) -> int:
    """Send SIGTERM; the exit code, or fail (and kill it) if it does not exit within STOP_BOUND."""
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    try:
        return server.proc.wait(timeout=STOP_BOUND)
    except subprocess.TimeoutExpired:
        server.kill()
        pytest.fail(f"sluice did not exit within {STOP_BOUND:g} s of SIGTERM")


def event_state(server: SluiceProcess, request_id: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.endpoint}/_sluice/events/{request_id}", timeout=5) as r:
        return dict(json.load(r))


def test_sigterm_stops_a_server_with_an_sqs_event_source_mapping(tmp_path: Path) -> None:
    server = SluiceProcess(tmp_path / "data").start()
    try:
        lam = make_client("lambda", server.endpoint)
        sqs = make_client("sqs", server.endpoint)
        out = tmp_path / "esm.jsonl"
        url = sqs.create_queue(QueueName=f"esm-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        name = create(lam, RECORDER, Environment={"Variables": {"OUT": str(out)}})
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1)
        sqs.send_message(QueueUrl=url, MessageBody="hello")
        assert wait_for(lambda: read_jsonl(out), timeout=30), "the mapping's pollers never ran"
        # The pollers are back in their long polls now: stopping must end them.
        assert sigterm_exit_code(server) == 0
    finally:
        server.kill()


def test_sigterm_cuts_handlers_mid_run_and_the_async_event_runs_again_after_restart(tmp_path: Path) -> None:
    server = SluiceProcess(tmp_path / "data").start()
    out = tmp_path / "slow.jsonl"
    try:
        lam = make_client("lambda", server.endpoint, read_timeout=60)
        name = create(lam, SLOW, Timeout=300, Environment={"Variables": {"OUT": str(out)}})
        queued = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"sleep": 100}')
        request_id = queued["ResponseMetadata"]["RequestId"]
        sync_answer: dict[str, Any] = {}

        def sync_invoke() -> None:
            try:
                sync_answer["ok"] = lam.invoke(FunctionName=name, Payload=b'{"sleep": 100}')
            except Exception as exc:  # noqa: BLE001 - the server going away mid-request is the point
                sync_answer["error"] = exc

        caller = threading.Thread(target=sync_invoke, daemon=True)
        caller.start()
        assert wait_for(lambda: len(read_jsonl(out)) >= 2, timeout=30), "the handlers never started"
        assert sigterm_exit_code(server) == 0
        caller.join(timeout=STOP_BOUND)
        assert not caller.is_alive() and "ok" not in sync_answer  # the sync call was cut, not answered

        # At least once: the cut attempt recorded nothing, so the event runs again.
        server.start()
        assert event_state(server, request_id)["state"] == "queued"
        assert wait_for(lambda: [r for r in read_jsonl(out) if r["request"] == request_id][1:], timeout=30)
        assert sigterm_exit_code(server) == 0
    finally:
        server.kill()


def test_sigterm_stops_while_an_event_waits_for_its_retry(tmp_path: Path) -> None:
    server = SluiceProcess(tmp_path / "data").start()
    out = tmp_path / "failing.jsonl"
    try:
        lam = make_client("lambda", server.endpoint)
        name = create(lam, FAILING, Environment={"Variables": {"OUT": str(out)}})
        queued = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
        request_id = queued["ResponseMetadata"]["RequestId"]
        assert wait_for(lambda: event_state(server, request_id).get("attempts") == 1, timeout=30)
        assert sigterm_exit_code(server) == 0
        server.start()
        state = event_state(server, request_id)
        assert (state["state"], state["attempts"]) == ("queued", 1)  # its retry is still a minute away
        assert sigterm_exit_code(server) == 0
    finally:
        server.kill()
