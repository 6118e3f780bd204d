"""Short polls and what the loop remembers of a queue's visible messages (SqsState.maybe_visible).

A short poll of a queue the loop's own sends and receives left "may hold visible messages" goes
straight to the write that takes them; any other queue is read first. These scenarios change a
queue behind that memory's back (a purge, a delivery from a worker thread, a visibility change,
a visibility timeout running out) and check that every receive still answers what the store
holds. Also: message ids and receipt handles as the send and receive write them. In process,
with the service bound to a running loop as the server binds it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sluice.clock import Clock
from sluice.protocol.context import RequestContext
from sluice.schema import SCHEMA
from sluice.services.delivery import Delivery
from sluice.services.sqs.service import SqsService
from sluice.settings import Settings
from sluice.store import Store

CTX = RequestContext("r", "h", "000000000000", "us-east-1", "sqs", endpoint="http://x")
URL = "http://x/000000000000/q"
ARN = "arn:aws:sqs:us-east-1:000000000000:q"


def run(tmp_path: Path, scenario: Any) -> None:
    store = Store(tmp_path / "data", SCHEMA)
    try:
        service = SqsService(store, Clock(), Settings(data_dir=tmp_path / "data"))
        service.queues.create_queue(CTX, QueueName="q")

        async def main() -> None:
            await service.start()
            try:
                await scenario(service)
            finally:
                await service.stop()

        asyncio.run(main())
    finally:
        store.close()


async def bodies(service: SqsService, count: int = 10, visibility: int | None = None) -> list[str]:
    got = await service.receiving.receive_message(CTX, QueueUrl=URL, MaxNumberOfMessages=count,
                                                  VisibilityTimeout=visibility, WaitTimeSeconds=0)
    return [m["Body"] for m in got.get("Messages", [])]


def test_purged_behind_the_loop_then_delivered_from_a_worker_thread(tmp_path: Path) -> None:
    async def scenario(service: SqsService) -> None:
        for body in ("a", "b", "c"):
            await service.sending.send_message(CTX, QueueUrl=URL, MessageBody=body)
        assert await bodies(service, count=1) == ["a"]  # took all it asked for: more may be there
        await asyncio.to_thread(service.queues.purge_queue, CTX, QueueUrl=URL)
        assert await bodies(service) == []  # the write finds the purge
        assert await bodies(service) == []
        result = await asyncio.to_thread(service.deliver, ARN, Delivery(body="d"))
        assert result.ok
        assert await bodies(service) == ["d"]  # read first: the delivery is seen

    run(tmp_path, scenario)


def test_made_visible_again_after_the_queue_looked_empty(tmp_path: Path) -> None:
    async def scenario(service: SqsService) -> None:
        await service.sending.send_message(CTX, QueueUrl=URL, MessageBody="a")
        got = await service.receiving.receive_message(CTX, QueueUrl=URL, MaxNumberOfMessages=5, WaitTimeSeconds=0)
        (message,) = got["Messages"]
        assert await bodies(service) == []  # in flight
        await service.receiving.change_message_visibility(CTX, QueueUrl=URL, ReceiptHandle=message["ReceiptHandle"],
                                                          VisibilityTimeout=0)
        assert await bodies(service, visibility=0) == ["a"]
        assert await bodies(service) == ["a"]  # a visibility timeout of 0 ran out at once

    run(tmp_path, scenario)


def test_delayed_messages_stay_hidden_and_long_polls_still_answer(tmp_path: Path) -> None:
    async def scenario(service: SqsService) -> None:
        await service.sending.send_message(CTX, QueueUrl=URL, MessageBody="later", DelaySeconds=900)
        assert await bodies(service) == []
        await service.sending.send_message(CTX, QueueUrl=URL, MessageBody="now")
        got = await service.receiving.receive_message(CTX, QueueUrl=URL, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        assert [m["Body"] for m in got["Messages"]] == ["now"]
        assert await bodies(service) == []

    run(tmp_path, scenario)


def test_message_ids_are_version_4_uuids_and_handles_name_their_receive(tmp_path: Path) -> None:
    import uuid

    async def scenario(service: SqsService) -> None:
        ids = set()
        for i in range(200):
            sent = await service.sending.send_message(CTX, QueueUrl=URL, MessageBody=f"m{i}")
            parsed = uuid.UUID(sent["MessageId"])
            assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, sent["MessageId"])
            ids.add(sent["MessageId"])
        assert len(ids) == 200
        got = await service.receiving.receive_message(CTX, QueueUrl=URL, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        for message in got["Messages"]:
            assert message["MessageId"] in ids
            await service.receiving.delete_message(CTX, QueueUrl=URL, ReceiptHandle=message["ReceiptHandle"])
        depth = service.depth(ARN)
        assert depth is not None and (depth.visible, depth.in_flight) == (190, 0)

    run(tmp_path, scenario)


def test_a_delivery_reaches_a_parked_long_poll_and_later_short_polls(tmp_path: Path) -> None:
    async def scenario(service: SqsService) -> None:
        poll = asyncio.ensure_future(service.receiving.receive_message(CTX, QueueUrl=URL, MaxNumberOfMessages=10,
                                                                      WaitTimeSeconds=20))
        while not service.state.waiters.has_waiting(service.state.by_url(URL, "us-east-1").id):
            await asyncio.sleep(0)  # until the poll is registered (a yield to it, no clock involved)
        first = await asyncio.to_thread(service.deliver, ARN, Delivery(body="to the poll"))
        got = await poll
        assert [(m["MessageId"], m["Body"]) for m in got["Messages"]] == [(first.message_id, "to the poll")]
        second = await asyncio.to_thread(service.deliver, ARN, Delivery(body="to the next receive"))
        assert second.ok
        assert await bodies(service) == ["to the next receive"]
        assert await bodies(service) == []

    run(tmp_path, scenario)
