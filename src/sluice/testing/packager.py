"""`aws cloudformation package`, for the plugin: a template's local code paths zipped and uploaded.

The properties the AWS CLI packages (its artifact exporter) that Sluice deploys: SAM's
`AWS::Serverless::Function` `CodeUri` (and `Globals.Function.CodeUri`), `AWS::Serverless::LayerVersion`
`ContentUri`, `AWS::Lambda::Function` `Code` and `AWS::Lambda::LayerVersion` `Content` given as a
local path. A folder is zipped (its files, relative to it); a .zip/.jar file is uploaded as it is;
another file is zipped alone. Objects are keyed by the archive's MD5, as the CLI keys them, so an
unchanged folder gives the same key and a redeploy finds no change. Paths are relative to the
template's folder. Written here so that tests do not need the AWS CLI at run time.
"""

from __future__ import annotations

import copy
import hashlib
import io
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Folders a test run writes into the tree it packages; zipping them would change the archive (and
# its key) from one run to the next. The AWS CLI zips them too: a deliberate difference.
_SKIPPED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".git", ".aws-sam"})
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip's epoch: the same files give the same bytes


class PackagingError(Exception):
    """A local path the template names cannot be packaged (it does not exist, say)."""


@dataclass(frozen=True)
class _Property:
    """A resource property whose local code path the packager zips and uploads."""

    resource_type: str
    name: str
    # "uri": SAM's "s3://bucket/key" string; "code": {"S3Bucket", "S3Key"}; "content": same shape,
    # AWS::Lambda::LayerVersion's member names.
    shape: str
    package_when_absent: bool = False


_PROPERTIES = (
    # SAM zips the template's folder for a function without CodeUri (and without InlineCode/ImageUri).
    _Property("AWS::Serverless::Function", "CodeUri", "uri", package_when_absent=True),
    _Property("AWS::Serverless::LayerVersion", "ContentUri", "uri"),
    _Property("AWS::Lambda::Function", "Code", "code"),
    _Property("AWS::Lambda::LayerVersion", "Content", "code"),
)

# Uploads bytes under a key to the artifacts bucket.
Upload = Callable[[str, bytes], None]


def _is_local(value: Any) -> bool:
    return isinstance(value, str) and not value.startswith(("s3://", "http://", "https://"))


def zip_folder(folder: Path) -> bytes:
    """The folder's files as a zip archive, in a stable order with fixed times (modes kept)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, files in os.walk(folder, followlinks=True):
            dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
            for name in sorted(files):
                path = Path(root, name)
                _add(archive, path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def _add(archive: zipfile.ZipFile, path: Path, arcname: str) -> None:
    info = zipfile.ZipInfo(arcname, _FIXED_TIME)
    info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16  # regular file, its mode
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, path.read_bytes())


def archive_of(path: Path) -> bytes:
    """What the CLI uploads for `path`: a folder zipped, a zip as it is, another file zipped alone."""
    if path.is_dir():
        return zip_folder(path)
    if path.is_file():
        if zipfile.is_zipfile(path):
            return path.read_bytes()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            _add(archive, path, path.name)
        return buffer.getvalue()
    raise PackagingError(f"{path} does not exist")


class Packager:
    """Rewrites a parsed template so that its local code paths point at uploaded archives."""

    def __init__(self, bucket: str, upload: Upload) -> None:
        self.bucket = bucket
        self.upload = upload
        self._done: dict[Path, str] = {}  # a folder two functions share is uploaded once

    def _key_for(self, path: Path) -> str:
        path = path.resolve()
        if path not in self._done:
            data = archive_of(path)
            key = hashlib.md5(data, usedforsecurity=False).hexdigest()  # the CLI's key: content, not identity
            self.upload(key, data)
            self._done[path] = key
        return self._done[path]

    def _packaged(self, where: str, value: str, base: Path, shape: str) -> Any:
        try:
            key = self._key_for(base / value)
        except PackagingError:
            raise PackagingError(f"{where} refers to a file or folder that does not exist: {base / value}") from None
        if shape == "uri":
            return f"s3://{self.bucket}/{key}"
        return {"S3Bucket": self.bucket, "S3Key": key}

    def package(self, template: dict[str, Any], base: Path) -> dict[str, Any]:
        """A copy of `template` (long-form dicts) with its local code paths uploaded; `base`: the
        template's folder."""
        doc = copy.deepcopy(template)
        function_globals = ((doc.get("Globals") or {}).get("Function") or {})
        if isinstance(function_globals, dict) and _is_local(function_globals.get("CodeUri")):
            function_globals["CodeUri"] = self._packaged("Globals.Function.CodeUri", function_globals["CodeUri"],
                                                         base, "uri")
        global_code = isinstance(function_globals, dict) and "CodeUri" in function_globals
        for logical, resource in (doc.get("Resources") or {}).items():
            if not isinstance(resource, dict):
                continue
            for prop in _PROPERTIES:
                if resource.get("Type") != prop.resource_type:
                    continue
                props = resource.setdefault("Properties", {})
                if not isinstance(props, dict):
                    continue
                value = props.get(prop.name)
                if value is None and prop.package_when_absent and not global_code and not (
                        {"InlineCode", "ImageUri"} & props.keys()) and props.get("PackageType") != "Image":
                    value = "."
                if isinstance(value, str) and _is_local(value):
                    props[prop.name] = self._packaged(f"Parameter {prop.name} of resource {logical}", value, base,
                                                      prop.shape)
        return doc
