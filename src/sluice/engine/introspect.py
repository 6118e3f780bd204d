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


# The testing API's names for a journal attempt's outcome (engine/journal.py's values).
_ATTEMPT_STATUS = {"success": "Success", "Unhandled": "Unhandled", "timeout": "Timeout", "crash": "Crash"}
_DESTINATION_KINDS = ("on-success", "on-failure")


def async_outcome(db: Database, request_id: str) -> dict[str, Any] | None:
    """An async invocation's outcome record, as testing API v1 shows it (docs/testing-api.md):
    `Pending` while it is queued, else AWS's condition (`Success`, `RetriesExhausted`,
    `EventAgeExceeded`, `ZeroReservedConcurrency`, ...), each finished attempt, and where the
    record went (the on-success/on-failure destination, the dead-letter queue). None: unknown id."""
    conn = db.reader
    done = conn.execute("SELECT * FROM lambda_outcomes WHERE request_id=?", (request_id,)).fetchone()
    queued = None if done is not None else conn.execute(
        "SELECT * FROM lambda_events WHERE request_id=?", (request_id,)).fetchone()
    if done is None and queued is None:
        return None
    attempts = [{
        "n": r["number"], "startedAt": r["started"], "endedAt": r["finished"], "durationMs": r["duration_ms"],
        "status": _ATTEMPT_STATUS.get(r["outcome"], r["outcome"]), "errorType": r["error_type"],
        "errorMessage": r["error_message"], "logStream": r["log_stream"],
    } for r in conn.execute("SELECT * FROM lambda_attempts WHERE request_id=? ORDER BY number, id", (request_id,))]
    sends = conn.execute("SELECT * FROM lambda_deliveries WHERE request_id=? ORDER BY id", (request_id,)).fetchall()
    if done is not None:
        arn = str(done["function_arn"])
        qualifier = arn.split(":")[7] if arn.count(":") == 7 else None
        return {
            "requestId": request_id, "function": done["function"], "qualifier": qualifier,
            "status": done["condition"], "attempts": attempts, "receivedAt": done["received"],
            "finishedAt": done["finished"], "delivered": bool(done["delivered"]),
            "destination": _last_send(sends, _DESTINATION_KINDS), "dlq": _last_send(sends, ("dead-letter",)),
        }
    assert queued is not None
    return {
        "requestId": request_id, "function": queued["function"], "qualifier": queued["qualifier"],
        "status": "Pending", "attempts": attempts, "receivedAt": queued["received"], "finishedAt": None,
        "nextAttemptAt": queued["next_at"], "throttles": queued["throttles"], "delivered": False,
        "destination": None, "dlq": None,
    }


def _last_send(sends: list[Any], kinds: tuple[str, ...]) -> dict[str, Any] | None:
    found = [s for s in sends if s["kind"] in kinds]
    if not found:
        return None
    s = found[-1]
    return {"kind": s["kind"], "target": s["target"], "at": s["at"], "ok": bool(s["ok"]),
            "messageId": s["message_id"], "error": s["error"]}


def recent_failures(db: Database, limit: int = 50) -> list[dict[str, Any]]:
    """Async events that failed, newest first: those still retrying (a failed attempt, another
    due) and those that ended in anything but Success, each with the upload it came from (when an
    S3 notification delivered it) and where its failure record went (DLQ or on-failure
    destination), for the console's list of failed events."""
    conn = db.reader
    out: list[dict[str, Any]] = []
    for row in conn.execute("SELECT request_id, function, attempts, received, next_at, last_result FROM lambda_events"
                            " WHERE attempts > 0 ORDER BY received DESC LIMIT ?", (limit,)):
        last = json.loads(row["last_result"]) if row["last_result"] else {}
        out.append({"requestId": row["request_id"], "function": row["function"], "state": "retrying",
                    "condition": "Pending", "attempts": row["attempts"], "received": row["received"],
                    "finished": None, "nextAttemptAt": row["next_at"], "errorType": last.get("errorType"),
                    "errorMessage": last.get("errorMessage"), "sent": None})
    # No index leads here: a scan of the outcomes, newest first (thousands of rows: a few ms).
    for row in conn.execute("SELECT request_id, function, condition, attempts, received, finished, response"
                            " FROM lambda_outcomes WHERE condition != 'Success' ORDER BY finished DESC LIMIT ?",
                            (limit,)):
        response = json.loads(row["response"]) if row["response"] else {}
        sends = conn.execute("SELECT * FROM lambda_deliveries WHERE request_id=? AND kind IN ('dead-letter', 'on-failure')"
                             " ORDER BY id", (row["request_id"],)).fetchall()
        out.append({"requestId": row["request_id"], "function": row["function"], "state": "done",
                    "condition": row["condition"], "attempts": row["attempts"], "received": row["received"],
                    "finished": row["finished"], "nextAttemptAt": None, "errorType": response.get("errorType"),
                    "errorMessage": response.get("errorMessage"), "sent": _last_send(sends, ("dead-letter", "on-failure"))})
    for item in out:
        upload = conn.execute("SELECT u.bucket, u.key FROM trace_notifications n JOIN trace_uploads u"
                              " ON u.id = n.upload_id WHERE n.delivery_id=?", (item["requestId"],)).fetchone()
        item["upload"] = {"bucket": upload["bucket"], "key": upload["key"]} if upload is not None else None
    out.sort(key=lambda item: item["finished"] or item["received"], reverse=True)
    return out[:limit]
