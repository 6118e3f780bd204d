"""The floors for bench/footprint.py: a bare uvicorn app with Sluice's uvicorn settings.

It reads each request's body and answers 200 with a fixed body shaped for the benchmark's
clients (1 KiB for a GET, an SQS-like JSON document for a POST): what the HTTP stack itself
costs per request, with no parsing, storage or fsync.

With `--durable DB`, the same app also does what any server that keeps its promises must do for a
write (a PUT or a POST), and nothing more: it inserts the body as one row into SQLite (WAL,
synchronous=FULL) on one writer thread, which commits what is queued together (group commit),
and answers once that commit's fsync returned. What is left between this floor and Sluice is
Sluice's own work: parsing, authorizing, the service's rules and records, serializing.

    .venv/bin/python bench/floor.py PORT [--durable DB]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import threading
from typing import Any

import uvicorn

_GET = b"x" * 1024
_POST = json.dumps({"QueueUrl": "http://127.0.0.1/000000000000/floor", "MessageId": "m",
                    "MD5OfMessageBody": "5d41402abc4b2a76b9719d911017c592",
                    "Messages": [{"MessageId": "m", "ReceiptHandle": "r", "Body": "hello",
                                  "MD5OfBody": "5d41402abc4b2a76b9719d911017c592"}]}).encode()


class Writer:
    """One writer thread: each write is a one-row INSERT; what is queued commits together."""

    def __init__(self, path: str) -> None:
        self._queued: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None], bytes]] = []
        self._ready = threading.Condition()
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS writes (id INTEGER PRIMARY KEY, body BLOB)")
        threading.Thread(target=self._run, name="floor-writer", daemon=True).start()

    async def write(self, body: bytes) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        with self._ready:
            self._queued.append((loop, done, body))
            self._ready.notify()
        await done

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queued:
                    self._ready.wait()
                batch, self._queued = self._queued, []
            self._conn.execute("BEGIN")
            self._conn.executemany("INSERT INTO writes (body) VALUES (?)", [(b,) for _, _, b in batch])
            self._conn.execute("COMMIT")
            batch[0][0].call_soon_threadsafe(_settle, [done for _, done, _ in batch])


def _settle(futures: list[asyncio.Future[None]]) -> None:
    for done in futures:
        done.set_result(None)


writer: Writer | None = None


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    chunks, more = [], True
    while more:  # the whole body, as a server must before answering
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    if writer is not None and scope["method"] in ("PUT", "POST"):
        await writer.write(b"".join(chunks))
    body = _GET if scope["method"] == "GET" else _POST if scope["method"] == "POST" else b""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("--durable", metavar="DB", help="commit each write to this SQLite file, fsynced")
    args = p.parse_args()
    if args.durable:
        writer = Writer(args.durable)
    uvicorn.run(app, host="127.0.0.1", port=args.port, loop="auto", http="auto", lifespan="on",
                access_log=False, log_level="warning", timeout_keep_alive=30, server_header=False,
                date_header=True)
