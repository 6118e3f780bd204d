"""What enforcement asks IAM on every request (whose key is this, which policies apply to it),
remembered between IAM changes.

Every IAM write (and every new STS session) bumps one change counter; an answer is reused only
while the counter still has the value it had when the answer was computed. A change therefore
takes effect on the next request, however it was made, with no per-entity invalidation to get
wrong. Sessions that expire need no bump: the reader checks the expiry of a cached session.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")

# Unknown keys are remembered too (a retrying client repeats them); past this many entries
# the cache starts over rather than grow without bound.
MAX_ENTRIES = 4096


class ChangeCounter:
    """IAM's change counter. `bump()` after a write has committed: a reader that computed its
    answer from the state before the write recorded the older value, so its answer is not reused."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def bump(self) -> None:
        with self._lock:
            self.value += 1


class Remembered(Generic[T]):
    """Answers keyed by their question, valid for one value of the change counter."""

    def __init__(self, changes: ChangeCounter, max_entries: int = MAX_ENTRIES) -> None:
        self._changes = changes
        self._max = max_entries
        self._entries: dict[Hashable, tuple[int, T]] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        # Read the counter before computing: a write committed meanwhile makes this entry stale.
        value = self._changes.value
        entry = self._entries.get(key)
        if entry is not None and entry[0] == value:
            return entry[1]
        answer = compute()
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key] = (value, answer)
        return answer
