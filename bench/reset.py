"""Reset benchmark: how long `POST /_sluice/reset` takes with 100 buckets, 100 queues and 20
functions, side by side with moto's `POST /moto-api/reset` on the same resources.

    .venv/bin/python bench/reset.py [--quick] [--rounds 5] [--buckets 100] [--queues 100] [--functions 20]
                                    [--only sluice|moto] [--sluice-args -v]

Each round fills a fresh state through boto3 (every bucket with an object, every queue with a
message, every function invoked once so warm execution environments exist on Sluice; moto
creates functions without running them), then resets it and records:

  server ms    the time the server reports for the reset itself (Sluice's `reset_ms`)
  round trip   the HTTP call as the client sees it (connection reuse off: a test's first call)

Sluice's reset deletes every row in one fsynced transaction and stops the environments; moto's
drops its in-memory backends. Prints a table and writes bench/results/reset-latest.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from servers import Server, moto_server, sluice_server  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "reset-latest.json"
HANDLER = "def handler(event, context):\n    return {'ok': True}\n"


def client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}, max_pool_connections=16))


def package() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", HANDLER)
    return buf.getvalue()


def fill(endpoint: str, buckets: int, queues: int, functions: int, invoke: bool) -> None:
    s3, sqs, lam = client("s3", endpoint), client("sqs", endpoint), client("lambda", endpoint)
    tag = uuid.uuid4().hex[:6]
    code = package()
    # An execution role of the server's own account, created first (moto checks it exists).
    role = client("iam", endpoint).create_role(
        RoleName=f"bench-{tag}", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    )["Role"]["Arn"]

    def bucket(i: int) -> None:
        name = f"bench-{tag}-{i}"
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="object.txt", Body=b"x" * 1024)

    def queue(i: int) -> None:
        url = sqs.create_queue(QueueName=f"bench-{tag}-{i}")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="message")

    def function(i: int) -> None:
        name = f"bench-{tag}-{i}"
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handler",
                            Code={"ZipFile": code})
        if invoke:
            lam.invoke(FunctionName=name, Payload=b"{}")

    with ThreadPoolExecutor(8) as pool:
        for fn, n in ((bucket, buckets), (queue, queues), (function, functions)):
            list(pool.map(fn, range(n)))


def reset(server: Server, path: str) -> tuple[float | None, float]:
    request = urllib.request.Request(server.endpoint + path, data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read()
    round_trip = (time.perf_counter() - started) * 1000
    reported = json.loads(body).get("reset_ms") if body.startswith(b"{") else None
    return reported, round_trip


def check_empty(endpoint: str) -> None:
    assert client("s3", endpoint).list_buckets()["Buckets"] == [], "buckets left after the reset"
    assert client("sqs", endpoint).list_queues().get("QueueUrls", []) == [], "queues left after the reset"
    assert client("lambda", endpoint).list_functions()["Functions"] == [], "functions left after the reset"


def run(server: Server, path: str, args: argparse.Namespace, invoke: bool) -> dict[str, Any]:
    reported: list[float] = []
    trips: list[float] = []
    for _ in range(args.rounds):
        fill(server.endpoint, args.buckets, args.queues, args.functions, invoke)
        server_ms, trip = reset(server, path)
        check_empty(server.endpoint)
        if server_ms is not None:
            reported.append(server_ms)
        trips.append(trip)
    return {"server_ms": summary(reported), "round_trip_ms": summary(trips)}


def summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def cell(stats: dict[str, float] | None) -> str:
    if stats is None:
        return "-"
    return f"{stats['median']:.1f} (min {stats['min']:.1f}, max {stats['max']:.1f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="two rounds")
    parser.add_argument("--buckets", type=int, default=100)
    parser.add_argument("--queues", type=int, default=100)
    parser.add_argument("--functions", type=int, default=20)
    parser.add_argument("--only", choices=["sluice", "moto"])
    parser.add_argument("--sluice-args", nargs="*", default=[], help="extra `sluice up` arguments, e.g. -v")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 2
    results: dict[str, Any] = {"buckets": args.buckets, "queues": args.queues, "functions": args.functions,
                               "rounds": args.rounds, "load": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        peers = []
        if args.only in (None, "sluice"):
            peers.append((sluice_server(work, "sluice", "--clock", "manual", *args.sluice_args), "/_sluice/reset",
                          True))
        if args.only in (None, "moto"):
            peers.append((moto_server(work), "/moto-api/reset", False))
        for server, path, invoke in peers:
            server.start()
            try:
                results[server.name] = run(server, path, args, invoke)
            finally:
                server.stop()
    print(f"reset with {args.buckets} buckets, {args.queues} queues, {args.functions} functions "
          f"({args.rounds} rounds, median; load {results['load'][0]:.1f})")
    print(f"{'':8} {'server ms':32} {'round trip ms':32}")
    for name in ("sluice", "moto"):
        if name in results:
            print(f"{name:8} {cell(results[name]['server_ms']):32} {cell(results[name]['round_trip_ms']):32}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
