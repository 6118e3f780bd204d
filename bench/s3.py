"""S3 throughput/latency benchmark: Sluice vs moto, driven by boto3 and by raw HTTP clients.

    .venv/bin/python bench/s3.py [--quick] [--duration SECONDS] [--only sluice|moto]

Starts both servers on free loopback ports (Sluice with a fresh temp data dir), runs the same
PutObject/GetObject workloads against each, then PUTs many 1 KiB objects and reports each
server's resident memory. Prints a table and writes bench/results/s3-latest.json.

Latency is measured around the boto3 call, so it includes boto3's own client-side cost
(signing, checksums, parsing): that is what users feel. The "raw" rows use keep-alive
http.client connections instead, so on a 2-core machine they show what the servers can do
rather than what boto3 can do.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import http.client
import math
import multiprocessing as mp
import os
import platform
import queue
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
from botocore.config import Config

from report import git_revision, package_version, write_json
from servers import START_TIMEOUT, Server, moto_server, process_tree, sluice_server

KIB = 1024
MIB = 1024 * KIB
BUCKET = "sluice-bench"
REGION = "us-east-1"
SERVERS = ("sluice", "moto")
SIZES = (KIB, MIB)
# (processes, threads per process)
CONCURRENCY = ((1, 1), (1, 8), (4, 4))
# Lean raw-HTTP clients (http.client, keep-alive) beside boto3: on 2 cores a boto3 call costs
# ~4 ms of client CPU, so boto3 clients measure boto3; these measure the servers.
RAW_CONCURRENCY = ((1, 1), (4, 2))
# Both servers ignore signatures; a well-formed SigV4 header keeps moto from treating the
# request as anonymous.
RAW_HEADERS = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/s3/aws4_request, "
                     "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=0",
    "x-amz-date": "20250101T000000Z",
    "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
}
SEED_OBJECTS = {KIB: 64, MIB: 16}  # objects PUT up front for the GET workloads to read
RSS_TARGET_MB = 100.0
RESULTS_DIR = Path(__file__).resolve().parent / "results"


# --------------------------------------------------------------------------- servers


def proc_status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_memory_mb(root: int, key: str) -> float:
    """Sum of a /proc/<pid>/status memory field (VmRSS, VmHWM) over a process tree, in MB."""
    return sum(proc_status_kib(pid, key) for pid, _ in process_tree(root)) / 1024


# --------------------------------------------------------------------------- clients


def make_client(endpoint: str) -> Any:
    """A boto3 S3 client as users would configure it for a local emulator, but without retries.

    Every client is used by exactly one thread, so a pool of 2 connections is ample.
    """
    config = Config(
        retries={"max_attempts": 1, "mode": "standard"},
        max_pool_connections=2,
        connect_timeout=5,
        read_timeout=60,
        s3={"addressing_style": "path"},
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        config=config,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def seed_key(size: int, index: int) -> str:
    return f"seed/{size}/{index}"


def prepare_bucket(endpoint: str) -> None:
    """Create the bucket and PUT the objects the GET workloads read."""
    client = make_client(endpoint)
    client.create_bucket(Bucket=BUCKET)
    for size, count in SEED_OBJECTS.items():
        body = os.urandom(size)
        for i in range(count):
            client.put_object(Bucket=BUCKET, Key=seed_key(size, i), Body=body)


# --------------------------------------------------------------------------- workloads


@dataclass(frozen=True)
class Workload:
    op: str  # "put" | "get"
    size: int
    procs: int
    threads: int
    client: str = "boto3"  # or "http": raw keep-alive HTTP, to measure the server not boto3

    @property
    def name(self) -> str:
        conc = f"{self.threads}t" if self.procs == 1 else f"{self.procs}p x {self.threads}t"
        suffix = " raw" if self.client == "http" else ""
        return f"{self.op.upper()} {size_label(self.size)} {conc}{suffix}"

    @property
    def slug(self) -> str:
        return f"{self.op}-{self.size}-{self.procs}x{self.threads}-{self.client}"


def size_label(size: int) -> str:
    return f"{size // MIB} MiB" if size >= MIB else f"{size // KIB} KiB"


def all_workloads() -> list[Workload]:
    return [
        Workload(op, size, procs, threads, client)
        for size in SIZES
        for op in ("put", "get")
        for client, concurrency in (("boto3", CONCURRENCY), ("http", RAW_CONCURRENCY))
        for procs, threads in concurrency
    ]


@dataclass(frozen=True)
class Job:
    """Everything one client process needs to run its share of a workload."""

    endpoint: str
    workload: Workload
    proc_index: int
    warmup: float
    duration: float


@dataclass
class ThreadResult:
    latencies: list[float] = field(default_factory=list)  # seconds, measured window only
    errors: int = 0
    first_error: str | None = None


Op = Callable[[int], None]


def put_op(client: Any, prefix: str, body: bytes) -> Op:
    def op(i: int) -> None:
        client.put_object(Bucket=BUCKET, Key=f"{prefix}/{i}", Body=body)

    return op


def get_op(client: Any, size: int, offset: int) -> Op:
    count = SEED_OBJECTS[size]

    def op(i: int) -> None:
        resp = client.get_object(Bucket=BUCKET, Key=seed_key(size, (offset + i) % count))
        got = len(resp["Body"].read())
        if got != size:
            raise ValueError(f"GET returned {got} bytes, expected {size}")

    return op


class RawClient:
    """Path-style S3 PUT/GET over one keep-alive connection, with no SDK in the way."""

    def __init__(self, endpoint: str) -> None:
        url = urlsplit(endpoint)
        self.conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        self.conn.request(method, quote(path), body=body, headers=RAW_HEADERS)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise ValueError(f"{method} {path}: HTTP {resp.status} {data[:200]!r}")
        return data


def raw_op(job: Job, thread_index: int) -> Op:
    wl = job.workload
    client = RawClient(job.endpoint)
    if wl.op == "put":
        prefix = f"put/{wl.slug}/{job.proc_index}/{thread_index}"
        body = os.urandom(wl.size)

        def put(i: int) -> None:
            client.request("PUT", f"/{BUCKET}/{prefix}/{i}", body)

        return put
    count = SEED_OBJECTS[wl.size]
    offset = job.proc_index * 131 + thread_index * 17

    def get(i: int) -> None:
        got = len(client.request("GET", f"/{BUCKET}/{seed_key(wl.size, (offset + i) % count)}"))
        if got != wl.size:
            raise ValueError(f"GET returned {got} bytes, expected {wl.size}")

    return get


def make_op(job: Job, client: Any, thread_index: int) -> Op:
    wl = job.workload
    if wl.client == "http":
        return raw_op(job, thread_index)
    if wl.op == "put":
        prefix = f"put/{wl.slug}/{job.proc_index}/{thread_index}"
        return put_op(client, prefix, os.urandom(wl.size))
    return get_op(client, wl.size, job.proc_index * 131 + thread_index * 17)


def run_loop(op: Op, start_at: float, warmup: float, duration: float) -> ThreadResult:
    """Call `op` back to back; keep latencies of calls made wholly inside the measured window."""
    result = ThreadResult()
    window_start, window_end = start_at + warmup, start_at + warmup + duration
    time.sleep(max(0.0, start_at - time.monotonic()))
    i = 0
    while (begin := time.monotonic()) < window_end:
        t0 = time.perf_counter()
        try:
            op(i)
        except Exception as exc:  # any failure is a failed request
            if begin >= window_start:
                result.errors += 1
                result.first_error = result.first_error or f"{type(exc).__name__}: {exc}"[:300]
            time.sleep(0.01)
        else:
            elapsed = time.perf_counter() - t0
            if begin >= window_start and time.monotonic() <= window_end:
                result.latencies.append(elapsed)
        i += 1
    return result


def client_process(job: Job, ready: Any, go: Any, start_at: Any, results: Any) -> None:
    """Entry point of one client process: N threads, each with its own boto3 client."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        threads = job.workload.threads
        ops = [make_op(job, make_client(job.endpoint) if job.workload.client == "boto3" else None, t)
               for t in range(threads)]
        ready.put(job.proc_index)
        if not go.wait(START_TIMEOUT):
            raise TimeoutError("never told to start")
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = [
                pool.submit(run_loop, op, start_at.value, job.warmup, job.duration) for op in ops
            ]
            out = [f.result() for f in futures]
        results.put((job.proc_index, out))
    except BaseException as exc:
        results.put((job.proc_index, f"{type(exc).__name__}: {exc}"))
        raise


