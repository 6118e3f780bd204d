"""Lambda's durable state: functions, versions, aliases, policies, async settings, event source
mappings; the only SQL of the service.

Each function takes the connection to use: the writer's inside a `Database.write` transaction,
a reader (`Database.reader`) otherwise. A configuration is kept as the JSON of its API members
(FunctionConfiguration, AliasConfiguration, ...), so the records hand those back as dicts.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

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
_LAMBDA_ESM_0001 = Migration(
    "lambda-esm-0001",
    """
    CREATE TABLE lambda_mappings (
        uuid TEXT PRIMARY KEY,
        function TEXT NOT NULL,
        config TEXT NOT NULL
    );
    """,
)
MIGRATIONS = (_LAMBDA_0001, _LAMBDA_ESM_0001)

Config = dict[str, Any]


@dataclass(frozen=True)
class FunctionRecord:
    """A function's row: $LATEST's configuration and what belongs to the function as a whole."""

    name: str
    account: str
    config: Config  # $LATEST's configuration, with `_code` (the stored package)
    next_version: int
    reserved_concurrency: int | None
    tags: dict[str, str]


@dataclass(frozen=True)
class Policy:
    """The resource policy of a function (or of one of its qualifiers), with its RevisionId."""

    statements: list[dict[str, Any]]
    revision: str


@dataclass(frozen=True)
class Mapping:
    """An event source mapping as stored: the function it invokes and its configuration."""

    uuid: str
    function: str
    config: Config


# -- functions -------------------------------------------------------------------------------


def function(conn: sqlite3.Connection, name: str) -> FunctionRecord | None:
    row = conn.execute("SELECT name, account, config, next_version, reserved_concurrency, tags "
                       "FROM lambda_functions WHERE name=?", (name,)).fetchone()
    if row is None:
        return None
    return FunctionRecord(row["name"], row["account"], json.loads(row["config"]), row["next_version"],
                          row["reserved_concurrency"], json.loads(row["tags"]))


def function_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM lambda_functions WHERE name=?", (name,)).fetchone() is not None


def function_role(conn: sqlite3.Connection, name: str) -> str | None:
    row = conn.execute("SELECT json_extract(config, '$.Role') AS role FROM lambda_functions WHERE name=?",
                       (name,)).fetchone()
    return row["role"] if row is not None else None


def function_account(conn: sqlite3.Connection, name: str) -> str | None:
    row = conn.execute("SELECT account FROM lambda_functions WHERE name=?", (name,)).fetchone()
    return row["account"] if row is not None else None


def function_names(conn: sqlite3.Connection) -> list[str]:
    return [r["name"] for r in conn.execute("SELECT name FROM lambda_functions ORDER BY name")]


def function_configs(conn: sqlite3.Connection, after: str, limit: int) -> list[Config]:
    """$LATEST's configuration of up to `limit` functions named after `after`, by name."""
    rows = conn.execute("SELECT config FROM lambda_functions WHERE name > ? ORDER BY name LIMIT ?",
                        (after, limit))
    return [json.loads(r["config"]) for r in rows]


def code_sizes(conn: sqlite3.Connection) -> list[int]:
    """Every function's $LATEST code size (GetAccountSettings' usage)."""
    return [int(json.loads(r["config"])["CodeSize"]) for r in conn.execute("SELECT config FROM lambda_functions")]


def reserved_total(conn: sqlite3.Connection, except_name: str | None) -> int:
    row = conn.execute("SELECT COALESCE(SUM(reserved_concurrency), 0) AS s FROM lambda_functions WHERE name != ?",
                       (except_name or "",)).fetchone()
    return int(row["s"]) if row else 0


def insert_function(conn: sqlite3.Connection, name: str, account: str, config: Config, tags: dict[str, str],
                    created: float) -> None:
    conn.execute("INSERT INTO lambda_functions (name, account, config, tags, created) VALUES (?,?,?,?,?)",
                 (name, account, json.dumps(config), json.dumps(tags), created))


def update_function_config(conn: sqlite3.Connection, name: str, config: Config) -> None:
    conn.execute("UPDATE lambda_functions SET config=? WHERE name=?", (json.dumps(config), name))


