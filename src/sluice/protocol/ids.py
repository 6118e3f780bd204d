"""Random identifiers in AWS's shapes, made cheaply: one is made per request."""

from __future__ import annotations


def uuid4_text(random16: bytes) -> str:
    """`str(uuid.UUID(bytes=random16, version=4))` without building a UUID object (which
    validates and converts through an int: a tenth of the id's cost is the id itself)."""
    b = bytearray(random16)
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
