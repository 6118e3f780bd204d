"""SQS pages: queues with their depth (live), one queue's messages peeked at without consuming
them (a DLQ's RequestID / ErrorCode / ErrorMessage shown plainly), send, purge, delete, and the
redrive of a dead-letter queue back to its function or source queue (the same loop as `sluice
dlq redrive`: tools/redrive.py's `move_all`)."""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

from ...protocol.errors import ServiceError
from ...protocol.http import HttpResponse
from ...tools.redrive import RECEIVE_HIDE_SECONDS, DlqMessage, Moved, SendRefused, move_all
from ..request import ConsoleRequest
from ..sse import EventStream

if TYPE_CHECKING:
    from ..app import Console
    from ..router import Router

# The attributes Lambda puts on a DLQ message (AWS's names), shown first and plainly.
DLQ_ATTRIBUTES = ("RequestID", "ErrorCode", "ErrorMessage")
MESSAGES_PER_PAGE = 50  # a page of peeked messages (a DLQ may hold thousands)
_SHOWN_ATTRIBUTES = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds",
                     "MaximumMessageSize", "RedrivePolicy", "RedriveAllowPolicy", "FifoQueue",
                     "ContentBasedDeduplication", "CreatedTimestamp", "LastModifiedTimestamp")


def register(router: Router, console: Console) -> None:
    router.get("/queues", queues_index)
    router.post("/queues", queue_create)
    router.get("/queues/live", queues_live)
    router.get("/queues/{queue}", queue_page)
    router.get("/queues/{queue}/live", queue_live)
    router.post("/queues/{queue}/send", queue_send)
    router.post("/queues/{queue}/purge", queue_purge)
    router.post("/queues/{queue}/delete", queue_delete)
    router.post("/queues/{queue}/redrive", queue_redrive)
    router.get("/queues/{queue}/redrive/live", redrive_live)


# -- the list -------------------------------------------------------------------------------------


async def _rows(r: ConsoleRequest) -> tuple[list[dict[str, Any]], ServiceError | None]:
    listed, error = await r.attempt("sqs", "ListQueues", MaxResults=1000)
    rows = []
    for url in listed.get("QueueUrls", []):
        found, _ = await r.attempt("sqs", "GetQueueAttributes", QueueUrl=url, AttributeNames=["All"])
        attrs = found.get("Attributes", {})
        redrive = _json(attrs.get("RedrivePolicy"))
        rows.append({"name": url.rsplit("/", 1)[-1], "url": url, "arn": attrs.get("QueueArn", ""),
                     "visible": attrs.get("ApproximateNumberOfMessages", "?"),
                     "in_flight": attrs.get("ApproximateNumberOfMessagesNotVisible", "?"),
                     "delayed": attrs.get("ApproximateNumberOfMessagesDelayed", "?"),
                     "fifo": attrs.get("FifoQueue") == "true",
                     "dlq": str(redrive.get("deadLetterTargetArn", "")).rsplit(":", 1)[-1] if redrive else ""})
    return rows, error


async def queues_index(r: ConsoleRequest) -> HttpResponse:
    rows, error = await _rows(r)
    return r.render("queues/index.html", area_nav="queues_index", queues=rows, error=error, created=None)


async def queues_live(r: ConsoleRequest) -> EventStream:
    async def render() -> str:
        rows, error = await _rows(r)
        return r.render_text("queues/_rows.html", queues=rows, error=error)

    return EventStream.watch("queues", render)


async def queue_create(r: ConsoleRequest) -> HttpResponse:
    name = r.field("name").strip()
    attributes: dict[str, str] = {}
    if name.endswith(".fifo"):
        attributes["FifoQueue"] = "true"
    for field, attribute in (("visibility_timeout", "VisibilityTimeout"), ("retention", "MessageRetentionPeriod")):
        if r.field(field).strip():
            attributes[attribute] = r.field(field).strip()
    dlq = r.field("dead_letter_queue").strip()
    if dlq:
        target, error = await r.attempt("sqs", "GetQueueUrl", QueueName=dlq)
        if error is not None:
            return r.error(error)
        found = await r.call("sqs", "GetQueueAttributes", QueueUrl=target["QueueUrl"], AttributeNames=["QueueArn"])
        count = r.field("max_receive_count").strip() or "3"  # SQS checks it: a bad one gets its error
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": found["Attributes"]["QueueArn"],
                                                  "maxReceiveCount": int(count) if count.isdigit() else count})
    await r.call("sqs", "CreateQueue", QueueName=name, Attributes=attributes)
    return r.redirect(r.url("queue_page", queue=name))


# -- one queue ------------------------------------------------------------------------------------


async def _url(r: ConsoleRequest, name: str) -> str:
    found = await r.call("sqs", "GetQueueUrl", QueueName=name)
    return str(found["QueueUrl"])