def mp_context() -> Any:
    methods = mp.get_all_start_methods()
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["boto3", "botocore.config"])
        return ctx
    return mp.get_context("spawn")


def collect(q: Any, count: int, procs: Sequence[Any], timeout: float) -> list[Any]:
    """`count` items from `q`, failing fast if the client processes die."""
    items: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(items) < count:
        try:
            items.append(q.get(timeout=0.5))
        except queue.Empty:
            if time.monotonic() > deadline:
                raise TimeoutError(f"client processes: {len(items)}/{count} reported") from None
            if not any(p.is_alive() for p in procs):
                with contextlib.suppress(queue.Empty):
                    while len(items) < count:
                        items.append(q.get(timeout=0.5))
                if len(items) < count:
                    raise RuntimeError("client processes exited without reporting") from None
    return items


def run_workload(
    ctx: Any, endpoint: str, wl: Workload, warmup: float, duration: float
) -> list[ThreadResult]:
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    start_at = ctx.Value("d", 0.0)
    jobs = [Job(endpoint, wl, i, warmup, duration) for i in range(wl.procs)]
    procs = [
        ctx.Process(target=client_process, args=(job, ready, go, start_at, results), daemon=True)
        for job in jobs
    ]
    try:
        for p in procs:
            p.start()
        collect(ready, len(procs), procs, timeout=START_TIMEOUT)
        start_at.value = time.monotonic() + 0.05
        go.set()
        reports = collect(results, len(procs), procs, timeout=warmup + duration + 120)
        for p in procs:
            p.join(timeout=10)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
    failures = [r for _, r in reports if isinstance(r, str)]
    if failures:
        raise RuntimeError(f"client process failed: {failures[0]}")
    return [t for _, threads in reports for t in threads]


