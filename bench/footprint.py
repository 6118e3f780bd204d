"""Footprint side by side: Sluice, moto, MiniStack and a bare uvicorn app (the floor).

For each server, in one run:
  - ready: `up` -> the health endpoint answers 200, median of N starts (wall time), and the CPU
    time the process tree spent getting there (steady on a loaded machine where wall time is not);
  - first requests: `up` -> a CreateBucket, a PutObject and a CreateQueue answered (what a server
    leaves for its first requests, botocore's models say, is paid by then), wall and CPU;
  - idle RSS of the whole process tree, once ready and settled;
  - RSS after 10,000 S3 PutObjects (1 KiB, distinct keys) and 10,000 SQS SendMessages;
  - server CPU per request from /proc (bench/cpu.py's measurement): S3 PutObject 1 KiB,
    GetObject, SQS SendMessage, and a ReceiveMessage + DeleteMessage pair, from one client
    (`--clients N`: from N at once, as a parallel test run sends them).
Each figure is printed with its ratio to the floor. A second floor, floor-fsync, is the same bare
app committing each write (PUT, POST) to SQLite with an fsync before it answers, as Sluice does
and the others do not: the server CPU per request is printed once more with its ratio to that.

MiniStack pins a botocore of its own, so it lives in a venv of its own (`make .venv-ministack`);
without it its column says "-".

    .venv/bin/python bench/footprint.py [--starts 7] [--load 10000] [--requests 2000] [--rounds 3]
                                        [--clients 1] [--only sluice,floor,floor-fsync] [--json FILE] [--full]

moto gets a smaller load and fewer requests unless --full (see SMALLER): its SQS slows with the
queue's depth, and at the others' figures it alone would take hours.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cpu import call, cpu_seconds, measure, measure_receive_delete, setup, workloads
from report import git_revision, package_version
from servers import Server, free_port, process_tree

HERE = Path(__file__).resolve().parent
MINISTACK = HERE.parent / ".venv-ministack" / "bin" / "ministack"
NAMES = ("sluice", "moto", "ministack", "floor", "floor-fsync")
DURABLE_FLOOR = "floor-fsync"
# moto's SQS slows with the queue's depth (a SendMessage took ~40 ms of its CPU at 2,000
# messages, more after; a Receive+Delete ~150 ms): at the others' load and requests, `make bench`
# would spend hours on it. By default it gets at most these, said under the table; --full gives it
# the same as the others.
SMALLER = {"moto": {"load": 2000, "requests": 200, "rounds": 1}}


def make_server(name: str, workdir: Path, run: int) -> Server:
    port = free_port()
    log = workdir / f"{name}.log"
    if name == "sluice":
        cmd = [sys.executable, "-m", "sluice", "up", "--port", str(port), "--data-dir",
               str(workdir / f"data-{port}-{run}")]
        return Server(name, cmd, port, "/_sluice/health", log)
    if name == "moto":
        return Server(name, [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], port,
                      "/moto-api/data.json", log)
    if name == "ministack":
        # BIND_HOST: loopback like the others; GATEWAY_PORT: its port. In memory (its default).
        cmd = ["env", f"GATEWAY_PORT={port}", "BIND_HOST=127.0.0.1", "LOG_LEVEL=WARNING", str(MINISTACK)]
        return Server(name, cmd, port, "/_ministack/health", log)
    durable = ["--durable", str(workdir / f"floor-{port}-{run}.db")] if name == DURABLE_FLOOR else []
    return Server(name, [sys.executable, str(HERE / "floor.py"), str(port), *durable], port, "/health", log)


def tree_rss_kib(pid: int) -> int:
    total = 0
    for child, _ in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def tree_cpu(pid: int) -> float:
    total = 0.0
    for child, _ in process_tree(pid):
        with contextlib.suppress(OSError, IndexError):
            total += cpu_seconds(child)
    return total


def server_env() -> dict[str, str]:
    """The bench's environment, except that servers may write their bytecode caches, as they do
    for a user: with PYTHONDONTWRITEBYTECODE set, every start would compile its sources again."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed_start(server: Server) -> tuple[float, float]:
    """(wall seconds until the health endpoint answered 200, CPU seconds of the tree by then)."""
    started = time.monotonic()
    with open(server.log_path, "ab") as out:
        server.proc = subprocess.Popen(server.cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True, env=server_env())
    while time.monotonic() - started < 60:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.proc.returncode}\n{server.log_tail()}")
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        try:
            conn.request("GET", server.ready_path)
            status = conn.getresponse().status
        except OSError:
            status = 0
        finally:
            conn.close()
        if status == 200:
            return time.monotonic() - started, tree_cpu(server.proc.pid)
        time.sleep(0.002)
    raise RuntimeError(f"{server.name} not ready after 60 s\n{server.log_tail()}")


def load(port: int, bucket: str, queue_url: str, count: int) -> None:
    """`count` PutObjects of 1 KiB with distinct keys, then `count` SendMessages, on one connection."""
    make = workloads(queue_url, bucket)
    put, send = make["S3 PutObject 1 KiB"], make["SQS SendMessage"]
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for i in range(count):
        method, _, headers, body = put(i)
        call(conn, (method, f"/{bucket}/load-{i}", headers, body))
        call(conn, send(i))
    conn.close()


