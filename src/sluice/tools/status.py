"""`sluice status [--watch]`: each function's async backlog, in-flight count, oldest event age and
error rate (last 5 minutes), each dead-letter queue's depth, and the EventBridge rules with target
deliveries not yet made, from a running Sluice."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from .trace import fetch

CLEAR = "\x1b[H\x1b[2J"


def run(*, endpoint: str, watch: bool = False, as_json: bool = False, interval: float = 1.0,
        out: TextIO = sys.stdout) -> int:
    try:
        while True:
            try:
                code, body = fetch(endpoint, "/_sluice/status")
            except (OSError, ValueError) as exc:
                print(f"sluice status: cannot reach Sluice at {endpoint}: {exc}", file=sys.stderr)
                return 1
            if code != 200:
                print(f"sluice status: {body}", file=sys.stderr)
                return 1
            text = json.dumps(body, indent=2) + "\n" if as_json else render(body)
            out.write(CLEAR + text if watch else text)
            out.flush()
            if not watch:
                return 0
            time.sleep(interval)
    except KeyboardInterrupt:
        return 0


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m{secs:02d}s"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    last = len(widths) - 1
    return ["  ".join(c.ljust(w) if i in (0, last) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths,
                                                                                                  strict=True)))
            .rstrip() for r in rows]


def render(body: dict[str, Any]) -> str:
    scale = body.get("timeScale", 1.0)
    lines = [f"Sluice status at {time.strftime('%H:%M:%S', time.gmtime(body['time']))}Z"
             + (f" (--time-scale {scale:g})" if scale != 1 else "")]
    functions = body["functions"]
    lines.append("")
    if functions:
        rows = [["FUNCTION", "QUEUED", "IN FLIGHT", "OLDEST", "INVOKED 5m", "ERRORS 5m", "ERROR RATE"]]
        for f in functions:
            rate = f"{f['errorRate5m'] * 100:.1f}%" if f["errorRate5m"] is not None else "-"
            rows.append([f["name"], str(f["queued"]), str(f["inFlight"]), _age(f["oldestEventAgeSeconds"]),
                         str(f["invocations5m"]), str(f["errors5m"]), rate])
        lines += _table(rows)
        lines += [f"note: {f['name']}: {f['runtimeNote']}" for f in functions if f.get("runtimeNote")]
    else:
        lines.append("no functions")
    lines.append("")
    queues = body["deadLetterQueues"]
    if queues:
        rows = [["DEAD-LETTER QUEUE", "MESSAGES", "IN FLIGHT", "USED BY"]]
        for q in queues:
            users = ", ".join(f"{u['function']} ({u['as']})" for u in q["usedBy"])
            depth = str(q["messages"]) if q["exists"] else "missing"
            rows.append([q["name"], depth, str(q["messagesInFlight"] if q["exists"] else "-"), users])
        lines += _table(rows)
    else:
        lines.append("no dead-letter queues (no function has an SQS DeadLetterConfig or OnFailure target)")
    backlogs = body.get("eventBridge") or []
    if backlogs:
        rows = [["EVENTBRIDGE RULE", "PENDING", "RETRYING", "OLDEST"]]
        rows += [[b["rule"].split(":rule/", 1)[-1], str(b["pending"]), str(b["retrying"]),
                  _age(b["oldestEventAgeSeconds"])] for b in backlogs]
        lines += ["", *_table(rows)]
    return "\n".join(lines) + "\n"
