"""Deployment packages for Node.js and custom-runtime functions: real zips, real code."""

from __future__ import annotations

import io
import stat
import textwrap
import zipfile
from typing import Any

from .lambda_helpers import ROLE, unique


def zip_files(files: dict[str, str], executable: tuple[str, ...] = ()) -> bytes:
    """A zip of `files` (path -> text); those in `executable` carry mode 755, as `zip` on Unix
    records it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path, text in files.items():
            info = zipfile.ZipInfo(path)
            info.create_system = 3
            mode = 0o755 if path in executable else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, textwrap.dedent(text))
    return buf.getvalue()


def create_node(lam: Any, files: dict[str, str], handler: str = "index.handler", name: str | None = None,
                runtime: str = "nodejs20.x", **extra: object) -> str:
    name = name or unique("node")
    params: dict[str, object] = {
        "FunctionName": name, "Runtime": runtime, "Role": ROLE, "Handler": handler,
        "Code": {"ZipFile": zip_files(files)}, "Timeout": 10,
    }
    params.update(extra)
    lam.create_function(**params)
    return name
