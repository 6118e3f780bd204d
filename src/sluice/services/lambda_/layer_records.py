"""Lambda layers' durable state: layers, their versions and each version's resource policy; the
only SQL of the layers part.

A layer row outlives its versions: it keeps the next version number, so a number is never given
twice, even after every version was deleted (AWS). A version's configuration is kept as the JSON
of GetLayerVersion's members plus `_code` (the stored archive).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from ...store.db import Migration

_LAMBDA_LAYERS_0001 = Migration(
    "lambda-layers-0001",
    """
    CREATE TABLE lambda_layers (
        name TEXT PRIMARY KEY,
        next_version INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE lambda_layer_versions (
        name TEXT NOT NULL REFERENCES lambda_layers(name),
        version INTEGER NOT NULL,
        config TEXT NOT NULL,             -- GetLayerVersion's members, plus _code
        statements TEXT NOT NULL DEFAULT '[]',
        revision TEXT,                    -- the policy's RevisionId, NULL while it has none
        PRIMARY KEY (name, version)
    );
    """,
)
MIGRATIONS = (_LAMBDA_LAYERS_0001,)

Config = dict[str, Any]


@dataclass(frozen=True)
class LayerVersion:
    """One version of a layer as stored, with its resource policy."""

    name: str
    version: int
    config: Config
    statements: list[dict[str, Any]]
    revision: str | None


def _version(row: sqlite3.Row) -> LayerVersion:
    return LayerVersion(row["name"], row["version"], json.loads(row["config"]), json.loads(row["statements"]),
                        row["revision"])


_COLUMNS = "name, version, config, statements, revision"


def next_version(conn: sqlite3.Connection, name: str) -> int:
    """Take the layer's next version number (creating the layer on its first version)."""
    conn.execute("INSERT INTO lambda_layers (name) VALUES (?) ON CONFLICT(name) DO NOTHING", (name,))
    row = conn.execute("UPDATE lambda_layers SET next_version = next_version + 1 WHERE name=? "
                       "RETURNING next_version - 1 AS taken", (name,)).fetchone()
    return int(row["taken"])


def insert_version(conn: sqlite3.Connection, name: str, version: int, config: Config) -> None:
    conn.execute("INSERT INTO lambda_layer_versions (name, version, config) VALUES (?,?,?)",
                 (name, version, json.dumps(config)))


def version(conn: sqlite3.Connection, name: str, number: int) -> LayerVersion | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM lambda_layer_versions WHERE name=? AND version=?",
                       (name, number)).fetchone()
    return _version(row) if row is not None else None


def versions(conn: sqlite3.Connection, name: str) -> list[LayerVersion]:
    """A layer's versions, newest first."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM lambda_layer_versions WHERE name=? ORDER BY version DESC",
                        (name,))
    return [_version(r) for r in rows]


def all_versions(conn: sqlite3.Connection) -> list[LayerVersion]:
    """Every layer's versions, by layer name, then newest first."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM lambda_layer_versions ORDER BY name, version DESC")
    return [_version(r) for r in rows]


def delete_version(conn: sqlite3.Connection, name: str, number: int) -> None:
    conn.execute("DELETE FROM lambda_layer_versions WHERE name=? AND version=?", (name, number))


def put_policy(conn: sqlite3.Connection, name: str, number: int, statements: list[dict[str, Any]],
               revision: str | None) -> None:
    conn.execute("UPDATE lambda_layer_versions SET statements=?, revision=? WHERE name=? AND version=?",
                 (json.dumps(statements), revision, name, number))


def blobs(conn: sqlite3.Connection) -> set[str]:
    """The archive of every layer version still published."""
    rows = conn.execute("SELECT json_extract(config, '$._code.blob') AS blob FROM lambda_layer_versions")
    return {r["blob"] for r in rows if r["blob"]}


def digests(conn: sqlite3.Connection) -> set[str]:
    """The SHA-256 (hex) of every layer version still published: the names of their extractions."""
    rows = conn.execute("SELECT json_extract(config, '$._code.hex') AS hex FROM lambda_layer_versions")
    return {r["hex"] for r in rows if r["hex"]}
