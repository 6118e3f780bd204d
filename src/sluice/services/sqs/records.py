"""SQS's durable state: the tables (MIGRATIONS), and queues and recently deleted names.

Every message is one row from SendMessage to DeleteMessage. Its visibility is a wall-clock time
(`visible_ms`): in the future while it is delayed (never received) or in flight (received), so
a restart resumes every visibility timeout where it was. `receipt` is the random token of the
latest receive; a receipt handle carries (queue, row, token), so it names one receive.
Row ids never repeat (AUTOINCREMENT): they are FIFO sequence numbers and receipt handles
refer to them. The messages' SQL is in message_records.py, the move tasks' in move_records.py.
Every function taking a connection runs inside the caller's transaction (Database.write) or read.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

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
# A move task's next step is due at `due` (clock seconds): its pacing survives a restart.
_SQS_0002 = Migration(
    "sqs-0002",
    """
    ALTER TABLE sqs_move_tasks ADD COLUMN due REAL NOT NULL DEFAULT 0;
    CREATE INDEX sqs_move_tasks_due ON sqs_move_tasks(due) WHERE status = 'RUNNING';
    """,
)
MIGRATIONS = (_SQS_0001, _SQS_0002)
# A receive takes the longest-visible messages first, oldest first among equals: ORDER BY
# visible_ms, id. The first index had receive_count between the two, so SQLite sorted every
# message of the same visible_ms to find the first: a few µs per receive, and a receive
# proportional to the queue's length when many share one millisecond (a frozen ManualClock, a
# burst sent within one ms). With id next to visible_ms the index gives that order itself, and it
# still covers the depth counts (receive_count). Listed in sluice.schema after the released steps
# of the other modules (a new step goes last).
_SQS_0003 = Migration(
    "sqs-0003",
    """
    DROP INDEX sqs_messages_visible;
    CREATE INDEX sqs_messages_by_visibility ON sqs_messages(queue_id, visible_ms, id, receive_count);
    """,
)
VISIBILITY_MIGRATIONS = (_SQS_0003,)

DELETED_RECENTLY_MS = 60 * 1000


@dataclass
class Queue:
    """A queue as stored (and as SqsState caches it)."""

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


# -- queues --------------------------------------------------------------------------------

def all_queues(conn: sqlite3.Connection) -> list[Queue]:
    return [Queue.from_row(row) for row in conn.execute("SELECT * FROM sqs_queues")]


def queue_by_id(conn: sqlite3.Connection, queue_id: int) -> Queue | None:
    row = conn.execute("SELECT * FROM sqs_queues WHERE id=?", (queue_id,)).fetchone()
    return None if row is None else Queue.from_row(row)


def queue_by_name(conn: sqlite3.Connection, account: str, region: str, name: str) -> Queue | None:
    row = conn.execute("SELECT * FROM sqs_queues WHERE account=? AND region=? AND name=?",
                       (account, region, name)).fetchone()
    return None if row is None else Queue.from_row(row)


def deleted_at(conn: sqlite3.Connection, account: str, region: str, name: str) -> int | None:
    """When a queue of this name was last deleted (ms), if the record is still kept."""
    row = conn.execute("SELECT deleted_ms FROM sqs_deleted WHERE account=? AND region=? AND name=?",
                       (account, region, name)).fetchone()
    return None if row is None else int(row[0])


def insert_queue(conn: sqlite3.Connection, account: str, region: str, name: str, fifo: bool,
                 attributes: dict[str, str], tags: dict[str, str], now_s: int) -> Queue:
    cur = conn.execute(
        "INSERT INTO sqs_queues (account, region, name, fifo, attributes, tags, created, modified)"
        " VALUES (?,?,?,?,?,?,?,?)",
        (account, region, name, int(fifo), json.dumps(attributes), json.dumps(tags), now_s, now_s))
    return Queue(int(cur.lastrowid or 0), account, region, name, fifo, attributes, tags, now_s, now_s)


def save_queue(conn: sqlite3.Connection, queue: Queue) -> None:
    """Store a queue's attributes, tags and modification time."""
    conn.execute("UPDATE sqs_queues SET attributes=?, tags=?, modified=? WHERE id=?",
                 (json.dumps(queue.attributes), json.dumps(queue.tags), queue.modified, queue.id))


def delete_queue(conn: sqlite3.Connection, queue: Queue, now_ms: int) -> None:
    """Delete a queue with its messages; its name counts as recently deleted from `now_ms`."""
    conn.execute("DELETE FROM sqs_messages WHERE queue_id=?", (queue.id,))
    conn.execute("DELETE FROM sqs_dedup WHERE queue_id=?", (queue.id,))
    conn.execute("DELETE FROM sqs_queues WHERE id=?", (queue.id,))
    conn.execute("INSERT OR REPLACE INTO sqs_deleted (account, region, name, deleted_ms) VALUES (?,?,?,?)",
                 (queue.account, queue.region, queue.name, now_ms))


def purge_queue(conn: sqlite3.Connection, queue_id: int, now_ms: int) -> None:
    """Delete the messages sent until `now_ms` and record the purge's time."""
    conn.execute("DELETE FROM sqs_messages WHERE queue_id=? AND sent_ms<=?", (queue_id, now_ms))
    conn.execute("UPDATE sqs_queues SET purged_ms=? WHERE id=?", (now_ms, queue_id))


def sweep(conn: sqlite3.Connection, queues: list[Queue], now_ms: int) -> None:
    """Drop messages past their queue's retention period, expired deduplication records and
    expired records of deleted names."""
    for queue in queues:
        conn.execute("DELETE FROM sqs_messages WHERE queue_id=? AND sent_ms<=?", (queue.id, now_ms - queue.retention_ms))
    conn.execute("DELETE FROM sqs_dedup WHERE expires_ms<=?", (now_ms,))
    conn.execute("DELETE FROM sqs_deleted WHERE deleted_ms<=?", (now_ms - DELETED_RECENTLY_MS,))
