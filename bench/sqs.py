"""SQS benchmark: Sluice vs moto, with boto3 clients and with lean raw-HTTP clients.

    .venv/bin/python bench/sqs.py [--quick] [--duration SECONDS] [--only sluice|moto]

Starts Sluice (fresh temp data dir) and moto's server (`python -m moto.server`) on free loopback
ports and runs against each:

  SendMessage          messages/s, 1 and 8 client threads (boto3: each thread its own client)
  Receive+Delete       messages/s consumed one at a time (ReceiveMessage, then DeleteMessage) from
                       a queue filled beforehand, 1 and 8 threads
  raw rows             the same with several client processes speaking the json protocol over
                       keep-alive http.client connections (JSON body, X-Amz-Target, a fixed fake
                       SigV4 Authorization header): on 2 cores a boto3 call costs milliseconds of
                       client CPU, so these rows show the servers rather than boto3
  boto3 alone          the boto3 SendMessage rows against a server that only writes a fixed answer:
                       boto3's own ceiling on this machine; no server can make a boto3 row faster
  ListQueues           a raw round trip paced like the latency runs: the floor under them here
  send -> receive      latency from the start of a SendMessage to the return of a ReceiveMessage
                       that was already long-polling (WaitTimeSeconds=20) when the message was
                       sent: p50 and p99, boto3 and raw

Every Sluice SendMessage is durable (fsynced) before it is answered; moto keeps messages in memory.
Prints a table and writes bench/results/sqs-latest.json. Clients and servers share the machine,
so a busy machine shows in the figures; the load average is recorded.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import hashlib
import http.client
import importlib.metadata
import json
import multiprocessing as mp
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from servers import Server, free_port, moto_server, sluice_server

REGION = "us-east-1"
RESULTS = Path(__file__).resolve().parent / "results" / "sqs-latest.json"
BODY = "x" * 256
RAW_PROCS, RAW_THREADS = 4, 4
AUTH = ("AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + "0" * 64)
TARGET_RATIO = 20.0
TARGET_WAKE_P50_MS = 5.0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------- servers

def make_servers(workdir: Path, only: str | None) -> list[Server]:
    servers = []
    if only in (None, "sluice"):
        servers.append(sluice_server(workdir))
    if only in (None, "moto"):
        servers.append(moto_server(workdir))
    return servers


# ----------------------------------------------------------------------------------------- clients

def client(endpoint: str) -> Any:
    return boto3.session.Session().client(
        "sqs", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=4, read_timeout=60))


class Raw:
    """A keep-alive json-protocol client with no SDK in the way."""

    def __init__(self, endpoint: str) -> None:
        u = urlsplit(endpoint)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.conn: http.client.HTTPConnection | None = None

    def call(self, action: str, params: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        body = json.dumps(params).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{action}",
                   "X-Amz-Date": "20250101T000000Z", "Authorization": AUTH}
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            try:
                self.conn.request("POST", "/", body, headers)
                resp = self.conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
                continue
            if resp.status != 200:
                raise RuntimeError(f"{action}: HTTP {resp.status} {data[:200]!r}")
            return json.loads(data) if data else {}
        raise AssertionError("unreachable")


# ----------------------------------------------------------------------------------------- workloads

@dataclass
class Workload:
    name: str
    op: str  # send | consume
    kind: str  # boto3 | raw
    procs: int
    threads: int


WORKLOADS = [
    Workload("SendMessage boto3 1t", "send", "boto3", 1, 1),
    Workload("SendMessage boto3 8t", "send", "boto3", 1, 8),
    Workload(f"SendMessage raw {RAW_PROCS}p x{RAW_THREADS}t", "send", "raw", RAW_PROCS, RAW_THREADS),
    Workload("Receive+Delete boto3 1t", "consume", "boto3", 1, 1),
    Workload("Receive+Delete boto3 8t", "consume", "boto3", 1, 8),
    Workload(f"Receive+Delete raw {RAW_PROCS}p x{RAW_THREADS}t", "consume", "raw", RAW_PROCS, RAW_THREADS),
]


@dataclass
class Measurement:
    workload: str
    server: str
    messages: int = 0
    seconds: float = 0.0
    per_s: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    drained: bool = False
    note: str = ""
    samples: list[float] = field(default_factory=list, repr=False)


_CANNED_MD5 = hashlib.md5(BODY.encode()).hexdigest()


def _canned_server_main(port: int, ready: Any) -> None:
    """The least a server can do: answer every request with a fixed SendMessage response."""
    import asyncio

    body = json.dumps({"MD5OfMessageBody": _CANNED_MD5, "MessageId": str(uuid.uuid4())}).encode()
    response = (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: "
                + str(uuid.uuid4()).encode() + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)

    class Canned(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport, self.buffer = transport, b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while b"\r\n\r\n" in self.buffer:
                head, rest = self.buffer.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if len(rest) < length:
                    return
                self.buffer = rest[length:]
                self.transport.write(response)

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(Canned, "127.0.0.1", port)
        ready.set()
        async with server:
            await server.serve_forever()

    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    asyncio.run(serve())


def make_op(kind: str, op: str, endpoint: str, url: str) -> Callable[[], int]:
    """One unit of work: returns how many messages it moved (0: the queue is empty)."""
    if kind == "boto3":
        c = client(endpoint)
        if op == "send":
            return lambda: (c.send_message(QueueUrl=url, MessageBody=BODY), 1)[1]

        def consume_boto3() -> int:
            msgs = c.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
            for msg in msgs:
                c.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
            return len(msgs)

        return consume_boto3
    raw = Raw(endpoint)
    if op == "send":
        return lambda: (raw.call("SendMessage", {"QueueUrl": url, "MessageBody": BODY}), 1)[1]

    def consume_raw() -> int:
        msgs = raw.call("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 1}).get("Messages", [])
        for msg in msgs:
            raw.call("DeleteMessage", {"QueueUrl": url, "ReceiptHandle": msg["ReceiptHandle"]})
        return len(msgs)

    return consume_raw


def worker_threads(kind: str, op: str, endpoint: str, url: str, threads: int, warmup: float, duration: float,
                   sync: tuple[Any, Any, Any] | None = None) -> dict[str, Any]:
    """Run `threads` loops; count what happens between start+warmup and start+warmup+duration.

    Clients are made first; `sync` (two barriers and a shared start time) lines processes up."""
    results: list[dict[str, Any]] = []
    lock = threading.Lock()
    ops = [make_op(kind, op, endpoint, url) for _ in range(threads)]
    if sync is None:
        start_at = time.time() + 0.2
    else:
        ready, go, start = sync
        ready.wait()
        go.wait()
        start_at = start.value

    def loop(fn: Callable[[], int]) -> None:
        count = errors = 0
        lat: list[float] = []
        drained_at = None
        measure_from, stop_at = start_at + warmup, start_at + warmup + duration
        while time.time() < start_at:
            time.sleep(0.001)
        while True:
            t0 = time.time()
            if t0 >= stop_at:
                break
            try:
                n = fn()
            except Exception:
                errors += 1
                time.sleep(0.01)
                continue
            t1 = time.time()
            if n == 0 and op == "consume":
                drained_at = t1
                break
            if t0 >= measure_from:
                count += n
                lat.append(t1 - t0)
        with lock:
            results.append({"count": count, "errors": errors, "lat": lat, "drained_at": drained_at})

    ts = [threading.Thread(target=loop, args=(fn,)) for fn in ops]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    drained = [r["drained_at"] for r in results if r["drained_at"] is not None]
    return {"count": sum(r["count"] for r in results), "errors": sum(r["errors"] for r in results),
            "lat": [x for r in results for x in r["lat"]], "drained_at": min(drained) if drained else None,
            "measure_from": start_at + warmup}


def _process_main(args: tuple[Any, ...], sync: tuple[Any, Any, Any], out: Any) -> None:
    out.put(worker_threads(*args, sync=sync))


def percentile_ms(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * len(s)))] * 1000, 3)


def run_workload(server: Server, wl: Workload, url: str, warmup: float, duration: float) -> Measurement:
    args = (wl.kind, wl.op, server.endpoint, url, wl.threads, warmup, duration)
    if wl.procs == 1:
        parts = [worker_threads(*args)]
    else:
        ctx = mp.get_context("fork")
        out = ctx.Queue()
        ready, go, start = ctx.Barrier(wl.procs + 1), ctx.Barrier(wl.procs + 1), ctx.Value("d", 0.0)
        procs = [ctx.Process(target=_process_main, args=(args, (ready, go, start), out)) for _ in range(wl.procs)]
        for p in procs:
            p.start()
        ready.wait(timeout=120)
        start.value = time.time() + 0.2
        go.wait(timeout=10)
        parts = [out.get(timeout=warmup + duration + 120) for _ in procs]
        for p in procs:
            p.join(10)
    count = sum(p["count"] for p in parts)
    lat = [x for p in parts for x in p["lat"]]
    drained = [p["drained_at"] - p["measure_from"] for p in parts if p["drained_at"] is not None]
    seconds = duration
    if drained:
        seconds = max(0.001, min(drained))
    m = Measurement(wl.name, server.name, messages=count, seconds=round(seconds, 3),
                    per_s=round(count / seconds, 1) if seconds > 0 else 0.0,
                    p50_ms=percentile_ms(lat, 0.5), p99_ms=percentile_ms(lat, 0.99),
                    errors=sum(p["errors"] for p in parts), drained=bool(drained))
    if m.drained:
        m.note = "queue drained before the end"
    return m


def fill(endpoint: str, url: str, count: int) -> None:
    """Put `count` messages in a queue with raw SendMessageBatch calls from a few threads."""
    batches = (count + 9) // 10

    def work(index: int) -> None:
        raw = Raw(endpoint)
        for b in range(index, batches, 4):
            n = min(10, count - b * 10)
            raw.call("SendMessageBatch", {"QueueUrl": url, "Entries": [
                {"Id": str(i), "MessageBody": BODY} for i in range(n)]})

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def _latency_client(kind: str, endpoint: str, url: str) -> tuple[Callable[[], list[dict[str, Any]]],
                                                                    Callable[[str], None], Callable[[str], None]]:
    """(receive with a 20 s long poll, delete, send) for one client."""
    if kind == "boto3":
        c = client(endpoint)
        return (lambda: c.receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages", []),
                lambda handle: c.delete_message(QueueUrl=url, ReceiptHandle=handle),
                lambda body: c.send_message(QueueUrl=url, MessageBody=body))
    raw = Raw(endpoint)
    return (lambda: raw.call("ReceiveMessage", {"QueueUrl": url, "WaitTimeSeconds": 20}).get("Messages", []),
            lambda handle: raw.call("DeleteMessage", {"QueueUrl": url, "ReceiptHandle": handle}) and None,
            lambda body: raw.call("SendMessage", {"QueueUrl": url, "MessageBody": body}) and None)


def _receiver_main(kind: str, endpoint: str, url: str, out: Any) -> None:
    """Long-poll in a process of its own (no GIL shared with the sender); report arrival times.

    Messages are not deleted (the queue's visibility timeout keeps them away): the receiver is
    back in its next long poll at once."""
    receive, _, _ = _latency_client(kind, endpoint, url)
    out.send(("ready", 0.0))
    while True:
        try:
            msgs = receive()
        except Exception:
            time.sleep(0.05)
            continue
        now = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
        for msg in msgs:
            out.send((msg["Body"], now))
            if msg["Body"] == "stop":
                return


def round_trip(server: Server, samples: int) -> Measurement:
    """The floor under every latency here: a raw ListQueues round trip, paced like the latency runs."""
    raw, lat = Raw(server.endpoint), []
    for i in range(samples + 3):
        t0 = time.perf_counter()
        raw.call("ListQueues", {"QueueNamePrefix": "none"})
        if i >= 3:
            lat.append(time.perf_counter() - t0)
        time.sleep(0.01)
    return Measurement("ListQueues round trip raw (the floor)", server.name, messages=len(lat),
                       p50_ms=percentile_ms(lat, 0.5), p99_ms=percentile_ms(lat, 0.99))


def latency(server: Server, kind: str, samples: int) -> tuple[Measurement, Measurement]:
    """Send -> receive with a receiver (another process) already long-polling (WaitTimeSeconds=20).

    Answers (send -> receive, send acknowledged -> receive)."""
    url = client(server.endpoint).create_queue(QueueName=f"bench-latency-{kind}",
                                               Attributes={"VisibilityTimeout": "3600"})["QueueUrl"]
    ctx = mp.get_context("fork")
    here, there = ctx.Pipe()
    proc = ctx.Process(target=_receiver_main, args=(kind, server.endpoint, url, there), daemon=True)
    proc.start()
    _, _, send = _latency_client(kind, server.endpoint, url)
    lat, after_ack, errors = [], [], 0
    if not here.poll(60):
        raise RuntimeError("the receiver did not start")
    here.recv()
    time.sleep(0.3)
    for i in range(samples + 3):
        body = f"ping-{i}"
        t0 = time.perf_counter()
        try:
            send(body)
        except Exception:
            errors += 1
            continue
        t1 = time.perf_counter()
        if not here.poll(25):
            errors += 1
            continue
        got, at = here.recv()
        if got != body:
            errors += 1
            continue
        if i >= 3:  # the first few warm connections and caches
            lat.append(at - t0)
            after_ack.append(at - t1)
        time.sleep(0.01)  # let the receiver park in its next long poll
    with contextlib.suppress(Exception):
        send("stop")
    proc.join(25)
    if proc.is_alive():
        proc.kill()
    first = Measurement(f"send -> receive (long poll) {kind}", server.name, messages=len(lat),
                        p50_ms=percentile_ms(lat, 0.5), p99_ms=percentile_ms(lat, 0.99), errors=errors,
                        samples=[round(x * 1000, 3) for x in lat])
    second = Measurement(f"send acknowledged -> receive {kind}", server.name, messages=len(after_ack),
                         p50_ms=percentile_ms(after_ack, 0.5), p99_ms=percentile_ms(after_ack, 0.99),
                         samples=[round(x * 1000, 3) for x in after_ack])
    return first, second


# ----------------------------------------------------------------------------------------- report

def fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def table(results: list[Measurement]) -> str:
    names = list(dict.fromkeys(r.workload for r in results))
    by = {(r.workload, r.server): r for r in results}
    head = ["workload", "sluice msg/s", "p50 ms", "moto msg/s", "p50 ms", "sluice/moto", "boto3 alone msg/s"]
    rows = []
    for n in names:
        s, mo, alone = by.get((n, "sluice")), by.get((n, "moto")), by.get((n, "boto3 alone"))
        if n.startswith(("send ", "ListQueues")):
            ratio = (f"{mo.p50_ms / s.p50_ms:.1f}x faster" if n.startswith("send ->") and s and mo and s.p50_ms
                     and mo.p50_ms and s.p50_ms > 0 else "-")
            rows.append([n, "", fmt(s.p50_ms if s else None, ".2f"), "", fmt(mo.p50_ms if mo else None, ".2f"), ratio,
                         ""])
            continue
        ratio = f"{s.per_s / mo.per_s:.1f}x" if s and mo and mo.per_s else "-"
        rows.append([n, fmt(s.per_s if s else None, ".0f"), fmt(s.p50_ms if s else None, ".2f"),
                     fmt(mo.per_s if mo else None, ".0f"), fmt(mo.p50_ms if mo else None, ".2f"), ratio,
                     fmt(alone.per_s if alone else None, ".0f")])
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    line = lambda r: "  ".join(str(c).ljust(widths[0]) if i == 0 else str(c).rjust(widths[i])  # noqa: E731
                               for i, c in enumerate(r))
    return "\n".join([line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs (about a minute in all)")
    parser.add_argument("--duration", type=float, help="seconds measured per workload")
    parser.add_argument("--only", choices=("sluice", "moto"))
    args = parser.parse_args()
    duration = args.duration or (2.0 if args.quick else 5.0)
    warmup = 0.5 if args.quick else 1.0
    samples = 40 if args.quick else 200

    workdir = Path(tempfile.mkdtemp(prefix="sluice-bench-sqs-"))
    servers = make_servers(workdir, args.only)
    atexit.register(lambda: [s.stop() for s in servers])
    atexit.register(shutil.rmtree, workdir, True)
    load_start = os.getloadavg()
    results: list[Measurement] = []
    started: dict[str, Any] = {}
    # What boto3 itself can do against a server that does nothing but answer: no server makes a
    # boto3 row faster than this (boto3 spends milliseconds of CPU per call here).
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    floor = Server("boto3 alone", [], free_port(), "/", workdir / "none.log")
    canned = ctx.Process(target=_canned_server_main, args=(floor.port, ready), daemon=True)
    canned.start()
    if ready.wait(30):
        for threads in (1, 8):
            wl = Workload(f"SendMessage boto3 {threads}t", "send", "boto3", 1, threads)
            m = run_workload(floor, wl, f"{floor.endpoint}/000000000000/none", warmup, duration)
            m.server = "boto3 alone"
            log(f"boto3 against a canned-answer server, {wl.name}: {m.per_s:.0f} msg/s, p50 {fmt(m.p50_ms, '.2f')} ms")
            results.append(m)
    canned.kill()
    for server in servers:
        log(f"starting {server.name} on {server.endpoint}")
        try:
            server.start()
        except RuntimeError as exc:
            started[server.name] = {"started": False, "error": str(exc)}
            log(str(exc))
            continue
        started[server.name] = {"started": True, "error": None}
        c = client(server.endpoint)
        best_send = 0.0
        for i, wl in enumerate(WORKLOADS):
            url = c.create_queue(QueueName=f"bench-{i}")["QueueUrl"]
            if wl.op == "consume":
                need = int(max(best_send, 50) * (warmup + duration) * 1.3) + 100
                log(f"  {server.name}: filling {need} messages for {wl.name}")
                fill(server.endpoint, url, need)
            log(f"  {server.name}: {wl.name}")
            m = run_workload(server, wl, url, warmup, duration)
            if wl.op == "send":
                best_send = max(best_send, m.per_s)
            log(f"    {m.per_s:.0f} msg/s, p50 {fmt(m.p50_ms, '.2f')} ms, errors {m.errors} {m.note}")
            results.append(m)
        floor_rt = round_trip(server, samples)
        log(f"  {server.name}: ListQueues round trip p50 {fmt(floor_rt.p50_ms, '.2f')} ms")
        results.append(floor_rt)
        for kind in ("boto3", "raw"):
            log(f"  {server.name}: send -> receive latency ({kind})")
            m, ack = latency(server, kind, samples)
            log(f"    p50 {fmt(m.p50_ms, '.2f')} ms, p99 {fmt(m.p99_ms, '.2f')} ms, errors {m.errors}; "
                f"after the send's answer: p50 {fmt(ack.p50_ms, '.2f')} ms")
            results.extend((m, ack))
        server.stop()
    load_end = os.getloadavg()

    print()
    print(table(results))
    by = {(r.workload, r.server): r for r in results}
    checks = []
    for wl in WORKLOADS:
        s, mo = by.get((wl.name, "sluice")), by.get((wl.name, "moto"))
        if s and mo and mo.per_s:
            checks.append((f"{wl.name} >= {TARGET_RATIO:.0f}x moto", s.per_s / mo.per_s >= TARGET_RATIO))
    for label in ("send -> receive (long poll) raw", "send acknowledged -> receive raw"):
        wake = by.get((label, "sluice"))
        if wake and wake.p50_ms is not None:
            checks.append((f"{label}: p50 < {TARGET_WAKE_P50_MS:.0f} ms", wake.p50_ms < TARGET_WAKE_P50_MS))
    print()
    for label, ok in checks:
        print(f"  [{'ok' if ok else 'MISSED'}] {label}")
    print(f"\nload average {load_start[0]:.2f} -> {load_end[0]:.2f} on {os.cpu_count()} CPUs")

    payload = {
        "meta": {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "quick": args.quick, "duration_s": duration,
                 "warmup_s": warmup, "latency_samples": samples, "cpus": os.cpu_count(),
                 "loadavg_start": load_start, "loadavg_end": load_end, "platform": platform.platform(),
                 "python": platform.python_version(), "boto3": version("boto3"), "moto": version("moto"),
                 "sluice": version("sluice"), "raw_clients": f"{RAW_PROCS} processes x {RAW_THREADS} threads"},
        "servers": started,
        "results": [asdict(r) for r in results],
        "checks": {label: ok for label, ok in checks},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"results written to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
