"""Event notifications in the store: each bucket's configuration, its sequencer, and the outbox.

Outbox rows are written in the transaction of the object change they announce, and deleted
once delivered or given up; `next_at` is when a row is due (clock time).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NotifyingBucket:
    """What an event needs of its bucket: the configuration, the owner account and the region."""

    config: dict[str, Any]
    account: str
    region: str


@dataclass(frozen=True)
class OutboxEntry:
    """An event notification in the outbox, waiting for delivery to its target."""

    id: int
    bucket: str
    account: str
    target_arn: str
    body: str  # the message (an S3 event document, or an EventBridge event's detail)
    event: str | None  # EventBridge targets: the event's other fields (JSON)
    created: float
    attempts: int

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> OutboxEntry:
        return cls(row["id"], row["bucket"], row["account"], row["target_arn"], row["body"], row["event"],
                   row["created"], row["attempts"])


def configuration(conn: sqlite3.Connection, bucket: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT config FROM s3_notifications WHERE bucket=?", (bucket,)).fetchone()
    return json.loads(row["config"]) if row else None


def set_configuration(conn: sqlite3.Connection, bucket: str, config: dict[str, Any]) -> None:
    """Store the bucket's configuration; an empty one removes it."""
    if config:
        conn.execute("INSERT OR REPLACE INTO s3_notifications (bucket, config) VALUES (?,?)",
                     (bucket, json.dumps(config)))
    else:
        conn.execute("DELETE FROM s3_notifications WHERE bucket=?", (bucket,))


def notifying(conn: sqlite3.Connection, bucket: str) -> NotifyingBucket | None:
    """The bucket, if it has a notification configuration."""
    row = conn.execute(
        "SELECT n.config, b.account, b.region FROM s3_notifications n JOIN s3_buckets b ON b.name = n.bucket"
        " WHERE n.bucket=?", (bucket,)).fetchone()
    return NotifyingBucket(json.loads(row["config"]), row["account"], row["region"]) if row else None


def next_sequencer(conn: sqlite3.Connection, bucket: str) -> int:
    """The bucket's next event number (kept when the bucket is deleted: a re-created bucket's
    sequencers still grow)."""
    return int(conn.execute("INSERT INTO s3_sequencers (bucket, value) VALUES (?, 1)"
                            " ON CONFLICT(bucket) DO UPDATE SET value = value + 1 RETURNING value",
                            (bucket,)).fetchone()[0])


def add(conn: sqlite3.Connection, bucket: str, account: str, target_arn: str, body: str, event: str | None,
        now: float) -> int:
    """Queue one message, due now; return its id."""
    cur = conn.execute(
        "INSERT INTO s3_outbox (bucket, account, target_arn, body, event, created, next_at) VALUES (?,?,?,?,?,?,?)",
        (bucket, account, target_arn, body, event, now, now))
    return int(cur.lastrowid or 0)


def due_targets(conn: sqlite3.Connection, now: float, limit: int) -> list[str]:
    """Up to `limit` destinations with rows due at `now`, the most overdue first. The distinct
    destinations are walked by index, one step each (a plain GROUP BY reads every due row), and
    each one's earliest due time is one index lookup: a backlog costs O(destinations x log n)."""
    rows = conn.execute(
        "WITH RECURSIVE targets(arn) AS ("
        " SELECT MIN(target_arn) FROM s3_outbox"
        " UNION ALL SELECT (SELECT MIN(target_arn) FROM s3_outbox WHERE target_arn > arn) FROM targets"
        " WHERE arn IS NOT NULL)"
        " SELECT arn, (SELECT MIN(next_at) FROM s3_outbox WHERE target_arn = arn) AS due FROM targets"
        " WHERE arn IS NOT NULL AND due <= ? ORDER BY due, arn LIMIT ?", (now, limit))
    return [r["arn"] for r in rows]


def due_for(conn: sqlite3.Connection, target_arn: str, now: float, limit: int) -> list[OutboxEntry]:
    """Up to `limit` of the destination's rows due at `now`, in the order they were written.
    (`+next_at`: walk the destination's rows in id order and skip those not due, rather than
    gather all its due rows to sort them.)"""
    rows = conn.execute("SELECT * FROM s3_outbox WHERE target_arn=? AND +next_at <= ? ORDER BY id LIMIT ?",
                        (target_arn, now, limit))
    return [OutboxEntry.from_row(r) for r in rows]


def next_due(conn: sqlite3.Connection, now: float) -> float | None:
    """When the next row falls due after `now`, if any is waiting."""
    row = conn.execute("SELECT MIN(next_at) FROM s3_outbox WHERE next_at > ?", (now,)).fetchone()
    return float(row[0]) if row and row[0] is not None else None


def remove(conn: sqlite3.Connection, entry_id: int) -> None:
    conn.execute("DELETE FROM s3_outbox WHERE id=?", (entry_id,))


def reschedule(conn: sqlite3.Connection, entry_id: int, attempts: int, next_at: float, error: str) -> None:
    conn.execute("UPDATE s3_outbox SET attempts=?, next_at=?, last_error=? WHERE id=?",
                 (attempts, next_at, error, entry_id))
