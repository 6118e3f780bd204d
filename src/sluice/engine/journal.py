"""The durable record of an event's path, for `sluice trace` and the OTLP export.

Each hop writes its row in the transaction it already makes: the upload and its notifications
with the object (S3's outbox transaction), a notification's delivery with the outbox row's
removal, each Lambda attempt with the queue update (or the outcome), each DLQ / destination send
with the outcome's `delivered` mark. So the journal never claims a hop that did not commit, and
a crash loses no hop that did. Span ids are chosen when a row is written, so a trace rebuilt
from these rows always has the same parent links.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ..store.db import Migration

_JOURNAL_0001 = Migration(
    "journal-0001",
    """
    CREATE TABLE trace_uploads (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        trace_header TEXT NOT NULL,   -- Parent = the client's span, if it sent one
        span_id TEXT NOT NULL,        -- the S3 request's span
        bucket TEXT NOT NULL,
        key TEXT NOT NULL,
        event_name TEXT NOT NULL,
        operation TEXT NOT NULL,
        request_id TEXT NOT NULL,
        size INTEGER,
        etag TEXT,
        at REAL NOT NULL,             -- the event time (the object's Last-Modified)
        committed REAL NOT NULL
    );
    CREATE INDEX trace_uploads_by_key ON trace_uploads(bucket, key, id);
    CREATE INDEX trace_uploads_by_request ON trace_uploads(request_id);
    CREATE TABLE trace_notifications (
        outbox_id INTEGER PRIMARY KEY,    -- s3_outbox.id (AUTOINCREMENT: never reused)
        upload_id INTEGER NOT NULL,
        configuration_id TEXT NOT NULL,
        target_arn TEXT NOT NULL,
        trace_header TEXT NOT NULL,       -- what the target receives: Parent = this notification's span
        created REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',   -- pending | delivered | dropped
        attempts INTEGER NOT NULL DEFAULT 0,
        finished REAL,
        delivery_id TEXT,                 -- the Lambda request id or the message id
        error TEXT
    );
    CREATE INDEX trace_notifications_by_upload ON trace_notifications(upload_id);
    CREATE INDEX trace_notifications_by_delivery ON trace_notifications(delivery_id);
    CREATE TABLE lambda_attempts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id TEXT NOT NULL,
        number INTEGER NOT NULL,
        function_arn TEXT NOT NULL,       -- as invoked (qualified when a qualifier was given)
        span_id TEXT NOT NULL,
        started REAL NOT NULL,
        finished REAL NOT NULL,
        duration_ms REAL NOT NULL,
        outcome TEXT NOT NULL,            -- success | Unhandled | timeout | crash
        error_type TEXT,
        error_message TEXT,
        log_stream TEXT
    );
    CREATE INDEX lambda_attempts_by_request ON lambda_attempts(request_id, id);
    CREATE TABLE lambda_deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id TEXT NOT NULL,
        kind TEXT NOT NULL,               -- dead-letter | on-success | on-failure
        target TEXT NOT NULL,
        span_id TEXT NOT NULL,
        at REAL NOT NULL,
        ok INTEGER NOT NULL,
        message_id TEXT,
        error TEXT
    );
    CREATE INDEX lambda_deliveries_by_request ON lambda_deliveries(request_id, id);
    """,
)
MIGRATIONS = (_JOURNAL_0001,)

SUCCESS = "success"
UNHANDLED = "Unhandled"
TIMEOUT = "timeout"
CRASH = "crash"

_CRASH_TYPES = ("Runtime.ExitError", "Runtime.OutOfMemory")


def attempt_outcome(ok: bool, error_type: str | None) -> str:
    if ok:
        return SUCCESS
    if error_type == "Sandbox.Timedout":
        return TIMEOUT
    if error_type in _CRASH_TYPES:
        return CRASH
    return UNHANDLED


@dataclass(frozen=True)
class Upload:
    """An S3 upload's row in the journal (`trace_uploads`): where an event's trace starts."""

    trace_header: str
    span_id: str
    bucket: str
    key: str
    event_name: str
    operation: str
    request_id: str
    size: int | None
    etag: str | None
    at: float
    committed: float


@dataclass(frozen=True)
class Attempt:
    """One Lambda attempt's row in the journal (`lambda_attempts`)."""

    request_id: str
    number: int
    function_arn: str
    span_id: str
    started: float
    finished: float
    duration_ms: float
    outcome: str
    error_type: str | None
    error_message: str | None
    log_stream: str | None


@dataclass(frozen=True)
class Sent:
    """A dead-letter or destination send's row in the journal (`lambda_deliveries`)."""

    request_id: str
    kind: str
    target: str
    span_id: str
    at: float
    ok: bool
    message_id: str | None
    error: str | None


def add_upload(conn: sqlite3.Connection, upload: Upload) -> int:
    cur = conn.execute(
        "INSERT INTO trace_uploads (trace_header, span_id, bucket, key, event_name, operation, request_id, size,"
        " etag, at, committed) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (upload.trace_header, upload.span_id, upload.bucket, upload.key, upload.event_name, upload.operation,
         upload.request_id, upload.size, upload.etag, upload.at, upload.committed))
    return int(cur.lastrowid or 0)


def add_notification(conn: sqlite3.Connection, outbox_id: int, upload_id: int, configuration_id: str,
                     target_arn: str, trace_header: str, created: float) -> None:
    conn.execute(
        "INSERT INTO trace_notifications (outbox_id, upload_id, configuration_id, target_arn, trace_header, created)"
        " VALUES (?,?,?,?,?,?)", (outbox_id, upload_id, configuration_id, target_arn, trace_header, created))


def notification_header(conn: sqlite3.Connection, outbox_id: int) -> str | None:
    row = conn.execute("SELECT trace_header FROM trace_notifications WHERE outbox_id=?", (outbox_id,)).fetchone()
    return str(row["trace_header"]) if row else None


def notification_done(conn: sqlite3.Connection, outbox_id: int, state: str, attempts: int, at: float,
                      delivery_id: str | None, error: str | None) -> None:
    """A notification delivered (state 'delivered'), retried later ('pending') or given up ('dropped')."""
    conn.execute(
        "UPDATE trace_notifications SET state=?, attempts=?, finished=?, delivery_id=COALESCE(?, delivery_id),"
        " error=? WHERE outbox_id=?", (state, attempts, at, delivery_id, error, outbox_id))


def add_attempt(conn: sqlite3.Connection, attempt: Attempt) -> None:
    conn.execute(
        "INSERT INTO lambda_attempts (request_id, number, function_arn, span_id, started, finished, duration_ms,"
        " outcome, error_type, error_message, log_stream) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (attempt.request_id, attempt.number, attempt.function_arn, attempt.span_id, attempt.started, attempt.finished,
         attempt.duration_ms, attempt.outcome, attempt.error_type, attempt.error_message, attempt.log_stream))


def add_sent(conn: sqlite3.Connection, sent: Sent) -> None:
    conn.execute(
        "INSERT INTO lambda_deliveries (request_id, kind, target, span_id, at, ok, message_id, error)"
        " VALUES (?,?,?,?,?,?,?,?)",
        (sent.request_id, sent.kind, sent.target, sent.span_id, sent.at, 1 if sent.ok else 0, sent.message_id,
         sent.error))
