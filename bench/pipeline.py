"""The pipeline benchmark: PutObject 200 -> handler start, and the upload rate processing keeps up with.

    .venv/bin/python bench/pipeline.py [--quick]

Starts Sluice, wires a bucket to a no-op function (S3 notification -> async invoke), and:
(a) uploads 1 KiB objects one at a time (warm) and measures from the PutObject 200 to the
    handler's first line (the handler reports its start time over UDP on loopback);
(b) uploads at fixed rates and reports, per rate, the event age (200 -> handler start) p50/p99
    and whether processing kept up (every event started, p99 age under 1 s).
The handler reports as its last step, so a report received is a handler done; with a no-op
handler, start and end are the same instant.
Targets (issue 18, with 8 environments): (a) p50 < 5 ms (issue 5: p99 < 50 ms); (b) >= 500
uploads/s sustained, upload -> handler done, on 2 cores. Raw keep-alive HTTP PUTs are used for
uploads, so the client is not the limit. bench/scale.py measures the async queue with a backlog.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import socket
import statistics
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from servers import Server, sluice_server

HANDLER = """
import os, socket, time
_SOCK = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
_PORT = int(os.environ["BEACON_PORT"])

def handler(event, context):
    started = time.time()
    key = event["Records"][0]["s3"]["object"]["key"]
    _SOCK.sendto(f"{key} {started!r}".encode(), ("127.0.0.1", _PORT))
"""
BUCKET = "pipeline-bench"
AUTH = {"Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/s3/aws4_request, "
                         "SignedHeaders=host, Signature=0"}


class Beacon:
    """Collects handler start times by key."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.started: dict[str, float] = {}
        self.lock = threading.Lock()
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        while True:
            data = self.sock.recv(4096).decode()
            key, _, t = data.rpartition(" ")
            with self.lock:
                self.started[key] = float(t)

    def wait_for(self, keys: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if all(k in self.started for k in keys):
                    return
            time.sleep(0.005)


def client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))


def wire(endpoint: str, beacon: Beacon) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", HANDLER)
    lam, s3 = client("lambda", endpoint), client("s3", endpoint)
    s3.create_bucket(Bucket=BUCKET)
    fn = lam.create_function(FunctionName="pipeline-noop", Runtime="python3.12", Handler="handler.handler",
                             Role="arn:aws:iam::000000000000:role/r", Code={"ZipFile": buf.getvalue()},
                             Environment={"Variables": {"BEACON_PORT": str(beacon.port)}})
    lam.add_permission(FunctionName="pipeline-noop", StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{BUCKET}")
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": fn["FunctionArn"], "Events": ["s3:ObjectCreated:*"]}]})


class Uploader:
    def __init__(self, endpoint: str) -> None:
        host, port = endpoint.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=30)
        self.body = b"x" * 1024

    def put(self, key: str) -> float:
        self.conn.request("PUT", f"/{BUCKET}/{key}", body=self.body, headers=AUTH)
        resp = self.conn.getresponse()
        resp.read()
        acked = time.time()
        if resp.status != 200:
            raise RuntimeError(f"PUT {key}: {resp.status}")
        return acked


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency(endpoint: str, beacon: Beacon, samples: int) -> dict[str, float]:
    up = Uploader(endpoint)
    ages = []
    for i in range(samples):
        key = f"lat/{i}"
        acked = up.put(key)
        beacon.wait_for([key], 10)
        ages.append((beacon.started[key] - acked) * 1000)
    return {"p50_ms": statistics.median(ages), "p99_ms": pct(ages, 0.99), "n": samples}


def sustained(endpoint: str, beacon: Beacon, rate: int, seconds: float, threads: int = 4) -> dict[str, Any]:
    acked: dict[str, float] = {}
    lock = threading.Lock()
    per_thread = rate / threads
    start = time.monotonic() + 0.2

    def worker(t: int) -> None:
        up = Uploader(endpoint)
        i = 0
        while True:
            due = start + i / per_thread
            if due - start >= seconds:
                return
            time.sleep(max(0.0, due - time.monotonic()))
            key = f"rate{rate}/{t}/{i}"
            at = up.put(key)
            with lock:
                acked[key] = at
            i += 1

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    sent_rate = len(acked) / seconds
    beacon.wait_for(list(acked), 10)
    ages = [(beacon.started[k] - a) * 1000 for k, a in acked.items() if k in beacon.started]
    missing = len(acked) - len(ages)
    p99 = pct(ages, 0.99) if ages else float("inf")
    return {"rate": rate, "uploaded_per_s": round(sent_rate, 1), "p50_age_ms": round(statistics.median(ages), 1)
            if ages else None, "p99_age_ms": round(p99, 1), "missing": missing,
            "kept_up": missing == 0 and p99 < 1000 and sent_rate >= rate * 0.9}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    samples, seconds = (60, 2.0) if args.quick else (200, 8.0)
    rates = [100, 300, 500, 600, 800] if not args.quick else [100, 500]
    with tempfile.TemporaryDirectory(prefix="sluice-bench-pipeline-") as tmp:
        server: Server = sluice_server(Path(tmp), "sluice", "--max-environments", "8")
        server.start()
        try:
            beacon = Beacon()
            wire(server.endpoint, beacon)
            Uploader(server.endpoint).put("warm/0")
            beacon.wait_for(["warm/0"], 30)
            lat = latency(server.endpoint, beacon, samples)
            runs = [sustained(server.endpoint, beacon, r, seconds) for r in rates]
        finally:
            server.stop()
    kept = [r["rate"] for r in runs if r["kept_up"]]
    print(f"(a) PutObject 200 -> handler start, warm, n={lat['n']}: p50 {lat['p50_ms']:.2f} ms, "
          f"p99 {lat['p99_ms']:.2f} ms   (targets p50 < 5 ms, p99 < 50 ms)")
    print("(b) target rate | uploaded/s | event age p50 | p99 | not started | kept up")
    for r in runs:
        print(f"    {r['rate']:>11} | {r['uploaded_per_s']:>10} | {r['p50_age_ms']!s:>10} ms | {r['p99_age_ms']!s:>7} ms"
              f" | {r['missing']:>11} | {'yes' if r['kept_up'] else 'no'}")
    best = max(kept) if kept else 0
    print(f"    highest rate processed with event age under 1 s: {best} uploads/s   (target >= 500)")
    out = Path(__file__).resolve().parent / "results" / "pipeline-latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"latency": lat, "sustained": runs}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
