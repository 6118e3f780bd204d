"""The Lambda async queue at scale: does a backlog of 100,000 events dispatch as fast as one of 100?

    .venv/bin/python bench/scale.py [--events 100000] [--small 100] [--repeat 5] [--quick] [--json FILE]

Starts Sluice with 8 environments and a no-op function whose handler first waits for a gate
file (checked every 5 ms). With the gate shut, the bench queues the events with Invoke(Event)
(raw keep-alive HTTP POSTs from 4 threads: the client is not the limit) — 8 of them hold the
8 environments at the gate, the rest wait in `lambda_events`. It then opens the gate and
records when each event's handler started (the handler reports over UDP on loopback), while
sampling the RSS of the server process (and of the whole tree, environments included).

Printed: the dispatch rate (handler starts per second) while the backlog was at 100 %, 50 % ...
of its size, next to the rate of a backlog of `--small` events (median of `--repeat` drains of
the same server, after the big one); the server process's CPU per event (from /proc: steady on
a shared machine, where the rates are not); and the server's RSS when the drain began, its peak
and when it ended. Targets (issue 18): the big backlog's rate within noise of the small one's
(cost per queued event O(log n)); RSS flat while it drains.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from cpu import cpu_seconds
from report import git_revision, write_json
from servers import Server, process_tree, sluice_server

HERE = Path(__file__).resolve().parent
FUNCTION = "scale-noop"
HANDLER = """
import os, socket, time
_SOCK = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
_PORT = int(os.environ["BEACON_PORT"])
_GATE = os.environ["GATE"]

def handler(event, context):
    started = time.time()
    while not os.path.exists(_GATE):
        time.sleep(0.005)
    _SOCK.sendto(f"{event['n']} {started!r}".encode(), ("127.0.0.1", _PORT))
"""
AUTH = {"Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/lambda/aws4_request, "
                         "SignedHeaders=host, Signature=0",
        "X-Amz-Invocation-Type": "Event", "Content-Type": "application/json"}
THREADS = 4


class Beacon:
    """Handler start times (time.time()) by event number, and when each report arrived."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.started: dict[int, float] = {}
        self.lock = threading.Lock()
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        while True:
            n, _, t = self.sock.recv(256).decode().partition(" ")
            with self.lock:
                self.started[int(n)] = float(t)

    def count(self, numbers: range) -> int:
        with self.lock:
            return sum(1 for n in numbers if n in self.started)

    def wait_for(self, numbers: range, timeout: float, on_tick: Any = None) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                done = all(n in self.started for n in numbers)
            if done:
                return True
            if on_tick is not None:
                on_tick()
            time.sleep(0.05)
        return False


def rss_kib(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tree_rss_kib(pid: int) -> int:
    return sum(rss_kib(child) for child, _ in process_tree(pid))


def wire(endpoint: str, beacon: Beacon, gate: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", HANDLER)
    lam = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                       aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))
    lam.create_function(FunctionName=FUNCTION, Runtime="python3.12", Handler="handler.handler",
                        Role="arn:aws:iam::000000000000:role/r", Code={"ZipFile": buf.getvalue()}, Timeout=900,
                        Environment={"Variables": {"BEACON_PORT": str(beacon.port), "GATE": str(gate)}})


