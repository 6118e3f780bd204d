"""Build deployment packages for tests: real zips with real handler code."""

from __future__ import annotations

import io
import textwrap
import uuid
import zipfile

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def zip_code(source: str, module: str = "handler") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{module}.py", textwrap.dedent(source))
    return buf.getvalue()


def unique(prefix: str = "fn") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(lam, source: str, name: str | None = None, **extra: object) -> str:  # type: ignore[no-untyped-def]
    name = name or unique()
    params: dict[str, object] = {
        "FunctionName": name, "Runtime": "python3.12", "Role": ROLE, "Handler": "handler.handler",
        "Code": {"ZipFile": zip_code(source)}, "Timeout": 10,
    }
    params.update(extra)
    lam.create_function(**params)
    return name
