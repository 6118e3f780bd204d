"""Function code: the zip is kept as a blob, its extraction is the task root environments run in."""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import zipfile
from pathlib import Path

from ...protocol.errors import ServiceError
from ...store.blobs import BlobStore
from .names import invalid

MAX_ZIPPED = 50 * 1024 * 1024
MAX_UNZIPPED = 250 * 1024 * 1024


class CodeStore:
    def __init__(self, blobs: BlobStore, root: Path) -> None:
        self.blobs = blobs
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def save(self, zipped: bytes) -> dict[str, object]:
        """Check and store a deployment package; return the `_code` record the function keeps."""
        if len(zipped) > MAX_ZIPPED:
            raise ServiceError("RequestEntityTooLargeException",
                               f"Zipped size must be smaller than {MAX_ZIPPED} bytes", 413)
        try:
            archive = zipfile.ZipFile(io.BytesIO(zipped))
            unzipped = sum(i.file_size for i in archive.infolist())
        except (zipfile.BadZipFile, ValueError):
            raise invalid("Could not unzip uploaded file. Please check your file, then try to upload again.") from None
        if unzipped > MAX_UNZIPPED:
            raise invalid(f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes")
        digest = hashlib.sha256(zipped).digest()
        written = self.blobs.write([zipped])
        self.task_root(digest.hex(), written.name)
        return {"blob": written.name, "sha256": base64.b64encode(digest).decode(), "hex": digest.hex(),
                "size": len(zipped)}

    def task_root(self, hex_digest: str, blob: str) -> Path:
        """The extracted package, made once per distinct zip (content-addressed)."""
        target = self.root / hex_digest
        if target.is_dir():
            return target
        staging = self.root / f".{hex_digest}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        with self.blobs.open(blob) as f, zipfile.ZipFile(f) as archive:
            # ZipFile.extractall drops absolute paths and '..' parts: no entry escapes the root.
            archive.extractall(staging)
        staging.rename(target)
        return target

    def read(self, blob: str) -> bytes:
        with self.blobs.open(blob) as f:
            return f.read()
