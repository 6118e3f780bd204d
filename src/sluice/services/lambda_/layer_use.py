"""Layers on functions: the `Layers` of CreateFunction / UpdateFunctionConfiguration checked and
turned into the archives the function keeps, AWS's size rule, and the merged tree an execution
environment sees where AWS mounts /opt.

A function keeps its own copy of each layer version's record (`_layers`: ARN, blob, digest,
sizes): a layer version deleted later keeps working for the functions that already use it, as
AWS keeps a copy for them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from ...protocol.errors import ServiceError
from . import layer_records
from .code import MAX_UNZIPPED, CodeStore
from .names import invalid
from .state import LambdaState

MAX_LAYERS = 5
# The botocore model's LayerVersionArn pattern; AWS quotes it in its validation message.
LAYER_VERSION_ARN_PATTERN = (
    r"((arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:"
    r"[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+))")
VERSION_ARN = re.compile(LAYER_VERSION_ARN_PATTERN)
_PARTS = re.compile(r"^arn:[^:]+:lambda:(?P<region>[^:]+):(?P<account>\d{12}):layer:(?P<name>[^:]+):(?P<version>\d+)$")

Layer = dict[str, Any]  # {"arn", "blob", "hex", "size", "unzipped"}


def public_layers(layers: list[Layer]) -> list[dict[str, Any]]:
    """The function configuration's `Layers` member."""
    return [{"Arn": layer["arn"], "CodeSize": layer["size"]} for layer in layers]


class FunctionLayers:
    def __init__(self, state: LambdaState, layer_code: CodeStore, function_code: CodeStore, root: Path) -> None:
        """`layer_code`: the layers' archives and extractions; `root`: where merged trees go."""
        self.state = state
        self.layer_code = layer_code
        self.function_code = function_code
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        for stale in root.glob(".*.tmp"):  # a merge cut short by a crash
            shutil.rmtree(stale, ignore_errors=True)

    def resolve(self, arns: list[str], current: list[Layer]) -> list[Layer]:
        """The layers a function asks for, in its order, as it will keep them.

        `current`: the layers the function has now. A version among them that was deleted since
        is still accepted: AWS keeps it for the functions using it, and tools that resend a
        function's whole configuration (SAM, Terraform) must not break on it."""
        if len(arns) > MAX_LAYERS:
            raise invalid("Cannot reference more than 5 layers.")
        bad = [a for a in arns if not 1 <= len(a) <= 2048 or VERSION_ARN.fullmatch(a) is None]
        if bad:
            raise ServiceError(
                "ValidationException",
                f"1 validation error detected: Value '[{', '.join(arns)}]' at 'layers' failed to satisfy constraint: "
                "Member must satisfy constraint: [Member must have length less than or equal to 2048, Member must "
                "have length greater than or equal to 1, Member must satisfy regular expression pattern: "
                f"{LAYER_VERSION_ARN_PATTERN}, Member must not be null]")
        kept = {layer["arn"]: layer for layer in current}
        seen: dict[str, str] = {}
        out: list[Layer] = []
        settings = self.state.settings
        for arn in arns:
            layer_arn = arn.rsplit(":", 1)[0]
            if layer_arn in seen:
                raise invalid("Two different versions of the same layer are not allowed to be referenced in the same "
                              f"function. {seen[layer_arn]} and {arn} are versions of the same layer.")
            seen[layer_arn] = arn
            m = _PARTS.match(arn)
            if m is not None and m["region"] != settings.region:
                raise invalid("Layers are not in the same region as the function. "
                              f"Layers are expected to be in region {settings.region}.")
            found = None
            if m is not None and m["account"] == settings.account_id:
                found = layer_records.version(self.state.reader, m["name"], int(m["version"]))
            if found is not None:
                code = found.config["_code"]
                out.append({"arn": arn, "blob": code["blob"], "hex": code["hex"], "size": code["size"],
                            "unzipped": code["unzipped"]})
            elif arn in kept:
                out.append(kept[arn])
            else:
                # AWS-managed (awslayer) and other accounts' layers do not exist on this machine.
                raise invalid(f"Layer version {arn} does not exist.")
        return out

    def check_size(self, code: dict[str, Any], layers: list[Layer]) -> None:
        """AWS's 250 MB rule: the function's package and its layers, all extracted."""
        if not layers:
            return  # the package alone was checked when it was stored
        total = self.function_code.unzipped_size(code)
        total += sum(self.layer_code.unzipped_size(layer) for layer in layers)
        if total > MAX_UNZIPPED:
            raise invalid(f"Function code combined with layers exceeds the maximum allowed size of {MAX_UNZIPPED} "
                          f"bytes. The actual size is {total} bytes.")

    def prune(self, in_use: list[list[Layer]], published: set[str]) -> None:
        """Remove the extractions and merged trees nothing uses any more (startup only, when no
        environment runs): `in_use`, the layers of every function and version; `published`, the
        digests of the layer versions not deleted."""
        trees = {_key(layers) for layers in in_use if layers}
        extractions = published | {layer["hex"] for layers in in_use for layer in layers}
        for root, keep in ((self.root, trees), (self.layer_code.root, extractions)):
            for folder in root.iterdir():
                if folder.is_dir() and not folder.name.startswith(".") and folder.name not in keep:
                    shutil.rmtree(folder, ignore_errors=True)

    def merged(self, layers: list[Layer]) -> Path | None:
        """The layers' files merged in order, later layers' files replacing earlier ones': what
        AWS mounts at /opt. Made once per distinct list of layers and never written again."""
        if not layers:
            return None
        key = _key(layers)
        target = self.root / key
        if target.is_dir():
            return target
        staging = self.root / f".{key}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            staging.mkdir()
            for layer in layers:
                _overlay(self.layer_code.task_root(layer["hex"], layer["blob"]), staging)
            try:
                staging.rename(target)
            except OSError:
                if not target.is_dir():  # not the same list merged meanwhile by another request
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target


def _key(layers: list[Layer]) -> str:
    """A merged tree's name: the same layers in the same order share one tree."""
    return hashlib.sha256("\n".join(layer["hex"] for layer in layers).encode()).hexdigest()


def _overlay(source: Path, dest: Path) -> None:
    """Put `source`'s tree over `dest`'s. Only folders and regular files are carried (extraction
    makes nothing else); a symlink would never be followed out of the tree."""
    for dirpath, dirnames, filenames in os.walk(source):
        here = Path(dirpath)
        out = dest / here.relative_to(source)
        for d in list(dirnames):
            if (here / d).is_symlink():
                dirnames.remove(d)
                continue
            path = out / d
            if path.is_symlink() or (path.exists() and not path.is_dir()):
                path.unlink()
            path.mkdir(exist_ok=True)
        for f in filenames:
            src = here / f
            if src.is_symlink() or not src.is_file():
                continue
            path = out / f
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            try:
                # Extractions are never written to: the merged tree can share their files.
                os.link(src, path)
            except OSError:
                shutil.copy2(src, path)