async def _peek(r: ConsoleRequest, url: str, arn: str) -> dict[str, Any]:
    """The queue's messages without receiving them (the testing API's peek), once the identity
    may receive from the queue: a peek shows what ReceiveMessage would. One page of them: the
    page holding the `message` asked for, else the one `start` names (oldest first)."""
    await r.console.api.authorize(r.identity, "sqs", "ReceiveMessage", QueueUrl=url)
    found: dict[str, Any] = {"messages": [], "count": 0, "truncated": False}
    view = r.console.views.queue_messages
    if view is not None:
        with contextlib.suppress(LookupError):  # deleted while we looked: no messages
            found = await r.console.run_blocking(view, arn)
    every = found["messages"]
    wanted = r.arg("message")
    at = next((i for i, m in enumerate(every) if m["MessageId"] == wanted), None) if wanted else None
    start = at - at % MESSAGES_PER_PAGE if at is not None else _int(r.arg("start"))
    start = min(start, max(0, len(every) - 1))
    shown = every[start:start + MESSAGES_PER_PAGE]
    for message in shown:
        attributes = message.get("MessageAttributes") or {}
        message["dlq"] = [(name, _attribute_text(attributes[name])) for name in DLQ_ATTRIBUTES if name in attributes]
        message["other"] = [(name, _attribute_text(value)) for name, value in attributes.items()
                            if name not in DLQ_ATTRIBUTES]
    return {"messages": shown, "count": len(every), "truncated": found["truncated"], "start": start,
            "previous": max(0, start - MESSAGES_PER_PAGE) if start else None,
            "next": start + MESSAGES_PER_PAGE if start + MESSAGES_PER_PAGE < len(every) else None}


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 0


def _attribute_text(value: dict[str, Any]) -> str:
    if "StringValue" in value:
        return str(value["StringValue"])
    return f"(binary, base64) {value.get('BinaryValue', '')}"


async def _details(r: ConsoleRequest, name: str) -> dict[str, Any]:
    url = await _url(r, name)
    found = await r.call("sqs", "GetQueueAttributes", QueueUrl=url, AttributeNames=["All"])
    attrs: dict[str, str] = found.get("Attributes", {})
    arn = attrs.get("QueueArn", "")
    messages: dict[str, Any] = {"messages": [], "count": 0, "truncated": False, "start": 0, "previous": None,
                                "next": None}
    peek_error = None
    try:
        messages = await _peek(r, url, arn)
    except ServiceError as err:  # AccessDenied to ReceiveMessage: the rest of the page still shows
        peek_error = err
    return {"name": name, "url": url, "arn": arn, "attrs": attrs, "messages": messages, "peek_error": peek_error,
            "shown": [(k, attrs[k]) for k in _SHOWN_ATTRIBUTES if k in attrs]}


async def _redrive_targets(r: ConsoleRequest, url: str, arn: str) -> dict[str, Any]:
    """Where this queue's messages may go back to: the functions that use it as their DLQ or
    on-failure destination (preselected), any other function, and its source queues."""
    functions, _ = await r.attempt_all("lambda", "ListFunctions", "Functions")
    names = sorted(f["FunctionName"] for f in functions)
    users = [f["FunctionName"] for f in functions if (f.get("DeadLetterConfig") or {}).get("TargetArn") == arn]
    sources, _ = await r.attempt("sqs", "ListDeadLetterSourceQueues", QueueUrl=url)
    return {"functions": names, "users": users,
            "sources": [u.rsplit("/", 1)[-1] for u in sources.get("queueUrls", [])]}


async def queue_page(r: ConsoleRequest) -> HttpResponse:
    details = await _details(r, r.params["queue"])
    targets = await _redrive_targets(r, details["url"], details["arn"])
    return r.render("queues/queue.html", area_nav="queues_index", q=details, targets=targets,
                    highlight=r.arg("message"))


async def queue_live(r: ConsoleRequest) -> EventStream:
    name = r.params["queue"]
    highlight = r.arg("message")

    async def render() -> str:
        try:
            details = await _details(r, name)
        except ServiceError as err:
            return r.render_text("_error.html", error=err)
        return r.render_text("queues/_messages.html", q=details, highlight=highlight)

    return EventStream.watch("messages", render)


async def queue_send(r: ConsoleRequest) -> HttpResponse:
    url = await _url(r, r.params["queue"])
    params: dict[str, Any] = {"QueueUrl": url, "MessageBody": r.field("body")}
    if r.field("delay").strip():
        if not r.field("delay").strip().isdigit():
            raise ServiceError("InvalidParameterValue", "Value for parameter DelaySeconds is invalid. "
                               "Reason: must be an integer from 0 to 900.")
        params["DelaySeconds"] = int(r.field("delay"))
    if r.field("group_id").strip():
        params["MessageGroupId"] = r.field("group_id").strip()
    if r.field("dedup_id").strip():
        params["MessageDeduplicationId"] = r.field("dedup_id").strip()
    sent = await r.call("sqs", "SendMessage", **params)
    return r.render("queues/_result.html", text=f"Message sent: {sent['MessageId']}")


async def queue_purge(r: ConsoleRequest) -> HttpResponse:
    url = await _url(r, r.params["queue"])
    await r.call("sqs", "PurgeQueue", QueueUrl=url)
    return r.render("queues/_result.html", text=f"Purged {r.params['queue']}: its messages are deleted.")