def queue(port: int, numbers: range) -> float:
    """Invoke(Event) once per number, from THREADS keep-alive connections; seconds it took."""
    started = time.monotonic()

    def worker(part: range) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for n in part:
            conn.request("POST", f"/2015-03-31/functions/{FUNCTION}/invocations", body=json.dumps({"n": n}),
                         headers=AUTH)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 202:
                raise RuntimeError(f"Invoke(Event) {n}: {resp.status}")
        conn.close()

    threads = [threading.Thread(target=worker, args=(numbers[t::THREADS],)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - started


def drain(server: Server, beacon: Beacon, gate: Path, numbers: range, timeout: float) -> dict[str, Any]:
    """Open the gate and wait until every event of `numbers` started; the rate per backlog window."""
    assert server.proc is not None
    pid = server.proc.pid
    rss = [rss_kib(pid)]
    tree = [tree_rss_kib(pid)]
    last_sample = [time.monotonic()]

    def sample() -> None:
        if time.monotonic() - last_sample[0] >= 0.5:
            last_sample[0] = time.monotonic()
            rss.append(rss_kib(pid))
            tree.append(tree_rss_kib(pid))

    cpu_before = cpu_seconds(pid)
    opened = time.time()
    gate.touch()
    complete = beacon.wait_for(numbers, timeout, sample)
    cpu = cpu_seconds(pid) - cpu_before  # the server process alone: steady where wall time is not
    rss.append(rss_kib(pid))
    tree.append(tree_rss_kib(pid))
    gate.unlink()
    with beacon.lock:
        # The environments held at the gate started before it opened: count them from the opening.
        times = sorted(max(opened, beacon.started[n]) for n in numbers if n in beacon.started)
    total = len(numbers)
    windows = []
    # Rate while the backlog was between (1 - k/10) and (1 - (k+1)/10) of its size.
    step = max(1, total // 10)
    for lo in range(0, len(times) - 1, step):
        hi = min(len(times) - 1, lo + step)
        span = times[hi] - times[lo]
        windows.append({"backlog": total - lo, "rate": (hi - lo) / span if span > 0 else float("inf")})
    elapsed = times[-1] - opened if times else float("inf")
    return {"events": total, "started": len(times), "complete": complete, "seconds": elapsed,
            "server_cpu_ms_per_event": cpu * 1000 / total,
            "rate": len(times) / elapsed if elapsed > 0 else float("inf"), "windows": windows,
            "rss_kib": {"start": rss[0], "peak": max(rss), "end": rss[-1]},
            "tree_rss_kib": {"start": tree[0], "peak": max(tree), "end": tree[-1]}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="the big backlog (default 100,000)")
    parser.add_argument("--small", type=int, default=100, help="the small backlog (default 100)")
    parser.add_argument("--repeat", type=int, default=5, help="drains of the small backlog (median)")
    parser.add_argument("--quick", action="store_true", help="a backlog of 10,000 (unless --events says)")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "scale-latest.json")
    args = parser.parse_args()
    if args.quick and args.events == 100_000:
        args.events = 10_000
    with tempfile.TemporaryDirectory(prefix="sluice-bench-scale-") as tmp:
        gate = Path(tmp) / "gate"
        server = sluice_server(Path(tmp), "sluice", "--max-environments", "8")
        server.start()
        try:
            beacon = Beacon()
            wire(server.endpoint, beacon, gate)
            # Warm the 8 environments: 8 events through an open gate.
            gate.touch()
            warm = range(10_000_000, 10_000_016)
            queue(server.port, warm)
            beacon.wait_for(warm, 60)
            gate.unlink()
            big = range(args.events)
            queued_s = queue(server.port, big)
            print(f"queued {args.events} events with Invoke(Event) in {queued_s:.1f} s "
                  f"({args.events / queued_s:.0f}/s); draining...", flush=True)
            big_run = drain(server, beacon, gate, big, timeout=max(120.0, args.events / 50))
            small_runs = []
            for r in range(args.repeat):
                small = range(20_000_000 + r * args.small, 20_000_000 + (r + 1) * args.small)
                queue(server.port, small)
                small_runs.append(drain(server, beacon, gate, small, timeout=60))
        finally:
            server.stop()
    small_rate = statistics.median(r["rate"] for r in small_runs)
    print(f"dispatch rate, {args.events} queued: {big_run['rate']:.0f} events/s overall "
          f"({big_run['started']}/{args.events} started in {big_run['seconds']:.1f} s)")
    for w in big_run["windows"]:
        print(f"    backlog {w['backlog']:>7}: {w['rate']:7.0f} events/s")
    print(f"dispatch rate, {args.small} queued: {small_rate:.0f} events/s (median of {args.repeat}: "
          + ", ".join(f"{r['rate']:.0f}" for r in small_runs) + ")")
    print(f"    ratio big / small: {big_run['rate'] / small_rate:.2f}   (target: ~1, O(log n) per event)")
    small_cpu = statistics.median(r["server_cpu_ms_per_event"] for r in small_runs)
    print(f"server CPU per event dispatched: {big_run['server_cpu_ms_per_event']:.2f} ms with "
          f"{args.events} queued, {small_cpu:.2f} ms with {args.small} (median)")
    rss, tree = big_run["rss_kib"], big_run["tree_rss_kib"]
    print(f"server RSS while {args.events} drained: start {rss['start'] / 1024:.1f} MB, peak {rss['peak'] / 1024:.1f}"
          f" MB, end {rss['end'] / 1024:.1f} MB (tree with 8 environments: {tree['start'] / 1024:.1f} / "
          f"{tree['peak'] / 1024:.1f} / {tree['end'] / 1024:.1f} MB)   (target: flat)")
    write_json(args.json, {"git": git_revision(), "python": sys.version.split()[0], "events": args.events,
                           "queued_seconds": queued_s, "big": big_run, "small": small_runs})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
