"""What every service has: a name and its operations (the wire is the protocol layer's).

An operation is a method named after the operation in snake_case, taking the request context
and the input members (botocore names) and returning the output members. Plain methods run in
a worker thread; `async def` methods run on the event loop (for long polls).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

Operation = Callable[..., Any]


class Service:
    name: ClassVar[str]
    def operation_owners(self) -> Sequence[object]:
        """The objects that implement this service's operations: a service split by subject
        (queues, messages, move tasks) lists its parts; they are searched in order."""
        return (self,)

    def operation(self, op_name: str) -> Operation | None:
        from botocore import xform_name  # botocore stays off the start path (it is cached by then)

        attr = xform_name(op_name)
        for owner in self.operation_owners():
            fn = getattr(owner, attr, None)
            if callable(fn):
                return fn  # type: ignore[no-any-return]
        return None

    def runs_on_loop(self, op_name: str) -> bool:
        """Whether the plain (not async) operation only computes and reads the store by index
        (WAL readers never wait for the writer), with nothing else that blocks: the gateway then
        runs it on the event loop, where handing it to a worker thread and back costs more than
        the operation itself (two thread wake-ups). None by default."""
        return False

    async def start(self) -> None:
        """Called on the event loop once the server is up (background work may begin)."""

    async def stop(self) -> None:
        """Called on the event loop when the server stops."""

    # -- the testing API's reset (sluice.reset) ----------------------------------------------

    def fresh_rows(self, conn: sqlite3.Connection) -> None:
        """Inside the reset's transaction, once every table is empty: write the rows a fresh
        server has from the start (e.g. EventBridge's default bus)."""

    def reset(self) -> None:
        """After the reset committed: forget what this service remembers in memory about the
        old rows (caches, parked waits, buffered metrics). Called on the event loop."""