async def queue_delete(r: ConsoleRequest) -> HttpResponse:
    url = await _url(r, r.params["queue"])
    await r.call("sqs", "DeleteQueue", QueueUrl=url)
    return r.redirect(r.url("queues_index"))


# -- redrive ----------------------------------------------------------------------------------------


class _Queue:
    """tools/redrive.py's DLQ side, through the console's operations (as the signed-in identity)."""

    def __init__(self, r: ConsoleRequest, url: str) -> None:
        self.r = r
        self.url = url

    async def depth(self) -> int:
        found = await self.r.call("sqs", "GetQueueAttributes", QueueUrl=self.url,
                                  AttributeNames=["ApproximateNumberOfMessages"])
        return int(found.get("Attributes", {}).get("ApproximateNumberOfMessages", "0"))

    async def receive(self) -> list[DlqMessage]:
        found = await self.r.call("sqs", "ReceiveMessage", QueueUrl=self.url, MaxNumberOfMessages=10,
                                  WaitTimeSeconds=0, VisibilityTimeout=RECEIVE_HIDE_SECONDS,
                                  MessageAttributeNames=["All"])
        return [DlqMessage(m["MessageId"], m["Body"], m["ReceiptHandle"], m.get("MessageAttributes") or {})
                for m in found.get("Messages", [])]

    async def delete(self, message: DlqMessage) -> None:
        await self.r.call("sqs", "DeleteMessage", QueueUrl=self.url, ReceiptHandle=message.receipt)

    async def release(self, message: DlqMessage) -> None:
        await self.r.call("sqs", "ChangeMessageVisibility", QueueUrl=self.url, ReceiptHandle=message.receipt,
                          VisibilityTimeout=0)


def _to_function(r: ConsoleRequest, function: str) -> Any:
    async def send(message: DlqMessage) -> str:
        try:
            _, request_id = await r.console.api.call_traced(
                r.identity, "lambda", "Invoke", FunctionName=function, InvocationType="Event",
                Payload=message.body.encode())
        except ServiceError as err:
            raise SendRefused(err.code, err.message) from None
        return request_id  # an Event invoke's request id is its Lambda request id

    return send


def _to_queue(r: ConsoleRequest, url: str) -> Any:
    async def send(message: DlqMessage) -> str:
        try:
            sent = await r.call("sqs", "SendMessage", QueueUrl=url, MessageBody=message.body,
                                **({"MessageAttributes": message.attributes} if message.attributes else {}))
        except ServiceError as err:
            raise SendRefused(err.code, err.message) from None
        return str(sent["MessageId"])

    return send


async def queue_redrive(r: ConsoleRequest) -> HttpResponse:
    """`target`: `function:<name>` or `queue:<name>`; answers each message's result."""
    url = await _url(r, r.params["queue"])
    kind, _, target = r.field("target").partition(":")
    if kind == "function" and target:
        await r.call("lambda", "GetFunctionConfiguration", FunctionName=target)  # a clear error first
        send = _to_function(r, target)
    elif kind == "queue" and target:
        send = _to_queue(r, await _url(r, target))
    else:
        raise ServiceError("InvalidParameterValue", "Choose where to redrive the messages: a function or a queue.")
    moved: list[Moved] = await move_all(_Queue(r, url), send)
    rows = await _outcomes(r, [(m.message_id, m.sent_as, m.error) for m in moved], kind == "function")
    pairs = ",".join(f"{m.message_id}:{m.sent_as}" for m in moved if m.sent_as)[:_LIVE_IDS_MAX]
    return r.render("queues/_redriven.html", rows=rows, kind=kind, target=target, moved=len(rows),
                    redriven=sum(1 for m in moved if m.sent_as), pairs=pairs if kind == "function" else "")


_LIVE_IDS_MAX = 8000  # characters of "message:request" pairs a live result follows (about 100 messages)


async def _outcomes(r: ConsoleRequest, moved: list[tuple[str, str | None, str | None]],
                    invoked: bool) -> list[dict[str, Any]]:
    """Each redriven message's row; for a function, where its new event is now (the engine's view
    of the async event: queued with its attempts, or its outcome)."""
    view = r.console.views.event_state
    rows = []
    for message_id, sent_as, error in moved:
        state = None
        if invoked and sent_as and view is not None:
            state = await r.console.run_blocking(view, sent_as)
        rows.append({"message_id": message_id, "sent_as": sent_as, "error": error, "state": state})
    return rows


async def redrive_live(r: ConsoleRequest) -> EventStream:
    """The redriven events' outcomes as they come (`ids`: messageId:requestId pairs)."""
    pairs = [p.partition(":") for p in r.arg("ids")[:_LIVE_IDS_MAX].split(",") if ":" in p]

    async def render() -> str:
        rows = await _outcomes(r, [(m, rid, None) for m, _, rid in pairs], True)
        return r.render_text("queues/_redrive_rows.html", rows=rows, kind="function")

    return EventStream.watch("outcomes", render)


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
