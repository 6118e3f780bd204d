"""How an environment's output becomes CloudWatch log events.

Two channels leave an environment, as on Lambda:

- the telemetry pipe: awslambdaric writes every `logging` record and every unhandled-error
  report there as one frame (`_LAMBDA_TELEMETRY_LOG_FD`, see awslambdaric/bootstrap.py), so a
  traceback stays one event;
- stdout and stderr (one pipe, so their relative order holds): `print()` and anything else,
  split into one event per line.

Event messages keep their trailing newline, as Lambda's do in CloudWatch ("START RequestId: ...
Version: $LATEST\\n"); awslambdaric's error frames have none, which is why on AWS a traceback's
last line and "END RequestId" run together in a LogType=Tail.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import hashlib
import json
import os
import time
import uuid
from collections import deque
from collections.abc import Callable

from ..protocol.values import iso8601
from .runtimes import runtime_version

# CloudWatch Logs limits: an event is at most 256 KB counting 26 bytes of overhead; a
# PutLogEvents batch is at most 1 MiB (same overhead per event) and 10,000 events.
MAX_EVENT_BYTES = 262_144 - 26
BATCH_BYTES = 1_048_576
BATCH_EVENTS = 10_000
EVENT_OVERHEAD = 26
TAIL_BYTES = 4096  # what Invoke's LogType=Tail returns

_FRAME_HEADER = 16  # 4 bytes type, 4 bytes length, 8 bytes timestamp (microseconds), big-endian
_FRAME_MAGIC = b"\xa5\x5a"
_READ_SIZE = 256 * 1024

Emit = Callable[[int, str], None]


def stream_name(version: str, now: float | None = None) -> str:
    """`YYYY/MM/DD/[<version>]<32 hex>`: one stream per execution environment."""
    day = dt.datetime.fromtimestamp(time.time() if now is None else now, tz=dt.timezone.utc)
    return f"{day:%Y/%m/%d}/[{version}]{uuid.uuid4().hex}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _decode(data: bytes | bytearray, truncated: bool) -> str:
    # A cut in the middle of a UTF-8 sequence is dropped rather than shown as a replacement char.
    return bytes(data).decode("utf-8", "ignore" if truncated else "replace")


class _LineSplitter:
    """stdout/stderr bytes -> one event per line, each at most MAX_EVENT_BYTES."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._partial = bytearray()
        self._truncated = False

    def feed(self, data: bytes) -> None:
        ts = now_ms()
        parts = data.split(b"\n")
        for part in parts[:-1]:
            self._append(part)
            if not self._truncated:
                self._partial += b"\n"
            self._flush(ts)
        self._append(parts[-1])

    def _append(self, part: bytes) -> None:
        room = MAX_EVENT_BYTES - len(self._partial)
        if len(part) > room:
            self._partial += part[: max(room, 0)]
            self._truncated = True
        elif part:
            self._partial += part

    def _flush(self, ts: int) -> None:
        if self._partial:
            self._emit(ts, _decode(self._partial, self._truncated))
        self._partial = bytearray()
        self._truncated = False

    def finish(self) -> None:
        """A line without its newline yet (print(..., end="")) becomes an event of its own."""
        self._flush(now_ms())


