"""What the pytest plugin costs a test run: the session server's start, a reset between tests, and
the S3EventProcessor example file's wall time.

    .venv/bin/python bench/testing_plugin.py [--runs 5]

- ready: a fresh Python process that has imported boto3 (as a test process has) starts the
  session server as the `sluice` fixture does, in each mode; the thread mode's figure includes
  importing the server's modules (the plugin imports them only when a server is asked for).
- reset: the round trip of `POST /_sluice/reset` from the client, after the example's pipeline
  was deployed (role, function, queue, bucket, notification) and its function ran once.
- example: `pytest examples/s3-event-processor/test_s3_event_processor.py` in a fresh process:
  the session time pytest reports, and the whole command's wall time.
Medians over the runs. No peer does this (moto has no clock to drive, LocalStack no reset API).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "s3-event-processor" / "test_s3_event_processor.py"

READY = """
import sys, tempfile, time
from pathlib import Path
import boto3  # a test process has it already
started, cpu = time.perf_counter(), time.process_time()
from sluice.testing.servers import start_server
server = start_server(sys.argv[1], Path(tempfile.mkdtemp()) / "data")
print(time.perf_counter() - started, time.process_time() - cpu)
server.stop()
"""

RESETS = """
import json, statistics, sys, tempfile, time, zipfile, io
from pathlib import Path
from sluice.testing.servers import start_server
from sluice.testing.session import AwsClients
from sluice.testing.client import SluiceTesting
server = start_server("thread", Path(tempfile.mkdtemp()) / "data")
aws = AwsClients(server.endpoint, "us-east-1")
api = SluiceTesting(server.endpoint)
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                   "Principal": {"Service": "lambda.amazonaws.com"}}]})
code = io.BytesIO()
with zipfile.ZipFile(code, "w") as z:
    z.writestr("fn.py", "def handler(event, context):\\n    return 1\\n")
times, server_ms = [], []
for _ in range(int(sys.argv[1])):
    role = aws("iam").create_role(RoleName="r", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    aws("sqs").create_queue(QueueName="dlq")
    aws("lambda").create_function(FunctionName="fn", Runtime="python3.12", Handler="fn.handler", Role=role,
                                  Code={"ZipFile": code.getvalue()})
    aws("lambda").invoke(FunctionName="fn")  # a warm environment the reset must stop
    aws("s3").create_bucket(Bucket="bucket")
    aws("s3").put_object(Bucket="bucket", Key="k", Body=b"x")
    started = time.perf_counter()
    server_ms.append(api.reset())
    times.append((time.perf_counter() - started) * 1000)
server.stop()
print(json.dumps({"round_trip_ms": statistics.median(times), "server_ms": statistics.median(server_ms)}))
"""


def _python(code: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return proc.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs

    print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores: wall times stretch with it)")
    for mode in ("thread", "process"):
        ready, cpu = [], []
        for _ in range(runs):
            wall, used = _python(READY, mode).split()
            ready.append(float(wall) * 1000)
            cpu.append(float(used) * 1000)
        # The thread mode's CPU time is the whole start's (import, build, serve: one process); the
        # process mode's is only the parent's polling, so it is not shown.
        extra = f"; CPU {statistics.median(cpu):.0f} ms" if mode == "thread" else ""
        print(f"session server ready ({mode}): median {statistics.median(ready):.0f} ms "
              f"(min {min(ready):.0f}, max {max(ready):.0f}){extra}")

    print(f"reset after the example's resources: {_python(RESETS, str(runs * 4))}")

    sessions, walls, cpus = [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                                   "--rootdir", scratch, str(EXAMPLE)], capture_output=True, text=True, cwd=scratch,
                                  check=False)
            walls.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)  # pytest and the handlers' processes
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            found = re.search(r"3 passed in ([0-9.]+)s", proc.stdout)
            if found is None:
                raise SystemExit(f"the example did not pass:\n{proc.stdout}{proc.stderr}")
            sessions.append(float(found.group(1)))
    print(f"example file: pytest session median {statistics.median(sessions):.2f} s, "
          f"whole command median {statistics.median(walls):.2f} s (CPU, all processes: "
          f"{statistics.median(cpus):.2f} s); load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
