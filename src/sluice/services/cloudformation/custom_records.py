"""The records of custom resource requests: what was sent to the function, and its response.

One row per provider step (its request token): the request document, whether it was handed to
Lambda (or SNS) yet, and the first response the handler PUT to the ResponseURL. A step resumed
after a restart finds its row, so the function is not invoked twice for a step that was sent.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ...store.db import Migration

_CFN_CUSTOM_0001 = Migration("cloudformation-custom-0001", """
CREATE TABLE cfn_custom_requests (
    token TEXT PRIMARY KEY,            -- the deployer's request token for the step
    request_id TEXT NOT NULL UNIQUE,   -- the RequestId in the document, and the ResponseURL's key
    stack_id TEXT NOT NULL,
    logical_id TEXT NOT NULL,
    document TEXT NOT NULL,            -- the request as sent (JSON)
    sent INTEGER NOT NULL DEFAULT 0,   -- handed to Lambda / SNS
    response TEXT                      -- the first response PUT to the ResponseURL (raw text)
);
CREATE INDEX cfn_custom_requests_stack ON cfn_custom_requests(stack_id);
""")

MIGRATIONS = (_CFN_CUSTOM_0001,)


@dataclass(frozen=True)
class CustomRequest:
    """A custom resource request's row: one provider step's document and the handler's response."""

    token: str
    request_id: str
    stack_id: str
    logical_id: str
    document: str
    sent: bool
    response: str | None


_COLUMNS = "token, request_id, stack_id, logical_id, document, sent, response"


def _row(r: tuple[object, ...] | None) -> CustomRequest | None:
    if r is None:
        return None
    token, request_id, stack_id, logical_id, document, sent, response = r
    return CustomRequest(str(token), str(request_id), str(stack_id), str(logical_id), str(document),
                         bool(sent), None if response is None else str(response))


def by_token(conn: sqlite3.Connection, token: str) -> CustomRequest | None:
    return _row(conn.execute(f"SELECT {_COLUMNS} FROM cfn_custom_requests WHERE token = ?",
                             (token,)).fetchone())


def by_request_id(conn: sqlite3.Connection, request_id: str) -> CustomRequest | None:
    return _row(conn.execute(f"SELECT {_COLUMNS} FROM cfn_custom_requests WHERE request_id = ?",
                             (request_id,)).fetchone())


def insert(conn: sqlite3.Connection, token: str, request_id: str, stack_id: str, logical_id: str,
           document: str) -> CustomRequest:
    """The step's row (the existing one if a resumed step got there first)."""
    conn.execute("INSERT OR IGNORE INTO cfn_custom_requests"
                 " (token, request_id, stack_id, logical_id, document) VALUES (?, ?, ?, ?, ?)",
                 (token, request_id, stack_id, logical_id, document))
    row = by_token(conn, token)
    assert row is not None  # just written in this transaction
    return row


def mark_sent(conn: sqlite3.Connection, token: str) -> None:
    conn.execute("UPDATE cfn_custom_requests SET sent = 1 WHERE token = ?", (token,))


def record_response(conn: sqlite3.Connection, request_id: str, response: str) -> bool:
    """Keep the first response only (a handler that answers twice does not change the outcome
    the deployer may already have acted on). True if this one was kept."""
    cur = conn.execute("UPDATE cfn_custom_requests SET response = ?"
                       " WHERE request_id = ? AND response IS NULL", (response, request_id))
    return cur.rowcount > 0


def forget_stack(conn: sqlite3.Connection, stack_id: str) -> None:
    conn.execute("DELETE FROM cfn_custom_requests WHERE stack_id = ?", (stack_id,))
