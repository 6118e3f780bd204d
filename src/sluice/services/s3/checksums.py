"""S3's additional checksums: CRC32, CRC32C, CRC64NVME, SHA1, SHA256 (base64 of the digest)."""

from __future__ import annotations

import base64
import hashlib
import zlib
from functools import cache
from types import ModuleType
from typing import Protocol

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
# Checksums AWS stores for an upload that brought none (since 2025).
DEFAULT_ALGORITHM = "CRC64NVME"


class Hasher(Protocol):
    def update(self, data: bytes) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    def __init__(self, fn: object, width: int) -> None:
        self._fn = fn
        self._width = width
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = self._fn(data, self._value)  # type: ignore[operator]

    def digest(self) -> bytes:
        return self._value.to_bytes(self._width, "big")


@cache
def _crt() -> ModuleType:
    # awscrt's native library costs ~40 ms and several MB to load: paid on the first upload
    # (every upload gets a CRC64NVME checksum), not at start-up.
    from awscrt import checksums

    return checksums


def new_hasher(algorithm: str) -> Hasher:
    algorithm = algorithm.upper()
    if algorithm == "CRC32":
        return _Crc(zlib.crc32, 4)
    if algorithm == "CRC32C":
        return _Crc(_crt().crc32c, 4)
    if algorithm == "CRC64NVME":
        return _Crc(_crt().crc64nvme, 8)
    if algorithm == "SHA1":
        return hashlib.sha1()
    if algorithm == "SHA256":
        return hashlib.sha256()
    raise ValueError(algorithm)


def digest_of(algorithm: str, data: bytes) -> bytes:
    """The digest of bytes all in memory, in one call (an upload kept in its row)."""
    if algorithm == "CRC64NVME":
        return int(_crt().crc64nvme(data)).to_bytes(8, "big")
    if algorithm == "CRC32":
        return zlib.crc32(data).to_bytes(4, "big")
    hasher = new_hasher(algorithm)
    hasher.update(data)
    return hasher.digest()


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def composite(algorithm: str, part_checksums: list[str]) -> str:
    """The checksum of the parts' checksums, as S3 reports it for a COMPOSITE multipart object."""
    h = new_hasher(algorithm)
    for value in part_checksums:
        h.update(base64.b64decode(value))
    return f"{b64(h.digest())}-{len(part_checksums)}"


def member_name(algorithm: str) -> str:
    return MEMBERS.get(algorithm) or f"Checksum{algorithm.upper()}"


MEMBERS = {name: f"Checksum{name}" for name in ALGORITHMS}  # algorithm -> its member
