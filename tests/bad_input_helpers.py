"""Shared by the tests that send malformed input: raw requests, and checks that a refused request
left nothing on disk and the server is still well."""

from __future__ import annotations

import http.client
import json
import urllib.request
from pathlib import Path

from .server import SluiceProcess


def auth_header(service: str) -> str:
    """An Authorization header that names `service` (Sluice checks no signature by default)."""
    return (f"AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/{service}/aws4_request, "
            "SignedHeaders=host, Signature=00")


def raw_request(server: SluiceProcess, method: str, path: str, body: bytes,
                headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def files_under(data_dir: Path) -> set[str]:
    """Every file and folder where requests leave things: extracted code, bodies, temporaries."""
    out: set[str] = set()
    for part in ("code", "blobs", "tmp"):
        root = data_dir / part
        if root.exists():
            out |= {str(p.relative_to(data_dir)) for p in root.rglob("*")}
    return out


def assert_healthy(server: SluiceProcess) -> None:
    """The server answers its health check and has logged no traceback (no 500 went out)."""
    with urllib.request.urlopen(server.endpoint + "/_sluice/health", timeout=10) as r:
        assert r.status == 200
        assert json.load(r)["status"] == "ok"
    log = server.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
