"""Durable state: SQLite (WAL, group commit) for records, fsynced files for bodies."""

from __future__ import annotations

from collections.abc import Sequence
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

    def close(self) -> None:
        self.blobs.close()
        self.db.close()
