"""Lambda invoke benchmark: Sluice's async latency and throughput, sync round trip, cold start.

    .venv/bin/python bench/invoke.py [--quick]

Starts its own Sluice (fresh temp data dir) and measures, with real boto3 clients and real
Python handlers run by awslambdaric in Sluice's execution environments:

  cold start   the first RequestResponse invoke of a brand-new function (median over a few
               functions), with the Init Duration of its REPORT line (LogType=Tail); for a
               Python function, then for a Node.js one (when `node` is on PATH)
  (a)          Invoke(Event) -> handler start, warm: the bench takes time.time() just before
               sending the Invoke, the handler takes time.time() at entry and sends it in a UDP
               datagram to a loopback port the bench listens on; events go one at a time, each
               sent once the previous one is done, so every sample finds a warm, idle environment;
               Python, then Node.js (its handler reports performance.timeOrigin + now(), sub-ms)
               Beside it: boto3's own cost of an Invoke call (a canned 202, no network), a part
               of every client-measured figure.
  (b)          async throughput of a no-op handler with 2, 4 and 8 execution environments (one
               server per setting, `--max-environments N`, environments warmed first), events
               enqueued from several boto3 client threads, twice per setting:
               live     processed while being enqueued: from the first send until the last
                        event's outcome is recorded (the `finished` time of
                        /_sluice/events/<id>; every event is checked to be done)
               backlog  every environment is held busy while the events are enqueued, then
                        released: from the release until the last outcome, no client load
               and the enqueue rate (first send -> last 202) of each, with the CPU seconds the
               bench, the server and the environments used meanwhile
  (c)          warm RequestResponse round trip (boto3 invoke) beside a direct in-process call of
               the same handler function (the floor) and beside moto's Lambda, if it can run here

Prints a table and writes bench/results/invoke-latest.json. Clients and servers share the
machine's CPUs, so a busy machine shows up in the figures; the load average is printed.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import http.client
import importlib.metadata
import importlib.util
import io
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from report import git_revision, package_version, write_json
from servers import Server, moto_server, process_tree, sluice_server

REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/lambda-role"
RUNTIME = "python3.12"
NODE_RUNTIME = "nodejs20.x"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
ENV_SETTINGS = (2, 4, 8)
ENQUEUE_THREADS = 8
TARGET_EVENT_P50_MS = 5.0
TARGET_EVENTS_PER_S = 500.0
TARGET_COLD_START_MS = 300.0
BEACON_ENV = "BENCH_BEACON_PORT"

# The one handler every measurement runs. At entry it sends "<tag> <time.time()> <request id>"
# to the bench's UDP port (events without a tag send nothing). "hold" (a loopback TCP port of
# the bench) keeps the environment busy, blocked on a connection, until the bench closes it:
# used to warm several environments at once and to let a backlog of events build up.
HANDLER_SOURCE = """\
import os
import socket
import time

_BEACON = ("127.0.0.1", int(os.environ["BENCH_BEACON_PORT"]))
_SOCK = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def handler(event, context):
    started = time.time()
    tag = event.get("tag")
    if tag is not None:
        _SOCK.sendto(f"{tag} {started!r} {context.aws_request_id}".encode(), _BEACON)
    hold = event.get("hold")
    if hold:
        try:
            with socket.create_connection(("127.0.0.1", hold), timeout=100) as conn:
                conn.recv(1)
        except OSError:
            pass
    return {"tag": tag}
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- servers


def sluice_server_envs(workdir: Path, label: str, max_environments: int | None = None) -> Server:
    extra = ["--max-environments", str(max_environments)] if max_environments is not None else []
    return sluice_server(workdir, f"sluice-{label}", *extra)


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


def start_server(server: Server, registry: list[Server]) -> Server:
    registry.append(server)
    log(f"starting {server.name}: {' '.join(server.cmd)}")
    server.start()
    return server


# --------------------------------------------------------------------------- the beacon


@dataclass(frozen=True)
class Mark:
    """One handler entry, as the handler reported it."""

    handler_time: float  # time.time() in the handler
    request_id: str
    received: float  # time.time() when the datagram arrived here


