"""S3's tables, in the order their steps apply (schema.py lists MIGRATIONS)."""

from __future__ import annotations

from ....store.db import Migration

_S3_0001 = Migration(
    "s3-0001",
    """
    CREATE TABLE s3_buckets (
        name TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        created REAL NOT NULL,
        config TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE s3_objects (
        bucket TEXT NOT NULL REFERENCES s3_buckets(name),
        key TEXT NOT NULL,
        blob TEXT,
        data BLOB,
        size INTEGER NOT NULL,
        etag TEXT NOT NULL,
        last_modified REAL NOT NULL,
        content_type TEXT,
        headers TEXT NOT NULL DEFAULT '{}',
        metadata TEXT NOT NULL DEFAULT '{}',
        tags TEXT NOT NULL DEFAULT '{}',
        checksum_algorithm TEXT,
        checksum TEXT,
        checksum_type TEXT,
        parts TEXT,
        storage_class TEXT NOT NULL DEFAULT 'STANDARD',
        PRIMARY KEY (bucket, key)
    );
    CREATE TABLE s3_uploads (
        upload_id TEXT PRIMARY KEY,
        bucket TEXT NOT NULL REFERENCES s3_buckets(name),
        key TEXT NOT NULL,
        initiated REAL NOT NULL,
        content_type TEXT,
        headers TEXT NOT NULL DEFAULT '{}',
        metadata TEXT NOT NULL DEFAULT '{}',
        tags TEXT NOT NULL DEFAULT '{}',
        checksum_algorithm TEXT,
        checksum_type TEXT,
        storage_class TEXT NOT NULL DEFAULT 'STANDARD'
    );
    CREATE INDEX s3_uploads_by_key ON s3_uploads(bucket, key, initiated);
    CREATE TABLE s3_parts (
        upload_id TEXT NOT NULL REFERENCES s3_uploads(upload_id) ON DELETE CASCADE,
        part_number INTEGER NOT NULL,
        blob TEXT NOT NULL,
        size INTEGER NOT NULL,
        etag TEXT NOT NULL,
        last_modified REAL NOT NULL,
        checksum TEXT,
        PRIMARY KEY (upload_id, part_number)
    );
    """,
)

# Event notifications: each bucket's configuration, a per-bucket event counter (the sequencer;
# kept when a bucket is deleted, so a re-created bucket's sequencers still grow), and the outbox
# of events to deliver, written in the same transaction as the object change.
_S3_0002 = Migration(
    "s3-0002",
    """
    CREATE TABLE s3_notifications (
        bucket TEXT PRIMARY KEY REFERENCES s3_buckets(name) ON DELETE CASCADE,
        config TEXT NOT NULL
    );
    CREATE TABLE s3_sequencers (
        bucket TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    CREATE TABLE s3_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        bucket TEXT NOT NULL,
        account TEXT NOT NULL,
        target_arn TEXT NOT NULL,
        body TEXT NOT NULL,
        event TEXT,
        created REAL NOT NULL,
        next_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );
    CREATE INDEX s3_outbox_due ON s3_outbox(next_at);
    """,
)

# Versioning: every row of s3_objects is one version of a key (or a delete marker). `version_id`
# is "null" for what unversioned and suspended buckets write; `seq` orders a key's versions (the
# highest is the newest) and `is_latest` marks the current one. Objects written before this step
# become their key's "null" version. Each row owns its body file: no two rows share a blob name
# (copies get their own hard link), so deleting a row may delete its blob.
_S3_0003 = Migration(
    "s3-0003",
    """
    ALTER TABLE s3_objects RENAME TO s3_objects_unversioned;
    CREATE TABLE s3_objects (
        bucket TEXT NOT NULL REFERENCES s3_buckets(name),
        key TEXT NOT NULL,
        version_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        is_latest INTEGER NOT NULL,
        delete_marker INTEGER NOT NULL DEFAULT 0,
        blob TEXT,
        data BLOB,
        size INTEGER NOT NULL,
        etag TEXT NOT NULL,
        last_modified REAL NOT NULL,
        content_type TEXT,
        headers TEXT NOT NULL DEFAULT '{}',
        metadata TEXT NOT NULL DEFAULT '{}',
        tags TEXT NOT NULL DEFAULT '{}',
        checksum_algorithm TEXT,
        checksum TEXT,
        checksum_type TEXT,
        parts TEXT,
        storage_class TEXT NOT NULL DEFAULT 'STANDARD',
        PRIMARY KEY (bucket, key, version_id)
    );
    INSERT INTO s3_objects (bucket, key, version_id, seq, is_latest, delete_marker, blob, data, size, etag,
        last_modified, content_type, headers, metadata, tags, checksum_algorithm, checksum, checksum_type, parts,
        storage_class)
    SELECT bucket, key, 'null', 1, 1, 0, blob, data, size, etag, last_modified, content_type, headers, metadata,
        tags, checksum_algorithm, checksum, checksum_type, parts, storage_class FROM s3_objects_unversioned;
    DROP TABLE s3_objects_unversioned;
    CREATE UNIQUE INDEX s3_objects_order ON s3_objects(bucket, key, seq);
    CREATE INDEX s3_objects_current ON s3_objects(bucket, key) WHERE is_latest = 1 AND delete_marker = 0;
    """,
)

# Bucket policies (Put/Get/DeleteBucketPolicy): one JSON document per bucket.
_S3_POLICY_0001 = Migration(
    "s3-policy-0001",
    """
    CREATE TABLE s3_bucket_policies (
        bucket TEXT PRIMARY KEY REFERENCES s3_buckets(name) ON DELETE CASCADE,
        policy TEXT NOT NULL
    );
    """,
)

# Lifecycle (Put/Get/DeleteBucketLifecycleConfiguration): each bucket's validated configuration,
# as GetBucketLifecycleConfiguration returns it; deleted with the bucket.
_S3_LIFECYCLE_0001 = Migration(
    "s3-lifecycle-0001",
    """
    CREATE TABLE s3_lifecycle (
        bucket TEXT PRIMARY KEY REFERENCES s3_buckets(name) ON DELETE CASCADE,
        config TEXT NOT NULL
    );
    """,
)

# The outbox by destination: which destinations have rows due, and a destination's rows in the
# order they were written, each found by index (a backlog of 100,000 rows made every look scan
# them all: ~120 ms, where these take well under a millisecond).
_S3_OUTBOX_0001 = Migration(
    "s3-outbox-0001",
    """
    CREATE INDEX s3_outbox_target_due ON s3_outbox(target_arn, next_at);
    CREATE INDEX s3_outbox_target_order ON s3_outbox(target_arn, id);
    """,
)

MIGRATIONS = (_S3_0001, _S3_0002, _S3_0003, _S3_POLICY_0001)
# Released after the other services' first steps: schema.py lists them after them.
LIFECYCLE_MIGRATIONS = (_S3_LIFECYCLE_0001,)
OUTBOX_MIGRATIONS = (_S3_OUTBOX_0001,)
