"""Reading a console page's server-sent events in a test, as htmx's SSE extension would."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit


def first_event(endpoint: str, path: str, event: str) -> str:
    """The first `event` a console stream sends (its data lines joined), then hang up."""
    parts = urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Accept": "text/event-stream"})
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("content-type", "").startswith("text/event-stream")
        name, data = "", list[str]()
        while True:
            line = response.fp.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                name, data = line[7:], list[str]()
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and name:
                if name == event:
                    return "\n".join(data)
                name = ""
    finally:
        conn.close()