class _FrameReader:
    """awslambdaric's telemetry frames -> one event per frame (log record or error report)."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._head = bytearray()
        self._remaining = 0  # message bytes still to come for the current frame
        self._message = bytearray()
        self._truncated = False
        self._ts = 0
        self._in_frame = False

    def feed(self, data: bytes) -> None:
        i, n = 0, len(data)
        while i < n:
            if not self._in_frame:
                take = min(_FRAME_HEADER - len(self._head), n - i)
                self._head += data[i : i + take]
                i += take
                if len(self._head) < _FRAME_HEADER:
                    return
                head = bytes(self._head)
                self._head.clear()
                if head[:2] != _FRAME_MAGIC:
                    # Not awslambdaric's framing: keep the bytes rather than lose them.
                    self._emit(now_ms(), _decode(head + data[i:], False))
                    return
                self._remaining = int.from_bytes(head[4:8], "big")
                self._ts = int.from_bytes(head[8:16], "big") // 1000
                self._message = bytearray()
                self._truncated = False
                self._in_frame = True
            take = min(self._remaining, n - i)
            room = MAX_EVENT_BYTES - len(self._message)
            if take > room:
                self._message += data[i : i + max(room, 0)]
                self._truncated = True
            else:
                self._message += data[i : i + take]
            i += take
            self._remaining -= take
            if self._remaining == 0:
                self._in_frame = False
                if self._message:
                    self._emit(self._ts, _decode(self._message, self._truncated))
                self._message = bytearray()


class OutputCapture:
    """Reads one environment's two output pipes from the event loop, without threads."""

    def __init__(self, stdout_fd: int, telemetry_fd: int, emit: Emit) -> None:
        self._loop = asyncio.get_running_loop()
        self._lines = _LineSplitter(emit)
        self._frames = _FrameReader(emit)
        self._fds: dict[int, Callable[[bytes], None]] = {
            telemetry_fd: self._frames.feed,
            stdout_fd: self._lines.feed,
        }
        for fd in self._fds:
            os.set_blocking(fd, False)
            self._loop.add_reader(fd, self._read, fd)

    def _read(self, fd: int) -> None:
        feed = self._fds.get(fd)
        if feed is None:
            return
        # Bounded: a handler printing without pause must not starve the loop.
        for _ in range(16):
            try:
                data = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno == errno.EINTR:
                    continue
                data = b""
            if not data:
                self._close_fd(fd)
                return
            feed(data)
            if len(data) < _READ_SIZE:
                return

    def drain(self) -> None:
        """Read whatever is already in the pipes.

        Called when the runtime posts a result: everything the handler logged before posting
        is in the pipe by then, so it lands before END.
        """
        for fd in list(self._fds):
            while fd in self._fds:
                try:
                    data = os.read(fd, _READ_SIZE)
                except BlockingIOError:
                    break
                except OSError:
                    data = b""
                if not data:
                    self._close_fd(fd)
                    break
                self._fds[fd](data)

    def finish_line(self) -> None:
        self._lines.finish()

    def _close_fd(self, fd: int) -> None:
        if self._fds.pop(fd, None) is not None:
            self._loop.remove_reader(fd)
            os.close(fd)

    def close(self) -> None:
        self.drain()
        self._lines.finish()
        for fd in list(self._fds):
            self._close_fd(fd)


class EventBatch:
    """The events of one invocation (or of the time between two), on their way to the sink.

    Timestamps are made non-decreasing in arrival order (CloudWatch wants batches in order);
    a batch is handed over early when it reaches PutLogEvents's limits.
    """

    def __init__(self, deliver: Callable[[list[tuple[int, str]]], None]) -> None:
        self._deliver = deliver
        self.events: list[tuple[int, str]] = []
        self._bytes = 0
        self._last_ts = 0
        self._tail: deque[tuple[str, int]] | None = None
        self._tail_bytes = 0

    def add(self, ts: int, message: str) -> None:
        if not message:
            return  # CloudWatch refuses empty messages
        ts = max(ts, self._last_ts)
        self._last_ts = ts
        size = len(message) if message.isascii() else len(message.encode("utf-8"))
        if self.events and (
            self._bytes + size + EVENT_OVERHEAD > BATCH_BYTES or len(self.events) >= BATCH_EVENTS
        ):
            self.flush()
        self.events.append((ts, message))
        self._bytes += size + EVENT_OVERHEAD
        tail = self._tail
        if tail is not None:
            tail.append((message, size))
            self._tail_bytes += size
            while self._tail_bytes - tail[0][1] >= TAIL_BYTES:
                self._tail_bytes -= tail.popleft()[1]

    def flush(self) -> None:
        if self.events:
            events, self.events, self._bytes = self.events, [], 0
            self._deliver(events)

    def start_tail(self) -> None:
        self._tail = deque()
        self._tail_bytes = 0

    def stop_tail(self) -> str:
        """The text collected since start_tail(), cut to its last TAIL_BYTES bytes."""
        parts, self._tail = self._tail or deque(), None
        data = "".join(message for message, _ in parts).encode("utf-8")
        if len(data) > TAIL_BYTES:
            data = data[-TAIL_BYTES:]
            return data.decode("utf-8", "ignore")
        return data.decode("utf-8")


