"""Build deployment packages for tests: real zips with real handler code."""

from __future__ import annotations

import datetime as dt
import io
import json
import textwrap
import uuid
import zipfile
from pathlib import Path
from typing import Any

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def zip_code(source: str, module: str = "handler") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{module}.py", textwrap.dedent(source))
    return buf.getvalue()


def unique(prefix: str = "fn") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(lam: Any, source: str, name: str | None = None, **extra: object) -> str:
    name = name or unique()
    params: dict[str, object] = {
        "FunctionName": name, "Runtime": "python3.12", "Role": ROLE, "Handler": "handler.handler",
        "Code": {"ZipFile": zip_code(source)}, "Timeout": 10,
    }
    params.update(extra)
    lam.create_function(**params)
    return name


def read_jsonl(path: Path) -> list[Any]:
    """The complete JSON lines a handler has appended so far: a line still being written (no
    newline yet) is left for the next read."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().split("\n")[:-1] if line.strip()]


def metric_sums(cloudwatch: Any, function: str, metrics: tuple[str, ...]) -> dict[str, float]:
    """The AWS/Lambda metrics a function has points for around now, each summed, read as a user
    would (GetMetricStatistics by FunctionName); a metric without points is left out."""
    now = dt.datetime.now(dt.timezone.utc)
    totals: dict[str, float] = {}
    for metric in metrics:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName=metric, Dimensions=[{"Name": "FunctionName", "Value": function}],
            StartTime=now - dt.timedelta(minutes=10), EndTime=now + dt.timedelta(minutes=10), Period=1200,
            Statistics=["Sum"])["Datapoints"]
        if points:
            totals[metric] = sum(p["Sum"] for p in points)
    return totals
