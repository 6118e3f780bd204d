"""Lambda's durable state: functions, versions, aliases, policies, async settings."""

from __future__ import annotations

from ...store.db import Migration

_LAMBDA_0001 = Migration(
    "lambda-0001",
    """
    CREATE TABLE lambda_functions (
        name TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        config TEXT NOT NULL,          -- $LATEST's FunctionConfiguration members, plus _code
        next_version INTEGER NOT NULL DEFAULT 1,
        reserved_concurrency INTEGER,
        tags TEXT NOT NULL DEFAULT '{}',
        created REAL NOT NULL
    );
    CREATE TABLE lambda_versions (
        name TEXT NOT NULL REFERENCES lambda_functions(name) ON DELETE CASCADE,
        version TEXT NOT NULL,
        config TEXT NOT NULL,
        PRIMARY KEY (name, version)
    );
    CREATE TABLE lambda_aliases (
        name TEXT NOT NULL REFERENCES lambda_functions(name) ON DELETE CASCADE,
        alias TEXT NOT NULL,
        config TEXT NOT NULL,
        PRIMARY KEY (name, alias)
    );
    CREATE TABLE lambda_policies (
        name TEXT NOT NULL REFERENCES lambda_functions(name) ON DELETE CASCADE,
        qualifier TEXT NOT NULL,       -- '' for the unqualified function
        statements TEXT NOT NULL,
        revision TEXT NOT NULL,
        PRIMARY KEY (name, qualifier)
    );
    CREATE TABLE lambda_invoke_configs (
        name TEXT NOT NULL REFERENCES lambda_functions(name) ON DELETE CASCADE,
        qualifier TEXT NOT NULL,       -- '$LATEST', a version or an alias
        config TEXT NOT NULL,
        PRIMARY KEY (name, qualifier)
    );
    """,
)
MIGRATIONS = (_LAMBDA_0001,)
