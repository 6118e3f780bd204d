"""A queue's messages as they are, without receiving them (the testing API's queue peek).

Nothing changes: no receive count moves, no message becomes invisible. For tests that assert
what reached a queue (a dead-letter queue, a destination) without consuming it.
"""

from __future__ import annotations

import json
from typing import Any

from ...protocol.errors import ServiceError
from . import message_records as mrec
from .receiving import system_attributes
from .records import Queue
from .state import SqsState

MAX_PEEK = 1000  # messages shown, oldest first


def find_queue(state: SqsState, ref: str) -> Queue | None:
    """The queue `ref` names: its ARN, its URL (any host) or its name in the server's account and region."""
    if ref.startswith("arn:"):
        return state.by_arn(ref)
    if "/" in ref:
        try:
            return state.by_url(ref, state.settings.region)
        except ServiceError:  # QueueDoesNotExist
            return None
    return state.by_name(state.settings.account_id, state.settings.region, ref)


def peek(state: SqsState, ref: str) -> dict[str, Any]:
    """The queue's messages, oldest first, visible or not; LookupError if there is no such queue."""
    queue = find_queue(state, ref)
    if queue is None:
        raise LookupError(ref)
    now_ms = state.now_ms()
    rows = state.db.query(
        f"SELECT {mrec.MESSAGE_COLUMNS} FROM sqs_messages WHERE queue_id=? ORDER BY id LIMIT ?", (queue.id, MAX_PEEK + 1))
    messages = []
    for row in rows[:MAX_PEEK]:
        msg = mrec.StoredMessage.from_row(row)
        messages.append({
            "MessageId": msg.message_id, "Body": msg.body, "MD5OfBody": msg.md5_body,
            "Attributes": system_attributes(queue, msg),
            # As stored: BinaryValue base64-encoded, as the JSON wire carries it.
            "MessageAttributes": json.loads(msg.attributes) if msg.attributes else {},
            "receiveCount": msg.receive_count, "visible": msg.visible_ms <= now_ms,
            "visibleAt": msg.visible_ms / 1000,
        })
    return {"queue": queue.name, "queueArn": queue.arn, "count": len(messages),
            "truncated": len(rows) > MAX_PEEK, "messages": messages}
