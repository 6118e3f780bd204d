"""Calling Sluice's testing API v1 over HTTP, as a test in any language would (no client library)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .server import SluiceProcess


def call(endpoint: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
         raw: bytes | None = None) -> tuple[int, dict[str, Any]]:
    """(status, JSON answer) of one request to the testing API."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    sent = dict(headers or {})
    if body is not None and "Content-Type" not in sent:
        sent["Content-Type"] = "application/json"
    request = urllib.request.Request(endpoint + path, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def advance(endpoint: str, seconds: float) -> dict[str, Any]:
    status, answer = call(endpoint, "POST", "/_sluice/clock/advance", {"seconds": seconds})
    assert status == 200, answer
    return answer


def now(endpoint: str) -> float:
    status, answer = call(endpoint, "GET", "/_sluice/clock")
    assert status == 200, answer
    return float(answer["now"])


def reset(endpoint: str) -> float:
    status, answer = call(endpoint, "POST", "/_sluice/reset")
    assert status == 200, answer
    return float(answer["reset_ms"])


def outcome(endpoint: str, request_id: str) -> dict[str, Any]:
    status, answer = call(endpoint, "GET", f"/_sluice/outcomes/{request_id}")
    assert status == 200, answer
    return answer


def manual_server(tmp_path_factory: pytest.TempPathFactory, *extra: str) -> Iterator[SluiceProcess]:
    """A `sluice up --clock manual` for one test module (the body of its fixture)."""
    server = SluiceProcess(Path(tmp_path_factory.mktemp("manual")) / "data", "--clock", "manual", *extra).start()
    try:
        yield server
    finally:
        server.stop()
