"""What every part of the S3 service shares: the store, the clock, where events go, and the
buckets as object requests read them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ...clock import Clock
from ...store.blobs import BlobStore
from ...store.db import Database
from .bucket_views import BucketViews
from .event_records import EventRecorder


@dataclass(frozen=True)
class S3State:
    """The state every part of the S3 service is handed."""

    db: Database
    blobs: BlobStore
    clock: Clock
    events: EventRecorder  # writes an object change's notification rows in its transaction
    # Called (thread-safe) with the destinations of notification rows just committed: the engine
    # delivers them.
    notify: Callable[[Sequence[str]], None]
    # Each bucket's row, policy and lifecycle configuration, read once until a bucket operation
    # changes one (see bucket_views.py).
    views: BucketViews
