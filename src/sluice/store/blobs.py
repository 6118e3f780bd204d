"""Object bodies on disk, under generated names.

A body is written to `tmp/`, fsynced and renamed into `blobs/`; only then may a row point at
it. Names come from uuid4, never from a client's key, so no request can choose a path.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


@dataclass
class WrittenBlob:
    """A body the blob store has written, with the checksums computed on the way."""

    name: str
    size: int
    md5: str
    extra: dict[str, str] = field(default_factory=dict)  # checksums computed on the way


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blob_dir = root / "blobs"
        self.tmp_dir = root / "tmp"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        # Unlinking a replaced body is off the request path: a crash before it happens leaves
        # an orphan that `sweep` removes at the next start.
        self._doomed: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._reaper = threading.Thread(target=self._reap, name="sluice-blob-reaper", daemon=True)
        self._reaper.start()
        for left in root.glob("blobs.discarded-*"):  # a reset's old tree, cut short by a stop
            self._doomed.put(str(left))

    def path(self, name: str) -> Path:
        if len(name) != 32 or not all(c in "0123456789abcdef" for c in name):
            raise ValueError("not a blob name")
        return self.blob_dir / name[:2] / name

    def write(
        self,
        chunks: Iterable[bytes],
        observers: Iterable[Callable[[bytes], None]] = (),
    ) -> WrittenBlob:
        """Store the bytes of `chunks`; return the blob's name, size and MD5 hex digest."""
        name = uuid.uuid4().hex
        tmp = self.tmp_dir / name
        md5 = hashlib.md5()
        size = 0
        fns = list(observers)
        try:
            with open(tmp, "wb") as f:
                for chunk in chunks:
                    if not chunk:
                        continue
                    md5.update(chunk)
                    for fn in fns:
                        fn(chunk)
                    f.write(chunk)
                    size += len(chunk)
                f.flush()
                os.fsync(f.fileno())
            final = self.path(name)
            final.parent.mkdir(exist_ok=True)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return WrittenBlob(name=name, size=size, md5=md5.hexdigest())

    def open(self, name: str) -> BinaryIO:
        return open(self.path(name), "rb")

    def read_range(self, name: str, start: int, length: int) -> Iterator[bytes]:
        with self.open(name) as f:
            f.seek(start)
            left = length
            while left > 0:
                data = f.read(min(CHUNK, left))
                if not data:
                    break
                left -= len(data)
                yield data

    def concat(self, names: list[str], observers: Iterable[Callable[[bytes], None]] = ()) -> WrittenBlob:
        def chunks() -> Iterator[bytes]:
            for n in names:
                with self.open(n) as f:
                    while data := f.read(CHUNK):
                        yield data

        return self.write(chunks(), observers)

    def link_copy(self, name: str) -> str:
        """A new name for the same bytes: bodies never change, so a copy can share the inode."""
        new = uuid.uuid4().hex
        target = self.path(new)
        target.parent.mkdir(exist_ok=True)
        os.link(self.path(name), target)
        return new

    def delete_later(self, name: str | None) -> None:
        if name:
            self._doomed.put(name)

    def _reap(self) -> None:
        while (name := self._doomed.get()) is not None:
            if os.sep in name:  # a discarded tree (discard_all), not a blob name
                shutil.rmtree(name, ignore_errors=True)
            else:
                self.delete(name)

    def close(self) -> None:
        self._doomed.put(None)
        self._reaper.join(timeout=10)

    def delete(self, name: str) -> None:
        with contextlib.suppress(ValueError):
            self.path(name).unlink(missing_ok=True)

    def discard_all(self) -> None:
        """Forget every body at once: `blobs/` is renamed aside and a fresh one made (two
        renames, quick at any size); the old tree is removed by the reaper thread, off the
        caller's path. Only for a reset, once no row points at any body."""
        aside = self.root / f"blobs.discarded-{uuid.uuid4().hex}"
        os.replace(self.blob_dir, aside)
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self._doomed.put(str(aside))

    def sweep(self, referenced: set[str]) -> int:
        """Remove temporaries and bodies no row points at (left by a crash). Startup only."""
        removed = 0
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        for sub in self.blob_dir.iterdir():
            if not sub.is_dir():
                continue
            for f in sub.iterdir():
                if f.name not in referenced:
                    f.unlink(missing_ok=True)
                    removed += 1
        return removed
