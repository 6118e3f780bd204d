"""SQS event source mappings: poll a queue, invoke the function with the SQS event, delete
what succeeded (all of a batch, or all but the reported `batchItemFailures`).

Messages are received and deleted through SQS's own operations, so visibility timeouts,
receive counts and the queue's redrive policy apply exactly as for any consumer: a failed
batch comes back after its visibility timeout and reaches the queue's DLQ after maxReceiveCount.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid
from typing import Any, Protocol

from .. import realtime
from ..clock import Clock
from ..protocol import safejson
from ..protocol.context import RequestContext
from ..protocol.errors import ServiceError
from ..runtime import InvocationRequest
from .invoker import Invoker
from .lifecycle import CANCEL_WAIT, Signal, finish_or_cancel, supervise
from .policy import ESM_BACKOFF, Retry
from .types import ResolvedFunction

log = logging.getLogger("sluice.engine.pollers")

IDLE_WAIT_SECONDS = 20  # long poll, as Lambda's pollers do (real time: SQS's WaitTimeSeconds)
# An empty long poll that answers sooner than this (real seconds) did not wait: the queue is
# going away or the server is stopping. The poller backs off instead of asking again at once.
EARLY_ANSWER_SECONDS = 0.5
RECHECK_SECONDS = 30.0  # engine seconds: a safety net; `changed` is what normally wakes the supervisor


def sqs_event(records: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda builds from received SQS messages."""
    out = []
    for m in records:
        attrs = {}
        for name, value in (m.get("MessageAttributes") or {}).items():
            attrs[name] = {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue").decode() if isinstance(value.get("BinaryValue"), bytes)
                else value.get("BinaryValue"),
                "stringListValues": [], "binaryListValues": [], "dataType": value["DataType"],
            }
            attrs[name] = {k: v for k, v in attrs[name].items() if v is not None}
        out.append({
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes") or {}, "messageAttributes": attrs,
            "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": queue_arn,
            "awsRegion": region,
        })
    return {"Records": out}


class Mappings(Protocol):
    """What the pollers need from Lambda (LambdaService provides it)."""

    def enabled_mappings(self) -> list[dict[str, Any]]: ...

    def resolve(self, FunctionName: str, Qualifier: str | None = None) -> ResolvedFunction: ...  # noqa: N803


class Receiver(Protocol):
    """The SQS operations a poller uses, as any consumer would."""

    async def receive_message(self, ctx: RequestContext, **params: Any) -> dict[str, Any]: ...

    async def delete_message_batch(self, ctx: RequestContext, **params: Any) -> dict[str, Any]: ...


