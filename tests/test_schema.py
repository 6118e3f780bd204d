"""The store's schema steps: one explicit list, in the order released data dirs got them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sluice.schema import SCHEMA
from sluice.store import Store
from sluice.store.db import Migration

# The order every released Sluice applied its steps in (the order of `schema_steps` rows in a new
# data dir). A released step never moves or changes: data dirs in use were built this way.
RELEASED = [
    "journal-0001", "metrics-0001", "cloudwatch-0001", "metrics-0002", "lambda-events-0001",
    "cloudwatch-0002", "events-0001", "iam-0001", "lambda-0001", "lambda-esm-0001", "logs-0001",
    "s3-0001", "s3-0002", "s3-0003", "s3-policy-0001", "sns-0001", "sqs-0001", "sqs-0002",
    "lambda-layers-0001", "cloudformation-0001", "cloudformation-custom-0001", "s3-lifecycle-0001",
]


def test_released_steps_keep_their_names_and_order() -> None:
    names = [step.name for step in SCHEMA]
    assert names[:len(RELEASED)] == RELEASED


def test_a_new_data_dir_records_every_step_in_order(tmp_path: Path) -> None:
    Store(tmp_path, SCHEMA).close()
    with sqlite3.connect(tmp_path / "sluice.db") as db:
        done = [row[0] for row in db.execute("SELECT name FROM schema_steps ORDER BY rowid")]
    assert done == [step.name for step in SCHEMA]


def test_reopening_runs_only_the_steps_a_data_dir_lacks(tmp_path: Path) -> None:
    first = Migration("t-0001", "CREATE TABLE t (a INTEGER)")
    second = Migration("t-0002", "ALTER TABLE t ADD COLUMN b INTEGER")
    Store(tmp_path, [first]).close()
    # A step that ran already is not run again (running t-0001 twice would fail: t exists).
    store = Store(tmp_path, [first, second])
    try:
        store.db.write(lambda conn: conn.execute("INSERT INTO t (a, b) VALUES (1, 2)"))
        assert [tuple(row) for row in store.db.query("SELECT a, b FROM t")] == [(1, 2)]
    finally:
        store.close()


def test_a_step_listed_twice_is_refused(tmp_path: Path) -> None:
    step = Migration("t-0001", "CREATE TABLE t (a INTEGER)")
    with pytest.raises(ValueError, match="t-0001"):
        Store(tmp_path, [step, step])
