"""SQS's messages in the store: one row each from SendMessage to DeleteMessage (see records.py).

Every function taking a connection runs inside the caller's transaction (Database.write) or
read; none decides anything: which message to take, redrive or refuse is receiving.py's rule.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from .records import Queue

DEDUP_WINDOW_MS = 5 * 60 * 1000
SEQUENCE_BASE = 10**19  # FIFO sequence numbers: 20 digits, increasing, as AWS's are


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
    size: int = 0  # the body and message attributes, as the size limit (and SentMessageSize) counts them


@dataclass
class SendOutcome:
    """What a send answers: the new message's ids, or for a FIFO duplicate the original's."""

    message_id: str
    sequence: str | None  # FIFO only
    row_id: int | None  # None when deduplicated


@dataclass(slots=True)
class StoredMessage:
    """A message's row as a receive reads it."""

    id: int
    message_id: str
    body: str
    md5_body: str
    attributes: str | None  # JSON (attributes_to_json)
    md5_attributes: str | None
    trace_header: str | None
    sender_id: str
    sent_ms: int
    visible_ms: int
    receive_count: int
    first_receive_ms: int | None
    group_id: str | None
    dedup_id: str | None
    dlq_source: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> StoredMessage:
        """From a row selected with MESSAGE_COLUMNS (by position: the receive's hot path)."""
        return cls(*row)


# The columns of a StoredMessage, in its fields' order.
MESSAGE_COLUMNS = ("id, message_id, body, md5_body, attributes, md5_attributes, trace_header, sender_id, sent_ms,"
                   " visible_ms, receive_count, first_receive_ms, group_id, dedup_id, dlq_source")


@dataclass(slots=True)
class Received:
    """A message a receive took in flight, with the token of that receive."""

    message: StoredMessage
    token: str


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a message: its queue, the token of its latest receive, and until when."""

    queue_id: int
    receipt: str | None
    visible_ms: int


# -- sending ---------------------------------------------------------------------------------

def insert_message(conn: sqlite3.Connection, queue: Queue, msg: NewMessage, now_ms: int,
                   received: tuple[str, int] | None = None) -> SendOutcome:
    """Insert a message, or answer the original of a FIFO duplicate.

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


def handed_over(msg: NewMessage, row_id: int, now_ms: int, visible_ms: int) -> StoredMessage:
    """The row of a message just handed to a long poll, as a receive would read it."""
    return StoredMessage(row_id, msg.message_id, msg.body, msg.md5_body, msg.stored_attributes, msg.md5_attributes,
                         msg.trace_header, msg.sender_id, now_ms, visible_ms, 1, now_ms, msg.group_id, msg.dedup_id,
                         None)


# -- reading ---------------------------------------------------------------------------------