class SqsPollers:
    """Every SQS event source mapping's pollers: an engine Worker.

    A poller's long poll is real time (SQS's WaitTimeSeconds); its backoff after a failure is
    engine time (`ESM_BACKOFF` on the Clock). On stop, idle pollers (waiting in a long poll or a
    backoff) are cancelled at once; a batch being processed gets the grace, then is cancelled:
    its messages come back after their visibility timeout, as on AWS."""

    name = "sqs-event-source-pollers"

    def __init__(self, clock: Clock, sqs: Receiver, functions: Mappings, invoker: Invoker, account: str,
                 region: str, changed: Signal) -> None:
        """`changed`: set (from any thread) when mappings are created, updated or deleted."""
        self.clock = clock
        self.sqs = sqs
        self.functions = functions
        self.invoker = invoker
        self.account = account
        self.region = region
        self.changed = changed
        self._tasks: dict[str, list[asyncio.Task[None]]] = {}
        self._configs: dict[str, dict[str, Any]] = {}
        self._processing: set[asyncio.Task[None]] = set()  # pollers with a batch under way
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self._paused = False  # a reset is emptying the store: no poller runs (see `pause`)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self.changed.bind()
        self._stopping = False
        loop = asyncio.get_running_loop()
        self._supervisor = loop.create_task(supervise(self.name, self.clock, self._supervise),
                                            name="sluice-esm-supervisor")

    def request_stop(self) -> None:
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
        for task in self._all_tasks():
            if task not in self._processing:
                task.cancel()

    async def stop(self, grace: float) -> None:
        self.request_stop()
        tasks = self._all_tasks()
        if self._supervisor is not None:
            tasks.add(self._supervisor)
        await finish_or_cancel(tasks, grace)
        self._tasks.clear()
        self._supervisor = None

    async def pause(self) -> None:
        """For a reset: cancel every poller, a batch under way too (its mapping and queue are
        about to vanish), and start none until `resume`."""
        self._paused = True
        tasks = self._all_tasks()
        self._tasks.clear()
        self._configs.clear()
        for task in tasks:
            task.cancel()
        await realtime.wait_tasks(tasks, CANCEL_WAIT)

    def resume(self) -> None:
        self._paused = False
        self.changed.set()  # read the mappings again: none, on an emptied store

    def _all_tasks(self) -> set[asyncio.Task[None]]:
        return {t for ts in self._tasks.values() for t in ts}

    # -- the mappings ----------------------------------------------------------------------

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            self.changed.event.clear()
            wanted = {m["UUID"]: m for m in await loop.run_in_executor(None, self.functions.enabled_mappings)}
            for mapping_id in list(self._tasks):
                if mapping_id not in wanted or wanted[mapping_id] != self._configs.get(mapping_id):
                    for t in self._tasks.pop(mapping_id):
                        t.cancel()
            for mapping_id, config in wanted.items():
                if mapping_id not in self._tasks and not self._stopping and not self._paused:
                    self._configs[mapping_id] = config
                    workers = (config.get("ScalingConfig") or {}).get("MaximumConcurrency") or 2
                    self._tasks[mapping_id] = [
                        loop.create_task(supervise(f"esm-{mapping_id}", self.clock, functools.partial(self._poll, config)))
                        for _ in range(workers)]
            await self.clock.sleep(RECHECK_SECONDS, self.changed.event)

    def _ctx(self) -> RequestContext:
        return RequestContext(str(uuid.uuid4()), "", self.account, self.region, "sqs",
                              endpoint="http://sluice.internal")

    async def _poll(self, config: dict[str, Any]) -> None:
        queue_arn = config["EventSourceArn"]
        _, _, _, region, account, name = queue_arn.split(":", 5)
        url = f"http://sluice.internal/{account}/{name}"
        batch = config.get("BatchSize") or 10
        window = config.get("MaximumBatchingWindowInSeconds") or 0
        failures = 0
        task = asyncio.current_task()
        assert task is not None
        while not self._stopping:
            try:
                records = await self._receive(url, batch, window)
                if records is None:  # the queue answered at once with nothing: it is closing
                    failures += 1
                elif records:
                    failures = 0
                    self._processing.add(task)
                    try:
                        with self.clock.working():  # a ManualClock's advance waits for the batch's handler
                            await self._process(config, url, queue_arn, records)
                    finally:
                        self._processing.discard(task)
                    continue
                else:
                    failures = 0
                    continue
            except ServiceError as err:  # queue deleted, function gone: keep trying, slowly
                log.info("event source mapping %s: %s", config["UUID"], err)
                failures += 1
            decision = ESM_BACKOFF.decide(failures)
            await self.clock.sleep(decision.delay if isinstance(decision, Retry) else 60.0)

    async def _receive(self, url: str, batch: int, window: float) -> list[dict[str, Any]] | None:
        """Long-poll until messages arrive (and the batching window is over, or the batch full);
        None if a long poll came back empty at once (the server is stopping), so the caller
        backs off instead of spinning."""
        records: list[dict[str, Any]] = []
        deadline = self.clock.monotonic() + window
        wait = IDLE_WAIT_SECONDS
        while len(records) < batch and not self._stopping:
            asked = realtime.monotonic()
            got = await self.sqs.receive_message(
                self._ctx(), QueueUrl=url, MaxNumberOfMessages=min(10, batch - len(records)),
                WaitTimeSeconds=wait, AttributeNames=["All"], MessageAttributeNames=["All"])
            records += got.get("Messages") or []
            remaining = deadline - self.clock.monotonic()
            if not records:
                if realtime.monotonic() - asked < EARLY_ANSWER_SECONDS:
                    return None
                continue  # keep long-polling until something arrives
            if remaining <= 0:
                break
            wait = min(20, max(1, int(remaining)))
        return records

    async def _process(self, config: dict[str, Any], url: str, queue_arn: str,
                       records: list[dict[str, Any]]) -> None:
        arn = config["FunctionArn"]
        name_and_q = arn.split(":function:", 1)[1]
        name, _, qualifier = name_and_q.partition(":")
        fn = self.functions.resolve(name, qualifier or None)
        event = sqs_event(records, queue_arn, self.region)
        request = InvocationRequest(request_id=str(uuid.uuid4()), payload=json.dumps(event).encode(),
                                    invoked_arn=fn.invoked_arn)
        try:
            result = await self.invoker.invoke_sync(fn, request)
        except ServiceError:  # throttled: the messages come back after their visibility timeout
            return
        if not result.ok:
            return  # the whole batch is retried by SQS's visibility timeout (and its redrive policy)
        failed: set[str] = set()
        if "ReportBatchItemFailures" in (config.get("FunctionResponseTypes") or []):
            failed = _reported_failures(result.payload, {r["MessageId"] for r in records})
            if failed is None:
                return  # an unreadable report fails the whole batch, as on AWS
        done = [r for r in records if r["MessageId"] not in failed]
        if done:
            entries = [{"Id": str(i), "ReceiptHandle": r["ReceiptHandle"]} for i, r in enumerate(done)]
            for start in range(0, len(entries), 10):
                await self.sqs.delete_message_batch(self._ctx(), QueueUrl=url, Entries=entries[start:start + 10])


def _reported_failures(payload: bytes, ids: set[str]) -> Any:
    """The message ids a ReportBatchItemFailures response names, or None if it is malformed."""
    try:
        body = safejson.loads(payload)  # the handler's output: any depth
    except ValueError:
        return None
    if body is None or body == {} or not isinstance(body, dict):
        return set()
    items = body.get("batchItemFailures")
    if items is None:
        return set()
    if not isinstance(items, list):
        return None
    failed = set()
    for item in items:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not ident or ident not in ids:
            return None
        failed.add(ident)
    return failed
