"""The execution environments of this machine, shared by every function.

`max_environments` is local capacity, not AWS concurrency (DESIGN.md, invariant 5): when every
environment is busy an invocation waits for one (in arrival order, except that a waiter whose
function has a warm environment free may go first for a while: see `_wake`) and never fails for
it. Throttling by reserved or account concurrency is the engine's business, before it gets here.

Reuse follows Lambda: an invocation takes a warm environment of the same function version and
revision when one is idle (the most recently used, so that surplus ones age out), else cold
starts one, if need be stopping the least recently used idle environment of another function
to make room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import outcomes
from .spec import FunctionSpec, InvocationRequest, InvocationResult

if TYPE_CHECKING:
    from .environment import Environment, LogSink

log = logging.getLogger(__name__)


# How long the oldest waiting invocation may be passed over by ones that have a warm
# environment ready (see _wake).
HEAD_PATIENCE = 1.0


@dataclass
class _Waiter:
    """An invocation waiting for an environment, the pool being at capacity."""

    spec: FunctionSpec
    future: asyncio.Future[Environment]
    since: float = field(default_factory=time.monotonic)


class EnvironmentPool:
    def __init__(
        self,
        log_sink: LogSink,
        *,
        max_environments: int = 8,
        idle_timeout: float = 600.0,
        scratch_dir: Path,
    ) -> None:
        """`log_sink(group, stream, [(timestamp_ms, message), ...])` receives every log event,
        on the event loop's thread, one call per invocation (more when a batch would exceed
        PutLogEvents's limits). `scratch_dir` holds the environments' home and temp dirs."""
        self._sink = log_sink
        self._max = max(1, max_environments)
        self._idle_timeout = idle_timeout
        self._scratch = Path(scratch_dir)
        self._envs: set[Environment] = set()  # every live environment: the capacity in use
        self._idle: dict[tuple[str, str, str], list[Environment]] = {}
        self._waiters: deque[_Waiter] = deque()
        self._stopping: set[asyncio.Task[None]] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False

    # ------------------------------------------------------------------ invoking

    async def invoke(self, spec: FunctionSpec, request: InvocationRequest) -> InvocationResult:
        """Run one invocation; every handler fault comes back as a result, never raised.

        Raises RuntimeError only when the pool is shut down.
        """
        if self._closed:
            raise RuntimeError("environment pool is shut down")
        while True:
            env = None if self._waiters else self._lease(spec)
            if env is None:
                env = await self._wait_for(spec)
            if not env.dead:
                break
            self._release(env)  # died while handed over: take another
        try:
            return await env.invoke(request)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug of ours: still an outcome for the caller
            log.exception("runtime failure invoking %s", spec.function_arn)
            await env.stop()
            return _internal_failure(request, env, e)
        finally:
            self._release(env)

    def busy(self, function_arn: str | None = None) -> int:
        """Environments currently running (or cold-starting for) an invocation."""
        return sum(
            1
            for env in self._envs
            if env.leased and (function_arn is None or env.spec.function_arn == function_arn)
        )

    def _lease(self, spec: FunctionSpec) -> Environment | None:
        stack = self._idle.get(spec.key)
        while stack:
            env = stack.pop()
            if not stack:
                del self._idle[spec.key]
            if env.reusable:
                env.leased = True
                return env
            self._forget(env)
        if len(self._envs) >= self._max:
            victim = self._least_recently_used_idle()
            if victim is None:
                return None
            self._forget(victim)
        # Imported with the first environment (the process it starts takes far longer): a
        # server whose functions never run does not load how environments run.
        from .environment import Environment

        env = Environment(
            spec, scratch_dir=self._scratch, log_sink=self._sink, on_death=self._on_death
        )
        env.leased = True
        self._envs.add(env)
        return env

    async def _wait_for(self, spec: FunctionSpec) -> Environment:
        future: asyncio.Future[Environment] = asyncio.get_running_loop().create_future()
        self._waiters.append(_Waiter(spec, future))
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and future.exception() is None:
                self._release(future.result())  # handed over as we were cancelled: pass it on
            raise

    def _release(self, env: Environment) -> None:
        env.leased = False
        if env.reusable and not self._closed and env in self._envs:
            env.last_used = time.monotonic()
            self._idle.setdefault(env.key, []).append(env)
        else:
            self._forget(env)
        self._wake()

    def _wake(self) -> None:
        """Hand freed capacity to waiters.

        A waiter whose function has a warm environment idle gets it first, even ahead of older
        waiters: with more functions than environments, strict arrival order would stop a warm
        environment to cold-start another function on nearly every handover. Arrival order wins
        again once the oldest waiter has waited HEAD_PATIENCE, so no function starves.
        """
        waiters = self._waiters
        while waiters:
            head = waiters[0]
            if head.future.done():  # cancelled while waiting
                waiters.popleft()
                continue
            chosen = head
            if self._idle and time.monotonic() - head.since < HEAD_PATIENCE:
                chosen = next(
                    (w for w in waiters if not w.future.done() and w.spec.key in self._idle), head
                )
            env = self._lease(chosen.spec)
            if env is None:
                return
            waiters.remove(chosen)
            chosen.future.set_result(env)

    # ------------------------------------------------------------------ stopping

    def _least_recently_used_idle(self) -> Environment | None:
        oldest: Environment | None = None
        for stack in self._idle.values():
            for env in stack:
                if oldest is None or env.last_used < oldest.last_used:
                    oldest = env
        return oldest

    def _unlist_idle(self, env: Environment) -> None:
        stack = self._idle.get(env.key)
        if stack and env in stack:
            stack.remove(env)
            if not stack:
                del self._idle[env.key]

    def _forget(self, env: Environment) -> None:
        """Take an environment out of the pool and stop it in the background."""
        self._envs.discard(env)
        self._unlist_idle(env)
        if not env.stopped:
            task = asyncio.get_running_loop().create_task(env.stop())
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    def _on_death(self, env: Environment) -> None:
        if env.leased:
            return  # its invocation reports the death; _release cleans up
        self._envs.discard(env)
        self._unlist_idle(env)
        self._wake()

    def invalidate(self, function_arn: str) -> None:
        """Stop the idle environments of a function; busy ones stop after their invocation."""
        for env in list(self._envs):
            if env.spec.function_arn != function_arn:
                continue
            if env.leased:
                env.retire = True
            else:
                self._forget(env)
        self._wake()

    async def reap_idle(self) -> None:
        """Stop environments idle for longer than idle_timeout."""
        now = time.monotonic()
        for stack in list(self._idle.values()):
            for env in list(stack):
                if now - env.last_used > self._idle_timeout:
                    self._forget(env)
        await self._settle()
        self._wake()

    async def _settle(self) -> None:
        if self._stopping:
            await asyncio.gather(*list(self._stopping), return_exceptions=True)

    async def start(self) -> None:
        """Start the background reaper (every quarter of idle_timeout, at most every 30 s)."""
        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().create_task(self._reap_forever())

    async def _reap_forever(self) -> None:
        interval = min(30.0, max(0.05, self._idle_timeout / 4))
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reap_idle()
            except Exception:
                log.exception("reaping idle environments failed")

    async def stop_all(self) -> None:
        """Stop every environment, busy ones too (their invocations end as Runtime.ExitError),
        and keep the pool open: the next invocation cold-starts (the testing API's reset).

        Their output is dropped from now on. Idle ones are stopped in the background (reaping a
        process takes milliseconds each: not on the reset's path); busy ones are waited for, so
        the invocations they ran have ended when this returns."""
        busy = [env for env in self._envs if env.leased]
        for env in list(self._envs):
            env.silence()
            self._forget(env)  # out of the pool at once; an idle one stops in the background
        await asyncio.gather(*(env.stop() for env in busy), return_exceptions=True)
        self._wake()

    async def shutdown(self) -> None:
        """Kill every environment (busy ones too: their invocations end as Runtime.ExitError)."""
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.future.done():
                waiter.future.set_exception(RuntimeError("environment pool is shut down"))
        envs = list(self._envs)
        self._envs.clear()
        self._idle.clear()
        await asyncio.gather(*(env.stop() for env in envs), return_exceptions=True)
        await self._settle()


def _internal_failure(
    request: InvocationRequest, env: Environment, error: Exception
) -> InvocationResult:
    message = f"RequestId: {request.request_id} Error: {type(error).__name__}: {error}"
    return InvocationResult(
        request_id=request.request_id,
        ok=False,
        payload=outcomes.error_document("Runtime.Unknown", message),
        function_error=outcomes.UNHANDLED,
        error_type="Runtime.Unknown",
        error_message=message,
        duration_ms=0.0,
        billed_duration_ms=0,
        init_duration_ms=None,
        max_memory_used_mb=0,
        log_stream=env.log_stream,
        log_tail="",
    )
