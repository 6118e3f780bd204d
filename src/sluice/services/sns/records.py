"""SNS's durable state: topics, subscriptions, published messages and their pending deliveries.

The outbox (`sns_outbox`) is what makes Publish durable: a published message (`sns_messages`,
stored once) and one outbox row per subscription it must reach are committed in the same
transaction as the Publish that answers 200. A row leaves the outbox only once its delivery
succeeded or ended for good (dead-letter queue, or dropped when the policy is exhausted), so a
SIGKILL at any moment at worst repeats a delivery after restart (at least once).

An outbox row carries a snapshot of its target (`target`, JSON: protocol, endpoint, raw delivery,
dead-letter queue, retry policy), so confirmations still reach an endpoint whose subscription has
gone (UnsubscribeConfirmation). `fifo_key` (subscription + message group) serializes a FIFO
topic's deliveries per subscription and group.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...store.db import Database, Migration

_SNS_0001 = Migration(
    "sns-0001",
    """
    CREATE TABLE sns_topics (
        id INTEGER PRIMARY KEY,
        arn TEXT NOT NULL UNIQUE,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        fifo INTEGER NOT NULL,
        attributes TEXT NOT NULL DEFAULT '{}',
        tags TEXT NOT NULL DEFAULT '[]',
        subscriptions_deleted INTEGER NOT NULL DEFAULT 0,
        sequence INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL
    );
    CREATE INDEX sns_topics_by_scope ON sns_topics(account, region, id);
    CREATE TABLE sns_subscriptions (
        id INTEGER PRIMARY KEY,
        arn TEXT NOT NULL UNIQUE,
        topic_arn TEXT NOT NULL,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        protocol TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        owner TEXT NOT NULL,
        attributes TEXT NOT NULL DEFAULT '{}',
        pending INTEGER NOT NULL,
        authenticated INTEGER NOT NULL DEFAULT 0,
        token TEXT,
        created_ms INTEGER NOT NULL
    );
    CREATE INDEX sns_subscriptions_by_topic ON sns_subscriptions(topic_arn, id);
    CREATE INDEX sns_subscriptions_by_scope ON sns_subscriptions(account, region, id);
    CREATE INDEX sns_subscriptions_by_token ON sns_subscriptions(token);
    CREATE TABLE sns_messages (
        id TEXT PRIMARY KEY,
        body TEXT NOT NULL
    );
    CREATE TABLE sns_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL,
        subscription_arn TEXT NOT NULL,
        target TEXT NOT NULL,
        fifo_key TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        due REAL NOT NULL,
        created REAL NOT NULL
    );
    CREATE INDEX sns_outbox_by_due ON sns_outbox(due);
    CREATE INDEX sns_outbox_by_message ON sns_outbox(message_id);
    CREATE INDEX sns_outbox_by_subscription ON sns_outbox(subscription_arn);
    CREATE INDEX sns_outbox_by_fifo_key ON sns_outbox(fifo_key, id);
    CREATE TABLE sns_dedup (
        topic_arn TEXT NOT NULL,
        dedup_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        sequence TEXT NOT NULL,
        expires REAL NOT NULL,
        PRIMARY KEY (topic_arn, dedup_id)
    );
    """,
)
MIGRATIONS = (_SNS_0001,)


# -- topics ----------------------------------------------------------------------------------------

@dataclass
class Topic:
    """A topic as stored."""

    id: int
    arn: str
    account: str
    region: str
    name: str
    fifo: bool
    attributes: dict[str, str]
    tags: list[dict[str, str]]
    subscriptions_deleted: int
    sequence: int

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Topic:
        return cls(row["id"], row["arn"], row["account"], row["region"], row["name"], bool(row["fifo"]),
                   json.loads(row["attributes"]), json.loads(row["tags"]), row["subscriptions_deleted"],
                   row["sequence"])

    @property
    def content_based_dedup(self) -> bool:
        return self.attributes.get("ContentBasedDeduplication") == "true"

    def delivery_policy(self) -> dict[str, Any] | None:
        text = self.attributes.get("DeliveryPolicy")
        return json.loads(text) if text else None


def topic(conn: sqlite3.Connection, arn: str) -> Topic | None:
    row = conn.execute("SELECT * FROM sns_topics WHERE arn = ?", (arn,)).fetchone()
    return Topic.from_row(row) if row is not None else None


def insert_topic(conn: sqlite3.Connection, arn: str, account: str, region: str, name: str, fifo: bool,
                 attributes: dict[str, str], tags: list[dict[str, str]], created_ms: int) -> None:
    conn.execute("INSERT INTO sns_topics (arn, account, region, name, fifo, attributes, tags, created_ms)"
                 " VALUES (?,?,?,?,?,?,?,?)",
                 (arn, account, region, name, int(fifo), json.dumps(attributes), json.dumps(tags), created_ms))


def topic_page(conn: sqlite3.Connection, account: str, region: str, after: int, limit: int) -> list[tuple[int, str]]:
    """(id, ARN) of an account's topics in a region with ids above `after`, in id order."""
    rows = conn.execute("SELECT id, arn FROM sns_topics WHERE account = ? AND region = ? AND id > ? ORDER BY id"
                        " LIMIT ?", (account, region, after, limit))
    return [(r["id"], r["arn"]) for r in rows]


