"""EventBridge benchmark: the cost of PutEvents, and how fast accepted events reach their target.

    .venv/bin/python bench/events.py [--quick] [--duration SECONDS]

Starts Sluice (fresh temp data dir) on a free loopback port and measures, with one boto3 client:

  PutEvents, no rule       calls/s and p50 latency of a one-entry PutEvents no rule matches
                           (parse, validate, answer: the floor)
  PutEvents, 1 target      the same when a rule matches and sends the event to an SQS queue (the
                           outbox row is committed before the answer)
  PutEvents x10, 1 target  ten entries per call: entries/s
  delivery                 deliveries/s from the first PutEvents of a burst (ten entries a call, a
                           rule with five targets on one queue) until the queue holds every one of
                           them: the outbox dispatcher's throughput

With `--in-process`, no server and no boto3: the service's PutEvents operation called directly
(a real store, no engine running, so the outbox only grows) and timed in process CPU time, which a
busy machine disturbs far less than wall-clock rows: microseconds per call, the PutEvents path alone.

Clients and server share the machine, so a busy machine shows in the figures; the load average
is printed with them. Prints a table and writes bench/results/events-latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from servers import sluice_server

REGION = "us-east-1"
RESULTS = Path(__file__).resolve().parent / "results" / "events-latest.json"


def client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test",
                        aws_secret_access_key="test", config=Config(retries={"max_attempts": 0}))


def timed_calls(call: Any, duration: float) -> tuple[int, list[float]]:
    """Call `call()` for `duration` seconds: how many calls, and each one's latency."""
    latencies: list[float] = []
    end = time.monotonic() + duration
    while time.monotonic() < end:
        started = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - started)
    return len(latencies), latencies


def depth(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"])


def run(endpoint: str, duration: float, burst: int) -> dict[str, Any]:
    events, sqs = client("events", endpoint), client("sqs", endpoint)
    rows: dict[str, Any] = {}
    entry = {"Source": "bench.none", "DetailType": "T", "Detail": '{"n": 1}'}
    events.put_events(Entries=[entry])  # warm up: connections, models
    n, lat = timed_calls(lambda: events.put_events(Entries=[entry]), duration)
    rows["PutEvents, no rule"] = {"calls_per_s": n / sum(lat), "p50_ms": statistics.median(lat) * 1000}

    url = sqs.create_queue(QueueName="bench-target")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="bench", EventPattern='{"source": ["bench.app"]}')
    events.put_targets(Rule="bench", Targets=[{"Id": "q", "Arn": arn}])
    matched = {**entry, "Source": "bench.app"}
    n, lat = timed_calls(lambda: events.put_events(Entries=[matched]), duration)
    rows["PutEvents, 1 target"] = {"calls_per_s": n / sum(lat), "p50_ms": statistics.median(lat) * 1000}
    n, lat = timed_calls(lambda: events.put_events(Entries=[matched] * 10), duration)
    rows["PutEvents x10, 1 target"] = {"entries_per_s": 10 * n / sum(lat), "p50_ms": statistics.median(lat) * 1000}

    # Let the timed runs' deliveries land, then empty the queue for the burst.
    settle = time.monotonic() + 120
    while time.monotonic() < settle:
        before = depth(sqs, url)
        time.sleep(1.0)
        if depth(sqs, url) == before:
            break
    sqs.purge_queue(QueueUrl=url)
    events.put_rule(Name="bench-fanout", EventPattern='{"source": ["bench.fanout"]}')
    events.put_targets(Rule="bench-fanout", Targets=[{"Id": f"q{i}", "Arn": arn} for i in range(5)])
    fanout = {**entry, "Source": "bench.fanout"}
    started = time.monotonic()
    for _ in range(burst // 10):
        events.put_events(Entries=[fanout] * 10)
    accepted = time.monotonic()
    deadline = accepted + 300
    while depth(sqs, url) < 5 * burst and time.monotonic() < deadline:
        time.sleep(0.05)
    delivered = time.monotonic()
    rows["delivery"] = {"deliveries": 5 * burst, "per_s": 5 * burst / (delivered - started),
                        "drain_after_last_put_s": delivered - accepted}
    return rows


def in_process(calls: int) -> dict[str, Any]:
    """PutEvents through the service object: CPU and wall microseconds per call."""
    from sluice.clock import Clock
    from sluice.protocol.context import RequestContext
    from sluice.schema import SCHEMA
    from sluice.services.delivery import Deliveries
    from sluice.services.events.service import EventsService
    from sluice.settings import Settings
    from sluice.store import Store

    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sluice-bench-events-") as tmp:
        data = Path(tmp) / "data"
        store = Store(data, SCHEMA)
        try:
            service = EventsService(store, Clock(), Settings(data_dir=data), Deliveries())
            ctx = RequestContext("bench", "bench", "000000000000", REGION, "events")

            def op(name: str, **params: Any) -> Any:
                fn = service.operation(name)
                assert fn is not None
                return fn(ctx, **params)

            op("PutRule", Name="bench", EventPattern='{"source": ["bench.app"], "detail": {"n": [{"numeric": [">", 0]}]}}')
            op("PutTargets", Rule="bench", Targets=[{"Id": "q", "Arn": f"arn:aws:sqs:{REGION}:000000000000:q"}])
            for i in range(20):  # rules that do not match, as a real bus has
                op("PutRule", Name=f"other-{i}", EventPattern=json.dumps({"source": [f"other.{i}"]}))
            none = {"Source": "bench.none", "DetailType": "T", "Detail": '{"n": 1}'}
            matched = {**none, "Source": "bench.app"}
            for label, entries in (("no rule", [none]), ("1 target", [matched]), ("x10, 1 target", [matched] * 10)):
                op("PutEvents", Entries=entries)  # warm: the rule cache
                cpu, wall = time.process_time(), time.perf_counter()
                for _ in range(calls):
                    op("PutEvents", Entries=entries)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                rows[f"in process, {label}"] = {"cpu_us_per_call": cpu / calls * 1e6,
                                                "wall_us_per_call": wall / calls * 1e6}
        finally:
            store.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs (3 s each, a burst of 500)")
    parser.add_argument("--duration", type=float, default=None, help="seconds per timed row")
    parser.add_argument("--in-process", action="store_true", help="time the service's PutEvents alone")
    args = parser.parse_args()
    duration = args.duration or (3.0 if args.quick else 10.0)
    burst = 500 if args.quick else 2000
    if args.in_process:
        rows = in_process(500 if args.quick else 3000)
    else:
        with tempfile.TemporaryDirectory(prefix="sluice-bench-events-") as tmp:
            server = sluice_server(Path(tmp))
            server.start()
            try:
                rows = run(server.endpoint, duration, burst)
            finally:
                server.stop()
    load = os.getloadavg()
    for name, row in rows.items():
        print(f"{name:26s} " + "  ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", file=sys.stderr)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"rows": rows, "load": load, "duration": duration}, indent=2) + "\n")


if __name__ == "__main__":
    main()
