"""CloudWatch Logs' durable state: log groups, log streams and their events.

Events are ordered in a stream by (timestamp, seq); `seq` is a global AUTOINCREMENT, so it never
goes back, even after deletions. The pair is also what tokens and event ids encode
(`position`), so a forward token stays valid while new events arrive.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Literal

# A position in a stream (or a group) is timestamp * SEQ_SPAN + seq, written as the 56 decimal
# digits AWS's tokens and event ids have.
SEQ_SPAN = 10**30
DIGITS = 56


def position(timestamp: int, seq: int) -> int:
    return timestamp * SEQ_SPAN + seq


def split_position(pos: int) -> tuple[int, int]:
    return divmod(pos, SEQ_SPAN)


def event_id(timestamp: int, seq: int) -> str:
    return f"{position(timestamp, seq):0{DIGITS}d}"


def sequence_token(uploads: int) -> str:
    """A 56-digit sequence token, as PutLogEvents has always returned (now ignored on input)."""
    return f"4963{uploads:0{DIGITS - 4}d}"


@dataclass
class GroupRecord:
    """A log group's row."""

    id: int
    account: str
    region: str
    name: str
    created_ms: int
    retention_days: int | None
    kms_key_id: str | None
    log_group_class: str
    deletion_protection: bool
    stored_bytes: int
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> GroupRecord:
        return cls(
            id=row["id"], account=row["account"], region=row["region"], name=row["name"],
            created_ms=row["created_ms"], retention_days=row["retention_days"],
            kms_key_id=row["kms_key_id"], log_group_class=row["log_group_class"],
            deletion_protection=bool(row["deletion_protection"]), stored_bytes=row["stored_bytes"],
            tags=json.loads(row["tags"]),
        )

    @property
    def arn(self) -> str:
        """`logGroupArn`: without the trailing `:*` (what TagResource takes)."""
        return f"arn:aws:logs:{self.region}:{self.account}:log-group:{self.name}"

    def retention_cutoff(self, now_ms: int) -> int | None:
        """Events older than this are expired (not returned); None keeps everything."""
        if not self.retention_days:
            return None
        return now_ms - self.retention_days * 86_400_000

    def describe(self, short: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "logGroupName": self.name,
            "creationTime": self.created_ms,
        }
        if short:  # logGroupNamePattern: "only arn, creationTime, and logGroupName"
            out["arn"] = self.arn + ":*"
            return out
        if self.retention_days:
            out["retentionInDays"] = self.retention_days
        out["metricFilterCount"] = 0
        out["arn"] = self.arn + ":*"
        out["storedBytes"] = self.stored_bytes
        if self.kms_key_id:
            out["kmsKeyId"] = self.kms_key_id
        out["logGroupClass"] = self.log_group_class
        out["logGroupArn"] = self.arn
        if self.deletion_protection:
            out["deletionProtectionEnabled"] = True
        return out


@dataclass
class StreamRecord:
    """A log stream's row."""

    id: int
    group_id: int
    name: str
    created_ms: int
    first_event_ms: int | None
    last_event_ms: int | None
    last_ingestion_ms: int | None
    uploads: int

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> StreamRecord:
        return cls(
            id=row["id"], group_id=row["group_id"], name=row["name"], created_ms=row["created_ms"],
            first_event_ms=row["first_event_ms"], last_event_ms=row["last_event_ms"],
            last_ingestion_ms=row["last_ingestion_ms"], uploads=row["uploads"],
        )

    def describe(self, group: GroupRecord) -> dict[str, Any]:
        out: dict[str, Any] = {"logStreamName": self.name, "creationTime": self.created_ms}
        if self.first_event_ms is not None:
            out["firstEventTimestamp"] = self.first_event_ms
            out["lastEventTimestamp"] = self.last_event_ms
            out["lastIngestionTime"] = self.last_ingestion_ms
        if self.uploads:
            out["uploadSequenceToken"] = sequence_token(self.uploads)
        out["arn"] = f"{group.arn}:log-stream:{self.name}"
        out["storedBytes"] = 0  # AWS stopped reporting per-stream bytes; it answers 0
        return out


@dataclass(frozen=True)
class EventRow:
    """A stored event: its place in the stream (timestamp, seq), when it came and its message."""

    seq: int
    timestamp: int
    ingestion_ms: int
    message: str
    stream: str = ""  # the stream's name, where a read spans streams

    @property
    def position(self) -> int:
        return position(self.timestamp, self.seq)


def _event(row: sqlite3.Row) -> EventRow:
    return EventRow(row["seq"], row["timestamp"], row["ingestion_ms"], row["message"])


def _stream_event(row: sqlite3.Row) -> EventRow:
    return EventRow(row["seq"], row["timestamp"], row["ingestion_ms"], row["message"], row["name"])


