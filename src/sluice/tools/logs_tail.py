"""`sluice logs <function-or-group>`: print a log group's events from a running Sluice.

A client like any other: boto3's FilterLogEvents against the endpoint, so it shows exactly what
`aws logs filter-log-events` would. `--follow` polls; an event is printed once (by eventId) even
though each poll looks back a while, because the Lambda runtime writes an invocation's lines when
the invocation ends, with the timestamps they were logged at.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

POLL_SECONDS = 0.5
LOOKBACK_MS = 5 * 60_000  # how far behind the newest event a --follow poll looks for late arrivals

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def group_for(target: str) -> str:
    """A function name means its Lambda log group; anything starting with '/' is a group name."""
    return target if target.startswith("/") else f"/aws/lambda/{target}"


def parse_since(value: str, now: float) -> int:
    """`10m`, `2h`, `30s`, `1d`, `1w` ago, or an ISO 8601 time -> epoch milliseconds."""
    m = _DURATION.match(value.strip())
    if m:
        return int((now - float(m.group(1)) * _UNITS[m.group(2)]) * 1000)
    try:
        when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"invalid --since {value!r}: use 10m, 2h, 1d or an ISO 8601 time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return int(when.timestamp() * 1000)


def format_event(event: dict[str, Any]) -> str:
    when = dt.datetime.fromtimestamp(event["timestamp"] / 1000, tz=dt.timezone.utc)
    stamp = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f"{stamp} {event['logStreamName']} {event['message'].rstrip(chr(10))}"


def _client(endpoint: str, region: str | None) -> Any:
    import boto3
    from botocore.config import Config

    kwargs: dict[str, Any] = {}
    if not (os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE")):
        kwargs = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}  # Sluice takes any key
    return boto3.client(
        "logs",
        endpoint_url=endpoint,
        region_name=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        config=Config(retries={"max_attempts": 2}, connect_timeout=3, read_timeout=30),
        **kwargs,
    )


def _events(client: Any, group: str, start_ms: int, pattern: str | None) -> Iterator[dict[str, Any]]:
    params: dict[str, Any] = {"logGroupName": group, "startTime": max(start_ms, 0)}
    if pattern:
        params["filterPattern"] = pattern
    while True:
        page = client.filter_log_events(**params)
        yield from page.get("events", [])
        token = page.get("nextToken")
        if not token:
            return
        params["nextToken"] = token


def run(target: str, *, endpoint: str, since: str = "10m", follow: bool = False, pattern: str | None = None,
        region: str | None = None, out: TextIO | None = None, err: TextIO | None = None,
        poll_seconds: float = POLL_SECONDS) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    group = group_for(target)
    try:
        start_ms = parse_since(since, time.time())
    except ValueError as exc:
        print(f"sluice logs: {exc}", file=err)
        return 2
    client = _client(endpoint, region)
    seen: dict[str, int] = {}  # eventId -> timestamp, for the events inside the look-back window
    newest = start_ms
    waiting_said = False
    try:
        while True:
            window = max(start_ms, newest - LOOKBACK_MS)
            try:
                fresh = [e for e in _events(client, group, window, pattern) if e["eventId"] not in seen]
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code != "ResourceNotFoundException":
                    print(f"sluice logs: {code}: {exc.response.get('Error', {}).get('Message')}", file=err)
                    return 1
                if not follow:
                    print(f"sluice logs: log group {group} does not exist", file=err)
                    return 1
                if not waiting_said:
                    print(f"sluice logs: waiting for log group {group}", file=err)
                    waiting_said = True
                fresh = []
            fresh.sort(key=lambda e: (e["timestamp"], e["eventId"]))
            for event in fresh:
                seen[event["eventId"]] = event["timestamp"]
                newest = max(newest, event["timestamp"])
                out.write(format_event(event) + "\n")
            out.flush()
            if not follow:
                return 0
            horizon = max(start_ms, newest - LOOKBACK_MS)
            seen = {k: ts for k, ts in seen.items() if ts >= horizon}
            time.sleep(poll_seconds)
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        return 0
    except EndpointConnectionError:
        print(f"sluice logs: cannot reach Sluice at {endpoint} (is `sluice up` running?)", file=err)
        return 1
    except BotoCoreError as exc:
        print(f"sluice logs: {exc}", file=err)
        return 1
