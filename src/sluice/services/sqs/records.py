"""SQS's durable state: queues, messages, FIFO deduplication, recently deleted names, move tasks.

Every message is one row from SendMessage to DeleteMessage. Its visibility is a wall-clock time
(`visible_ms`): in the future while it is delayed (never received) or in flight (received), so
a restart resumes every visibility timeout where it was. `receipt` is the random token of the
latest receive; a receipt handle carries (queue, row, token), so it names one receive.
Row ids never repeat (AUTOINCREMENT): they are FIFO sequence numbers and receipt handles
refer to them.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from ...store.db import Migration

_SQS_0001 = Migration(
    "sqs-0001",
    """
    CREATE TABLE sqs_queues (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        fifo INTEGER NOT NULL,
        attributes TEXT NOT NULL,
        tags TEXT NOT NULL DEFAULT '{}',
        created INTEGER NOT NULL,
        modified INTEGER NOT NULL,
        purged_ms INTEGER,
        UNIQUE (account, region, name)
    );
    CREATE TABLE sqs_deleted (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        deleted_ms INTEGER NOT NULL,
        PRIMARY KEY (account, region, name)
    );
    CREATE TABLE sqs_messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        queue_id INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        body TEXT NOT NULL,
        md5_body TEXT NOT NULL,
        attributes TEXT,
        md5_attributes TEXT,
        trace_header TEXT,
        sender_id TEXT NOT NULL,
        sent_ms INTEGER NOT NULL,
        visible_ms INTEGER NOT NULL,
        receive_count INTEGER NOT NULL DEFAULT 0,
        first_receive_ms INTEGER,
        receipt TEXT,
        group_id TEXT,
        dedup_id TEXT,
        dlq_source TEXT
    );
    CREATE INDEX sqs_messages_visible ON sqs_messages(queue_id, visible_ms, receive_count);
    CREATE INDEX sqs_messages_groups ON sqs_messages(queue_id, group_id, id) WHERE group_id IS NOT NULL;
    CREATE TABLE sqs_dedup (
        queue_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        message_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL,
        PRIMARY KEY (queue_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE sqs_move_tasks (
        task_id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        source_arn TEXT NOT NULL,
        destination_arn TEXT,
        rate INTEGER,
        status TEXT NOT NULL,
        started_ms INTEGER NOT NULL,
        to_move INTEGER NOT NULL,
        moved INTEGER NOT NULL DEFAULT 0,
        failure TEXT
    );
    CREATE INDEX sqs_move_tasks_by_source ON sqs_move_tasks(source_arn, started_ms);
    """,
)
MIGRATIONS = (_SQS_0001,)

DEDUP_WINDOW_MS = 5 * 60 * 1000
DELETED_RECENTLY_MS = 60 * 1000
SEQUENCE_BASE = 10**19  # FIFO sequence numbers: 20 digits, increasing, as AWS's are


@dataclass
class Queue:
    id: int
    account: str
    region: str
    name: str
    fifo: bool
    attributes: dict[str, str]
    tags: dict[str, str] = field(default_factory=dict)
    created: int = 0
    modified: int = 0
    purged_ms: int | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Queue:
        return cls(id=row["id"], account=row["account"], region=row["region"], name=row["name"],
                   fifo=bool(row["fifo"]), attributes=json.loads(row["attributes"]), tags=json.loads(row["tags"]),
                   created=row["created"], modified=row["modified"], purged_ms=row["purged_ms"])

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.account, self.region, self.name)

    @property
    def arn(self) -> str:
        return queue_arn(self.region, self.account, self.name)

    def url(self, endpoint: str) -> str:
        return f"{endpoint.rstrip('/')}/{self.account}/{self.name}"

    def number(self, name: str) -> int:
        return int(self.attributes[name])

    @property
    def visibility_timeout(self) -> int:
        return self.number("VisibilityTimeout")

    @property
    def delay_seconds(self) -> int:
        return self.number("DelaySeconds")

    @property
    def max_message_size(self) -> int:
        return self.number("MaximumMessageSize")

    @property
    def retention_ms(self) -> int:
        return self.number("MessageRetentionPeriod") * 1000

    @property
    def content_based_dedup(self) -> bool:
        return self.attributes.get("ContentBasedDeduplication") == "true"

    @property
    def dedup_per_group(self) -> bool:
        return self.attributes.get("DeduplicationScope") == "messageGroup"

    @property
    def redrive(self) -> tuple[str, int] | None:
        policy = self.attributes.get("RedrivePolicy")
        if not policy:
            return None
        doc = json.loads(policy)
        return doc["deadLetterTargetArn"], int(doc["maxReceiveCount"])


def queue_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sqs:{region}:{account}:{name}"


def sequence_number(row_id: int) -> str:
    return str(SEQUENCE_BASE + row_id)


@dataclass
class NewMessage:
    """A message ready to insert (validated, digested)."""

    message_id: str
    body: str
    md5_body: str
    attributes: dict[str, dict[str, Any]]
    stored_attributes: str | None
    md5_attributes: str | None
    md5_system: str | None
    trace_header: str | None
    sender_id: str
    delay_seconds: int
    group_id: str | None = None
    dedup_id: str | None = None


@dataclass
class SendOutcome:
    message_id: str
    sequence: str | None  # FIFO only
    row_id: int | None  # None when deduplicated


def insert_message(conn: sqlite3.Connection, queue: Queue, msg: NewMessage, now_ms: int,
                   received: tuple[str, int] | None = None) -> SendOutcome:
    """Insert a message, or answer the original of a FIFO duplicate (inside Database.write).

    `received` = (receipt token, visible_ms): the message goes straight to a parked long poll,
    inserted as received once and in flight until visible_ms."""
    dedup_key = None
    if queue.fifo:
        dedup_key = f"{msg.group_id}\x00{msg.dedup_id}" if queue.dedup_per_group else str(msg.dedup_id)
        row = conn.execute("SELECT message_id, seq, expires_ms FROM sqs_dedup WHERE queue_id=? AND key=?",
                           (queue.id, dedup_key)).fetchone()
        if row is not None and row["expires_ms"] > now_ms:
            return SendOutcome(row["message_id"], sequence_number(row["seq"]), None)
    delay = queue.delay_seconds if queue.fifo else msg.delay_seconds
    token, visible_ms = received if received is not None else (None, now_ms + delay * 1000)
    cur = conn.execute(
        "INSERT INTO sqs_messages (queue_id, message_id, body, md5_body, attributes, md5_attributes, trace_header,"
        " sender_id, sent_ms, visible_ms, receive_count, first_receive_ms, receipt, group_id, dedup_id)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (queue.id, msg.message_id, msg.body, msg.md5_body, msg.stored_attributes, msg.md5_attributes,
         msg.trace_header, msg.sender_id, now_ms, visible_ms, 1 if token else 0, now_ms if token else None, token,
         msg.group_id, msg.dedup_id),
    )
    row_id = int(cur.lastrowid or 0)
    if dedup_key is not None:
        conn.execute("INSERT OR REPLACE INTO sqs_dedup (queue_id, key, message_id, seq, expires_ms) VALUES (?,?,?,?,?)",
                     (queue.id, dedup_key, msg.message_id, row_id, now_ms + DEDUP_WINDOW_MS))
    return SendOutcome(msg.message_id, sequence_number(row_id) if queue.fifo else None, row_id)


def message_row(msg: NewMessage, row_id: int, now_ms: int) -> dict[str, Any]:
    """The row of a message just handed to a long poll, as a receive would read it."""
    return {"id": row_id, "message_id": msg.message_id, "body": msg.body, "md5_body": msg.md5_body,
            "attributes": msg.stored_attributes, "md5_attributes": msg.md5_attributes,
            "trace_header": msg.trace_header, "sender_id": msg.sender_id, "sent_ms": now_ms, "receive_count": 1,
            "first_receive_ms": now_ms, "group_id": msg.group_id, "dedup_id": msg.dedup_id, "dlq_source": None}


def counts(conn: sqlite3.Connection, queue_id: int, now_ms: int) -> tuple[int, int, int]:
    """(visible, in flight, delayed) message counts of a queue, from the visibility index alone."""
    row = conn.execute(
        "SELECT coalesce(sum(visible_ms <= :now), 0), coalesce(sum(visible_ms > :now AND receive_count > 0), 0),"
        " coalesce(sum(visible_ms > :now AND receive_count = 0), 0) FROM sqs_messages WHERE queue_id = :q",
        {"now": now_ms, "q": queue_id},
    ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])
