"""Redrive a dead-letter queue: move each message back to where it should have been handled, and
say what became of each one.

`move_all` is the one redrive loop, shared by `sluice dlq redrive <queue> --to <function>` (a
client of a running Sluice through boto3, below) and the web console's redrive button (through
the services' operations): the two differ only in how they reach the queue and the target.

A message is deleted from the DLQ only once its target has durably accepted it (Lambda's 202 or
SQS's message id), so a crash midway loses nothing; an event that fails again lands in the DLQ
again, as on AWS. A refused send (AccessDenied, a deleted function) makes that message visible
again at once and stops the redrive: the rest would be refused the same way.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

RECEIVE_HIDE_SECONDS = 300  # how long a message being moved stays invisible to other consumers


@dataclass(frozen=True)
class DlqMessage:
    """A message received from the dead-letter queue, to be moved."""

    message_id: str
    body: str
    receipt: str
    attributes: dict[str, Any] = field(default_factory=dict)  # its MessageAttributes, as SQS gives them


@dataclass(frozen=True)
class Moved:
    """One message's result: what the target answered (`sent_as`: the Lambda request id or the
    new message id), or why it was not moved (`error`: "Code: message")."""

    message_id: str
    sent_as: str | None = None
    error: str | None = None


class SendRefused(Exception):
    """The target would not take a message (the AWS error code and message)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class DeadLetters(Protocol):
    """The DLQ side of a redrive."""

    async def depth(self) -> int:
        """How many messages are visible now (ApproximateNumberOfMessages)."""
        ...

    async def receive(self) -> list[DlqMessage]:
        """Up to 10 messages, hidden from other consumers while they are moved."""
        ...

    async def delete(self, message: DlqMessage) -> None: ...

    async def release(self, message: DlqMessage) -> None:
        """Make a message that was not moved visible again at once."""
        ...


Send = Callable[[DlqMessage], Awaitable[str]]  # raises SendRefused


async def move_all(dlq: DeadLetters, send: Send) -> list[Moved]:
    """Move the messages the queue holds when the redrive starts, oldest batches first.

    Only that many: an event redriven to a function that fails it again at once (no retries, a
    fast clock) comes back to this queue as a new message while the redrive runs, and must not
    be redriven in a loop."""
    budget = await dlq.depth()
    moved: list[Moved] = []
    while len(moved) < budget:
        batch = await dlq.receive()
        if not batch:
            break
        for i, message in enumerate(batch):
            try:
                sent_as = await send(message)
            except SendRefused as refused:
                moved.append(Moved(message.message_id, error=str(refused)))
                for left in batch[i:]:
                    await dlq.release(left)
                return moved
            await dlq.delete(message)
            moved.append(Moved(message.message_id, sent_as=sent_as))
    return moved


# -- `sluice dlq redrive`: the same loop through boto3 ---------------------------------------------


def _client(service: str, endpoint: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    # The caller's own credentials (with --enforce-iam they must be allowed to read the queue and
    # invoke the function), else the default account's root key test/test.
    found = boto3.Session().get_credentials()
    key, secret, token = (found.access_key, found.secret_key, found.token) if found else ("test", "test", None)
    return boto3.client(service, endpoint_url=endpoint, region_name=region, aws_access_key_id=key,
                        aws_secret_access_key=secret, aws_session_token=token,
                        config=Config(retries={"max_attempts": 2}))


class _BotoQueue:
    """A DLQ through boto3 (blocking calls: the CLI's loop runs nothing else)."""

    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs = sqs
        self.url = url

    async def depth(self) -> int:
        found = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(found["Attributes"]["ApproximateNumberOfMessages"])

    async def receive(self) -> list[DlqMessage]:
        found = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                         VisibilityTimeout=RECEIVE_HIDE_SECONDS, MessageAttributeNames=["All"])
        return [DlqMessage(m["MessageId"], m["Body"], m["ReceiptHandle"], m.get("MessageAttributes") or {})
                for m in found.get("Messages", [])]

    async def delete(self, message: DlqMessage) -> None:
        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message.receipt)

    async def release(self, message: DlqMessage) -> None:
        self.sqs.change_message_visibility(QueueUrl=self.url, ReceiptHandle=message.receipt, VisibilityTimeout=0)


def _boto_invoke(lam: Any, function: str) -> Send:
    from botocore.exceptions import ClientError

    async def send(message: DlqMessage) -> str:
        try:
            resp = lam.invoke(FunctionName=function, InvocationType="Event", Payload=message.body.encode())
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise SendRefused(error.get("Code", "Error"), error.get("Message", "")) from None
        resp["Payload"].read()
        return str(resp["ResponseMetadata"]["RequestId"])  # an Event invoke's request id

    return send


def _event_state(endpoint: str, request_id: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{endpoint}/_sluice/events/{request_id}", timeout=5) as r:
            return json.load(r)  # type: ignore[no-any-return]
    except urllib.error.HTTPError:
        return None


def _queue_url(sqs: Any, queue: str) -> str:
    if queue.startswith("http"):
        return queue
    name = queue.rsplit(":", 1)[-1] if queue.startswith("arn:") else queue
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]  # type: ignore[no-any-return]


def run(queue: str, function: str, *, endpoint: str, region: str = "us-east-1", wait: float = 600.0,
        out: Any = sys.stdout) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    sqs = _client("sqs", endpoint, region)
    lam = _client("lambda", endpoint, region)
    try:
        url = _queue_url(sqs, queue)
        lam.get_function_configuration(FunctionName=function)
        moved = asyncio.run(move_all(_BotoQueue(sqs, url), _boto_invoke(lam, function)))
    except (ClientError, BotoCoreError) as exc:
        print(f"sluice dlq redrive: {exc}", file=sys.stderr)
        return 1
    if not moved:
        print(f"{url}: no messages to redrive", file=out)
        return 0
    sent = [(m.message_id, m.sent_as) for m in moved if m.sent_as is not None]
    refused = [m for m in moved if m.error is not None]
    print(f"redriving {len(sent)} message(s) from {url} to {function}", file=out)
    for m in refused:
        print(f"{m.message_id}: not redriven, {m.error} (left in the queue)", file=out)
    deadline = time.monotonic() + wait
    pending = dict(sent)
    failures = len(refused)
    while pending and time.monotonic() < deadline:
        for message_id, request_id in list(pending.items()):
            state = _event_state(endpoint, request_id)
            if state and state.get("state") == "done":
                del pending[message_id]
                condition = state["condition"]
                error = (state.get("response") or {}).get("errorMessage") or ""
                if condition != "Success":
                    failures += 1
                detail = f" ({error})" if error and condition != "Success" else ""
                print(f"{message_id} -> {request_id}: {condition} after {state['attempts']} attempt(s){detail}",
                      file=out)
        if pending:
            time.sleep(0.2)
    for message_id, request_id in pending.items():
        print(f"{message_id} -> {request_id}: still running (see sluice logs {function})", file=out)
    return 1 if failures or pending else 0
