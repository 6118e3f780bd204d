"""Defect 9 of issue 11: execution environments must die with a server killed by SIGKILL.

A warm environment waiting for its next event, and one running a handler that has started a
child process of its own, are both checked: a restart must never find strangers holding ports,
files or CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import make_client, wait_for
from .lambda_helpers import create, read_jsonl
from .process_helpers import environment_processes, kill_all
from .server import SluiceProcess

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")

WARM = """
import os

def handler(event, context):
    return {"pid": os.getpid()}
"""

# Starts a child that would outlive it, records both pids, then works for a long time.
BUSY = """
import json, os, subprocess, time

def handler(event, context):
    child = subprocess.Popen(["sleep", "300"])
    with open(os.environ["PIDS"], "a") as f:
        f.write(json.dumps({"runtime": os.getpid(), "child": child.pid}) + "\\n")
    time.sleep(240)
"""


def test_environments_die_with_a_killed_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    pids_file = tmp_path / "pids.jsonl"
    proc = SluiceProcess(data_dir).start()
    seen: set[int] = set()
    try:
        lam = make_client("lambda", proc.endpoint)
        warm = create(lam, WARM)
        busy = create(lam, BUSY, Timeout=300, Environment={"Variables": {"PIDS": str(pids_file)}})
        answer = lam.invoke(FunctionName=warm)
        assert answer["StatusCode"] == 200 and "FunctionError" not in answer
        warm_pid = json.loads(answer["Payload"].read())["pid"]
        lam.invoke(FunctionName=busy, InvocationType="Event", Payload=b"{}")
        assert wait_for(lambda: read_jsonl(pids_file), timeout=30), "the busy handler never started"
        busy_pids = read_jsonl(pids_file)[0]
        recorded = {warm_pid, busy_pids["runtime"], busy_pids["child"]}

        seen = environment_processes(data_dir)
        # The finder sees what the handlers reported: the check below is not vacuous.
        assert recorded <= seen, f"recorded {recorded}, found {seen}"

        proc.kill()
        left = wait_for(lambda: not environment_processes(data_dir), timeout=10)
        assert left, f"still running 10 s after the server was killed: {sorted(environment_processes(data_dir))}"

        # Same data dir, same port: it starts, and the warm function answers from a new environment.
        proc = SluiceProcess(data_dir, port=proc.port).start()
        lam = make_client("lambda", proc.endpoint)
        again = lam.invoke(FunctionName=warm)
        assert again["StatusCode"] == 200 and "FunctionError" not in again
        assert json.loads(again["Payload"].read())["pid"] not in recorded
    finally:
        proc.kill()
        kill_all(seen | environment_processes(data_dir))
