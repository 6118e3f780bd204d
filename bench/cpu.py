"""Server CPU per request, read from /proc: steady on a shared machine where throughput is not.

Starts one `sluice up` per Python interpreter given (this checkout's by default; add another
build's with `--compare /path/to/other/.venv/bin/python`, e.g. a checkout of an older commit),
sends the same requests to each over one keep-alive raw HTTP connection (or `--clients N` at
once), in alternating rounds, and prints the server process's CPU time (user + system) per
request for each, side by side.

    .venv/bin/python bench/cpu.py [--requests 2000] [--rounds 3] [--clients 1] [--compare PYTHON]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
AUTH = ("AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, python: str, workdir: Path) -> None:
        self.python = python
        self.port = free_port()
        self.dir = workdir / f"sluice-{self.port}"
        self.proc = subprocess.Popen([python, "-m", "sluice", "up", "--port", str(self.port),
                                      "--data-dir", str(self.dir)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=workdir)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_sluice/health", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{python}: sluice did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


Request = tuple[str, str, dict[str, str], bytes]


def workloads(queue_url: str, bucket: str) -> dict[str, Callable[[int], Request]]:
    s3 = {"Authorization": AUTH.format(service="s3"), "x-amz-date": "20250101T000000Z",
          "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    sqs = {"Authorization": AUTH.format(service="sqs"), "x-amz-date": "20250101T000000Z",
           "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.SendMessage"}
    body = b"x" * 1024
    send = json.dumps({"QueueUrl": queue_url, "MessageBody": "hello"}).encode()
    return {
        "S3 PutObject 1 KiB": lambda i: ("PUT", f"/{bucket}/put-{i % 500}", s3, body),
        "S3 GetObject 1 KiB": lambda i: ("GET", f"/{bucket}/seed", s3, b""),
        "SQS SendMessage": lambda i: ("POST", "/", sqs, send),
    }


def setup(port: int) -> tuple[str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    bucket = f"cpu-{uuid.uuid4().hex[:8]}"
    for method, path, headers, body in [
        ("PUT", f"/{bucket}", {"Authorization": AUTH.format(service="s3")}, b""),
        ("PUT", f"/{bucket}/seed", {"Authorization": AUTH.format(service="s3"),
                                    "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}, b"x" * 1024),
    ]:
        conn.request(method, path, body=body, headers=headers)
        conn.getresponse().read()
    conn.request("POST", "/", body=json.dumps({"QueueName": bucket}).encode(), headers={
        "Authorization": AUTH.format(service="sqs"), "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "AmazonSQS.CreateQueue"})
    url = json.loads(conn.getresponse().read())["QueueUrl"]
    conn.close()
    return url, bucket


def call(conn: http.client.HTTPConnection, request: Request) -> None:
    """Send `request` on `conn` and read its answer, which must be a success."""
    method, path, headers, body = request
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    resp.read()
    if resp.status >= 300:
        raise RuntimeError(f"{method} {path}: {resp.status}")


def measure(server: Server, make: Callable[[int], Request], requests: int, clients: int = 1) -> float:
    """Server CPU microseconds per request, sent over `clients` keep-alive connections at once
    (one after another on each): with more than one, the server's writes can share fsyncs."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port)
    for i in range(50):  # warm: models parsed, caches filled
        call(conn, make(i))
    conn.close()

    def client(first: int, count: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port)
        for i in range(first, first + count):
            call(conn, make(i))
        conn.close()

    return _server_cpu_per(server, requests, clients, client)


def _server_cpu_per(server: Server, total: int, clients: int, client: Callable[[int, int], None]) -> float:
    """Server CPU microseconds per unit while `clients` threads run `client(first, count)` at once,
    sharing `total` units; a client's failure is raised here."""
    share = total // clients
    failures: list[BaseException] = []

    def run(k: int) -> None:
        try:
            client(k * share, share)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    before = cpu_seconds(server.proc.pid)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    used = cpu_seconds(server.proc.pid) - before
    if failures:
        raise failures[0]
    return used / (share * clients) * 1e6


def _sqs_call(conn: http.client.HTTPConnection, action: str, payload: dict[str, object]) -> dict[str, object]:
    conn.request("POST", "/", body=json.dumps(payload).encode(), headers={
        "Authorization": AUTH.format(service="sqs"), "x-amz-date": "20250101T000000Z",
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{action}"})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status >= 300:
        raise RuntimeError(f"SQS {action}: {resp.status} {data[:200]!r}")
    return json.loads(data) if data else {}


def measure_receive_delete(server: Server, queue_url: str, pairs: int, clients: int = 1) -> float:
    """Server CPU microseconds per ReceiveMessage + DeleteMessage pair, over `clients` connections
    at once (the queue is filled first, outside the measurement)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port)
    for _ in range(pairs + 50):
        _sqs_call(conn, "SendMessage", {"QueueUrl": queue_url, "MessageBody": "hello"})

    def pair(conn: http.client.HTTPConnection) -> None:
        got = _sqs_call(conn, "ReceiveMessage", {"QueueUrl": queue_url, "MaxNumberOfMessages": 1,
                                                 "WaitTimeSeconds": 0})
        messages = got.get("Messages") or []
        assert isinstance(messages, list)
        if not messages:
            raise RuntimeError("ReceiveMessage: the queue ran dry")
        _sqs_call(conn, "DeleteMessage", {"QueueUrl": queue_url, "ReceiptHandle": messages[0]["ReceiptHandle"]})

    for _ in range(50):  # warm
        pair(conn)
    conn.close()

    def client(first: int, count: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port)
        for _ in range(count):
            pair(conn)
        conn.close()

    return _server_cpu_per(server, pairs, clients, client)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--clients", type=int, default=1, help="keep-alive connections sending at once")
    p.add_argument("--compare", action="append", default=[], metavar="PYTHON",
                   help="another build's interpreter (its venv's python) to measure side by side")
    args = p.parse_args()
    pythons = {"this checkout": sys.executable, **{f"compare {i + 1}": py for i, py in enumerate(args.compare)}}
    with tempfile.TemporaryDirectory() as tmp:
        servers: dict[str, Server] = {}
        try:
            for name, py in pythons.items():  # one by one: a build that fails to start stops the others
                servers[name] = Server(py, Path(tmp))
            queues = {name: setup(s.port) for name, s in servers.items()}
            loads = {name: workloads(*queues[name]) for name in servers}
            results: dict[str, dict[str, list[float]]] = {}
            for _ in range(args.rounds):  # alternate, so load changes hit every build alike
                for name, server in servers.items():
                    for label, make in loads[name].items():
                        results.setdefault(label, {}).setdefault(name, []).append(
                            measure(server, make, args.requests, args.clients))
                    results.setdefault("SQS Receive+Delete", {}).setdefault(name, []).append(
                        measure_receive_delete(server, queues[name][0], args.requests, args.clients))
        finally:
            for s in servers.values():
                s.stop()
    names = list(pythons)
    print(f"server CPU per request (µs, median of {args.rounds} rounds of {args.requests}, "
          f"{args.clients} client{'s' if args.clients > 1 else ''} at once); "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'':24}" + "".join(f"{n:>16}" for n in names) + ("   ratio" if len(names) > 1 else ""))
    for label, by in results.items():
        meds = [statistics.median(by[n]) for n in names]
        ratio = f"   {meds[0] / meds[1]:.2f}x" if len(meds) > 1 else ""
        print(f"{label:24}" + "".join(f"{m:16.0f}" for m in meds) + ratio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