def update_tags(conn: sqlite3.Connection, name: str, tags: dict[str, str]) -> None:
    conn.execute("UPDATE lambda_functions SET tags=? WHERE name=?", (json.dumps(tags), name))


def set_reserved_concurrency(conn: sqlite3.Connection, name: str, value: int | None) -> None:
    conn.execute("UPDATE lambda_functions SET reserved_concurrency=? WHERE name=?", (value, name))


def delete_function(conn: sqlite3.Connection, name: str) -> None:
    """The function and, by cascade, its versions, aliases, policies and async settings."""
    conn.execute("DELETE FROM lambda_functions WHERE name=?", (name,))


# -- versions --------------------------------------------------------------------------------


def version_config(conn: sqlite3.Connection, name: str, version: str) -> Config | None:
    row = conn.execute("SELECT config FROM lambda_versions WHERE name=? AND version=?", (name, version)).fetchone()
    return json.loads(row["config"]) if row is not None else None


def version_configs(conn: sqlite3.Connection, name: str) -> list[Config]:
    """The published versions' configurations, oldest first."""
    rows = conn.execute("SELECT config FROM lambda_versions WHERE name=? ORDER BY CAST(version AS INTEGER)",
                        (name,))
    return [json.loads(r["config"]) for r in rows]


def last_version_config(conn: sqlite3.Connection, name: str) -> Config | None:
    row = conn.execute("SELECT config FROM lambda_versions WHERE name=? ORDER BY CAST(version AS INTEGER) DESC "
                       "LIMIT 1", (name,)).fetchone()
    return json.loads(row["config"]) if row is not None else None


def insert_version(conn: sqlite3.Connection, name: str, version: str, config: Config) -> None:
    """A published version; the function's next version number moves on."""
    conn.execute("INSERT INTO lambda_versions (name, version, config) VALUES (?,?,?)",
                 (name, version, json.dumps(config)))
    conn.execute("UPDATE lambda_functions SET next_version = next_version + 1 WHERE name=?", (name,))


def delete_version(conn: sqlite3.Connection, name: str, version: str) -> bool:
    return conn.execute("DELETE FROM lambda_versions WHERE name=? AND version=?", (name, version)).rowcount > 0


def package_configs(conn: sqlite3.Connection, name: str) -> list[Config]:
    """$LATEST's and every version's configuration (each names its `_code`)."""
    rows = conn.execute("SELECT config FROM lambda_functions WHERE name=? UNION ALL "
                        "SELECT config FROM lambda_versions WHERE name=?", (name, name))
    return [json.loads(r["config"]) for r in rows]


def all_package_configs(conn: sqlite3.Connection) -> list[Config]:
    """Every function's $LATEST and every published version's configuration."""
    rows = conn.execute("SELECT config FROM lambda_functions UNION ALL SELECT config FROM lambda_versions")
    return [json.loads(r["config"]) for r in rows]


def package_blobs(conn: sqlite3.Connection) -> set[str]:
    """Every archive a function or version runs: its package and its copies of its layers."""
    found: set[str] = set()
    for config in all_package_configs(conn):
        found.add(config["_code"]["blob"])
        found.update(layer["blob"] for layer in config.get("_layers") or [])
    return found


# -- aliases ---------------------------------------------------------------------------------


def alias_config(conn: sqlite3.Connection, name: str, alias: str) -> Config | None:
    row = conn.execute("SELECT config FROM lambda_aliases WHERE name=? AND alias=?", (name, alias)).fetchone()
    return json.loads(row["config"]) if row is not None else None


def alias_configs(conn: sqlite3.Connection, name: str) -> list[Config]:
    rows = conn.execute("SELECT config FROM lambda_aliases WHERE name=? ORDER BY alias", (name,))
    return [json.loads(r["config"]) for r in rows]


def alias_exists(conn: sqlite3.Connection, name: str, alias: str) -> bool:
    return conn.execute("SELECT 1 FROM lambda_aliases WHERE name=? AND alias=?", (name, alias)).fetchone() is not None


def insert_alias(conn: sqlite3.Connection, name: str, alias: str, config: Config) -> None:
    conn.execute("INSERT INTO lambda_aliases (name, alias, config) VALUES (?,?,?)", (name, alias, json.dumps(config)))