def counts(conn: sqlite3.Connection, queue_id: int, now_ms: int) -> tuple[int, int, int]:
    """(visible, in flight, delayed) message counts of a queue, from the visibility index alone."""
    row = conn.execute(
        "SELECT coalesce(sum(visible_ms <= :now), 0), coalesce(sum(visible_ms > :now AND receive_count > 0), 0),"
        " coalesce(sum(visible_ms > :now AND receive_count = 0), 0) FROM sqs_messages WHERE queue_id = :q",
        {"now": now_ms, "q": queue_id},
    ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def has_visible(conn: sqlite3.Connection, queue_id: int, now_ms: int) -> bool:
    return conn.execute("SELECT 1 FROM sqs_messages WHERE queue_id=? AND visible_ms<=? LIMIT 1",
                        (queue_id, now_ms)).fetchone() is not None


def first_visible(conn: sqlite3.Connection, queue_id: int) -> int | None:
    """When the queue's first message is or becomes visible (the index's first entry), if any."""
    row = conn.execute("SELECT min(visible_ms) FROM sqs_messages WHERE queue_id=?", (queue_id,)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def next_visible(conn: sqlite3.Connection, queue_id: int, now_ms: int) -> int | None:
    """When the next message of a queue becomes visible (after `now_ms`), if one will."""
    row = conn.execute("SELECT min(visible_ms) FROM sqs_messages WHERE queue_id=? AND visible_ms>?",
                       (queue_id, now_ms)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def oldest_sent(conn: sqlite3.Connection, queue_id: int) -> int | None:
    row = conn.execute("SELECT min(sent_ms) FROM sqs_messages WHERE queue_id=?", (queue_id,)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def visible_messages(conn: sqlite3.Connection, queue_id: int, now_ms: int, limit: int,
                     exclude: list[int]) -> list[StoredMessage]:
    """Up to `limit` visible messages of a standard queue, the longest visible first."""
    # The ids are integers of our own rows: inlining them is safe and lets SQLite use the index.
    skip = f" AND id NOT IN ({','.join(map(str, exclude))})" if exclude else ""
    rows = conn.execute(f"SELECT {MESSAGE_COLUMNS} FROM sqs_messages WHERE queue_id=? AND visible_ms<=?{skip}"
                        " ORDER BY visible_ms, id LIMIT ?", (queue_id, now_ms, limit)).fetchall()
    return [StoredMessage.from_row(row) for row in rows]


def visible_group_heads(conn: sqlite3.Connection, queue_id: int, now_ms: int) -> list[StoredMessage]:
    """The first message of each FIFO message group whose first message is visible, oldest group first."""
    rows = conn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM sqs_messages WHERE id IN (SELECT min(id) FROM sqs_messages WHERE queue_id=?"
        " AND group_id IS NOT NULL GROUP BY group_id) AND visible_ms<=? ORDER BY id", (queue_id, now_ms)).fetchall()
    return [StoredMessage.from_row(row) for row in rows]


def group_messages(conn: sqlite3.Connection, queue_id: int, group_id: str, after_id: int,
                   limit: int = 20) -> list[StoredMessage]:
    """The next messages of a FIFO group, in order, after the row `after_id`."""
    rows = conn.execute(f"SELECT {MESSAGE_COLUMNS} FROM sqs_messages WHERE queue_id=? AND group_id=? AND id>?"
                        " ORDER BY id LIMIT ?",
                        (queue_id, group_id, after_id, limit)).fetchall()
    return [StoredMessage.from_row(row) for row in rows]


def holder(conn: sqlite3.Connection, row_id: int) -> Holder | None:
    row = conn.execute("SELECT queue_id, receipt, visible_ms FROM sqs_messages WHERE id=?", (row_id,)).fetchone()
    return None if row is None else Holder(row["queue_id"], row["receipt"], row["visible_ms"])


# -- changing ----------------------------------------------------------------------------------

def mark_received(conn: sqlite3.Connection, taken: list[tuple[int, int, str, int]]) -> None:
    """Put messages in flight: (now_ms, visible_ms, receipt token, row id) each."""
    sql = ("UPDATE sqs_messages SET receive_count=receive_count+1, first_receive_ms=coalesce(first_receive_ms, ?),"
           " visible_ms=?, receipt=? WHERE id=?")
    if len(taken) == 1:  # the usual receive of one: no executemany iterator
        conn.execute(sql, taken[0])
    else:
        conn.executemany(sql, taken)


def move_to_dead_letter_queue(conn: sqlite3.Connection, row_id: int, dlq_id: int, now_ms: int,
                              source_arn: str) -> None:
    conn.execute("UPDATE sqs_messages SET queue_id=?, visible_ms=?, receipt=NULL, dlq_source=? WHERE id=?",
                 (dlq_id, now_ms, source_arn, row_id))


def delete_message(conn: sqlite3.Connection, row_id: int) -> None:
    conn.execute("DELETE FROM sqs_messages WHERE id=?", (row_id,))


def delete_in_queue(conn: sqlite3.Connection, row_id: int, queue_id: int) -> None:
    """Delete a message if it is (still) in this queue."""
    conn.execute("DELETE FROM sqs_messages WHERE id=? AND queue_id=?", (row_id, queue_id))


def set_visible_at(conn: sqlite3.Connection, row_id: int, visible_ms: int) -> None:
    conn.execute("UPDATE sqs_messages SET visible_ms=? WHERE id=?", (visible_ms, row_id))
