"""SNS benchmark: what a Publish costs, and how soon its delivery reaches a subscribed queue.

    .venv/bin/python bench/sns.py [--quick] [--duration SECONDS]

Starts Sluice (fresh temp data dir) on a free loopback port and measures:

  Publish boto3 1t, no subs   publishes/s and latency, a topic nobody subscribes to (the commit alone)
  Publish boto3 1t, 1 sqs     the same with one SQS subscription (message + outbox row committed)
  Publish raw 4t, 1 sqs       4 threads speaking the query protocol over keep-alive http.client
                              connections (form body, a fixed fake SigV4 header): the server's rate
                              rather than boto3's client CPU
  fan-out to sqs              1,000 messages published in batches of 10 to a topic with one SQS
                              subscription: deliveries/s, from the first PublishBatch until the
                              queue holds them all (the outbox dispatcher's throughput)
  publish -> sqs              from the start of a Publish to the return of a ReceiveMessage that was
                              already long-polling the subscribed queue: p50 and p99 (the outbox
                              dispatcher's path)

Every Publish is durable (fsynced) before it is answered. Prints a table and writes
bench/results/sns-latest.json; the load average is recorded (clients and server share the machine).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import boto3
from botocore.config import Config

from servers import sluice_server

REGION = "us-east-1"
RESULTS = Path(__file__).resolve().parent / "results" / "sns-latest.json"
MESSAGE = "x" * 256
AUTH = ("AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sns/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, Signature=" + "0" * 64)


def client(service: str, endpoint: str) -> Any:
    return boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=60))


class RawPublisher:
    """A keep-alive query-protocol Publish with no SDK in the way."""

    def __init__(self, endpoint: str, topic: str) -> None:
        u = urlsplit(endpoint)
        self.conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=60)
        self.body = urlencode({"Action": "Publish", "Version": "2010-03-31", "TopicArn": topic,
                               "Message": MESSAGE}).encode()
        self.headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                        "X-Amz-Date": "20250101T000000Z", "Authorization": AUTH}

    def __call__(self) -> None:
        self.conn.request("POST", "/", self.body, self.headers)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"Publish: HTTP {resp.status} {data[:200]!r}")


@dataclass
class Row:
    workload: str
    calls: int = 0
    seconds: float = 0.0
    per_s: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None


def percentile_ms(samples: list[float], q: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rate(name: str, make: Callable[[], Callable[[], None]], threads: int, warmup: float, duration: float) -> Row:
    """Call each thread's function in a loop for `duration` seconds (after `warmup`)."""
    samples: list[list[float]] = [[] for _ in range(threads)]
    start_at = time.monotonic() + 1.0 + warmup
    stop_at = start_at + duration
    fns = [make() for _ in range(threads)]

    def loop(i: int) -> None:
        fn = fns[i]
        while (now := time.monotonic()) < stop_at:
            fn()
            if now >= start_at:
                samples[i].append(time.monotonic() - now)

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    every = [s for part in samples for s in part]
    return Row(name, len(every), duration, len(every) / duration, percentile_ms(every, 0.5), percentile_ms(every, 0.99))


def delivery_latency(endpoint: str, topic: str, queue_url: str, samples: int) -> Row:
    sns, sqs = client("sns", endpoint), client("sqs", endpoint)
    got: list[float] = []
    for _ in range(samples):
        received: dict[str, float] = {}

        def poll(received: dict[str, float] = received) -> None:
            resp = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=10, MaxNumberOfMessages=1)
            received["at"] = time.monotonic()
            for m in resp.get("Messages", []):
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])

        waiter = threading.Thread(target=poll)
        waiter.start()
        time.sleep(0.05)  # let the long poll begin
        started = time.monotonic()
        sns.publish(TopicArn=topic, Message=MESSAGE)
        waiter.join()
        if "at" in received:
            got.append(received["at"] - started)
    return Row("publish -> sqs", len(got), sum(got), 0.0, percentile_ms(got, 0.5), percentile_ms(got, 0.99))


