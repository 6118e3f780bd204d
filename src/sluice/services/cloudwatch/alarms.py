"""Alarms and their history, durable in SQLite.

An alarm is kept as its MetricAlarm description (botocore member names, timestamps as epoch
seconds), so DescribeAlarms returns what PutMetricAlarm stored plus the evaluator's state.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ...store.db import Database, Migration

_CLOUDWATCH_0002 = Migration(
    "cloudwatch-0002",
    """
    CREATE TABLE cloudwatch_alarms (
        name TEXT PRIMARY KEY,
        body TEXT NOT NULL              -- JSON: the MetricAlarm members
    );
    CREATE TABLE cloudwatch_alarm_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        ts REAL NOT NULL,
        type TEXT NOT NULL,             -- ConfigurationUpdate | StateUpdate | Action
        summary TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX cloudwatch_alarm_history_by_name ON cloudwatch_alarm_history(name, ts);
    CREATE INDEX cloudwatch_alarm_history_by_ts ON cloudwatch_alarm_history(ts);
    """,
)
MIGRATIONS = (_CLOUDWATCH_0002,)

Alarm = dict[str, Any]


@dataclass(frozen=True)
class HistoryItem:
    """An entry of an alarm's history, as DescribeAlarmHistory lists it."""

    name: str
    ts: float
    type: str
    summary: str
    data: dict[str, Any]


def _insert(conn: sqlite3.Connection, history: Iterable[HistoryItem]) -> None:
    # Kept to the millisecond the API shows, so StartDate/EndDate from a listing match it.
    conn.executemany("INSERT INTO cloudwatch_alarm_history (name, ts, type, summary, data) VALUES (?,?,?,?,?)",
                     [(h.name, round(h.ts, 3), h.type, h.summary, json.dumps(h.data, separators=(",", ":")))
                      for h in history])


class AlarmStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, name: str) -> Alarm | None:
        row = self.db.query_one("SELECT body FROM cloudwatch_alarms WHERE name = ?", (name,))
        return json.loads(row["body"]) if row else None

    def any(self) -> bool:
        return self.db.query_one("SELECT 1 FROM cloudwatch_alarms LIMIT 1") is not None

    def all(self) -> list[Alarm]:
        return [json.loads(r["body"]) for r in self.db.query("SELECT body FROM cloudwatch_alarms ORDER BY name")]

    def put(self, alarms: Iterable[Alarm], history: Iterable[HistoryItem] = ()) -> None:
        """Store alarms (new or changed) and their history items, in one transaction."""

        def txn(conn: sqlite3.Connection) -> None:
            conn.executemany("INSERT OR REPLACE INTO cloudwatch_alarms (name, body) VALUES (?, ?)",
                             [(a["AlarmName"], json.dumps(a)) for a in alarms])
            _insert(conn, history)

        self.db.write(txn)

    def delete(self, names: Iterable[str], history: Iterable[HistoryItem] = ()) -> None:
        def txn(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM cloudwatch_alarms WHERE name = ?", [(n,) for n in names])
            _insert(conn, history)

        self.db.write(txn)

    def add_history(self, history: Iterable[HistoryItem]) -> None:
        self.db.write(lambda conn: _insert(conn, history))

    def history(self, name: str | None, kind: str | None, start: float | None, end: float | None,
                descending: bool) -> list[sqlite3.Row]:
        sql = "SELECT name, ts, type, summary, data FROM cloudwatch_alarm_history WHERE 1"
        params: list[Any] = []
        for clause, value in (("name = ?", name), ("type = ?", kind), ("ts >= ?", start), ("ts <= ?", end)):
            if value is not None:
                sql += f" AND {clause}"
                params.append(value)
        sql += f" ORDER BY ts {'DESC' if descending else 'ASC'}, id {'DESC' if descending else 'ASC'}"
        return self.db.query(sql, tuple(params))
