"""Durable state: SQLite (WAL, group commit) for records, fsynced files for bodies."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from .blobs import BlobStore
from .db import Database, Migration


class Store:
    def __init__(self, data_dir: Path, migrations: Sequence[Migration]) -> None:
        """`migrations`: every schema step, in the order they apply (sluice.schema.SCHEMA)."""
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self.db = Database(data_dir / "sluice.db", migrations)
        self.blobs = BlobStore(data_dir)

    def reset(self, fresh_rows: Callable[[sqlite3.Connection], None] | None = None) -> None:
        """Empty every table (the schema and its recorded steps stay) in one transaction, then
        every object body (`BlobStore.discard_all`): the state of a fresh data dir, for the
        testing API's reset; `fresh_rows` writes, in the same transaction, the rows a fresh
        server has. Row ids (AUTOINCREMENT) go on from where they were, so nothing
        remembered from before can name a new row."""
        def txn(conn: sqlite3.Connection) -> None:
            _delete_all_rows(conn)
            if fresh_rows is not None:
                fresh_rows(conn)

        # Not waiting for the fsync: a reset lost to a power cut loses nothing acknowledged (the
        # next synced commit makes it durable), and the fsync was most of its time.
        self.db.write(txn, synced=False)
        self.blobs.discard_all()

    def close(self) -> None:
        self.blobs.close()
        self.db.close()


def _delete_all_rows(conn: sqlite3.Connection) -> None:
    # Foreign keys are checked at the commit, when every table is empty: any order is correct.
    # Newest tables first: a child table comes after its parent in the schema, and emptying the
    # children first leaves no row for a parent's delete to look up or cascade to.
    conn.execute("PRAGMA defer_foreign_keys=ON")
    tables = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' AND name != 'schema_steps'"
        " ORDER BY rowid DESC")]
    for table in tables:
        conn.execute(f'DELETE FROM "{table}"')  # noqa: S608 - names read from sqlite_master, not input