_LEVELS = {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4, "FATAL": 5}


class PlatformLog:
    """Lambda's own lines (INIT_START, START, END, REPORT, timeouts, crashes), Text or JSON."""

    def __init__(
        self,
        *,
        log_format: str,
        system_log_level: str | None,
        runtime: str,
        interpreter: str,
        region: str,
        function_name: str,
        version: str,
    ) -> None:
        self.json = log_format.upper() == "JSON"
        level = (system_log_level or "INFO").upper()
        # JSON system logs are INFO records; a WARN system level hides them, as on AWS.
        self._info_enabled = not self.json or _LEVELS.get(level, 2) <= _LEVELS["INFO"]
        self._function_name = function_name
        self._version = version
        # Lambda names the managed runtime build that runs the function; Sluice has none, so it
        # names the interpreter instead, stably.
        digest = hashlib.sha256(f"{runtime}|{interpreter}".encode()).hexdigest()
        self._runtime_version = runtime_version(runtime)
        self._runtime_arn = f"arn:aws:lambda:{region}::runtime:{digest}"

    def _record(self, ts: float, kind: str, record: dict[str, object]) -> str | None:
        if not self._info_enabled:
            return None
        return json.dumps({"time": iso8601(ts), "type": kind, "record": record})

    def init_start(self, ts: float) -> str | None:
        if self.json:
            return self._record(
                ts,
                "platform.initStart",
                {
                    "initializationType": "on-demand",
                    "phase": "init",
                    "runtimeVersion": self._runtime_version,
                    "runtimeVersionArn": self._runtime_arn,
                    "functionName": self._function_name,
                    "functionVersion": self._version,
                },
            )
        return (
            f"INIT_START Runtime Version: {self._runtime_version}"
            f"\tRuntime Version ARN: {self._runtime_arn}\n"
        )

    def note(self, ts: float, text: str) -> str | None:
        """A line of Sluice's own about how the function runs (no Lambda counterpart)."""
        if self.json:
            return self._record(ts, "sluice.runtimeNote", {"message": text})
        return f"SLUICE_NOTE {text}\n"

    def start(self, ts: float, request_id: str) -> str | None:
        if self.json:
            return self._record(
                ts, "platform.start", {"requestId": request_id, "version": self._version}
            )
        return f"START RequestId: {request_id} Version: {self._version}\n"

    def end(self, request_id: str) -> str | None:
        # JSON system logs have no END record: platform.report closes the invocation.
        return None if self.json else f"END RequestId: {request_id}\n"

    def timed_out(self, ts: float, request_id: str, timeout: float) -> str | None:
        if self.json:
            return None  # carried by platform.report's status
        return f"{iso8601(ts)} {request_id} Task timed out after {timeout:.2f} seconds\n"

    def runtime_error(self, message: str, error_type: str) -> str | None:
        """A crash the platform saw (exit, out of memory): Lambda writes the reason, then the type."""
        if self.json:
            return None
        return f"{message}\n{error_type}\n"

    def report(
        self,
        ts: float,
        request_id: str,
        *,
        duration_ms: float,
        billed_ms: int,
        memory_mb: int,
        max_used_mb: int,
        init_ms: float | None,
        status: str,
        error_type: str | None,
    ) -> str | None:
        if self.json:
            metrics: dict[str, object] = {
                "durationMs": round(duration_ms, 2),
                "billedDurationMs": billed_ms,
                "memorySizeMB": memory_mb,
                "maxMemoryUsedMB": max_used_mb,
            }
            if init_ms is not None:
                metrics["initDurationMs"] = round(init_ms, 2)
            record: dict[str, object] = {
                "requestId": request_id,
                "metrics": metrics,
                "status": status,
            }
            if error_type:
                record["errorType"] = error_type
            return self._record(ts, "platform.report", record)
        line = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms"
            f"\tBilled Duration: {billed_ms} ms\tMemory Size: {memory_mb} MB"
            f"\tMax Memory Used: {max_used_mb} MB\t"
        )
        if init_ms is not None:
            line += f"Init Duration: {init_ms:.2f} ms\t"
        return line + "\n"