# --------------------------------------------------------------------------- results


@dataclass
class Measurement:
    workload: str
    server: str
    op: str
    size_bytes: int
    procs: int
    threads: int
    seconds: float
    ops: int
    errors: int
    obj_per_s: float
    mib_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    first_error: str | None = None


def percentile_ms(sorted_seconds: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile, in milliseconds."""
    if not sorted_seconds:
        return None
    rank = max(1, math.ceil(q * len(sorted_seconds)))
    return sorted_seconds[rank - 1] * 1000


def summarize(
    server: str, wl: Workload, duration: float, threads: list[ThreadResult]
) -> Measurement:
    lat = sorted(x for t in threads for x in t.latencies)
    errors = sum(t.errors for t in threads)
    first_error = next((t.first_error for t in threads if t.first_error), None)
    rate = len(lat) / duration
    return Measurement(
        workload=wl.name,
        server=server,
        op=wl.op,
        size_bytes=wl.size,
        procs=wl.procs,
        threads=wl.threads,
        seconds=duration,
        ops=len(lat),
        errors=errors,
        obj_per_s=round(rate, 1),
        mib_per_s=round(rate * wl.size / MIB, 2),
        p50_ms=round3(percentile_ms(lat, 0.50)),
        p99_ms=round3(percentile_ms(lat, 0.99)),
        mean_ms=round3(sum(lat) / len(lat) * 1000 if lat else None),
        first_error=first_error,
    )


def round3(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def failed(server: str, wl: Workload, duration: float, why: str) -> Measurement:
    return summarize(server, wl, duration, [ThreadResult(errors=1, first_error=why[:300])])


# --------------------------------------------------------------------------- memory


def put_many(endpoint: str, count: int, threads: int = 8) -> int:
    """PUT `count` distinct 1 KiB objects with `threads` threads; returns the number of errors."""
    body = os.urandom(KIB)

    def worker(t: int) -> int:
        client, errors = make_client(endpoint), 0
        for i in range(t, count, threads):
            try:
                client.put_object(Bucket=BUCKET, Key=f"rss/{i:06d}", Body=body)
            except Exception:  # counted, not fatal
                errors += 1
        return errors

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(pool.map(worker, range(threads)))


def measure_rss(server: Server, count: int) -> dict[str, Any]:
    """PUT `count` 1 KiB objects, then sample the RSS of the server's process tree."""
    assert server.proc is not None
    pid = server.proc.pid
    before = tree_memory_mb(pid, "VmRSS")
    started = time.monotonic()
    errors = put_many(server.endpoint, count) if count else 0
    elapsed = time.monotonic() - started
    if count:
        time.sleep(0.5)  # let the server settle (flushes, GC) before sampling
    return {
        "objects": count,
        "errors": errors,
        "put_seconds": round(elapsed, 2),
        "processes": len(process_tree(pid)),
        "rss_before_mb": round(before, 1),
        "rss_after_mb": round(tree_memory_mb(pid, "VmRSS"), 1),
        "peak_rss_mb": round(tree_memory_mb(pid, "VmHWM"), 1),
    }


def sample_memory(servers: list[Server], sluice_objects: int) -> dict[str, dict[str, Any]]:
    """Sluice gets the many-small-objects PUT load first; others are sampled as they are."""
    samples = {}
    for server in servers:
        if not server.alive():
            continue
        count = sluice_objects if server.name == "sluice" else 0
        if count:
            log(
                f"PUTting {count:,} x 1 KiB objects to {server.name} (8 threads) for the RSS sample"
            )
        samples[server.name] = measure_rss(server, count)
    return samples


# --------------------------------------------------------------------------- report


def fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def ratio(a: Measurement | None, b: Measurement | None) -> str:
    if a is None or b is None or not b.obj_per_s or not a.ops:
        return "-"
    return f"{a.obj_per_s / b.obj_per_s:.2f}x"


def table(workloads: list[Workload], results: list[Measurement]) -> str:
    by_key = {(m.workload, m.server): m for m in results}
    header = [
        "workload",
        "sluice obj/s",
        "sluice p50 ms",
        "p99 ms",
        "moto obj/s",
        "moto p50 ms",
        "p99 ms",
        "sluice/moto",
    ]
    rows = [header]
    for wl in workloads:
        row = [wl.name]
        for server in SERVERS:
            m = by_key.get((wl.name, server))
            rate = None if m is None or not m.ops else m.obj_per_s
            row += [
                fmt(rate, ".0f") + ("!" if m and m.errors else ""),
                fmt(m.p50_ms if m else None, ".2f"),
                fmt(m.p99_ms if m else None, ".2f"),
            ]
        row.append(ratio(by_key.get((wl.name, "sluice")), by_key.get((wl.name, "moto"))))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        " | ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def error_notes(results: list[Measurement]) -> list[str]:
    return [
        f"  ! {m.server} {m.workload}: {m.errors} error(s), first: {m.first_error}"
        for m in results
        if m.errors
    ]


def rss_line(name: str, rss: dict[str, Any]) -> str:
    mem = (
        f"{rss['rss_after_mb']:.1f} MB (peak {rss['peak_rss_mb']:.1f} MB, "
        f"{rss['processes']} process(es))"
    )
    if not rss["objects"]:
        return f"{name} RSS at end of run: {mem}"
    verdict = "OK" if rss["rss_after_mb"] < RSS_TARGET_MB else "OVER TARGET"
    return (
        f"{name} RSS after {rss['objects']:,} x 1 KiB PUTs ({rss['put_seconds']} s, "
        f"{rss['errors']} errors): {mem}; before {rss['rss_before_mb']:.1f} MB; "
        f"target < {RSS_TARGET_MB:.0f} MB: {verdict}"
    )


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="short runs (~1.5 s per workload)")
    p.add_argument(
        "--duration", type=float, help="measured seconds per workload (default 4, quick 1.5)"
    )
    p.add_argument(
        "--warmup", type=float, help="warm-up seconds per workload (default 1, quick 0.5)"
    )
    p.add_argument("--only", choices=SERVERS, help="benchmark one server only")
    p.add_argument(
        "--rss-objects", type=int, default=10_000, help="1 KiB objects PUT before the RSS sample"
    )
    p.add_argument(
        "--output", type=Path, default=RESULTS_DIR / "s3-latest.json", help="JSON results path"
    )
    args = p.parse_args(argv)
    args.duration = args.duration or (1.5 if args.quick else 4.0)
    args.warmup = args.warmup if args.warmup is not None else (0.5 if args.quick else 1.0)
    return args


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def start_servers(
    names: Sequence[str], workdir: Path, registry: list[Server]
) -> tuple[list[Server], dict[str, str]]:
    """Start the named servers; returns those that came up and why the others did not."""
    factories = {"sluice": sluice_server, "moto": moto_server}
    up: list[Server] = []
    failures: dict[str, str] = {}
    for name in names:
        server = factories[name](workdir)
        registry.append(server)
        log(f"starting {name}: {' '.join(server.cmd)}")
        try:
            server.start()
            prepare_bucket(server.endpoint)
        except Exception as exc:  # report it, carry on with the other server
            failures[name] = f"{type(exc).__name__}: {exc}"
            log(f"!! {name} failed to start: {failures[name]}")
            server.stop()
            continue
        log(f"{name} ready at {server.endpoint} (pid {server.proc.pid if server.proc else '?'})")
        up.append(server)
    return up, failures


