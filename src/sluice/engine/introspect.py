"""Read-only views of the engine's state, for `/_sluice/...` endpoints, tests and `sluice trace`."""

from __future__ import annotations

import json
from typing import Any

from ..store.db import Database


def event_state(db: Database, request_id: str) -> dict[str, Any] | None:
    """Where an async event is: still queued (with attempts so far) or its outcome."""
    row = db.query_one("SELECT * FROM lambda_outcomes WHERE request_id=?", (request_id,))
    if row is not None:
        return {
            "requestId": request_id, "state": "done", "function": row["function"],
            "functionArn": row["function_arn"], "condition": row["condition"], "attempts": row["attempts"],
            "response": json.loads(row["response"]) if row["response"] else None,
            "received": row["received"], "finished": row["finished"], "traceHeader": row["trace_header"],
            "onSuccess": row["on_success"], "onFailure": row["on_failure"], "deadLetter": row["dead_letter"],
            "delivered": bool(row["delivered"]),
        }
    row = db.query_one("SELECT * FROM lambda_events WHERE request_id=?", (request_id,))
    if row is not None:
        return {
            "requestId": request_id, "state": "queued", "function": row["function"], "attempts": row["attempts"],
            "throttles": row["throttles"], "received": row["received"], "nextAttemptAt": row["next_at"],
            "lastResult": json.loads(row["last_result"]) if row["last_result"] else None,
        }
    return None


def outcomes(db: Database, function: str, limit: int = 1000) -> list[dict[str, Any]]:
    rows = db.query("SELECT request_id FROM lambda_outcomes WHERE function=? ORDER BY finished LIMIT ?",
                    (function, limit))
    return [s for r in rows if (s := event_state(db, r["request_id"])) is not None]
