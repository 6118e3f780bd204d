"""The floor for bench/footprint.py: a bare uvicorn app with Sluice's uvicorn settings.

It reads each request's body and answers 200 with a fixed body shaped for the benchmark's
clients (1 KiB for a GET, an SQS-like JSON document for a POST): what the HTTP stack itself
costs per request, with no parsing, storage or fsync.

    .venv/bin/python bench/floor.py PORT
"""

from __future__ import annotations

import json
import sys
from typing import Any

import uvicorn

_GET = b"x" * 1024
_POST = json.dumps({"QueueUrl": "http://127.0.0.1/000000000000/floor", "MessageId": "m",
                    "MD5OfMessageBody": "5d41402abc4b2a76b9719d911017c592",
                    "Messages": [{"MessageId": "m", "ReceiptHandle": "r", "Body": "hello",
                                  "MD5OfBody": "5d41402abc4b2a76b9719d911017c592"}]}).encode()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:  # the whole body, as a server must before answering
        message = await receive()
        more = message.get("more_body", False)
    body = _GET if scope["method"] == "GET" else _POST if scope["method"] == "POST" else b""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="auto", http="auto", lifespan="on",
                access_log=False, log_level="warning", timeout_keep_alive=30, server_header=False,
                date_header=True)
