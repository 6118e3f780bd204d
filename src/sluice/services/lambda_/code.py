"""Function code: the zip is kept as a blob, its extraction is the task root environments run in."""

from __future__ import annotations

import base64
import errno
import functools
import hashlib
import io
import shutil
import uuid
import zlib
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ...protocol.errors import ServiceError
from ...store.blobs import BlobStore
from .names import invalid

if TYPE_CHECKING:
    import zipfile

MAX_ZIPPED = 50 * 1024 * 1024
MAX_UNZIPPED = 250 * 1024 * 1024

UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."
EMPTY_ZIP = "Uploaded file must be a non-empty zip"


@functools.cache
def _corrupt() -> tuple[type[BaseException], ...]:
    """What reading a corrupt or unsupported member raises: bad headers or CRC (BadZipFile), data
    that ends early (EOFError), bad deflate/lzma/bzip2 streams (zlib.error, LZMAError, OSError),
    unknown compression (NotImplementedError), encryption (RuntimeError), nonsense offsets
    (ValueError). zipfile and lzma are imported with the first zip (with bz2, ~0.3 MB a
    server that runs no function would keep)."""
    import lzma
    import zipfile

    return (zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError, NotImplementedError,
            RuntimeError, ValueError)


# What writing a member raises when the archive's own paths clash (a file `a`, then `a/b.txt`; a
# symlink entry, then a path through it) or cannot be a file name (NUL, too long).
_CLASH = (FileExistsError, NotADirectoryError, IsADirectoryError, ValueError)
_CHUNK = 1024 * 1024


def too_large() -> ServiceError:
    return ServiceError("RequestEntityTooLargeException", f"Zipped size must be smaller than {MAX_ZIPPED} bytes")


class CodeStore:
    def __init__(self, blobs: BlobStore, root: Path) -> None:
        self.blobs = blobs
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        # An extraction cut short by a crash: no function refers to its folder.
        for stale in root.glob(".*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)

    def save(self, zipped: bytes) -> dict[str, object]:
        """Check and store a deployment package; return the `_code` record the function keeps.

        The package is extracted before anything is stored, so a zip that cannot be extracted is
        refused and leaves nothing behind."""
        if len(zipped) > MAX_ZIPPED:
            raise too_large()
        digest = hashlib.sha256(zipped).digest()
        extracted = self._extract(io.BytesIO(zipped), digest.hex())
        written = self.blobs.write([zipped])
        return {"blob": written.name, "sha256": base64.b64encode(digest).decode(), "hex": digest.hex(),
                "size": len(zipped), "unzipped": tree_size(extracted)}

    def task_root(self, hex_digest: str, blob: str) -> Path:
        """The extracted package, made once per distinct zip (content-addressed)."""
        target = self.root / hex_digest
        if target.is_dir():
            return target
        with self.blobs.open(blob) as f:
            return self._extract(f, hex_digest)

    def unzipped_size(self, code: dict[str, object]) -> int:
        """The extracted size of a stored package (records made before it was kept: measured)."""
        known = code.get("unzipped")
        if isinstance(known, int):
            return known
        return tree_size(self.task_root(str(code["hex"]), str(code["blob"])))

    def read(self, blob: str) -> bytes:
        with self.blobs.open(blob) as f:
            return f.read()

    def _extract(self, source: IO[bytes], hex_digest: str) -> Path:
        target = self.root / hex_digest
        if target.is_dir():
            return target
        # A staging folder of its own: two requests with the same zip never share one.
        staging = self.root / f".{hex_digest}.{uuid.uuid4().hex[:8]}.tmp"
        import zipfile

        try:
            try:
                archive = zipfile.ZipFile(source)
            except _corrupt():
                raise invalid(UNZIP_FAILED) from None
            with archive:
                _unpack(archive, staging)
            try:
                staging.rename(target)
            except OSError:
                if not target.is_dir():  # not the same zip extracted meanwhile by another request
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target


def tree_size(root: Path) -> int:
    """The bytes of the files under `root` (an extraction holds regular files and folders only)."""
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file() and not f.is_symlink())


def _unpack(archive: zipfile.ZipFile, staging: Path) -> None:
    """Extract every member under `staging`, counting the bytes actually written: a member's
    declared size is the archive's claim, not a limit anything enforces."""
    members = archive.infolist()
    if not members:
        raise invalid(EMPTY_ZIP)
    staging.mkdir()
    written = 0
    for info in members:
        dest = _destination(staging, info.filename)
        if dest is None:
            continue
        try:
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            out = open(dest, "wb")  # noqa: SIM115 - closed below, after the member is read
        except _CLASH:
            raise invalid(UNZIP_FAILED) from None
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                raise invalid(UNZIP_FAILED) from None
            raise
        with out:
            try:
                member = archive.open(info)
            except _corrupt():
                raise invalid(UNZIP_FAILED) from None
            with member:
                while True:
                    try:
                        chunk = member.read(_CHUNK)
                    except _corrupt():
                        raise invalid(UNZIP_FAILED) from None
                    if not chunk:
                        break
                    written += len(chunk)
                    if written > MAX_UNZIPPED:
                        raise invalid(f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes")
                    out.write(chunk)
        if (info.external_attr >> 16) & 0o111:
            # Executables stay executable (a layer's bin/, a custom runtime's bootstrap), as AWS
            # keeps a zip's Unix modes; only that bit is taken from the archive, nothing else.
            dest.chmod(0o755)


def _destination(root: Path, name: str) -> Path | None:
    """Where a member goes, as ZipFile.extract places it: absolute paths, '.' and '..' parts are
    dropped, so no entry lands outside `root`; None for a name that is nothing after that."""
    parts = [p for p in name.split("/") if p not in ("", ".", "..")]
    return root.joinpath(*parts) if parts else None
