"""What IAM enforcement costs per request: the same request mix against two Sluice servers,
`sluice up` and `sluice up --enforce-iam`, in the same run.

    .venv/bin/python bench/iam.py [--requests N]

Both servers get the same set-up: a bucket with a bucket policy, a 1 KiB object, a queue, and an
IAM user whose inline policy allows the calls; every request to the enforcing server is made
with that user's key, so it resolves the key, loads the user's policies and the resource's policy
and evaluates them; the plain server gets the default key `test` (it would verify the user's
signature, which here is fake), and still resolves the caller's account and reads the resource's
owner and policy. The mix is S3 GetObject, S3 PutObject (1 KiB) and SQS SendMessage, sent
one at a time over keep-alive raw HTTP connections (boto3 would add milliseconds of client CPU
and hide the difference), alternating between the servers request by request so that machine
noise falls on both alike. Prints p50/p99 per operation and the added milliseconds at p50
(target < 0.2 ms), and writes bench/results/iam-latest.json.

It also measures the enforcer alone, in this process (no HTTP, no server): microseconds per
`Enforcer.authorize` call for the same three requests by the same user, which is what a
change to enforcement moves without the noise of a loaded machine.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from report import git_revision, package_version, write_json
from servers import sluice_server
from sluice.protocol.context import RequestContext
from sluice.server import Sluice
from sluice.settings import Settings

REGION = "us-east-1"
BUCKET = "iam-bench"
QUEUE = "iam-bench"
BODY = b"x" * 1024
TARGET_ADDED_P50_MS = 0.2
RESULTS = Path(__file__).resolve().parent / "results" / "iam-latest.json"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def boto(service: str, endpoint: str, key: str = "test", secret: str = "test") -> Any:
    return boto3.session.Session().client(service, endpoint_url=endpoint, region_name=REGION,
                                          aws_access_key_id=key, aws_secret_access_key=secret,
                                          config=Config(retries={"total_max_attempts": 1}))


def set_up(endpoint: str) -> tuple[str, str]:
    """The bucket, object, queue and user on one server; returns (queue URL, the user's key id)."""
    s3, sqs, iam = boto("s3", endpoint), boto("sqs", endpoint), boto("iam", endpoint)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="seed", Body=BODY)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "ReadersOfTheOtherAccount", "Effect": "Allow", "Principal": {"AWS": "111111111111"},
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}))
    url: str = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    iam.create_user(UserName="bench")
    iam.put_user_policy(UserName="bench", PolicyName="work", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"arn:aws:s3:::{BUCKET}/*"},
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn},
            {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}]}))
    key: str = iam.create_access_key(UserName="bench")["AccessKey"]["AccessKeyId"]
    return url, key


