"""Build layer archives for tests: real zips laid out as AWS documents (python/, bin/, ...)."""

from __future__ import annotations

import io
import stat
import zipfile
from typing import Any


def layer_zip(files: dict[str, str], executable: tuple[str, ...] = ()) -> bytes:
    """A zip of `files` (path -> text); files under bin/ and the paths in `executable` get mode 0755."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path, text in files.items():
            info = zipfile.ZipInfo(path)
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o755 if path.startswith("bin/") or path in executable else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            z.writestr(info, text)
    return buf.getvalue()


def publish(lam: Any, name: str, files: dict[str, str], **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = lam.publish_layer_version(LayerName=name, Content={"ZipFile": layer_zip(files)}, **extra)
    return out