def delete_topic(conn: sqlite3.Connection, arn: str) -> None:
    """The topic, its subscriptions and their pending deliveries, and its deduplication ids."""
    for (sub,) in conn.execute("SELECT arn FROM sns_subscriptions WHERE topic_arn = ?", (arn,)).fetchall():
        drop_pending(conn, sub)
    conn.execute("DELETE FROM sns_subscriptions WHERE topic_arn = ?", (arn,))
    conn.execute("DELETE FROM sns_dedup WHERE topic_arn = ?", (arn,))
    conn.execute("DELETE FROM sns_topics WHERE arn = ?", (arn,))


def set_topic_attributes(conn: sqlite3.Connection, arn: str, attributes: dict[str, str]) -> None:
    conn.execute("UPDATE sns_topics SET attributes = ? WHERE arn = ?", (json.dumps(attributes), arn))


def set_topic_tags(conn: sqlite3.Connection, topic_id: int, tags: list[dict[str, str]]) -> None:
    conn.execute("UPDATE sns_topics SET tags = ? WHERE id = ?", (json.dumps(tags), topic_id))


def set_topic_sequence(conn: sqlite3.Connection, topic_id: int, sequence: int) -> None:
    conn.execute("UPDATE sns_topics SET sequence = ? WHERE id = ?", (sequence, topic_id))


def subscription_counts(conn: sqlite3.Connection, topic_arn: str) -> tuple[int, int]:
    """(pending, confirmed) subscriptions of a topic."""
    counts = {bool(r[0]): r[1] for r in conn.execute(
        "SELECT pending, count(*) FROM sns_subscriptions WHERE topic_arn = ? GROUP BY pending", (topic_arn,))}
    return counts.get(True, 0), counts.get(False, 0)


# -- subscriptions ---------------------------------------------------------------------------------

@dataclass
class Subscription:
    """A subscription as stored; `pending` until it is confirmed."""

    arn: str
    topic_arn: str
    protocol: str
    endpoint: str
    owner: str
    attributes: dict[str, str]
    pending: bool
    authenticated: bool
    token: str | None
    id: int = 0

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Subscription:
        return cls(row["arn"], row["topic_arn"], row["protocol"], row["endpoint"], row["owner"],
                   json.loads(row["attributes"]), bool(row["pending"]), bool(row["authenticated"]), row["token"],
                   row["id"])

    def delivery_policy(self) -> dict[str, Any] | None:
        text = self.attributes.get("DeliveryPolicy")
        return json.loads(text) if text else None

    def listing(self) -> dict[str, str]:
        return {"SubscriptionArn": "PendingConfirmation" if self.pending else self.arn, "Owner": self.owner,
                "Protocol": self.protocol, "Endpoint": self.endpoint, "TopicArn": self.topic_arn}


def subscription(conn: sqlite3.Connection, arn: str) -> Subscription | None:
    row = conn.execute("SELECT * FROM sns_subscriptions WHERE arn = ?", (arn,)).fetchone()
    return Subscription.from_row(row) if row is not None else None


