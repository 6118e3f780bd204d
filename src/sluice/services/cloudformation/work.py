"""The deployer's work rows as the engine reads them (engine/stacks.py): what is due, and when
the next row is. Apart from records.py, which writes them, so that the deployer, started with the
server, looks for work without importing CloudFormation's records (their dataclasses are most of
the cost of importing them); the service and its records come with the first stack request."""

from __future__ import annotations

import sqlite3


def due_work(conn: sqlite3.Connection, now: float, limit: int) -> list[str]:
    return [r[0] for r in conn.execute("SELECT stack_id FROM cfn_work WHERE due <= ? ORDER BY due LIMIT ?",
                                       (now, limit))]


def has_work(conn: sqlite3.Connection, stack_id: str, now: float) -> bool:
    """Whether the stack has work due now (a waiting step's row is due later)."""
    return conn.execute("SELECT 1 FROM cfn_work WHERE stack_id=? AND due <= ?", (stack_id, now)).fetchone() is not None


def next_work(conn: sqlite3.Connection, now: float) -> float | None:
    row = conn.execute("SELECT MIN(due) FROM cfn_work WHERE due > ?", (now,)).fetchone()
    return row[0] if row and row[0] is not None else None
