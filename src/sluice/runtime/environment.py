"""One execution environment: a worker process running a runtime against our Runtime API.

Life cycle, as on Lambda: created by the invocation that finds no warm environment (a cold
start: INIT_START, the handler module is imported, the runtime asks for its first event), then
reused for one invocation at a time until it is reaped, invalidated, or ends badly. An
invocation that times out, exits the runtime, runs out of memory or oversteps the response
limit takes its environment with it; a handler exception does not.

Everything runs on the caller's event loop: the Runtime API socket, the two output pipes, the
deadline and the memory poll are callbacks, so the warm path is one socket write out, one
socket read in, and no thread hops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from . import outcomes
from .api import ACCEPTED, RuntimeApiConnection, error_body, listen, next_headers
from .launch import Sandbox, command_for, spawn_failure
from .lifeline import Lifeline
from .logs import EventBatch, OutputCapture, PlatformLog, now_ms, stream_name
from .memory import MemoryWatch
from .outcomes import Outcome
from .procfs import MIB
from .spec import MAX_RESPONSE_BYTES, FunctionSpec, InvocationRequest, InvocationResult

log = logging.getLogger(__name__)

LogSink = Callable[[str, str, list[tuple[int, str]]], None]

# Lambda gives on-demand initialization 10 s; when it runs over, Lambda retries it inside the
# invocation under the function's timeout. One limit covering both: the larger of the two.
INIT_LIMIT = 10.0
# Output held back during init, so that on an init failure it lands after START, where
# Lambda puts a failed init's output; past this many events it is released as it comes.
MAX_HELD_EVENTS = 1000
IDLE_FLUSH_DELAY = 0.2


class Environment:
    def __init__(
        self,
        spec: FunctionSpec,
        *,
        scratch_dir: Path,
        log_sink: LogSink,
        on_death: Callable[[Environment], None] | None = None,
    ) -> None:
        self.spec = spec
        self.key = spec.key
        self.log_stream = stream_name(spec.version)
        self.last_used = time.monotonic()
        self.leased = False  # set by the pool while an invocation owns the environment
        self.retire = False  # stop after the current invocation (new code or configuration)
        self.invocations = 0
        self._loop = asyncio.get_running_loop()
        self._sink = log_sink
        self._on_death = on_death
        self._dir = scratch_dir / "envs" / uuid.uuid4().hex
        self._home = scratch_dir / "home"
        self._batch = EventBatch(self._deliver)
        self._platform = PlatformLog(
            log_format=spec.log_format,
            system_log_level=spec.system_log_level,
            runtime=spec.runtime,
            interpreter=spec.interpreter,
            region=spec.region,
            function_name=spec.function_name,
            version=spec.version,
        )
        # new -> init -> idle <-> invoke ; any -> dead
        self.phase = "new"
        self._closed = False
        self._waiter: asyncio.Future[Outcome] | None = None
        self._request_id: str | None = None
        self._parked: RuntimeApiConnection | None = None  # the runtime, waiting on /next
        self._delivery: tuple[bytes, str] | None = None  # an event waiting for that /next
        self._held: list[tuple[int, str]] | None = None
        self._idle_flush: asyncio.TimerHandle | None = None
        self._server: asyncio.AbstractServer | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._command = spec.interpreter  # what is executed, named by a failed start
        self._exit_task: asyncio.Task[int] | None = None
        self._capture: OutputCapture | None = None
        self._lifeline: Lifeline | None = None
        self._memory = MemoryWatch(self._loop, spec.memory_mb * MIB, self._on_memory_exceeded)

    # ------------------------------------------------------------------ pool-facing

    @property
    def reusable(self) -> bool:
        return self.phase == "idle" and not self.retire

    @property
    def dead(self) -> bool:
        return self.phase == "dead"

    @property
    def stopped(self) -> bool:
        """Closed, and its process (if it ever had one) reaped."""
        return self._closed and (self._exit_task is None or self._exit_task.done())

    async def invoke(self, request: InvocationRequest) -> InvocationResult:
        """Run one invocation, cold-starting first if needed. Never raises for handler faults."""
        try:
            if self.phase == "new":
                started = time.monotonic()
                outcome = await self._initialize()
                init_ms = (time.monotonic() - started) * 1000
                if outcome.kind != "ready":
                    return await self._init_failed(request, outcome, init_ms)
                self.phase = "idle"
                self._release_held()
                return await self._run(request, init_ms)
            if self.phase != "idle":
                # The process died between lease and call: report it as Lambda would.
                return await self._init_failed(
                    request, Outcome("exit", returncode=self._returncode()), 0.0
                )
            return await self._run(request, None)
        except asyncio.CancelledError:
            # The caller gave up mid-invocation: the handler may still be running, so the
            # environment cannot be trusted with another event.
            self._kill()
            self._close()
            raise
        finally:
            self.invocations += 1
            self.last_used = time.monotonic()

    async def stop(self) -> None:
        """Kill the process group, reap it, flush the last output. Idempotent."""
        self._resolve(Outcome("exit", returncode=-signal.SIGKILL))
        await self._terminate()
        self._close()

    # ------------------------------------------------------------------ phases

    async def _initialize(self) -> Outcome:
        spec = self.spec
        self.phase = "init"
        waiter = self._waiter = self._loop.create_future()
        self._add(now_ms(), self._platform.init_start(time.time()))
        if spec.runtime_note:  # the function runs on another Python version: say so where its logs are
            self._add(now_ms(), self._platform.note(time.time(), spec.runtime_note))
        self._held = []
        try:
            await self._spawn()
        except OSError as e:  # a LaunchError too: nothing that can be started
            return Outcome("spawn_failed", detail=spawn_failure(e, self._command))
        self._memory.start()
        timer = self._loop.call_later(max(INIT_LIMIT, float(spec.timeout)), self._on_deadline)
        try:
            return await waiter
        finally:
            timer.cancel()
            self._memory.stop()

    async def _run(self, request: InvocationRequest, init_ms: float | None) -> InvocationResult:
        spec, rid = self.spec, request.request_id
        if self._idle_flush is not None:
            self._idle_flush.cancel()
            self._idle_flush = None
        self._batch.flush()  # output from between invocations goes out on its own
        waiter = self._waiter = self._loop.create_future()
        self._request_id = rid
        self.phase = "invoke"
        wall = time.time()
        self._batch.start_tail()
        self._add(now_ms(), self._platform.start(wall, rid))
        self._dispatch(request, int(wall * 1000) + spec.timeout * 1000)
        started = time.monotonic()
        timer = self._loop.call_later(spec.timeout, self._on_deadline)
        self._memory.start()
        try:
            outcome = await waiter
        finally:
            timer.cancel()
            self._memory.stop()
        duration_ms = (time.monotonic() - started) * 1000
        self._request_id = None
        self._delivery = None
        if self._capture is not None:
            self._capture.drain()
        if outcome.kind in ("response", "error") and self._memory.sample(self._returncode() is None) > self._memory.limit:
            # Lambda's cgroup would have killed it on the way: the spike came between polls.
            self._kill()
            outcome = Outcome("oom")
        if not outcome.keeps_environment or self.retire:
            await self._terminate()
        if self._capture is not None:
            self._capture.finish_line()  # print(..., end="") still belongs to this invocation
        return self._finish(request, outcome, duration_ms, init_ms)

    async def _init_failed(
        self, request: InvocationRequest, outcome: Outcome, init_ms: float
    ) -> InvocationResult:
        """The runtime never became ready: the invocation that asked for it gets the error.

        Lambda bills a failed init as part of the invocation, so its time is the Duration and
        there is no Init Duration.
        """
        await self._terminate()
        if self._capture is not None:
            self._capture.finish_line()
        self._request_id = None
        self._batch.start_tail()
        self._add(now_ms(), self._platform.start(time.time(), request.request_id))
        self._release_held()
        return self._finish(request, outcome, init_ms, None)

    def _finish(
        self,
        request: InvocationRequest,
        outcome: Outcome,
        duration_ms: float,
        init_ms: float | None,
    ) -> InvocationResult:
        spec, rid = self.spec, request.request_id
        ok = outcome.kind == "response"
        payload, error_type, message = outcomes.described(outcome, rid, spec.timeout)
        if outcome.kind == "timeout":
            self._add(now_ms(), self._platform.timed_out(time.time(), rid, spec.timeout))
        elif outcome.kind in ("exit", "oom", "spawn_failed"):
            self._add(now_ms(), self._platform.runtime_error(message or "", error_type or ""))
        # Lambda's figure is the environment's peak so far, over all its invocations.
        used_mb = spec.memory_mb if outcome.kind == "oom" else math.ceil(self._memory.peak / MIB)
        billed = max(1, math.ceil(duration_ms))
        status = "success" if ok else ("timeout" if outcome.kind == "timeout" else "error")
        self._add(now_ms(), self._platform.end(rid))
        self._add(now_ms(), self._platform.report(
            time.time(), rid, duration_ms=duration_ms, billed_ms=billed, memory_mb=spec.memory_mb,
            max_used_mb=used_mb, init_ms=init_ms, status=status, error_type=error_type))
        tail = self._batch.stop_tail()
        self._batch.flush()
        alive = self._proc is not None and self._proc.returncode is None
        if outcome.keeps_environment and alive and not self.retire and not self._closed:
            self.phase = "idle"
        else:
            self._close()
        return InvocationResult(
            request_id=rid, ok=ok, payload=payload, function_error=None if ok else outcomes.UNHANDLED,
            error_type=error_type, error_message=message, duration_ms=duration_ms, billed_duration_ms=billed,
            init_duration_ms=init_ms, max_memory_used_mb=used_mb, log_stream=self.log_stream, log_tail=tail)

    # ------------------------------------------------------------------ process

    async def _spawn(self) -> None:
        spec = self.spec
        tmp = self._dir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        self._home.mkdir(parents=True, exist_ok=True)
        self._server, port = await listen(self)
        out_r, out_w = os.pipe()
        tel_r, tel_w = os.pipe()
        lifeline = self._lifeline = Lifeline()
        try:
            launch = command_for(
                spec,
                f"127.0.0.1:{port}",
                Sandbox(self.log_stream, tel_w, self._dir, self._home, tmp),
            )
            self._command = launch.argv[0]
            self._proc = await asyncio.create_subprocess_exec(
                *launch.argv,
                cwd=str(launch.cwd),
                env=launch.env,
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=out_w,
                pass_fds=(tel_w, lifeline.read_fd),
                start_new_session=True,  # its own process group: one kill takes every child
            )
        except BaseException:
            os.close(out_r)
            os.close(tel_r)
            lifeline.close()
            raise
        finally:
            os.close(out_w)
            os.close(tel_w)
        lifeline.arm(self._proc.pid)  # the group dies with this server, even on kill -9
        self._capture = OutputCapture(out_r, tel_r, self._on_output)
        self._memory.attach(self._proc.pid)
        self._exit_task = self._loop.create_task(self._proc.wait())
        self._exit_task.add_done_callback(self._on_exit)

    def _returncode(self) -> int | None:
        return self._proc.returncode if self._proc is not None else None

    def _kill(self) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    async def _terminate(self) -> None:
        """Kill and reap the process, then read what it wrote before dying."""
        self._kill()
        task = self._exit_task
        if task is not None and not task.done():
            await asyncio.wait({task}, timeout=5.0)
        if self._capture is not None:
            self._capture.drain()

    def _on_exit(self, task: asyncio.Task[int]) -> None:
        code = None if task.cancelled() or task.exception() else task.result()
        proc = self._proc
        if proc is not None:
            # Children the runtime left behind share its process group: take them too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        self._resolve(Outcome("exit", returncode=code))
        if self.phase == "idle":
            # Died between invocations (a background thread called os._exit, say).
            self._close()
            if self._on_death is not None:
                self._on_death(self)

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.phase = "dead"
        self._memory.close()
        if self._idle_flush is not None:
            self._idle_flush.cancel()
            self._idle_flush = None
        self._kill()
        if self._capture is not None:
            self._capture.close()
        if self._lifeline is not None:
            self._lifeline.close()
        if self._held is not None:
            self._release_held()
        self._batch.flush()
        self._parked = None
        if self._server is not None:
            self._server.close()
        if self._dir.exists():
            self._loop.run_in_executor(None, shutil.rmtree, self._dir, True)

    # ------------------------------------------------------------------ events and deadlines

    def _dispatch(self, request: InvocationRequest, deadline_ms: int) -> None:
        headers = next_headers(request, deadline_ms)
        # Lambda hands an empty payload to the handler as an empty JSON object.
        payload = request.payload or b"{}"
        conn, self._parked = self._parked, None
        if conn is not None and conn.open:
            conn.send(200, payload, headers)
        else:
            self._delivery = (payload, headers)

    def _resolve(self, outcome: Outcome) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(outcome)

    def _on_deadline(self) -> None:
        self._kill()
        self._resolve(Outcome("timeout"))

    def _on_memory_exceeded(self) -> None:
        self._kill()
        self._resolve(Outcome("oom"))

    # ------------------------------------------------------------------ logs

    def _on_output(self, ts: int, message: str) -> None:
        held = self._held
        if held is not None:
            held.append((ts, message))
            if len(held) >= MAX_HELD_EVENTS:
                self._release_held()
            return
        self._batch.add(ts, message)
        if self.phase not in ("invoke", "init") and self._idle_flush is None and not self._closed:
            self._idle_flush = self._loop.call_later(IDLE_FLUSH_DELAY, self._flush_idle)

    def _flush_idle(self) -> None:
        self._idle_flush = None
        if self.phase != "invoke":
            self._batch.flush()

    def _release_held(self) -> None:
        held, self._held = self._held, None
        for ts, message in held or ():
            self._batch.add(ts, message)

    def _add(self, ts: int, message: str | None) -> None:
        if message:
            self._batch.add(ts, message)

    def silence(self) -> None:
        """Drop whatever output comes from now on (a reset forgot this environment's function:
        its last lines must not write a log group back)."""
        self._sink = _drop_output

    def _deliver(self, events: list[tuple[int, str]]) -> None:
        try:
            self._sink(self.spec.group, self.log_stream, events)
        except Exception:  # a broken sink must not take invocations down with it
            log.exception("log sink failed for %s %s", self.spec.group, self.log_stream)

    # ------------------------------------------------------------------ Runtime API

    def api_next(self, conn: RuntimeApiConnection) -> None:
        if self.phase == "init":
            self._memory.sample(self._returncode() is None)
            self._resolve(Outcome("ready"))
        delivery, self._delivery = self._delivery, None
        if delivery is not None:
            conn.send(200, delivery[0], delivery[1])
        else:
            self._parked = conn

    def _current(self, request_id: str) -> bool:
        waiter = self._waiter
        return (
            self.phase == "invoke"
            and request_id == self._request_id
            and waiter is not None
            and not waiter.done()
        )

    def api_response(self, request_id: str, body: bytes) -> tuple[int, bytes]:
        if not self._current(request_id):
            return 400, error_body("InvalidRequestID", "Invalid request ID")
        self._resolve(Outcome("response", body))
        return 202, ACCEPTED

    def api_response_too_large(self, request_id: str) -> tuple[int, bytes]:
        if not self._current(request_id):
            return 400, error_body("InvalidRequestID", "Invalid request ID")
        # The runtime client treats the refusal as fatal; ending it here keeps its dying
        # traceback out of the logs, and the outcome ends the environment anyway.
        self._kill()
        self._resolve(Outcome("too_large"))
        return 413, error_body(
            "RequestEntityTooLarge",
            f"Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
        )

    def api_error(self, request_id: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if not self._current(request_id):
            return 400, error_body("InvalidRequestID", "Invalid request ID")
        error_type = headers.get("lambda-runtime-function-error-type")
        self._resolve(Outcome("error", body, error_type=error_type))
        return 202, ACCEPTED

    def api_init_error(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.phase != "init":
            return 403, error_body("InvalidStateTransition", "State transition is not allowed")
        error_type = headers.get("lambda-runtime-function-error-type")
        self._memory.sample(self._returncode() is None)  # still alive now; it exits right after this answer
        self._resolve(Outcome("init_error", body, error_type=error_type))
        return 202, ACCEPTED

    def api_connection_lost(self, conn: RuntimeApiConnection) -> None:
        if self._parked is conn:
            self._parked = None


def _drop_output(group: str, stream: str, events: list[tuple[int, str]]) -> None:
    pass