# -- reads (any connection: the reader's, or the writer's inside a transaction) --------------------

def find_group(conn: sqlite3.Connection, account: str, region: str, name: str) -> GroupRecord | None:
    row = conn.execute("SELECT * FROM logs_groups WHERE account=? AND region=? AND name=?",
                       (account, region, name)).fetchone()
    return GroupRecord.from_row(row) if row is not None else None


def groups_after(conn: sqlite3.Connection, account: str, region: str, after: str,
                 prefix: str | None) -> Generator[GroupRecord, None, None]:
    """The account's groups in the region, by name, from the first name after `after` (and at
    least `prefix`); the caller stops reading when it has enough."""
    sql = "SELECT * FROM logs_groups WHERE account=? AND region=? AND name > ?"
    args: list[Any] = [account, region, after]
    if prefix:
        sql += " AND name >= ?"
        args.append(prefix)
    rows = conn.execute(sql + " ORDER BY name", args)
    try:
        for row in rows:
            yield GroupRecord.from_row(row)
    finally:
        rows.close()  # end the read now rather than when the cursor is collected


def find_stream(conn: sqlite3.Connection, group_id: int, name: str) -> int | None:
    """The stream's id, or None."""
    row = conn.execute("SELECT id FROM logs_streams WHERE group_id=? AND name=?", (group_id, name)).fetchone()
    return int(row[0]) if row is not None else None


def streams_of(conn: sqlite3.Connection, group_id: int) -> list[StreamRecord]:
    return [StreamRecord.from_row(r) for r in conn.execute("SELECT * FROM logs_streams WHERE group_id=?",
                                                              (group_id,))]


def stream_events(conn: sqlite3.Connection, group_id: int, stream_id: int, lo: int | None, hi: int | None,
                  anchor: int | None, forward: bool, limit: int) -> list[EventRow]:
    """Up to `limit` events of a stream with lo <= timestamp < hi, after (forward) or before the
    position `anchor`, in that direction's order."""
    sql = "SELECT seq, timestamp, ingestion_ms, message FROM logs_events WHERE group_id=? AND stream_id=?"
    args: list[Any] = [group_id, stream_id]
    if lo is not None:
        sql += " AND timestamp >= ?"
        args.append(lo)
    if hi is not None:
        sql += " AND timestamp < ?"
        args.append(hi)
    if anchor is not None:
        sql += " AND (timestamp, seq) > (?, ?)" if forward else " AND (timestamp, seq) < (?, ?)"
        args += list(split_position(anchor))
    sql += " ORDER BY timestamp, seq" if forward else " ORDER BY timestamp DESC, seq DESC"
    return [_event(r) for r in conn.execute(sql + " LIMIT ?", (*args, limit))]


def group_events(conn: sqlite3.Connection, group_id: int, lo: int | None, hi: int | None,
                 names: list[str] | None, prefix: str | None, ascending: bool, after: int | None,
                 limit: int) -> list[EventRow]:
    """Up to `limit` events of a group with lo <= timestamp <= hi, of the named streams (or those
    starting with `prefix`), after the position `after` in (timestamp, seq) order or its reverse."""
    sql = ("SELECT e.seq, e.timestamp, e.ingestion_ms, e.message, s.name FROM logs_events e"
           " JOIN logs_streams s ON s.id = e.stream_id WHERE e.group_id = ?")
    args: list[Any] = [group_id]
    if lo is not None:
        sql += " AND e.timestamp >= ?"
        args.append(lo)
    if hi is not None:
        sql += " AND e.timestamp <= ?"
        args.append(hi)
    if names:
        sql += f" AND s.name IN ({','.join('?' * len(names))})"
        args += names
    if prefix:
        sql += " AND substr(s.name, 1, ?) = ?"
        args += [len(prefix), prefix]
    if after is not None:
        sql += f" AND (e.timestamp, e.seq) {'>' if ascending else '<'} (?, ?)"
        args += list(split_position(after))
    sql += " ORDER BY e.timestamp, e.seq" if ascending else " ORDER BY e.timestamp DESC, e.seq DESC"
    return [_stream_event(r) for r in conn.execute(sql + " LIMIT ?", (*args, limit))]


def lines_between(conn: sqlite3.Connection, account: str, region: str, group: str, stream: str,
                  since_ms: int, until_ms: int) -> list[EventRow]:
    """A stream's events with since <= timestamp <= until, in the order they were written."""
    rows = conn.execute(
        "SELECT e.seq, e.timestamp, e.ingestion_ms, e.message FROM logs_events e"
        " JOIN logs_streams s ON s.id = e.stream_id JOIN logs_groups g ON g.id = e.group_id"
        " WHERE g.account=? AND g.region=? AND g.name=? AND s.name=? AND e.timestamp BETWEEN ? AND ?"
        " ORDER BY e.seq", (account, region, group, stream, since_ms, until_ms))
    return [_event(r) for r in rows]