def update_alias(conn: sqlite3.Connection, name: str, alias: str, config: Config) -> None:
    conn.execute("UPDATE lambda_aliases SET config=? WHERE name=? AND alias=?", (json.dumps(config), name, alias))


def delete_alias(conn: sqlite3.Connection, name: str, alias: str) -> None:
    conn.execute("DELETE FROM lambda_aliases WHERE name=? AND alias=?", (name, alias))


# -- resource policies -----------------------------------------------------------------------


def policy(conn: sqlite3.Connection, name: str, qualifier: str | None) -> Policy | None:
    row = conn.execute("SELECT statements, revision FROM lambda_policies WHERE name=? AND qualifier=?",
                       (name, qualifier or "")).fetchone()
    return Policy(json.loads(row["statements"]), row["revision"]) if row is not None else None


def put_policy(conn: sqlite3.Connection, name: str, qualifier: str | None, statements: list[dict[str, Any]],
               revision: str) -> None:
    conn.execute("INSERT OR REPLACE INTO lambda_policies (name, qualifier, statements, revision) VALUES (?,?,?,?)",
                 (name, qualifier or "", json.dumps(statements), revision))


def delete_policy(conn: sqlite3.Connection, name: str, qualifier: str | None) -> None:
    conn.execute("DELETE FROM lambda_policies WHERE name=? AND qualifier=?", (name, qualifier or ""))


# -- asynchronous invocation settings --------------------------------------------------------


def invoke_config(conn: sqlite3.Connection, name: str, qualifier: str) -> Config | None:
    row = conn.execute("SELECT config FROM lambda_invoke_configs WHERE name=? AND qualifier=?",
                       (name, qualifier)).fetchone()
    return json.loads(row["config"]) if row is not None else None


def invoke_configs(conn: sqlite3.Connection, name: str) -> list[tuple[str, Config]]:
    """(qualifier, configuration) of each of the function's qualifiers that has async settings."""
    rows = conn.execute("SELECT qualifier, config FROM lambda_invoke_configs WHERE name=? ORDER BY qualifier",
                        (name,))
    return [(r["qualifier"], json.loads(r["config"])) for r in rows]


def put_invoke_config(conn: sqlite3.Connection, name: str, qualifier: str, config: Config) -> None:
    conn.execute("INSERT OR REPLACE INTO lambda_invoke_configs (name, qualifier, config) VALUES (?,?,?)",
                 (name, qualifier, json.dumps(config)))


def delete_invoke_config(conn: sqlite3.Connection, name: str, qualifier: str) -> bool:
    cur = conn.execute("DELETE FROM lambda_invoke_configs WHERE name=? AND qualifier=?", (name, qualifier))
    return cur.rowcount > 0


# -- event source mappings -------------------------------------------------------------------


def mapping(conn: sqlite3.Connection, mapping_id: str) -> Mapping | None:
    row = conn.execute("SELECT uuid, function, config FROM lambda_mappings WHERE uuid=?", (mapping_id,)).fetchone()
    return Mapping(row["uuid"], row["function"], json.loads(row["config"])) if row is not None else None


def mappings(conn: sqlite3.Connection, function: str | None = None) -> list[Mapping]:
    """Every mapping (of one function), by UUID."""
    if function is None:
        rows = conn.execute("SELECT uuid, function, config FROM lambda_mappings ORDER BY uuid")
    else:
        rows = conn.execute("SELECT uuid, function, config FROM lambda_mappings WHERE function=? ORDER BY uuid",
                            (function,))
    return [Mapping(r["uuid"], r["function"], json.loads(r["config"])) for r in rows]


def insert_mapping(conn: sqlite3.Connection, mapping_id: str, function: str, config: Config) -> None:
    conn.execute("INSERT INTO lambda_mappings (uuid, function, config) VALUES (?,?,?)",
                 (mapping_id, function, json.dumps(config)))


def update_mapping(conn: sqlite3.Connection, mapping_id: str, function: str, config: Config) -> None:
    conn.execute("UPDATE lambda_mappings SET function=?, config=? WHERE uuid=?",
                 (function, json.dumps(config), mapping_id))


def delete_mapping(conn: sqlite3.Connection, mapping_id: str) -> None:
    conn.execute("DELETE FROM lambda_mappings WHERE uuid=?", (mapping_id,))
