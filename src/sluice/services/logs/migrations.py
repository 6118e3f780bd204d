"""CloudWatch Logs' schema steps (records.py holds what is read and written): the server's start
lists them without importing the service's records."""

from __future__ import annotations

from ...store.db import Migration

_LOGS_0001 = Migration(
    "logs-0001",
    """
    CREATE TABLE logs_groups (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        retention_days INTEGER,
        kms_key_id TEXT,
        log_group_class TEXT NOT NULL DEFAULT 'STANDARD',
        deletion_protection INTEGER NOT NULL DEFAULT 0,
        stored_bytes INTEGER NOT NULL DEFAULT 0,
        tags TEXT NOT NULL DEFAULT '{}',
        UNIQUE (account, region, name)
    );
    CREATE TABLE logs_streams (
        id INTEGER PRIMARY KEY,
        group_id INTEGER NOT NULL REFERENCES logs_groups(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        first_event_ms INTEGER,
        last_event_ms INTEGER,
        last_ingestion_ms INTEGER,
        uploads INTEGER NOT NULL DEFAULT 0,
        UNIQUE (group_id, name)
    );
    CREATE TABLE logs_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        group_id INTEGER NOT NULL,
        stream_id INTEGER NOT NULL,
        timestamp INTEGER NOT NULL,
        ingestion_ms INTEGER NOT NULL,
        message TEXT NOT NULL
    );
    CREATE INDEX logs_events_by_stream ON logs_events(group_id, stream_id, timestamp, seq);
    CREATE INDEX logs_events_by_group ON logs_events(group_id, timestamp, seq);
    """,
)
MIGRATIONS = (_LOGS_0001,)