# -- writes (inside Database.write) ----------------------------------------------------------------

def insert_group(conn: sqlite3.Connection, account: str, region: str, name: str, now_ms: int, *,
                 kms_key_id: str | None, group_class: str, protected: bool, tags: dict[str, str]) -> None:
    conn.execute(
        "INSERT INTO logs_groups (account, region, name, created_ms, kms_key_id, log_group_class,"
        " deletion_protection, tags) VALUES (?,?,?,?,?,?,?,?)",
        (account, region, name, now_ms, kms_key_id, group_class, int(protected), json.dumps(tags)),
    )


def delete_group(conn: sqlite3.Connection, group_id: int) -> None:
    conn.execute("DELETE FROM logs_events WHERE group_id=?", (group_id,))
    conn.execute("DELETE FROM logs_streams WHERE group_id=?", (group_id,))
    conn.execute("DELETE FROM logs_groups WHERE id=?", (group_id,))


GroupSetting = Literal["retention_days", "deletion_protection"]


def update_group(conn: sqlite3.Connection, account: str, region: str, name: str, setting: GroupSetting,
                 value: int | None) -> bool:
    """Set one of a group's settings; False if there is no such group."""
    column = {"retention_days": "retention_days", "deletion_protection": "deletion_protection"}[setting]
    cur = conn.execute(f"UPDATE logs_groups SET {column} = ? WHERE account=? AND region=? AND name=?",
                       (value, account, region, name))
    return cur.rowcount > 0


def set_tags(conn: sqlite3.Connection, group_id: int, tags: dict[str, str]) -> None:
    conn.execute("UPDATE logs_groups SET tags=? WHERE id=?", (json.dumps(tags), group_id))


def insert_stream(conn: sqlite3.Connection, group_id: int, name: str, now_ms: int) -> None:
    conn.execute("INSERT INTO logs_streams (group_id, name, created_ms) VALUES (?,?,?)", (group_id, name, now_ms))


def delete_stream(conn: sqlite3.Connection, group_id: int, stream_id: int) -> None:
    conn.execute("DELETE FROM logs_events WHERE group_id=? AND stream_id=?", (group_id, stream_id))
    conn.execute("DELETE FROM logs_streams WHERE id=?", (stream_id,))


def ensure_group(conn: sqlite3.Connection, account: str, region: str, name: str, now_ms: int) -> int:
    row = conn.execute(
        "SELECT id FROM logs_groups WHERE account=? AND region=? AND name=?", (account, region, name)
    ).fetchone()
    if row is not None:
        return int(row[0])
    cur = conn.execute(
        "INSERT INTO logs_groups (account, region, name, created_ms) VALUES (?,?,?,?)",
        (account, region, name, now_ms),
    )
    return int(cur.lastrowid or 0)


def ensure_stream(conn: sqlite3.Connection, group_id: int, name: str, now_ms: int) -> int:
    row = conn.execute("SELECT id FROM logs_streams WHERE group_id=? AND name=?", (group_id, name)).fetchone()
    if row is not None:
        return int(row[0])
    cur = conn.execute(
        "INSERT INTO logs_streams (group_id, name, created_ms) VALUES (?,?,?)", (group_id, name, now_ms)
    )
    return int(cur.lastrowid or 0)


def insert_events(
    conn: sqlite3.Connection, group_id: int, stream_id: int, events: list[tuple[int, str]], now_ms: int
) -> int:
    """Append events (already in timestamp order) to a stream; return the stream's upload count."""
    if events:
        conn.executemany(
            "INSERT INTO logs_events (group_id, stream_id, timestamp, ingestion_ms, message) VALUES (?,?,?,?,?)",
            [(group_id, stream_id, ts, now_ms, msg) for ts, msg in events],
        )
        first, last = events[0][0], events[-1][0]
        size = sum(len(msg.encode("utf-8", "surrogatepass")) for _, msg in events)
        conn.execute(
            "UPDATE logs_streams SET first_event_ms = min(coalesce(first_event_ms, ?), ?),"
            " last_event_ms = max(coalesce(last_event_ms, ?), ?), last_ingestion_ms = ?,"
            " uploads = uploads + 1 WHERE id = ?",
            (first, first, last, last, now_ms, stream_id),
        )
        conn.execute("UPDATE logs_groups SET stored_bytes = stored_bytes + ? WHERE id = ?", (size, group_id))
    else:
        conn.execute("UPDATE logs_streams SET uploads = uploads + 1 WHERE id = ?", (stream_id,))
    row = conn.execute("SELECT uploads FROM logs_streams WHERE id = ?", (stream_id,)).fetchone()
    return int(row[0])