def subscription_to(conn: sqlite3.Connection, topic_arn: str, protocol: str, endpoint: str) -> Subscription | None:
    """The topic's subscription of this endpoint, if there is one."""
    row = conn.execute("SELECT * FROM sns_subscriptions WHERE topic_arn = ? AND protocol = ? AND endpoint = ?",
                       (topic_arn, protocol, endpoint)).fetchone()
    return Subscription.from_row(row) if row is not None else None


def subscription_by_token(conn: sqlite3.Connection, topic_arn: str, token: str) -> Subscription | None:
    row = conn.execute("SELECT * FROM sns_subscriptions WHERE token = ? AND topic_arn = ?",
                       (token, topic_arn)).fetchone()
    return Subscription.from_row(row) if row is not None else None


def insert_subscription(conn: sqlite3.Connection, sub: Subscription, account: str, region: str,
                        created_ms: int) -> None:
    conn.execute("INSERT INTO sns_subscriptions (arn, topic_arn, account, region, protocol, endpoint, owner,"
                 " attributes, pending, authenticated, token, created_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                 (sub.arn, sub.topic_arn, account, region, sub.protocol, sub.endpoint, sub.owner,
                  json.dumps(sub.attributes), int(sub.pending), int(sub.authenticated), sub.token, created_ms))


def confirm_subscription(conn: sqlite3.Connection, sub_id: int, authenticated: bool) -> None:
    conn.execute("UPDATE sns_subscriptions SET pending = 0, authenticated = ? WHERE id = ?",
                 (int(authenticated), sub_id))


def delete_subscription(conn: sqlite3.Connection, sub: Subscription) -> None:
    """The subscription and its pending deliveries; its topic counts one more deleted."""
    drop_pending(conn, sub.arn)
    conn.execute("DELETE FROM sns_subscriptions WHERE arn = ?", (sub.arn,))
    conn.execute("UPDATE sns_topics SET subscriptions_deleted = subscriptions_deleted + 1 WHERE arn = ?",
                 (sub.topic_arn,))


def set_subscription_attributes(conn: sqlite3.Connection, arn: str, attributes: dict[str, str]) -> None:
    conn.execute("UPDATE sns_subscriptions SET attributes = ? WHERE arn = ?", (json.dumps(attributes), arn))


def subscription_page(conn: sqlite3.Connection, after: int, limit: int, *, topic_arn: str | None = None,
                      account: str = "", region: str = "") -> list[Subscription]:
    """A topic's subscriptions (`topic_arn`), else an account's in a region, with ids above `after`."""
    if topic_arn is not None:
        rows = conn.execute("SELECT * FROM sns_subscriptions WHERE topic_arn = ? AND id > ? ORDER BY id LIMIT ?",
                            (topic_arn, after, limit))
    else:
        rows = conn.execute("SELECT * FROM sns_subscriptions WHERE account = ? AND region = ? AND id > ?"
                            " ORDER BY id LIMIT ?", (account, region, after, limit))
    return [Subscription.from_row(r) for r in rows]


def confirmed_subscriptions(conn: sqlite3.Connection, topic_arn: str) -> list[Subscription]:
    rows = conn.execute("SELECT * FROM sns_subscriptions WHERE topic_arn = ? AND pending = 0 ORDER BY id",
                        (topic_arn,))
    return [Subscription.from_row(r) for r in rows]


# -- published messages, FIFO deduplication, the outbox --------------------------------------------

def insert_message(conn: sqlite3.Connection, message_id: str, record: dict[str, Any]) -> None:
    conn.execute("INSERT INTO sns_messages (id, body) VALUES (?, ?)", (message_id, json.dumps(record)))


def forget_expired_dedup(conn: sqlite3.Connection, topic_arn: str, now: float) -> None:
    conn.execute("DELETE FROM sns_dedup WHERE topic_arn = ? AND expires < ?", (topic_arn, now))


def deduplicated(conn: sqlite3.Connection, topic_arn: str, dedup_id: str | None) -> tuple[str, str] | None:
    """(MessageId, SequenceNumber) of the message published with this deduplication id, if any."""
    row = conn.execute("SELECT message_id, sequence FROM sns_dedup WHERE topic_arn = ? AND dedup_id = ?",
                       (topic_arn, dedup_id)).fetchone()
    return (row[0], row[1]) if row is not None else None