def run_all(
    servers: list[Server], workloads: list[Workload], args: argparse.Namespace
) -> list[Measurement]:
    ctx = mp_context()
    results: list[Measurement] = []
    for wl in workloads:
        for server in servers:
            if not server.alive():
                results.append(failed(server.name, wl, args.duration, "server is not running"))
                continue
            try:
                threads = run_workload(ctx, server.endpoint, wl, args.warmup, args.duration)
                m = summarize(server.name, wl, args.duration, threads)
            except Exception as exc:  # recorded as a failed workload
                m = failed(server.name, wl, args.duration, f"{type(exc).__name__}: {exc}")
            results.append(m)
            log(
                f"  {server.name:<6} {wl.name:<20} {m.obj_per_s:>8.1f} obj/s  "
                f"p50 {fmt(m.p50_ms, '.2f'):>7} ms  p99 {fmt(m.p99_ms, '.2f'):>7} ms"
                + (f"  errors {m.errors}" if m.errors else "")
            )
    return results


@contextlib.contextmanager
def managed_servers() -> Iterator[list[Server]]:
    """A list to register servers in; all are stopped on exit, Ctrl-C, SIGTERM or atexit."""
    servers: list[Server] = []

    def stop_all() -> None:
        for server in servers:
            server.stop()

    atexit.register(stop_all)
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        yield servers
    finally:
        stop_all()
        signal.signal(signal.SIGTERM, previous)


