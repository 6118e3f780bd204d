"""Message move tasks in the store (table sqs_move_tasks, see records.py).

A RUNNING task's next step is due at `due` (clock seconds): the engine's dispatcher reads the
due tasks and sleeps on the Clock until the next one. Every function taking a connection runs
inside the caller's transaction (Database.write) or read.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

RUNNING, COMPLETED, CANCELLED, FAILED = "RUNNING", "COMPLETED", "CANCELLED", "FAILED"


@dataclass(frozen=True)
class MoveTask:
    """A message move task (StartMessageMoveTask) and how far it has got."""

    task_id: str
    account: str
    region: str
    source_arn: str
    destination_arn: str | None
    rate: int | None  # MaxNumberOfMessagesPerSecond
    status: str
    started_ms: int
    to_move: int
    moved: int = 0
    failure: str | None = None
    due: float = 0.0

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> MoveTask:
        return cls(row["task_id"], row["account"], row["region"], row["source_arn"], row["destination_arn"],
                   row["rate"], row["status"], row["started_ms"], row["to_move"], row["moved"], row["failure"],
                   row["due"])


@dataclass(frozen=True)
class Movable:
    """A visible message a move task may take from its source queue."""

    row_id: int
    dlq_source: str | None  # the queue it was dead-lettered from


def has_running(conn: sqlite3.Connection, source_arn: str) -> bool:
    return conn.execute("SELECT 1 FROM sqs_move_tasks WHERE source_arn=? AND status=?",
                        (source_arn, RUNNING)).fetchone() is not None


def insert_task(conn: sqlite3.Connection, task: MoveTask) -> None:
    conn.execute(
        "INSERT INTO sqs_move_tasks (task_id, account, region, source_arn, destination_arn, rate, status,"
        " started_ms, to_move, moved, failure, due) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (task.task_id, task.account, task.region, task.source_arn, task.destination_arn, task.rate, task.status,
         task.started_ms, task.to_move, task.moved, task.failure, task.due))


def get_task(conn: sqlite3.Connection, task_id: str) -> MoveTask | None:
    row = conn.execute("SELECT * FROM sqs_move_tasks WHERE task_id=?", (task_id,)).fetchone()
    return None if row is None else MoveTask.from_row(row)


def latest_tasks(conn: sqlite3.Connection, source_arn: str, limit: int) -> list[MoveTask]:
    """A source queue's tasks, the most recently started first."""
    rows = conn.execute("SELECT * FROM sqs_move_tasks WHERE source_arn=? ORDER BY started_ms DESC, rowid DESC"
                        " LIMIT ?", (source_arn, limit)).fetchall()
    return [MoveTask.from_row(row) for row in rows]


def set_status(conn: sqlite3.Connection, task_id: str, status: str, failure: str | None = None) -> None:
    """End a running task (a task that has ended keeps its outcome)."""
    conn.execute("UPDATE sqs_move_tasks SET status=?, failure=? WHERE task_id=? AND status=?",
                 (status, failure, task_id, RUNNING))


def due_tasks(conn: sqlite3.Connection, now: float, limit: int) -> list[MoveTask]:
    # 'RUNNING' written out: SQLite uses the partial index only for the literal.
    rows = conn.execute("SELECT * FROM sqs_move_tasks WHERE status='RUNNING' AND due<=? ORDER BY due LIMIT ?",
                        (now, limit)).fetchall()
    return [MoveTask.from_row(row) for row in rows]


def next_due(conn: sqlite3.Connection, now: float) -> float | None:
    row = conn.execute("SELECT min(due) FROM sqs_move_tasks WHERE status='RUNNING' AND due>?", (now,)).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def movable_messages(conn: sqlite3.Connection, queue_id: int, now_ms: int, limit: int) -> list[Movable]:
    """Up to `limit` visible messages of a queue, the longest visible first."""
    rows = conn.execute("SELECT id, dlq_source FROM sqs_messages WHERE queue_id=? AND visible_ms<=?"
                        " ORDER BY visible_ms, id LIMIT ?", (queue_id, now_ms, limit)).fetchall()
    return [Movable(row["id"], row["dlq_source"]) for row in rows]


def relocate(conn: sqlite3.Connection, row_id: int, queue_id: int, now_ms: int) -> None:
    """Move a message to another queue as a new, visible, never received message."""
    conn.execute("UPDATE sqs_messages SET queue_id=?, visible_ms=?, receive_count=0, first_receive_ms=NULL,"
                 " receipt=NULL, dlq_source=NULL WHERE id=?", (queue_id, now_ms, row_id))


def record_progress(conn: sqlite3.Connection, task_id: str, moved: int, due: float) -> None:
    conn.execute("UPDATE sqs_move_tasks SET moved=moved+?, due=? WHERE task_id=?", (moved, due, task_id))
