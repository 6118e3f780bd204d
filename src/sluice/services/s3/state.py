"""What every part of the S3 service shares: the store, the clock, and where events go."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...clock import Clock
from ...store.blobs import BlobStore
from ...store.db import Database
from .event_records import EventRecorder

if TYPE_CHECKING:
    from .records import BucketRecord


@dataclass(frozen=True)
class S3State:
    db: Database
    blobs: BlobStore
    clock: Clock
    events: EventRecorder  # writes an object change's notification rows in its transaction
    # Called (thread-safe) with the destinations of notification rows just committed: the engine
    # delivers them.
    notify: Callable[[Sequence[str]], None]
    # Per thread, while an object operation runs (`bucket_memo`): the bucket rows it read, by name.
    _memo: threading.local = field(default_factory=threading.local, compare=False, repr=False)

    @contextmanager
    def bucket_memo(self) -> Iterator[None]:
        """Within: `core.bucket` reads each bucket's row once. For operations on objects, which
        never change a bucket's row: PutObject read it three times (ACL, encryption, owner)."""
        self._memo.buckets = {}
        try:
            yield
        finally:
            self._memo.buckets = None

    def remembered(self) -> dict[str, BucketRecord] | None:
        """The running operation's bucket rows by name, if it keeps them (see `bucket_memo`)."""
        found: dict[str, BucketRecord] | None = getattr(self._memo, "buckets", None)
        return found