def metadata(args: argparse.Namespace, load_at_start: tuple[float, float, float]) -> dict[str, Any]:
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "quick": args.quick,
        "cpus": os.cpu_count(),
        "loadavg_start": load_at_start,
        "loadavg_end": os.getloadavg(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "boto3": package_version("boto3"),
        "botocore": package_version("botocore"),
        "moto": package_version("moto"),
        "sluice": package_version("sluice"),
        "git": git_revision(),
    }


def print_report(
    names: list[str],
    workloads: list[Workload],
    results: list[Measurement],
    start_failures: dict[str, str],
    rss: dict[str, dict[str, Any]],
    meta: dict[str, Any],
) -> None:
    print()
    if results:
        print(table(workloads, results))
    for note in error_notes(results):
        print(note)
    for name, why in start_failures.items():
        lines = why.strip().splitlines()
        detail = f" ({lines[-1].strip()})" if len(lines) > 1 else ""
        print(f"{name}: not benchmarked - failed to start: {lines[0]}{detail}")
    for name, sample in rss.items():
        print(rss_line(name, sample))
    if "sluice" in names and "sluice" not in rss:
        print("sluice RSS: not measured (server not running)")
    print(
        f"{meta['cpus']} CPUs shared by clients and servers; 1-min load average "
        f"{meta['loadavg_start'][0]:.2f} at start, {meta['loadavg_end'][0]:.2f} at end"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    names = [args.only] if args.only else list(SERVERS)
    workloads = all_workloads()
    workdir = Path(tempfile.mkdtemp(prefix="sluice-bench-"))
    load_at_start = os.getloadavg()  # other work on the machine skews the figures
    log(
        f"S3 benchmark: {len(workloads)} workloads x {len(names)} server(s), "
        f"{args.warmup:g} s warm-up + {args.duration:g} s each; {os.cpu_count()} CPUs, "
        f"load average {load_at_start[0]:.2f}; workdir {workdir}"
    )
    try:
        with managed_servers() as registry:
            servers, start_failures = start_servers(names, workdir, registry)
            results = run_all(servers, workloads, args) if servers else []
            rss = sample_memory(servers, args.rss_objects)
            for server in servers:
                if not server.alive():
                    log(f"!! {server.name} died during the run; its log ends:\n{server.log_tail()}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    meta = metadata(args, load_at_start)
    print_report(names, workloads, results, start_failures, rss, meta)
    servers_json = {
        n: {"started": n not in start_failures, "error": start_failures.get(n)} for n in names
    }
    write_json(
        args.output,
        {
            "meta": meta,
            "servers": servers_json,
            "results": [asdict(m) for m in results],
            "rss": rss,
            "rss_target_mb": RSS_TARGET_MB,
        },
    )
    print(f"\nresults written to {args.output}")
    return 0 if any(m.ops for m in results) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        sys.exit(130)