def drain(sqs: Any, url: str, timeout: float = 120.0) -> None:
    """Wait until the queue's depth stops growing (the outbox has delivered what it held)."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        depth = int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"]["ApproximateNumberOfMessages"])
        if depth == last:
            return
        last = depth
        time.sleep(1.0)


def fan_out(endpoint: str, topic: str, queue_url: str, count: int = 1000) -> Row:
    sns, sqs = client("sns", endpoint), client("sqs", endpoint)
    started = time.monotonic()
    for first in range(0, count, 10):
        sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
            {"Id": str(i), "Message": MESSAGE} for i in range(first, min(count, first + 10))])
    deadline = started + 120
    while time.monotonic() < deadline:
        depth = int(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"]["ApproximateNumberOfMessages"])
        if depth >= count:
            break
        time.sleep(0.02)
    seconds = time.monotonic() - started
    return Row("fan-out to sqs", count, seconds, count / seconds)


def fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs (about half a minute in all)")
    parser.add_argument("--duration", type=float, help="seconds measured per workload")
    args = parser.parse_args()
    duration = args.duration or (3.0 if args.quick else 10.0)
    warmup = 0.5 if args.quick else 1.0
    samples = 30 if args.quick else 100
    with tempfile.TemporaryDirectory(prefix="sluice-bench-sns-") as tmp:
        server = sluice_server(Path(tmp))
        server.start()
        try:
            endpoint = server.endpoint
            sns, sqs = client("sns", endpoint), client("sqs", endpoint)
            lonely = sns.create_topic(Name=f"bench-{uuid.uuid4().hex[:8]}")["TopicArn"]
            topic = sns.create_topic(Name=f"bench-{uuid.uuid4().hex[:8]}")["TopicArn"]
            url = sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)

            def boto_publish(arn: str) -> Callable[[], Callable[[], None]]:
                def make() -> Callable[[], None]:
                    c = client("sns", endpoint)
                    return lambda: c.publish(TopicArn=arn, Message=MESSAGE) and None
                return make

            rows = [
                rate("Publish boto3 1t, no subs", boto_publish(lonely), 1, warmup, duration),
                rate("Publish boto3 1t, 1 sqs", boto_publish(topic), 1, warmup, duration),
                rate("Publish raw 4t, 1 sqs", lambda: RawPublisher(endpoint, topic), 4, warmup, duration),
            ]
            drain(sqs, url)  # the deliveries of the rate runs, before the next runs
            fan_topic = sns.create_topic(Name=f"bench-{uuid.uuid4().hex[:8]}")["TopicArn"]
            fan_url = sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
            fan_arn = sqs.get_queue_attributes(QueueUrl=fan_url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"]
            sns.subscribe(TopicArn=fan_topic, Protocol="sqs", Endpoint=fan_arn)
            rows.append(fan_out(endpoint, fan_topic, fan_url))
            quiet = sns.create_topic(Name=f"bench-{uuid.uuid4().hex[:8]}")["TopicArn"]
            quiet_url = sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
            quiet_arn = sqs.get_queue_attributes(QueueUrl=quiet_url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"]
            sns.subscribe(TopicArn=quiet, Protocol="sqs", Endpoint=quiet_arn)
            rows.append(delivery_latency(endpoint, quiet, quiet_url, samples))
        finally:
            server.stop()
    print(f"{'workload':30} {'calls':>7} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for r in rows:
        print(f"{r.workload:30} {r.calls:7d} {fmt(r.per_s or None, '8.1f'):>8} {fmt(r.p50_ms, '8.2f'):>8} "
              f"{fmt(r.p99_ms, '8.2f'):>8}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"loadavg": os.getloadavg(), "duration": duration,
                                   "rows": [asdict(r) for r in rows]}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
