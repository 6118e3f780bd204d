"""Long polls parked on queues, and the hand-off of new messages to them.

A ReceiveMessage that finds nothing parks a Waiter and sleeps on its future until something
wakes it, its next visibility deadline comes, or its WaitTimeSeconds run out. Nothing polls.

Two ways out of the wait:
  - wake: whatever may have made a message receivable (a visibility change to 0, a FIFO delete,
    a redrive, a queue deleted) resolves the futures of the queue's waiters; they look again.
  - hand-off: a SendMessage to a standard queue with a parked waiter *claims* it inside the
    send's own transaction and inserts the message already received by it (receive count 1, in
    flight for the waiter's visibility timeout). When that transaction commits, the waiter is
    answered with the message: one commit from send to receive instead of two.

States of a waiter:
  looking   registered before the poll looks at the store (so a wake during the look is not
            lost), never claimed: it might still find messages of its own
  waiting   parked; claimable by a send and woken by a wake
  claimed   a send's transaction holds it; it is answered when that commits, or released back
            to `waiting` if the transaction fails
  gone      answered, timed out, or woken

Futures are only resolved on the event loop; claims happen on the store's writer thread, so the
registry is guarded by a lock.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any


class Waiter:
    __slots__ = ("queue_id", "count", "visibility", "future", "state", "woken", "taken")

    def __init__(self, queue_id: int, count: int, visibility: int, future: asyncio.Future[None]) -> None:
        self.queue_id = queue_id
        self.count = count
        self.visibility = visibility
        self.future = future
        self.state = "looking"
        self.woken = False
        self.taken: list[Any] = []  # what a hand-off put in flight for this waiter


class Waiters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_queue: dict[int, list[Waiter]] = {}

    def _remove(self, waiter: Waiter) -> None:
        waiters = self._by_queue.get(waiter.queue_id)
        if waiters is not None and waiter in waiters:
            waiters.remove(waiter)
            if not waiters:
                del self._by_queue[waiter.queue_id]

    # -- the receiving side (event loop) ---------------------------------------------------

    def arm(self, queue_id: int, count: int, visibility: int, loop: asyncio.AbstractEventLoop) -> Waiter:
        waiter = Waiter(queue_id, count, visibility, loop.create_future())
        with self._lock:
            self._by_queue.setdefault(queue_id, []).append(waiter)
        return waiter

    def park(self, waiter: Waiter) -> bool:
        """looking -> waiting; False (and gone) if a wake came during the look."""
        with self._lock:
            if waiter.woken:
                waiter.state = "gone"
                self._remove(waiter)
                return False
            waiter.state = "waiting"
            return True

    def disarm(self, waiter: Waiter) -> bool:
        """Withdraw a waiter; False if a send has claimed it (its answer is committing)."""
        with self._lock:
            if waiter.state == "claimed":
                return False
            waiter.state = "gone"
            self._remove(waiter)
            return True

    def wake(self, queue_ids: tuple[int, ...]) -> None:
        woken: list[Waiter] = []
        with self._lock:
            for queue_id in queue_ids:
                for waiter in list(self._by_queue.get(queue_id, ())):
                    if waiter.state == "looking":
                        waiter.woken = True
                    elif waiter.state == "waiting":
                        waiter.state = "gone"
                        self._remove(waiter)
                        woken.append(waiter)
        for waiter in woken:
            if not waiter.future.done():
                waiter.future.set_result(None)

    def wake_all(self) -> None:
        with self._lock:
            queue_ids = tuple(self._by_queue)
        self.wake(queue_ids)

    # -- the sending side --------------------------------------------------------------------

    def has_waiting(self, queue_id: int) -> bool:
        return queue_id in self._by_queue  # a hint without the lock; claim() decides

    def claim(self, queue_id: int, claimed: list[Waiter]) -> Waiter | None:
        """A waiter to hand one message to (inside the send's transaction, writer thread)."""
        with self._lock:
            for waiter in self._by_queue.get(queue_id, ()):
                if waiter.state == "claimed" and waiter in claimed and len(waiter.taken) < waiter.count:
                    return waiter
            for waiter in self._by_queue.get(queue_id, ()):
                if waiter.state == "waiting":
                    waiter.state = "claimed"
                    claimed.append(waiter)
                    return waiter
        return None

    def release(self, claimed: list[Waiter]) -> None:
        """The claiming transaction failed: the waiters wait on, with nothing taken."""
        with self._lock:
            for waiter in claimed:
                waiter.taken.clear()
                if waiter.state == "claimed":
                    waiter.state = "waiting"

    def settle(self, claimed: list[Waiter]) -> None:
        """The claiming transaction committed: answer its waiters (event loop)."""
        with self._lock:
            for waiter in claimed:
                waiter.state = "gone"
                self._remove(waiter)
        for waiter in claimed:
            if not waiter.future.done():
                waiter.future.set_result(None)