class Raw:
    """Keep-alive HTTP with a well-formed SigV4 header carrying a key (signatures are not
    verified here: the figure is the enforcement's, not SigV4's)."""

    def __init__(self, endpoint: str, key: str) -> None:
        u = urlsplit(endpoint)
        self.conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=30)
        self.key = key

    def _auth(self, service: str) -> dict[str, str]:
        return {"Authorization": f"AWS4-HMAC-SHA256 Credential={self.key}/20250101/{REGION}/{service}/aws4_request, "
                                 "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
                "X-Amz-Date": "20250101T000000Z"}

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> None:
        self.conn.request(method, path, body, headers)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status} {data[:300]!r}")

    def get(self) -> None:
        self.request("GET", f"/{BUCKET}/seed", b"", self._auth("s3"))

    def put(self) -> None:
        headers = {**self._auth("s3"), "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
                   "Content-Type": "application/octet-stream"}
        self.request("PUT", f"/{BUCKET}/put", BODY, headers)

    def send(self, queue_url: str) -> None:
        body = json.dumps({"QueueUrl": queue_url, "MessageBody": "x" * 256}).encode()
        headers = {**self._auth("sqs"), "Content-Type": "application/x-amz-json-1.0",
                   "X-Amz-Target": "AmazonSQS.SendMessage"}
        self.request("POST", "/", body, headers)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(requests: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="sluice-iam-bench-"))
    servers = {"off": sluice_server(workdir, "off"), "on": sluice_server(workdir, "on", "--enforce-iam")}
    try:
        for s in servers.values():
            s.start()
        ops: dict[str, dict[str, Callable[[], None]]] = {}
        for label, server in servers.items():
            queue_url, key = set_up(server.endpoint)
            # Plain mode verifies a key IAM issued (these signatures are fake): its requests use
            # `test`, its common case, which it takes unchecked.
            raw = Raw(server.endpoint, key if label == "on" else "test")
            ops[label] = {"S3 GetObject": raw.get, "S3 PutObject 1 KiB": raw.put,
                          "SQS SendMessage": lambda raw=raw, url=queue_url: raw.send(url)}  # type: ignore[misc]
        names = list(ops["off"])
        samples: dict[str, dict[str, list[float]]] = {label: {n: [] for n in names} for label in servers}
        for _ in range(requests // 10):  # warm-up: connections, caches, models
            for label in servers:
                for n in names:
                    ops[label][n]()
        log(f"measuring {requests} requests of each operation on each server ...")
        for i in range(requests):
            order = ("off", "on") if i % 2 == 0 else ("on", "off")
            for n in names:
                for label in order:
                    started = time.perf_counter()
                    ops[label][n]()
                    samples[label][n].append((time.perf_counter() - started) * 1000)
        rows = []
        for n in [*names, "all"]:
            off = [x for k in names for x in samples["off"][k]] if n == "all" else samples["off"][n]
            on = [x for k in names for x in samples["on"][k]] if n == "all" else samples["on"][n]
            rows.append({"operation": n, "off_p50_ms": percentile(off, 0.5), "off_p99_ms": percentile(off, 0.99),
                         "on_p50_ms": percentile(on, 0.5), "on_p99_ms": percentile(on, 0.99),
                         "added_p50_ms": percentile(on, 0.5) - percentile(off, 0.5),
                         "added_mean_ms": statistics.fmean(on) - statistics.fmean(off)})
        return {"rows": rows, "requests_per_operation": requests}
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def in_process(calls: int) -> dict[str, float]:
    """Microseconds per Enforcer.authorize call, for the bench's requests by the bench's user."""
    workdir = Path(tempfile.mkdtemp(prefix="sluice-iam-micro-"))
    sluice = Sluice.build(Settings(data_dir=workdir, enforce_iam=True, region=REGION))
    try:
        def ctx(service: str, key: str = "test") -> RequestContext:
            return RequestContext(request_id="bench", host_id="bench", account_id=sluice.settings.account_id,
                                  region=REGION, service=service, access_key=key, endpoint="http://127.0.0.1",
                                  headers={"user-agent": "bench"})

        services: dict[str, Any] = dict(sluice.services)
        s3, sqs, iam = services["s3"], services["sqs"], services["iam"]
        s3.operation("CreateBucket")(ctx("s3"), Bucket=BUCKET)
        url = sqs.operation("CreateQueue")(ctx("sqs"), QueueName=QUEUE)["QueueUrl"]
        iam.operation("CreateUser")(ctx("iam"), UserName="bench")
        iam.operation("PutUserPolicy")(ctx("iam"), UserName="bench", PolicyName="work", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "sqs:SendMessage"], "Resource": "*"},
                {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}]}))
        key = iam.operation("CreateAccessKey")(ctx("iam"), UserName="bench")["AccessKey"]["AccessKeyId"]
        enforcer = sluice.gateway.enforcer
        assert enforcer is not None
        requests = {"S3 GetObject": ("s3", "GetObject", {"Bucket": BUCKET, "Key": "seed"}),
                    "S3 PutObject 1 KiB": ("s3", "PutObject", {"Bucket": BUCKET, "Key": "put"}),
                    "SQS SendMessage": ("sqs", "SendMessage", {"QueueUrl": url, "MessageBody": "x"})}
        out = {}
        for name, (service, operation, params) in requests.items():
            request_ctx = ctx(service, key)
            for _ in range(calls // 10):
                enforcer.authorize(request_ctx, operation, params)
            started = time.perf_counter()
            for _ in range(calls):
                enforcer.authorize(request_ctx, operation, params)
            out[name] = (time.perf_counter() - started) / calls * 1e6
        return out
    finally:
        sluice.close()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests of each operation per server")
    args = parser.parse_args()
    result = run(args.requests)
    result["in_process_us"] = in_process(args.requests * 5)
    print(f"\n{'operation':<20} {'off p50':>8} {'off p99':>8} {'on p50':>8} {'on p99':>8} {'added p50':>10}")
    for r in result["rows"]:
        print(f"{r['operation']:<20} {r['off_p50_ms']:>8.3f} {r['off_p99_ms']:>8.3f} {r['on_p50_ms']:>8.3f} "
              f"{r['on_p99_ms']:>8.3f} {r['added_p50_ms']:>10.3f}")
    added = result["rows"][-1]["added_p50_ms"]
    verdict = "meets" if added < TARGET_ADDED_P50_MS else "misses"
    print(f"\nIAM enforcement adds {added:.3f} ms at p50 over the mix ({verdict} the < {TARGET_ADDED_P50_MS} ms target); "
          "milliseconds, raw HTTP keep-alive, one request at a time")
    print("\nEnforcer.authorize in-process, microseconds per call: " + ", ".join(
        f"{name} {us:.1f}" for name, us in result["in_process_us"].items()))
    load = None
    with contextlib.suppress(OSError):
        load = os.getloadavg()[0]
    write_json(RESULTS, {**result, "git": git_revision(), "python": platform.python_version(),
                         "boto3": package_version("boto3"), "cpus": os.cpu_count(), "load_1m": load,
                         "target_added_p50_ms": TARGET_ADDED_P50_MS})
    return 0


if __name__ == "__main__":
    sys.exit(main())