def remember_dedup(conn: sqlite3.Connection, topic_arn: str, dedup_id: str | None, message_id: str, sequence: str,
                   expires: float) -> None:
    conn.execute("INSERT INTO sns_dedup (topic_arn, dedup_id, message_id, sequence, expires) VALUES (?,?,?,?,?)",
                 (topic_arn, dedup_id, message_id, sequence, expires))


def enqueue(conn: sqlite3.Connection, message_id: str, sub_arn: str, target: dict[str, Any],
            fifo_key: str | None, now: float) -> None:
    """One delivery of a stored message, due now."""
    conn.execute("INSERT INTO sns_outbox (message_id, subscription_arn, target, fifo_key, due, created)"
                 " VALUES (?,?,?,?,?,?)", (message_id, sub_arn, json.dumps(target), fifo_key, now, now))


def drop_pending(conn: sqlite3.Connection, sub_arn: str) -> None:
    """Forget a subscription's pending deliveries (it is going away), and messages left with none."""
    ids = [r[0] for r in conn.execute("SELECT DISTINCT message_id FROM sns_outbox WHERE subscription_arn = ?",
                                      (sub_arn,))]
    conn.execute("DELETE FROM sns_outbox WHERE subscription_arn = ?", (sub_arn,))
    for message_id in ids:
        _drop_message_if_done(conn, message_id)


def finish(conn: sqlite3.Connection, row_id: int, message_id: str) -> None:
    """A delivery ended (delivered, dead-lettered or dropped): its row goes, and the message with
    its last row."""
    conn.execute("DELETE FROM sns_outbox WHERE id = ?", (row_id,))
    _drop_message_if_done(conn, message_id)


def reschedule(conn: sqlite3.Connection, row_id: int, attempts: int, due: float) -> None:
    conn.execute("UPDATE sns_outbox SET attempts = ?, due = ? WHERE id = ?", (attempts, due, row_id))


def _drop_message_if_done(conn: sqlite3.Connection, message_id: str) -> None:
    conn.execute("DELETE FROM sns_messages WHERE id = ? AND NOT EXISTS (SELECT 1 FROM sns_outbox WHERE"
                 " message_id = ?)", (message_id, message_id))


@dataclass(frozen=True)
class Pending:
    """One outbox row with its message (None if the message is gone)."""
    id: int
    message_id: str
    message: dict[str, Any] | None
    target: dict[str, Any]
    fifo_key: str | None
    attempts: int
    created: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Pending:
        return cls(row["id"], row["message_id"], json.loads(row["body"]) if row["body"] is not None else None,
                   json.loads(row["target"]), row["fifo_key"], row["attempts"], row["created"])


_PENDING = ("SELECT o.id, o.message_id, o.target, o.fifo_key, o.attempts, o.due, o.created, m.body"
            " FROM sns_outbox o LEFT JOIN sns_messages m ON m.id = o.message_id")


class Outbox:
    """`sns_outbox` as the engine's DueSource: rows due now; a FIFO row only at the head of its key
    (subscription + message group), so a group reaches a subscription in order."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def fetch_due(self, now: float, limit: int) -> Sequence[Pending]:
        standard = self.db.query(f"{_PENDING} WHERE o.fifo_key IS NULL AND o.due <= ? ORDER BY o.due, o.id LIMIT ?",
                                 (now, limit))
        heads = self.db.query(f"{_PENDING} WHERE o.id IN (SELECT min(id) FROM sns_outbox WHERE fifo_key IS NOT NULL"
                              " GROUP BY fifo_key) AND o.due <= ? ORDER BY o.due, o.id LIMIT ?", (now, limit))
        rows = sorted([*standard, *heads], key=lambda r: (r["due"], r["id"]))[:limit]
        return [Pending.from_row(r) for r in rows]

    def next_due(self, now: float) -> float | None:
        row = self.db.query_one("SELECT min(due) FROM sns_outbox WHERE due > ?", (now,))
        return float(row[0]) if row is not None and row[0] is not None else None

    def counts(self) -> tuple[int, int]:
        """(deliveries pending, messages stored for them)."""
        row = self.db.query_one("SELECT (SELECT count(*) FROM sns_outbox), (SELECT count(*) FROM sns_messages)")
        assert row is not None
        return int(row[0]), int(row[1])
