"""IAM's and STS's schema steps (the records that use them are in records.py). A module of its
own so that sluice.schema, imported at start-up, does not import IAM's records: most servers
never see an IAM request."""

from __future__ import annotations

from ...store.db import Migration

_IAM_0001 = Migration(
    "iam-0001",
    """
    CREATE TABLE iam_roles (
        account TEXT NOT NULL,
        lname TEXT NOT NULL,
        name TEXT NOT NULL,
        path TEXT NOT NULL,
        role_id TEXT NOT NULL UNIQUE,
        arn TEXT NOT NULL,
        trust_policy TEXT NOT NULL,
        description TEXT,
        max_session INTEGER NOT NULL,
        tags TEXT NOT NULL DEFAULT '[]',
        created REAL NOT NULL,
        PRIMARY KEY (account, lname)
    );
    CREATE TABLE iam_users (
        account TEXT NOT NULL,
        lname TEXT NOT NULL,
        name TEXT NOT NULL,
        path TEXT NOT NULL,
        user_id TEXT NOT NULL UNIQUE,
        arn TEXT NOT NULL,
        tags TEXT NOT NULL DEFAULT '[]',
        created REAL NOT NULL,
        PRIMARY KEY (account, lname)
    );
    CREATE TABLE iam_inline_policies (
        account TEXT NOT NULL,
        owner_kind TEXT NOT NULL,          -- 'role' | 'user'
        owner TEXT NOT NULL,               -- the owner's lname
        lname TEXT NOT NULL,
        name TEXT NOT NULL,
        document TEXT NOT NULL,
        PRIMARY KEY (account, owner_kind, owner, lname)
    );
    CREATE TABLE iam_policies (
        arn TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        lname TEXT NOT NULL,
        name TEXT NOT NULL,
        path TEXT NOT NULL,
        policy_id TEXT NOT NULL UNIQUE,
        description TEXT,
        default_version TEXT NOT NULL,
        next_version INTEGER NOT NULL,
        tags TEXT NOT NULL DEFAULT '[]',
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE UNIQUE INDEX iam_policies_by_name ON iam_policies(account, lname);
    CREATE TABLE iam_policy_versions (
        arn TEXT NOT NULL,
        version_id TEXT NOT NULL,
        document TEXT NOT NULL,
        created REAL NOT NULL,
        PRIMARY KEY (arn, version_id)
    );
    CREATE TABLE iam_attachments (
        account TEXT NOT NULL,
        owner_kind TEXT NOT NULL,
        owner TEXT NOT NULL,
        policy_arn TEXT NOT NULL,
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        UNIQUE (account, owner_kind, owner, policy_arn)
    );
    CREATE INDEX iam_attachments_by_policy ON iam_attachments(policy_arn, account);
    CREATE TABLE iam_access_keys (
        access_key TEXT PRIMARY KEY,
        secret TEXT NOT NULL,
        account TEXT NOT NULL,
        user_lname TEXT NOT NULL,
        status TEXT NOT NULL,
        created REAL NOT NULL
    );
    CREATE INDEX iam_access_keys_by_user ON iam_access_keys(account, user_lname, created);
    CREATE TABLE sts_sessions (
        access_key TEXT PRIMARY KEY,
        secret TEXT NOT NULL,
        token TEXT NOT NULL,
        account TEXT NOT NULL,
        arn TEXT NOT NULL,
        kind TEXT NOT NULL,
        user_id TEXT NOT NULL,
        role_arn TEXT,
        reuse_key TEXT,                    -- role ARN + session name, for credentials Sluice issues itself
        expires REAL NOT NULL,
        created REAL NOT NULL
    );
    CREATE INDEX sts_sessions_by_reuse ON sts_sessions(reuse_key, expires);
    CREATE INDEX sts_sessions_by_expiry ON sts_sessions(expires);
    """,
)
MIGRATIONS = (_IAM_0001,)
