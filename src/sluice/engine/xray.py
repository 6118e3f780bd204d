"""X-Ray trace headers (aws-reference §9): `Root=1-<8 hex epoch>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>`.

One root follows an event from the upload to its last delivery; the OTLP trace id is the root's
32 hex digits, so X-Ray-aware handler code and an OpenTelemetry collector see the same trace.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

_ROOT = re.compile(r"^1-([0-9a-f]{8})-([0-9a-f]{24})$")
_SPAN = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class TraceHeader:
    """An X-Ray trace header, parsed."""

    root: str  # 1-<8 hex>-<24 hex>
    parent: str | None  # 16 hex: the span the next hop is a child of
    sampled: bool

    @property
    def trace_id(self) -> str:
        """The OpenTelemetry trace id: the root's 32 hex digits."""
        return self.root[2:10] + self.root[11:]

    def child_of(self, span_id: str) -> TraceHeader:
        return TraceHeader(self.root, span_id, self.sampled)

    def __str__(self) -> str:
        parts = [f"Root={self.root}"]
        if self.parent:
            parts.append(f"Parent={self.parent}")
        parts.append(f"Sampled={1 if self.sampled else 0}")
        return ";".join(parts)


def new_span_id() -> str:
    return secrets.token_hex(8)


def new_header(now: float, sampled: bool = False) -> TraceHeader:
    return TraceHeader(f"1-{int(now):08x}-{secrets.token_hex(12)}", new_span_id(), sampled)


def parse(value: str | None) -> TraceHeader | None:
    """A header as clients send it (X-Amzn-Trace-Id); None when it has no valid root. Unknown
    fields (Self=, Lineage=, ...) are ignored; a missing Sampled means not sampled."""
    if not value:
        return None
    fields: dict[str, str] = {}
    for part in value.split(";"):
        name, sep, val = part.strip().partition("=")
        if sep:
            fields.setdefault(name.strip(), val.strip())
    root = fields.get("Root", "").lower()
    if not _ROOT.match(root):
        return None
    parent = fields.get("Parent", "").lower()
    return TraceHeader(root, parent if _SPAN.match(parent) else None, fields.get("Sampled") == "1")


def trace_id_of(header: str | None) -> str | None:
    parsed = parse(header)
    return parsed.trace_id if parsed else None