class Beacon:
    """A loopback UDP port the handlers report their entry to."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.marks: dict[str, Mark] = {}
        self.counts: dict[str, int] = {}  # per tag prefix ("a", "tp2", ...)
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="beacon", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                data = self.sock.recv(512)
            except OSError:
                return
            received = time.time()
            try:
                tag, handler_time, request_id = data.decode().split(" ")
                mark = Mark(float(handler_time), request_id, received)
            except ValueError:
                continue
            prefix = tag.split(":", 1)[0]
            with self.cond:
                if tag not in self.marks:
                    self.counts[prefix] = self.counts.get(prefix, 0) + 1
                self.marks[tag] = mark
                self.cond.notify_all()

    def wait_for(self, tag: str, timeout: float) -> Mark | None:
        with self.cond:
            self.cond.wait_for(lambda: tag in self.marks, timeout)
            return self.marks.get(tag)

    def wait_count(self, prefix: str, count: int, timeout: float) -> int:
        with self.cond:
            self.cond.wait_for(lambda: self.counts.get(prefix, 0) >= count, timeout)
            return self.counts.get(prefix, 0)

    def handler_times(self, prefix: str) -> list[float]:
        with self.cond:
            return [m.handler_time for t, m in self.marks.items() if t.startswith(prefix + ":")]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


# --------------------------------------------------------------------------- clients


def make_client(service: str, endpoint: str, pool: int = 2) -> Any:
    """A boto3 client as users configure one for a local emulator, without retries."""
    config = Config(
        retries={"max_attempts": 1, "mode": "standard"},
        max_pool_connections=pool,
        connect_timeout=5,
        read_timeout=120,
    )
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        config=config,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def deployment_zip(source: str, module: str = "handler", suffix: str = ".py") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{module}{suffix}", source)
    return buf.getvalue()


# The Node.js twin of HANDLER_SOURCE, for the cold start and (a) (no "hold": not in (b)).
NODE_HANDLER_SOURCE = """\
const dgram = require('node:dgram');
const { performance } = require('node:perf_hooks');
const port = Number(process.env.BENCH_BEACON_PORT);
const sock = dgram.createSocket('udp4');
sock.unref();
exports.handler = async (event, context) => {
  const started = (performance.timeOrigin + performance.now()) / 1000;
  if (event.tag !== undefined) sock.send(`${event.tag} ${started} ${context.awsRequestId}`, port, '127.0.0.1');
  return { tag: event.tag ?? null };
};
"""


def create_function(
    lam: Any, beacon_port: int, role: str = ROLE, prefix: str = "bench", runtime: str = RUNTIME
) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    node = runtime.startswith("nodejs")
    code = (
        deployment_zip(NODE_HANDLER_SOURCE, "index", ".js")
        if node
        else deployment_zip(HANDLER_SOURCE)
    )
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=role,
        Handler="index.handler" if node else "handler.handler",
        Code={"ZipFile": code},
        Timeout=120,
        MemorySize=128,
        Environment={"Variables": {BEACON_ENV: str(beacon_port)}},
    )
    return name


def invoke_sync(lam: Any, name: str, event: dict[str, Any], tail: bool = False) -> dict[str, Any]:
    """A RequestResponse invoke; raises on a function error. The payload is read."""
    params: dict[str, Any] = {"FunctionName": name, "Payload": json.dumps(event).encode()}
    if tail:
        params["LogType"] = "Tail"
    resp = lam.invoke(**params)
    payload = resp["Payload"].read()
    if resp.get("FunctionError"):
        raise RuntimeError(
            f"FunctionError={resp['FunctionError']}: {payload.decode(errors='replace')[:300]}"
        )
    return dict(resp, Payload=payload)


def invoke_event(lam: Any, name: str, event: dict[str, Any]) -> str:
    """An Event invoke; returns the request id (the handler's context.aws_request_id).

    The (empty) response Payload is read: botocore hands a connection back to its pool only once
    the body is consumed, so a caller that skips this opens a new TCP connection per Invoke.
    """
    resp = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event).encode())
    resp["Payload"].read()
    if resp["StatusCode"] != 202:
        raise RuntimeError(f"Invoke(Event) answered {resp['StatusCode']}")
    return str(resp["ResponseMetadata"]["RequestId"])


class EventStates:
    """GET /_sluice/events/<request id> over one kept-alive connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def get(self, request_id: str) -> dict[str, Any] | None:
        for attempt in range(2):
            try:
                self.conn.request("GET", f"/_sluice/events/{request_id}")
                resp = self.conn.getresponse()
                body = resp.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                if attempt:
                    raise
                continue
            if resp.status == 404:
                return None
            if resp.status != 200:
                raise RuntimeError(f"/_sluice/events answered {resp.status}: {body[:200]!r}")
            return dict(json.loads(body))
        return None

    def wait_done(self, request_id: str, timeout: float) -> dict[str, Any]:
        state = self.wait_until_done(request_id, time.monotonic() + timeout)
        if state.get("state") != "done":
            raise TimeoutError(f"event {request_id} not done after {timeout:g} s: {state}")
        return state

    def wait_until_done(
        self, request_id: str, deadline: float, stop: threading.Event | None = None
    ) -> dict[str, Any]:
        """The event's state once done, or its last state at `deadline` (monotonic) or stop."""
        while True:
            state = self.get(request_id)
            if state is not None and state.get("state") == "done":
                return state
            if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                return state or {"requestId": request_id, "state": "unknown"}
            time.sleep(0.002)

    def close(self) -> None:
        self.conn.close()


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


@dataclass
class Distribution:
    n: int
    p50_ms: float | None
    p99_ms: float | None
    min_ms: float | None
    max_ms: float | None
    mean_ms: float | None


def distribution(ms: Sequence[float], digits: int = 3) -> Distribution:
    def r(x: float | None) -> float | None:
        return None if x is None else round(x, digits)

    return Distribution(
        n=len(ms),
        p50_ms=r(percentile(ms, 0.50)),
        p99_ms=r(percentile(ms, 0.99)),
        min_ms=r(min(ms) if ms else None),
        max_ms=r(max(ms) if ms else None),
        mean_ms=r(statistics.fmean(ms) if ms else None),
    )


# --------------------------------------------------------------------------- cold start


@dataclass
class ColdStart:
    round_trip_ms: list[float] = field(default_factory=list)
    init_duration_ms: list[float] = field(default_factory=list)
    median_round_trip_ms: float | None = None
    median_init_ms: float | None = None
    error: str | None = None


INIT_RE = re.compile(r"Init Duration: ([0-9.]+) ms")


def init_duration(log_result: str | None) -> float | None:
    if not log_result:
        return None
    match = INIT_RE.search(base64.b64decode(log_result).decode(errors="replace"))
    return float(match.group(1)) if match else None


def measure_cold_starts(lam: Any, beacon: Beacon, count: int, runtime: str = RUNTIME) -> ColdStart:
    """The first invoke of `count` brand-new functions, one after the other."""
    result = ColdStart()
    names = [
        create_function(lam, beacon.port, prefix="cold", runtime=runtime) for _ in range(count)
    ]
    for name in names:
        t0 = time.perf_counter()
        resp = invoke_sync(lam, name, {}, tail=True)
        result.round_trip_ms.append(round((time.perf_counter() - t0) * 1000, 2))
        init = init_duration(resp.get("LogResult"))
        if init is None:
            result.error = "no Init Duration in the REPORT line of a first invoke"
        else:
            result.init_duration_ms.append(init)
        log(f"  cold start {name}: {result.round_trip_ms[-1]:.1f} ms, Init Duration {init} ms")
    result.median_round_trip_ms = round(statistics.median(result.round_trip_ms), 2)
    if result.init_duration_ms:
        result.median_init_ms = round(statistics.median(result.init_duration_ms), 2)
    return result


# --------------------------------------------------------------------------- (a) event latency


@dataclass
class EventLatency:
    to_handler: Distribution  # Invoke sent -> handler entry
    ack: Distribution  # Invoke sent -> 202 received
    errors: int
    first_error: str | None


def one_event(
    lam: Any, states: EventStates, beacon: Beacon, name: str, tag: str
) -> tuple[float, float]:
    """Send one event; (ms to handler entry, ms to the 202). Returns once the event is done."""
    sent = time.time()
    request_id = invoke_event(lam, name, {"tag": tag})
    acked = time.time()
    mark = beacon.wait_for(tag, timeout=30)
    if mark is None:
        raise TimeoutError(f"handler never started for {tag} ({request_id})")
    if mark.request_id != request_id:
        raise RuntimeError(f"handler saw request id {mark.request_id}, Invoke said {request_id}")
    states.wait_done(request_id, timeout=30)  # the environment is idle again: the next is warm
    return (mark.handler_time - sent) * 1000, (acked - sent) * 1000


def measure_event_latency(
    endpoint: str,
    port: int,
    beacon: Beacon,
    name: str,
    samples: int,
    warmup: int,
    prefix: str = "a",
) -> EventLatency:
    lam = make_client("lambda", endpoint)
    states = EventStates(port)
    to_handler: list[float] = []
    acks: list[float] = []
    errors, first_error = 0, None
    try:
        for i in range(warmup + samples):
            try:
                latency, ack = one_event(lam, states, beacon, name, f"{prefix}:{i}")
            except Exception as exc:  # counted; the run goes on
                errors += 1
                first_error = first_error or f"{type(exc).__name__}: {exc}"[:300]
                continue
            if i >= warmup:
                to_handler.append(latency)
                acks.append(ack)
    finally:
        states.close()
    return EventLatency(distribution(to_handler), distribution(acks), errors, first_error)


# --------------------------------------------------------------------------- (b) throughput


@dataclass
class ThroughputRun:
    """One batch of async events against a server with `environments` environments.

    mode "live": events are processed while they are being enqueued; processed/s runs from the
    first send to the last outcome. mode "backlog": every environment is held busy while the
    events are enqueued, then released; processed/s runs from the release to the last outcome,
    with no client load on the machine.
    """

    environments: int
    mode: str
    events: int
    client_threads: int
    sent_ok: int = 0
    send_errors: int = 0
    enqueue_seconds: float | None = None
    enqueue_per_s: float | None = None
    processed: int = 0  # events whose outcome is Success
    process_seconds: float | None = None
    processed_per_s: float | None = None
    conditions: dict[str, int] = field(default_factory=dict)
    max_attempts: int = 0
    not_done: int = 0  # events not done when the bench stopped waiting
    # CPU seconds from the first send (backlog: the release) until every handler had started
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class Sent:
    request_id: str | None
    sent: float
    acked: float
    error: str | None = None


def send_events(clients: Sequence[Any], name: str, prefix: str, count: int) -> list[Sent]:
    """Enqueue `count` events, one thread per client, all threads starting together."""
    threads = len(clients)
    barrier = threading.Barrier(threads)
    stop = threading.Event()  # set when the bench is interrupted: the threads stop sending

    def worker(t: int) -> list[Sent]:
        out: list[Sent] = []
        barrier.wait()
        for i in range(t, count, threads):
            if stop.is_set():
                break
            sent = time.time()
            try:
                request_id = invoke_event(clients[t], name, {"tag": f"{prefix}:{i}"})
            except Exception as exc:  # counted
                out.append(Sent(None, sent, time.time(), f"{type(exc).__name__}: {exc}"[:300]))
                continue
            out.append(Sent(request_id, sent, time.time()))
        return out

    with ThreadPoolExecutor(max_workers=threads) as pool:
        try:
            return [s for chunk in pool.map(worker, range(threads)) for s in chunk]
        finally:
            stop.set()


def fetch_states(
    port: int, request_ids: Sequence[str], deadline: float, threads: int = 4
) -> list[dict[str, Any]]:
    """Every event's state, waiting (until `deadline`, monotonic) for each to be done."""
    stop = threading.Event()  # set when the bench is interrupted

    def worker(t: int) -> list[dict[str, Any]]:
        states = EventStates(port)
        try:
            return [states.wait_until_done(rid, deadline, stop) for rid in request_ids[t::threads]]
        finally:
            states.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        try:
            return [s for chunk in pool.map(worker, range(threads)) for s in chunk]
        finally:
            stop.set()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(server: Server) -> dict[str, float]:
    """CPU seconds so far of the bench process, the server and its execution environments."""
    assert server.proc is not None
    tree = process_tree(server.proc.pid)
    return {
        "bench": time.process_time(),
        "server": cpu_seconds(server.proc.pid),
        "environments": sum(cpu_seconds(pid) for pid, _ in tree[1:]),
    }


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round(after[k] - before[k], 2) for k in before}


