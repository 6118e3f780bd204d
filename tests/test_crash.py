"""Invariants 1 and 2 under SIGKILL at random points of a mixed load (issue 11).

Each trial runs S3 uploads (to a bucket that notifies a Lambda function and a queue), SQS sends
and async Lambda invokes (a fifth of them failing: one retry, then the DLQ) against a real
server, kills it with SIGKILL at a random moment, and sometimes again while it recovers, then
restarts it on the same data dir and checks that every acknowledged write is back (object bytes
and ETag, queue message) and every acknowledged event reached its one outcome, and that no
execution environment outlived the killed server.

Quick profile in the normal suite (3 trials). The long one: `make crash-test`, or
SLUICE_CRASH_TRIALS=500 pytest tests/test_crash.py; SLUICE_CRASH_SEED fixes the kill points.
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
from pathlib import Path

import pytest

from . import crash_helpers as crash
from .conftest import wait_for
from .process_helpers import environment_processes, kill_all
from .server import SluiceProcess
from .test_durability import client, log_tail, uploader, verify

TRIALS = int(os.environ.get("SLUICE_CRASH_TRIALS", "3"))
# Trials share a data dir in runs of this many, so that later kills also hit earlier data while
# the cumulative checks stay short.
TRIALS_PER_RUN = 5
SEED = int(os.environ.get("SLUICE_CRASH_SEED") or random.randrange(2**32))
# Retry delays (1 min, 2 min) in about a second; event ages stay far from their 6 h limit.
SERVER_ARGS = ("--time-scale", "60", "--max-environments", "2")
RECOVERY_KILL_SHARE = 0.3

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")


def kill_and_check(proc: SluiceProcess) -> None:
    proc.kill()
    gone = wait_for(lambda: not environment_processes(proc.data_dir), timeout=10)
    assert gone, f"environments outlived the killed server: {sorted(environment_processes(proc.data_dir))}"


def load_then_kill(proc: SluiceProcess, p: crash.Pipeline, trial: int, rng: random.Random) -> None:
    stop, killed = threading.Event(), threading.Event()
    workers = [
        threading.Thread(target=uploader, args=(client(proc.endpoint), p.bucket, f"{prefix}/t{trial}", p.objects,
                                                stop, killed), daemon=True)
        for prefix in ("fn", "q")
    ] + [
        threading.Thread(target=crash.sender, args=(crash.aws("sqs", proc.endpoint), p, stop, killed), daemon=True),
        threading.Thread(target=crash.invoker, args=(crash.aws("lambda", proc.endpoint), p, stop, killed),
                         daemon=True),
    ]
    before = crash.totals(p)
    for w in workers:
        w.start()
    time.sleep(rng.uniform(0.3, 2.5))
    killed.set()
    kill_and_check(proc)
    stop.set()
    for w in workers:
        w.join(timeout=30)
        assert not w.is_alive(), "a load thread hung after the kill"
    errors = crash.load_errors(p)
    assert not errors, "\n".join(errors[:20]) + "\n" + log_tail(proc)
    assert crash.totals(p) != before, f"trial {trial}: nothing was acknowledged before the kill"


@pytest.mark.timeout(900)  # hang detection for a run of several trials on a loaded machine
@pytest.mark.parametrize("run", range(math.ceil(TRIALS / TRIALS_PER_RUN)))
def test_sigkill_under_mixed_load_loses_nothing_acknowledged(tmp_path: Path, run: int) -> None:
    trials = min(TRIALS_PER_RUN, TRIALS - run * TRIALS_PER_RUN)
    rng = random.Random(SEED + run)
    data_dir = tmp_path / "data"
    p = crash.Pipeline(tmp_path)
    proc = SluiceProcess(data_dir, *SERVER_ARGS).start()
    try:
        p.create(proc.endpoint)
        for trial in range(trials):
            where = f"run {run}, trial {trial} (SLUICE_CRASH_SEED={SEED})"
            load_then_kill(proc, p, trial, rng)
            proc = SluiceProcess(data_dir, *SERVER_ARGS, port=proc.port).start()
            if rng.random() < RECOVERY_KILL_SHARE:  # again, while it replays what was in flight
                time.sleep(rng.uniform(0.0, 1.0))
                kill_and_check(proc)
                proc = SluiceProcess(data_dir, *SERVER_ARGS, port=proc.port).start()
            verify(proc.endpoint, p.bucket, p.objects)
            problems = (crash.check_messages(proc.endpoint, p) + crash.check_queue_notifications(proc.endpoint, p)
                        + crash.check_lambda(proc.endpoint, p))
            if trial == trials - 1:
                problems += crash.recheck_outcomes(proc.endpoint, p)
            assert not problems, f"{where}:\n" + "\n".join(problems[:30]) + "\n" + log_tail(proc)
        objects, messages, invokes = crash.totals(p)
        duplicates = ", ".join(f"{n} {what}" for what, n in sorted(p.duplicates.items()) if n) or "none"
        print(f"\ncrash run {run}: {trials} trial(s) passed; acknowledged {objects} uploads, {messages} messages,"
              f" {invokes} async invokes; at-least-once duplicates: {duplicates} (SLUICE_CRASH_SEED={SEED})")
    finally:
        proc.kill()
        kill_all(environment_processes(data_dir))
