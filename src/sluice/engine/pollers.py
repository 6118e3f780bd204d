"""SQS event source mappings: poll a queue, invoke the function with the SQS event, delete
what succeeded (all of a batch, or all but the reported `batchItemFailures`).

Messages are received and deleted through SQS's own operations, so visibility timeouts,
receive counts and the queue's redrive policy apply exactly as for any consumer: a failed
batch comes back after its visibility timeout and reaches the queue's DLQ after maxReceiveCount.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from ..clock import Clock
from ..protocol.context import RequestContext
from ..protocol.errors import ServiceError
from ..runtime import InvocationRequest
from .types import ResolvedFunction

log = logging.getLogger("sluice.engine.pollers")

IDLE_WAIT_SECONDS = 20  # long poll, as Lambda's pollers do


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


class SqsPollers:
    def __init__(self, clock: Clock, sqs: Any, mappings: Callable[[], list[dict[str, Any]]],
                 resolve: Callable[[str, str | None], ResolvedFunction], invoker: Any, account: str, region: str) -> None:
        self.clock = clock
        self.sqs = sqs
        self.mappings = mappings
        self.resolve = resolve
        self.invoker = invoker
        self.account = account
        self.region = region
        self._tasks: dict[str, list[asyncio.Task[None]]] = {}
        self._configs: dict[str, dict[str, Any]] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    def changed(self) -> None:
        """Mappings were created, updated or deleted (called from any thread)."""
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._changed.set)

    _loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._supervisor = self._loop.create_task(self._supervise(), name="sluice-esm-supervisor")

    async def shutdown(self) -> None:
        tasks = [t for ts in self._tasks.values() for t in ts]
        if self._supervisor:
            tasks.append(self._supervisor)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _supervise(self) -> None:
        while True:
            self._changed.clear()
            loop = asyncio.get_running_loop()
            wanted = {m["UUID"]: m for m in await loop.run_in_executor(None, self.mappings)}
            for mapping_id in list(self._tasks):
                if mapping_id not in wanted or wanted[mapping_id] != self._configs.get(mapping_id):
                    for t in self._tasks.pop(mapping_id):
                        t.cancel()
            for mapping_id, config in wanted.items():
                if mapping_id not in self._tasks:
                    self._configs[mapping_id] = config
                    workers = (config.get("ScalingConfig") or {}).get("MaximumConcurrency") or 2
                    self._tasks[mapping_id] = [loop.create_task(self._poll(config)) for _ in range(workers)]
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=30)

    def _ctx(self) -> RequestContext:
        return RequestContext(str(uuid.uuid4()), "", self.account, self.region, "sqs",
                              endpoint="http://sluice.internal")

    async def _poll(self, config: dict[str, Any]) -> None:
        queue_arn = config["EventSourceArn"]
        _, _, _, region, account, name = queue_arn.split(":", 5)
        url = f"http://sluice.internal/{account}/{name}"
        batch = config.get("BatchSize") or 10
        window = config.get("MaximumBatchingWindowInSeconds") or 0
        backoff = 1.0
        while True:
            try:
                records = await self._receive(url, batch, window)
                if records:
                    await self._process(config, url, queue_arn, records)
                backoff = 1.0
            except asyncio.CancelledError:
                raise
            except ServiceError as err:  # queue deleted, function gone: keep trying, slowly
                log.info("event source mapping %s: %s", config["UUID"], err)
                await self.clock.engine_sleep(backoff)
                backoff = min(backoff * 2, 60.0)
            except Exception:
                log.exception("event source mapping %s failed", config["UUID"])
                await self.clock.engine_sleep(backoff)
                backoff = min(backoff * 2, 60.0)

    async def _receive(self, url: str, batch: int, window: float) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        deadline = self.clock.monotonic() + window
        wait = IDLE_WAIT_SECONDS
        while len(records) < batch:
            got = await self.sqs.receive_message(
                self._ctx(), QueueUrl=url, MaxNumberOfMessages=min(10, batch - len(records)),
                WaitTimeSeconds=wait, AttributeNames=["All"], MessageAttributeNames=["All"])
            records += got.get("Messages") or []
            remaining = deadline - self.clock.monotonic()
            if not records:
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
        fn = self.resolve(name, qualifier or None)
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
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
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
