"""Buckets as requests on their objects read them, kept in memory between requests.

A PutObject read its bucket's row three times before its transaction (authorization, its ACL,
its default encryption) and its lifecycle configuration after it; a GetObject its versioning
status and lifecycle. Those change only through S3's bucket operations (and the testing API's
reset), so each bucket is read once, in one statement, and kept until the next such change:
`S3Service` calls `invalidate` once any operation that may change a bucket has run (committed),
and on reset. A restart begins empty.

A read that raced an invalidation is not kept (the generation it started in has passed), so a
view read before a change committed can never outlive that change's invalidation: a request that
starts after a bucket operation answered sees what it wrote. A request running alongside one may
still see the bucket as it was, as it could have if it had started a moment earlier.
Object writes read what must be exact for them (the bucket's existence, versioning status and
notification configuration) again inside their own transaction (`records.buckets.write_target`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .records import BucketView

# Buckets kept at most; past it the cache starts over (a server with more buckets than this
# reads some of them again: correct, only slower).
_MAX_VIEWS = 4096


class BucketViews:
    def __init__(self, read: Callable[[str], BucketView | None]) -> None:
        """`read`: the bucket's view from the store (None: no such bucket)."""
        self._read = read
        self._views: dict[str, BucketView] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, name: str) -> BucketView | None:
        """The bucket's view (None if there is no such bucket: not kept, the next request reads
        again, so a bucket created meanwhile is found)."""
        found = self._views.get(name)
        if found is not None:
            return found
        generation = self._generation
        found = self._read(name)
        if found is not None:
            with self._lock:
                if self._generation == generation:
                    if len(self._views) >= _MAX_VIEWS:
                        self._views = {}
                    self._views[name] = found
        return found

    @property
    def generation(self) -> int:
        """How many times the views were forgotten: a write that read a view at one generation and
        still sees it inside its transaction knows no bucket operation finished in between."""
        return self._generation

    def invalidate(self) -> None:
        """Forget every bucket: call after a change to any bucket's row, policy or lifecycle
        configuration has committed."""
        with self._lock:
            self._generation += 1
            self._views = {}