class Hold:
    """Every environment of a function kept busy by RequestResponse invokes until released.

    Each held handler connects to a loopback TCP port of the bench and blocks reading from it
    (no polling, no CPU) until the bench closes the connections.
    """

    def __init__(self, endpoint: str, name: str, beacon: Beacon, count: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.listener.settimeout(0.05)
        self.conns: list[socket.socket] = []
        self.released = threading.Event()
        self.released_at = 0.0
        self.acceptor = threading.Thread(target=self._accept, name="hold", daemon=True)
        self.acceptor.start()
        port = int(self.listener.getsockname()[1])
        tag = f"hold{port}"
        clients = [make_client("lambda", endpoint) for _ in range(count)]
        self.pool = ThreadPoolExecutor(max_workers=count)
        self.futures = [
            self.pool.submit(invoke_sync, c, name, {"hold": port, "tag": f"{tag}:{i}"})
            for i, c in enumerate(clients)
        ]
        try:
            if beacon.wait_count(tag, count, timeout=60) < count:
                raise TimeoutError(f"not all {count} environments could be held")
        except BaseException:
            self.release()
            raise

    def _accept(self) -> None:
        while not self.released.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.conns.append(conn)

    def release(self) -> float:
        """Let every held handler return (once; later calls are no-ops); the time of the release."""
        if self.released.is_set():
            return self.released_at
        self.released_at = time.time()
        self.released.set()
        self.acceptor.join()
        self.listener.close()
        for conn in self.conns:
            conn.close()
        futures.wait(self.futures, timeout=30)  # their invokes return now; errors do not matter
        self.pool.shutdown(wait=False, cancel_futures=True)
        return self.released_at


def warm_environments(endpoint: str, name: str, beacon: Beacon, count: int) -> None:
    """Start `count` environments of the function: hold them all at once, then let go."""
    Hold(endpoint, name, beacon, count).release()


def run_batch(
    server: Server, beacon: Beacon, name: str, run: ThroughputRun, hold: Hold | None
) -> None:
    """Send one batch of events and wait for all of them; fills in `run`."""
    prefix = f"tp{run.environments}{run.mode}"
    clients = [make_client("lambda", server.endpoint) for _ in range(run.client_threads)]
    before = cpu_snapshot(server)
    sent = send_events(clients, name, prefix, run.events)
    summarize_sends(run, sent)
    start = min(s.sent for s in sent)
    if hold is not None:
        before = cpu_snapshot(server)
        start = hold.release()
    ok = [s.request_id for s in sent if s.request_id is not None]
    timeout = max(60.0, run.events / 20)
    started = beacon.wait_count(prefix, len(ok), timeout)
    run.cpu_seconds = cpu_used(before, cpu_snapshot(server))
    if started < len(ok):
        log(f"  only {started}/{len(ok)} handlers started within {timeout:.0f} s")
    deadline = time.monotonic() + (timeout if started == len(ok) else 10.0)
    summarize_outcomes(run, start, fetch_states(server.port, ok, deadline))


def summarize_sends(run: ThroughputRun, sent: list[Sent]) -> None:
    ok = [s for s in sent if s.request_id is not None]
    run.sent_ok = len(ok)
    run.send_errors = len(sent) - len(ok)
    errors = [s.error for s in sent if s.error]
    if errors:
        run.error = f"{len(errors)} Invoke(Event) call(s) failed, first: {errors[0]}"
    if ok:
        seconds = max(s.acked for s in ok) - min(s.sent for s in sent)
        run.enqueue_seconds = round(seconds, 3)
        run.enqueue_per_s = round(len(ok) / seconds, 1)


def summarize_outcomes(run: ThroughputRun, start: float, states: list[dict[str, Any]]) -> None:
    done = [s for s in states if s.get("state") == "done"]
    run.not_done = len(states) - len(done)
    for state in done:
        condition = str(state.get("condition"))
        run.conditions[condition] = run.conditions.get(condition, 0) + 1
        run.max_attempts = max(run.max_attempts, int(state.get("attempts") or 0))
    run.processed = run.conditions.get("Success", 0)
    if done:
        seconds = max(float(s["finished"]) for s in done) - start
        run.process_seconds = round(seconds, 3)
        run.processed_per_s = round(run.processed / seconds, 1)


def measure_throughput(
    workdir: Path, registry: list[Server], beacon: Beacon, envs: int, events: int
) -> list[ThroughputRun]:
    """Both modes against one server started with `--max-environments envs`."""
    runs = [ThroughputRun(envs, mode, events, ENQUEUE_THREADS) for mode in ("live", "backlog")]
    server = start_server(sluice_server_envs(workdir, f"envs{envs}", envs), registry)
    try:
        lam = make_client("lambda", server.endpoint)
        name = create_function(lam, beacon.port, prefix=f"noop{envs}")
        warm_environments(server.endpoint, name, beacon, envs)
        for run in runs:
            hold = None
            try:
                if run.mode == "backlog":
                    hold = Hold(server.endpoint, name, beacon, envs)
                run_batch(server, beacon, name, run, hold)
            except Exception as exc:  # recorded as this run's failure
                run.error = f"{type(exc).__name__}: {exc}"[:500]
                log(f"!! {run.mode} run with {envs} environments failed: {run.error}")
            finally:
                if hold is not None:
                    hold.release()  # never leave handlers blocked (Ctrl-C, errors)
            log(
                f"  {run.mode}: processed {rate(run.processed_per_s)}, "
                f"enqueued {rate(run.enqueue_per_s)}, outcomes {run.conditions}"
            )
    except Exception as exc:  # setting up failed: both runs fail
        for run in runs:
            run.error = run.error or f"{type(exc).__name__}: {exc}"[:500]
        log(f"!! throughput with {envs} environments failed: {exc}")
    finally:
        server.stop()
    return runs


# --------------------------------------------------------------------------- (c) round trips


class _NoBody:
    """The raw body of a canned response."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        return iter(())

    def read(self, *_: Any, **__: Any) -> bytes:
        return b""


def _canned_202(request: Any, **_: Any) -> AWSResponse:
    return AWSResponse(request.url, 202, {"x-amzn-RequestId": str(uuid.uuid4())}, _NoBody())


def measure_boto3_cost(calls: int) -> Distribution:
    """boto3's own cost of one Invoke(Event) call: build, serialize, sign, parse a canned 202.

    Part of every client-measured figure here; no server could answer faster than this.
    """
    lam = make_client("lambda", "http://127.0.0.1:9")
    lam.meta.events.register("before-send.lambda.Invoke", _canned_202)
    times: list[float] = []
    for i in range(calls + 20):
        t0 = time.perf_counter()
        invoke_event(lam, "bench", {"tag": f"boto3:{i}"})
        if i >= 20:
            times.append((time.perf_counter() - t0) * 1000)
    return distribution(times, digits=4)


def measure_round_trip(endpoint: str, name: str, samples: int, warmup: int) -> Distribution:
    lam = make_client("lambda", endpoint)
    times: list[float] = []
    for i in range(warmup + samples):
        t0 = time.perf_counter()
        resp = invoke_sync(lam, name, {"tag": f"rr:{i}"})
        elapsed = (time.perf_counter() - t0) * 1000
        if json.loads(resp["Payload"]) != {"tag": f"rr:{i}"}:
            raise RuntimeError(f"unexpected payload {resp['Payload'][:200]!r}")
        if i >= warmup:
            times.append(elapsed)
    return distribution(times, digits=4)


class FakeContext:
    """What a handler sees of the Lambda context, enough for this one."""

    function_name = "direct"
    memory_limit_in_mb = 128

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def load_handler(workdir: Path, beacon_port: int) -> Callable[[dict[str, Any], Any], Any]:
    """Import the handler module from a file, as the runtime does."""
    path = workdir / "direct" / "handler.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HANDLER_SOURCE)
    os.environ[BEACON_ENV] = str(beacon_port)
    spec = importlib.util.spec_from_file_location("bench_direct_handler", path)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler  # type: ignore[no-any-return]


def measure_direct(workdir: Path, beacon_port: int, calls: int) -> Distribution:
    """The floor: the same handler function called in-process, same event shape, same send."""
    handler = load_handler(workdir, beacon_port)
    ctx = FakeContext()
    times: list[float] = []
    for i in range(calls + calls // 10):
        event = {"tag": f"direct:{i}"}
        t0 = time.perf_counter()
        handler(event, ctx)
        if i >= calls // 10:
            times.append((time.perf_counter() - t0) * 1000)
    return distribution(times, digits=4)


@dataclass
class MotoResult:
    ran: bool
    round_trip: Distribution | None = None
    error: str | None = None
    version: str | None = None


def first_line(text: str, limit: int = 240) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return (lines[0] if lines else text)[:limit]


def try_moto(workdir: Path, registry: list[Server], beacon: Beacon, samples: int) -> MotoResult:
    """moto's Lambda runs functions in Docker: create one and invoke it, or say why not."""
    result = MotoResult(ran=False, version=package_version("moto"))
    server = moto_server(workdir)
    try:
        start_server(server, registry)
        iam = make_client("iam", server.endpoint)
        role = iam.create_role(
            RoleName="lambda-role",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        lam = make_client("lambda", server.endpoint)
        name = create_function(lam, beacon.port, role=role, prefix="moto")
        invoke_sync(lam, name, {"tag": "moto:first"})  # the cold one
        result.round_trip = measure_round_trip(server.endpoint, name, samples, warmup=2)
        result.ran = True
    except Exception as exc:  # expected without Docker
        result.error = first_line(f"{type(exc).__name__}: {exc}")
        log(f"moto's Lambda cannot run here: {result.error}")
    finally:
        server.stop()
    return result


# --------------------------------------------------------------------------- report


def fmt_ms(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3f} ms" if x < 1 else f"{x:.2f} ms" if x < 100 else f"{x:.0f} ms"


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def verdict(ok: bool | None) -> str:
    return "-" if ok is None else "OK" if ok else "MISSED"


Row = tuple[str, str, str, str]


def cold_rows(cold: ColdStart | None, label: str = "") -> list[Row]:
    if cold is None:
        return [(f"{label}cold start", "not measured", f"< {TARGET_COLD_START_MS:.0f} ms", "-")]
    med = cold.median_round_trip_ms
    spread = f" (min {fmt_ms(min(cold.round_trip_ms))}, max {fmt_ms(max(cold.round_trip_ms))})"
    return [
        (
            f"{label}cold start: first RequestResponse invoke, median of {len(cold.round_trip_ms)}",
            fmt_ms(med) + spread,
            f"< {TARGET_COLD_START_MS:.0f} ms",
            verdict(None if med is None else med < TARGET_COLD_START_MS),
        ),
        ("  of which Init Duration (REPORT line), median", fmt_ms(cold.median_init_ms), "", ""),
    ]


def node_rows(cold: ColdStart | None, lat: EventLatency | None) -> list[Row]:
    if cold is None and lat is None:
        return [("Node.js", "not measured (no `node` on PATH?)", "", "-")]
    return [*cold_rows(cold, "Node.js "), *latency_rows(lat, None, "Node.js ")[:1]]


def latency_rows(
    lat: EventLatency | None, boto3_cost: Distribution | None, label: str = ""
) -> list[Row]:
    if lat is None:
        return [(f"{label}(a) Invoke(Event) -> handler start, warm", "not measured", "", "-")]
    d, ack = lat.to_handler, lat.ack
    p50 = d.p50_ms
    errors = f", {lat.errors} error(s)" if lat.errors else ""
    return [
        (
            f"{label}(a) Invoke(Event) -> handler start, warm (n={d.n}{errors})",
            f"p50 {fmt_ms(p50)}, p99 {fmt_ms(d.p99_ms)}",
            f"p50 < {TARGET_EVENT_P50_MS:.0f} ms",
            verdict(None if p50 is None else p50 < TARGET_EVENT_P50_MS),
        ),
        (
            "  Invoke(Event) -> 202 received",
            f"p50 {fmt_ms(ack.p50_ms)}, p99 {fmt_ms(ack.p99_ms)}",
            "",
            "",
        ),
        (
            "  boto3's own cost per Invoke call (no network)",
            "-"
            if boto3_cost is None
            else f"p50 {fmt_ms(boto3_cost.p50_ms)}, p99 {fmt_ms(boto3_cost.p99_ms)}",
            "",
            "",
        ),
    ]


def rate(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f} events/s"


def throughput_rows(runs: list[ThroughputRun]) -> list[Row]:
    rows: list[Row] = []
    for envs in sorted({r.environments for r in runs}):
        for run in (r for r in runs if r.environments == envs):
            rows += throughput_run_rows(run)
    return rows


MODE_LABELS = {
    "live": "processed while enqueuing",
    "backlog": "processed from a queued backlog",
}
ENQUEUE_LABELS = {"live": "while processing", "backlog": "into a held queue"}


def throughput_run_rows(run: ThroughputRun) -> list[Row]:
    head = f"(b) {run.environments} envs, {run.events} no-op events, "
    label = (head if run.mode == "live" else "    ") + MODE_LABELS[run.mode]
    if run.processed_per_s is None:
        return [(label, shorten(f"failed: {run.error}", 100), "", "-")]
    ok = run.processed_per_s >= TARGET_EVENTS_PER_S and run.processed == run.events
    done = "" if run.processed == run.events else f" ({run.processed}/{run.events} Success)"
    cpu = " / ".join(
        f"{run.cpu_seconds.get(k, 0):.1f}" for k in ("bench", "server", "environments")
    )
    return [
        (
            label,
            f"{rate(run.processed_per_s)} ({run.process_seconds:.2f} s){done}",
            f">= {TARGET_EVENTS_PER_S:.0f} events/s",
            verdict(ok),
        ),
        (
            f"    enqueue rate {ENQUEUE_LABELS[run.mode]}, {run.client_threads} boto3 threads",
            f"{rate(run.enqueue_per_s)} ({run.enqueue_seconds:.2f} s)",
            "",
            "",
        ),
        ("    CPU s while processing: bench / server / envs", cpu, "", ""),
    ]


def moto_reason(error: str) -> str:
    """The gist of moto's failure, for the table (the whole error is printed below it)."""
    if "docker" in error.lower():
        return "its Lambda runs functions in Docker, and there is no Docker daemon here"
    return shorten(error, 90)


def round_trip_rows(
    rr: Distribution | None, direct: Distribution | None, moto: MotoResult | None
) -> list[Row]:
    rows: list[Row] = []
    if rr is not None:
        rows.append(
            (
                f"(c) RequestResponse round trip, warm, boto3 (n={rr.n})",
                f"p50 {fmt_ms(rr.p50_ms)}, p99 {fmt_ms(rr.p99_ms)}",
                "",
                "",
            )
        )
    if direct is not None:
        rows.append(
            (
                "  direct in-process handler call (floor)",
                f"p50 {fmt_ms(direct.p50_ms)}, p99 {fmt_ms(direct.p99_ms)}",
                "",
                "",
            )
        )
    if moto is not None:
        if moto.ran and moto.round_trip is not None:
            text = f"p50 {fmt_ms(moto.round_trip.p50_ms)}, p99 {fmt_ms(moto.round_trip.p99_ms)}"
        else:
            text = "cannot run: " + moto_reason(moto.error or "?")
        rows.append((f"  moto {moto.version or '?'} Lambda, warm, boto3", text, "", ""))
    return rows


def render(rows: list[Row]) -> str:
    header: Row = ("measure", "result", "target", "verdict")
    table = [header, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


@dataclass
class Plan:
    cold_functions: int
    event_samples: int
    event_warmup: int
    throughput_events: int
    rr_samples: int
    direct_calls: int
    moto_samples: int


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="fewer samples and events (~1 minute)")
    p.add_argument("--events", type=int, help="events per throughput run (default 2000, quick 500)")
    p.add_argument("--no-moto", action="store_true", help="skip the moto comparison")
    p.add_argument(
        "--output", type=Path, default=RESULTS_DIR / "invoke-latest.json", help="JSON results path"
    )
    return p.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    if args.quick:
        plan = Plan(3, 50, 5, 500, 50, 2000, 10)
    else:
        plan = Plan(5, 200, 20, 2000, 200, 10000, 50)
    if args.events:
        plan.throughput_events = args.events
    return plan


@dataclass
class Results:
    cold: ColdStart | None = None
    latency: EventLatency | None = None
    node_cold: ColdStart | None = None
    node_latency: EventLatency | None = None
    throughput: list[ThroughputRun] = field(default_factory=list)
    boto3_cost: Distribution | None = None
    round_trip: Distribution | None = None
    direct: Distribution | None = None
    moto: MotoResult | None = None
    errors: dict[str, str] = field(default_factory=dict)


def guarded(results: Results, step: str, fn: Callable[[], Any]) -> Any:
    """Run one measurement; a failure is recorded, and the others still run."""
    try:
        return fn()
    except Exception as exc:
        results.errors[step] = f"{type(exc).__name__}: {exc}"[:500]
        log(f"!! {step} failed: {results.errors[step]}")
        return None


def run_main_server(
    workdir: Path, registry: list[Server], beacon: Beacon, plan: Plan, results: Results
) -> None:
    """Cold start, (a) and (c) against one Sluice with the default settings."""
    server = start_server(sluice_server_envs(workdir, "main"), registry)
    lam = make_client("lambda", server.endpoint)
    log(f"cold start: {plan.cold_functions} new functions")
    results.cold = guarded(
        results, "cold start", lambda: measure_cold_starts(lam, beacon, plan.cold_functions)
    )
    name = create_function(lam, beacon.port, prefix="warm")
    invoke_sync(lam, name, {})  # its environment is now warm
    log(f"(a) Invoke(Event) -> handler: {plan.event_warmup} warm-up + {plan.event_samples} events")
    results.latency = guarded(
        results,
        "event latency",
        lambda: measure_event_latency(
            server.endpoint, server.port, beacon, name, plan.event_samples, plan.event_warmup
        ),
    )
    log(f"(c) RequestResponse round trip: {plan.rr_samples} invokes")
    results.round_trip = guarded(
        results,
        "round trip",
        lambda: measure_round_trip(server.endpoint, name, plan.rr_samples, 10),
    )
    if shutil.which("node") is not None:
        run_node(server, lam, beacon, plan, results)
    server.stop()


def run_node(server: Server, lam: Any, beacon: Beacon, plan: Plan, results: Results) -> None:
    """The Node.js cold start and (a), on the same server as Python's."""
    log(f"Node.js cold start: {plan.cold_functions} new functions")
    results.node_cold = guarded(
        results,
        "Node.js cold start",
        lambda: measure_cold_starts(lam, beacon, plan.cold_functions, runtime=NODE_RUNTIME),
    )
    name = create_function(lam, beacon.port, prefix="warm-node", runtime=NODE_RUNTIME)
    invoke_sync(lam, name, {})
    log(f"Node.js (a): {plan.event_warmup} warm-up + {plan.event_samples} events")
    results.node_latency = guarded(
        results,
        "Node.js event latency",
        lambda: measure_event_latency(
            server.endpoint,
            server.port,
            beacon,
            name,
            plan.event_samples,
            plan.event_warmup,
            "node",
        ),
    )


def metadata(
    args: argparse.Namespace, plan: Plan, load_at_start: tuple[float, float, float]
) -> dict[str, Any]:
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": args.quick,
        "plan": asdict(plan),
        "cpus": os.cpu_count(),
        "loadavg_start": load_at_start,
        "loadavg_end": os.getloadavg(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "boto3": package_version("boto3"),
        "awslambdaric": package_version("awslambdaric"),
        "moto": package_version("moto"),
        "sluice": package_version("sluice"),
        "git": git_revision(),
    }


def print_report(results: Results, meta: dict[str, Any]) -> None:
    rows = [
        *cold_rows(results.cold),
        *latency_rows(results.latency, results.boto3_cost),
        *throughput_rows(results.throughput),
        *round_trip_rows(results.round_trip, results.direct, results.moto),
        *node_rows(results.node_cold, results.node_latency),
    ]
    print()
    print(render(rows))
    lat = results.latency
    if lat is not None and lat.errors:
        print(f"  ! (a): {lat.errors} event(s) failed, first: {lat.first_error}")
    for t in results.throughput:
        where = f"(b) {t.environments} environments, {t.mode}"
        if t.error and t.processed_per_s is not None:
            print(f"  ! {where}: {t.error}")
        if t.conditions and set(t.conditions) != {"Success"}:
            print(f"  ! {where}: outcomes {t.conditions}")
        if t.not_done:
            print(f"  ! {where}: {t.not_done} event(s) not done when the bench stopped waiting")
    if results.moto is not None and results.moto.error:
        print(f"  moto: {results.moto.error}")
    for step, why in results.errors.items():
        print(f"  ! {step} failed: {why}")
    print(
        f"{meta['cpus']} CPUs shared by the bench's clients, Sluice and its environments; 1-min load "
        f"average {meta['loadavg_start'][0]:.2f} at start, {meta['loadavg_end'][0]:.2f} at end"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    workdir = Path(tempfile.mkdtemp(prefix="sluice-bench-invoke-"))
    load_at_start = os.getloadavg()
    log(
        f"invoke benchmark: {os.cpu_count()} CPUs, load average {load_at_start[0]:.2f}; workdir {workdir}"
    )
    results = Results()
    beacon = Beacon()
    try:
        with managed_servers() as registry:
            guarded(
                results,
                "main server",
                lambda: run_main_server(workdir, registry, beacon, plan, results),
            )
            log(f"boto3's own cost of Invoke(Event): {plan.rr_samples} calls, no network")
            results.boto3_cost = guarded(
                results, "boto3 cost", lambda: measure_boto3_cost(plan.rr_samples)
            )
            log(f"(c) direct in-process handler calls: {plan.direct_calls}")
            results.direct = guarded(
                results,
                "direct call",
                lambda: measure_direct(workdir, beacon.port, plan.direct_calls),
            )
            for envs in ENV_SETTINGS:
                log(f"(b) throughput: {plan.throughput_events} events x 2, {envs} environments")
                results.throughput += measure_throughput(
                    workdir, registry, beacon, envs, plan.throughput_events
                )
            if not args.no_moto:
                log("(c) moto's Lambda")
                results.moto = try_moto(workdir, registry, beacon, plan.moto_samples)
    finally:
        beacon.close()
        shutil.rmtree(workdir, ignore_errors=True)

    meta = metadata(args, plan, load_at_start)
    print_report(results, meta)
    payload = {
        "meta": meta,
        "targets": {
            "event_to_handler_p50_ms": TARGET_EVENT_P50_MS,
            "async_noop_events_per_s": TARGET_EVENTS_PER_S,
            "cold_start_ms": TARGET_COLD_START_MS,
        },
        **asdict(results),
    }
    write_json(args.output, payload)
    print(f"\nresults written to {args.output}")
    failed = results.errors or any(t.processed_per_s is None for t in results.throughput)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        sys.exit(130)
