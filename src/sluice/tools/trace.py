"""`sluice trace <bucket/key | request id>`: the journey of one event, from a running Sluice's
durable records (its /_sluice/trace view): the upload, the notification, each Lambda attempt with
its log lines, the waits between attempts, and where the event ended."""

from __future__ import annotations

import datetime as dt
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, TextIO

INDENT = " " * 17


def fetch(endpoint: str, path: str, params: dict[str, str] | None = None) -> tuple[int, Any]:
    url = endpoint.rstrip("/") + path + ("?" + urllib.parse.urlencode(params) if params else "")
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.load(err)
        except ValueError:
            return err.code, {"error": str(err)}


def run(target: str, *, endpoint: str, every: bool = False, as_json: bool = False, out: TextIO = sys.stdout) -> int:
    params = {"target": target, **({"all": "1"} if every else {})}
    try:
        code, body = fetch(endpoint, "/_sluice/trace", params)
    except (OSError, ValueError) as exc:
        print(f"sluice trace: cannot reach Sluice at {endpoint}: {exc}", file=sys.stderr)
        return 1
    if code != 200:
        message = (body.get("message") or body.get("error")) if isinstance(body, dict) else body
        print(f"sluice trace: {message}", file=sys.stderr)
        return 1
    if as_json:
        json.dump(body, out, indent=2)
        out.write("\n")
        return 0
    for i, journey in enumerate(body["journeys"]):
        if i:
            out.write("\n")
        out.write(render(journey, body.get("timeScale", 1.0)))
    return 0


# -- rendering -------------------------------------------------------------------------------


def _when(ts: float | None, date: bool = False) -> str:
    if ts is None:
        return "-"
    d = dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc)
    return d.strftime("%Y-%m-%d %H:%M:%S.") + f"{d.microsecond // 1000:03d}Z" if date else (
        d.strftime("%H:%M:%S.") + f"{d.microsecond // 1000:03d}")


def span(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _line(out: list[str], ts: float | None, label: str, text: str) -> None:
    out.append(f"  {_when(ts)}  {label:<13}{text}")


def render(journey: dict[str, Any], time_scale: float = 1.0) -> str:
    out: list[str] = []
    upload = journey.get("upload")
    if upload:
        out.append(f"s3://{upload['bucket']}/{upload['key']}  ({upload['eventName']}, "
                   f"{_when(upload['time'], date=True)})")
    out.append(f"  trace {journey.get('traceHeader') or '-'}")
    if upload:
        size = f", {upload['size']} bytes" if upload["size"] is not None else ""
        etag = f", etag {upload['etag']}" if upload["etag"] else ""
        label = "upload" if upload["eventName"].startswith("ObjectCreated") else "s3 event"
        _line(out, upload["time"], label, f"{upload['operation'] or upload['eventName']}, request "
              f"{upload['requestId']}{size}{etag}")
    for note in journey.get("notifications") or []:
        _notification(out, note)
        if note.get("invocation"):
            _invocation(out, note["invocation"], time_scale)
    if journey.get("invocation"):
        _invocation(out, journey["invocation"], time_scale)
    return "\n".join(out) + "\n"


def _notification(out: list[str], note: dict[str, Any]) -> None:
    _line(out, note["created"], "notification", f"configuration {note['configurationId']!r} -> {note['target']}")
    state = note["state"]
    if state == "delivered":
        what = "Lambda request" if note["target"].startswith("arn:aws:lambda:") else "message"
        out.append(f"{INDENT}delivered at {_when(note['finished'])} as {what} {note['deliveryId']}"
                   + (f" after {note['attempts']} tries" if note["attempts"] > 1 else ""))
    elif state == "dropped":
        out.append(f"{INDENT}DROPPED by S3 after {note['attempts']} tries: {note['error']}")
    else:
        tries = f", {note['attempts']} failed tries, last: {note['error']}" if note["attempts"] else ""
        out.append(f"{INDENT}not delivered yet{tries}")


def _invocation(out: list[str], inv: dict[str, Any], time_scale: float) -> None:
    if not inv.get("attempts") and inv["state"] == "queued":
        _line(out, inv["received"], "queued", f"function {inv['function']}, request {inv['requestId']}")
    for a in inv.get("attempts") or []:
        if a["waitBefore"] and a["number"] > 1:
            aws = f" ({span(a['waitBefore'] * time_scale)} in AWS time at --time-scale {time_scale:g})" \
                if time_scale != 1 else ""
            out.append(f"{INDENT}waited {span(a['waitBefore'])}{aws}")
        result = a["outcome"]
        if a["outcome"] != "success":
            result += f"  {a['errorType']}: {a['errorMessage']}" if a["errorMessage"] else f"  {a['errorType']}"
        _line(out, a["started"], f"attempt {a['number']}", f"{result}  ({a['durationMs']:.1f} ms, "
              f"function {inv['function']}, request {inv['requestId']})")
        for log_line in a.get("logs") or []:
            for text in log_line["message"].splitlines() or [""]:
                out.append(f"{INDENT}  | {text.rstrip()}")
    if inv["state"] == "queued":
        throttles = f", {inv['throttles']} throttles" if inv.get("throttles") else ""
        number = len(inv.get("attempts") or []) + 1
        _line(out, inv.get("nextAttemptAt"), "queued", f"attempt {number} due then{throttles}")
        return
    end = inv["end"]
    _line(out, end["finished"], "ended", ending(end))
    for s in end["sends"]:
        status = f"message {s['messageId']}" if s["ok"] else f"FAILED: {s['error']}"
        out.append(f"{INDENT}{s['kind']} {s['target']}: {status}")


def ending(end: dict[str, Any]) -> str:
    n = end["attempts"]
    attempts = f"{n} attempt{'s' if n != 1 else ''}"
    result = end["result"]
    sent = next((s for s in end["sends"] if s["ok"] and s["kind"] in ("dead-letter", "on-failure")), None)
    if result == "success":
        return f"success after {attempts}"
    if result == "dead-letter" and sent:
        return f"dead-letter queue ({end['condition']} after {attempts}), message {sent['messageId']}"
    if result == "destination" and sent:
        return f"on-failure destination ({end['condition']} after {attempts}), message {sent['messageId']}"
    if result == "pending":
        return f"failed ({end['condition']} after {attempts}); DLQ / destination delivery pending"
    why = end["condition"]
    if not (end.get("deadLetter") or end.get("onFailure")):
        return f"dropped: {why} after {attempts} (no DLQ or on-failure destination)"
    return f"dropped: {why} after {attempts} (the DLQ / destination did not take it)"
