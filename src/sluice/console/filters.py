"""Jinja filters the console's templates share (sizes, times, JSON)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import jinja2


def size(n: Any) -> str:
    """1536 -> '1.5 KB' (as the S3 console shows sizes)."""
    try:
        value = float(n)
    except (TypeError, ValueError):
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def when(value: Any) -> str:
    """A datetime, epoch seconds or milliseconds, or an ISO string -> 'YYYY-MM-DD HH:MM:SS UTC'."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    elif isinstance(value, (int, float)):
        seconds = value / 1000 if value > 1e11 else value
        moment = dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    else:
        text = str(value)
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("+0000", "+00:00"))
        except ValueError:
            return text
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def pretty_json(value: Any) -> str:
    if isinstance(value, (bytes, str)):
        try:
            value = json.loads(value)
        except ValueError:
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def install(env: jinja2.Environment) -> None:
    env.filters.update(size=size, when=when, pretty_json=pretty_json)