def budget(name: str, args: argparse.Namespace) -> argparse.Namespace:
    """`args` for `name`: with its SMALLER limits unless --full."""
    limits = {} if args.full else SMALLER.get(name, {})
    return argparse.Namespace(**{**vars(args), **{k: min(getattr(args, k), v) for k, v in limits.items()}})


def measure_server(name: str, workdir: Path, args: argparse.Namespace) -> dict[str, float]:
    out: dict[str, float] = {}
    walls, cpus, first_walls, first_cpus = [], [], [], []
    for run in range(args.starts + 1):
        server = make_server(name, workdir, run)
        try:
            started = time.monotonic()
            wall, cpu = timed_start(server)
            setup(server.port)
            assert server.proc is not None
            if run:  # the first start writes bytecode caches and fills the page cache: not counted
                walls.append(wall)
                cpus.append(cpu)
                first_walls.append(time.monotonic() - started)
                first_cpus.append(tree_cpu(server.proc.pid))
        finally:
            server.stop()
    out["ready (s, median wall)"] = statistics.median(walls)
    out["ready (CPU s, median)"] = statistics.median(cpus)
    out["first S3+SQS requests done (s, wall)"] = statistics.median(first_walls)
    out["first S3+SQS requests done (CPU s)"] = statistics.median(first_cpus)
    server = make_server(name, workdir, args.starts + 1)
    try:
        timed_start(server)
        assert server.proc is not None
        time.sleep(args.settle)
        out["idle RSS (MB)"] = tree_rss_kib(server.proc.pid) / 1024
        queue_url, bucket = setup(server.port)
        if args.load:
            load(server.port, bucket, queue_url, args.load)
            time.sleep(args.settle)
            out[f"RSS after {args.load:,}+{args.load:,} (MB)"] = tree_rss_kib(server.proc.pid) / 1024
        loads: dict[str, Callable[[], float]] = {
            label: (lambda make=make: measure(server, make, args.requests, args.clients))
            for label, make in workloads(queue_url, bucket).items()}
        loads["SQS Receive+Delete"] = lambda: measure_receive_delete(server, queue_url, args.requests, args.clients)
        samples: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for label, run_one in loads.items():
                samples.setdefault(label, []).append(run_one())
        at_once = f", {args.clients} clients" if args.clients > 1 else ""
        for label, values in samples.items():
            out[f"CPU/req {label} (ms{at_once})"] = statistics.median(values) / 1000
    finally:
        server.stop()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--starts", type=int, default=7, help="starts per server for the ready time")
    p.add_argument("--load", type=int, default=10_000, help="PutObjects and SendMessages before the loaded RSS")
    p.add_argument("--requests", type=int, default=2000, help="requests per CPU measurement")
    p.add_argument("--rounds", type=int, default=3, help="CPU measurements per operation (median)")
    p.add_argument("--clients", type=int, default=1,
                   help="keep-alive connections sending at once for the CPU figures (writes may share fsyncs)")
    p.add_argument("--settle", type=float, default=1.0, help="seconds between ready/load and reading RSS")
    p.add_argument("--only", default=",".join(NAMES), help="comma-separated subset of " + ",".join(NAMES))
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument("--full", action="store_true",
                   help="give moto the same load and requests as the others (hours: its SQS slows with depth)")
    args = p.parse_args()
    names = [n for n in args.only.split(",") if n]
    if "ministack" in names and not MINISTACK.exists():
        print(f"(MiniStack not installed at {MINISTACK}: `make .venv-ministack`; its column is left out)")
        names.remove("ministack")
    budgets = {name: budget(name, args) for name in names}
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            try:
                results[name] = measure_server(name, Path(tmp), budgets[name])
            except (RuntimeError, OSError) as exc:
                print(f"{name}: failed: {exc}")
            print(f"  {name} done", file=sys.stderr)
    rows = list(dict.fromkeys(row for r in results.values() for row in r))
    floor = results.get("floor", {})
    print(f"footprint, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; sluice {git_revision()}, "
          f"moto {package_version('moto')}; value (x floor)")
    width = max([36, *(len(row) + 2 for row in rows)])
    print(" " * width + "".join(f"{n:>20}" for n in results))
    for row in rows:
        cells = []
        for name in results:
            value = results[name].get(row)
            if value is None:
                cells.append(f"{'-':>20}")
                continue
            base = floor.get(row)
            ratio = f" ({value / base:4.1f}x)" if base and name != "floor" else " " * 8
            cells.append(f"{value:12.3f}{ratio}")
        print(row.ljust(width) + "".join(cells))
    durable = results.get(DURABLE_FLOOR, {})
    cpu_rows = [row for row in rows if row.startswith("CPU/req") and durable.get(row)]
    if cpu_rows:
        print(f"\nserver CPU per request against {DURABLE_FLOOR} (the bare app plus an fsynced commit per write)")
        for row in cpu_rows:
            cells = [f"{name} {results[name][row] / durable[row]:.1f}x" for name in results
                     if name not in ("floor", DURABLE_FLOOR) and results[name].get(row)]
            print(row.ljust(width) + "".join(f"{c:>20}" for c in cells))
    for name in results:
        smaller = {k: v for k, v in vars(budgets[name]).items() if v != getattr(args, k)}
        if smaller:
            given = " ".join(f"--{k} {v}" for k, v in smaller.items())
            print(f"({name}: {given}, its figures from a smaller run; --full for the same as the others)")
    if args.json:
        args.json.write_text(json.dumps({"revision": git_revision(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
