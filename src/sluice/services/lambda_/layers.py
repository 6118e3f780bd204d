"""Layers: PublishLayerVersion, GetLayerVersion(ByArn), ListLayers, ListLayerVersions and
DeleteLayerVersion. A layer's archive is checked and extracted as a function's package is."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from . import layer_records
from .code import CodeStore
from .layer_use import LAYER_VERSION_ARN_PATTERN, VERSION_ARN
from .names import invalid
from .state import LambdaState, now_iso, page

# The botocore model's LayerName pattern: a name, or a layer's ARN (without version).
LAYER_NAME_PATTERN = (r"(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:"
                      r"layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+")
_NAME = re.compile(LAYER_NAME_PATTERN)
_LISTED = ("LayerVersionArn", "Version", "Description", "CreatedDate", "CompatibleRuntimes", "LicenseInfo",
           "CompatibleArchitectures")

FetchS3 = Callable[[RequestContext, str, str, "str | None"], bytes]


def no_such_resource() -> ServiceError:
    return ServiceError("ResourceNotFoundException", "The resource you requested does not exist.", Type="User")


def validation(value: str, where: str, pattern: str) -> ServiceError:
    return ServiceError("ValidationException",
                        f"1 validation error detected: Value '{value}' at '{where}' failed to satisfy constraint: "
                        f"Member must satisfy regular expression pattern: {pattern}")


def version_number(value: object) -> int:
    """VersionNumber arrives as URI text."""
    text = str(value)
    if not text.isdigit() or int(text) >= 2**63:
        raise ServiceError("ValidationException",
                           f"1 validation error detected: Value '{text}' at 'versionNumber' failed to satisfy "
                           "constraint: Member must be a number")  # the model's type is long: AWS's wording unknown
    return int(text)


class Layers:
    def __init__(self, state: LambdaState, code: CodeStore, fetch_s3: FetchS3) -> None:
        """`code`: where layer archives are stored and extracted; `fetch_s3`: reads an S3 object
        (bucket, key, version) as CreateFunction's S3 code does."""
        self.state = state
        self.code = code
        self.fetch_s3 = fetch_s3

    # -- names -----------------------------------------------------------------------------

    def layer_arn(self, name: str) -> str:
        s = self.state.settings
        return f"arn:aws:lambda:{s.region}:{s.account_id}:layer:{name}"

    def name(self, value: str) -> str | None:
        """The layer a LayerName means; None for another account's or region's layer."""
        if not 1 <= len(value) <= 140 or _NAME.fullmatch(value) is None:
            raise validation(value, "layerName", LAYER_NAME_PATTERN)
        if not value.startswith("arn:"):
            return value
        if value.rsplit(":", 1)[0] != self.layer_arn("").rsplit(":", 1)[0]:
            return None
        return value.rsplit(":", 1)[1]

    def find(self, name: str | None, number: int) -> layer_records.LayerVersion | None:
        return layer_records.version(self.state.reader, name, number) if name is not None else None

    def _out(self, ctx: RequestContext, config: layer_records.Config) -> dict[str, Any]:
        code = config["_code"]
        name = config["LayerArn"].rsplit(":", 1)[1]
        out = {k: v for k, v in config.items() if not k.startswith("_")}
        # A URL that downloads the archive, as AWS's presigned S3 URL does.
        out["Content"] = {"Location": f"{ctx.endpoint}/_sluice/lambda-layer/{name}/{config['Version']}.zip",
                          "CodeSha256": code["sha256"], "CodeSize": code["size"]}
        return out

    # -- operations ------------------------------------------------------------------------

    def publish_layer_version(self, ctx: RequestContext, LayerName: str, Content: dict[str, Any],
                              **params: Any) -> dict[str, Any]:
        name = self.name(LayerName)
        if name is None:
            # Publishing into another account's layer: AWS answers with an authorization error.
            raise ServiceError("AccessDeniedException",
                               f"User is not authorized to perform: lambda:PublishLayerVersion on resource: {LayerName}",
                               403)
        if Content.get("ZipFile") is not None:
            zipped = Content["ZipFile"]
        elif Content.get("S3Bucket") and Content.get("S3Key"):
            zipped = self.fetch_s3(ctx, Content["S3Bucket"], Content["S3Key"], Content.get("S3ObjectVersion"))
        else:
            raise invalid("Please provide a source for layer code.")  # unconfirmed wording
        code = self.code.save(zipped)
        created = now_iso(self.state.clock)
        layer_arn = self.layer_arn(name)

        def txn(conn: sqlite3.Connection) -> layer_records.Config:
            number = layer_records.next_version(conn, name)
            config: layer_records.Config = {
                "LayerArn": layer_arn, "LayerVersionArn": f"{layer_arn}:{number}",
                "Description": params.get("Description") or "", "CreatedDate": created, "Version": number,
            }
            for key in ("CompatibleRuntimes", "CompatibleArchitectures"):
                if params.get(key):
                    config[key] = list(params[key])
            if params.get("LicenseInfo"):
                config["LicenseInfo"] = params["LicenseInfo"]
            config["_code"] = code
            layer_records.insert_version(conn, name, number, config)
            return config

        return self._out(ctx, self.state.write(txn))

    def get_layer_version(self, ctx: RequestContext, LayerName: str, VersionNumber: Any, **_: Any) -> dict[str, Any]:
        found = self.find(self.name(LayerName), version_number(VersionNumber))
        if found is None:
            raise no_such_resource()
        return self._out(ctx, found.config)

    def get_layer_version_by_arn(self, ctx: RequestContext, Arn: str, **_: Any) -> dict[str, Any]:
        if VERSION_ARN.fullmatch(Arn) is None:
            raise validation(Arn, "arn", LAYER_VERSION_ARN_PATTERN)
        layer, _sep, number = Arn.rpartition(":")
        if not number.isdigit():  # an AWS-managed layer (arn:...:awslayer:name): none here
            raise no_such_resource()
        return self.get_layer_version(ctx, layer, number)

    def list_layer_versions(self, ctx: RequestContext, LayerName: str, **params: Any) -> dict[str, Any]:
        name = self.name(LayerName)
        found = layer_records.versions(self.state.reader, name) if name is not None else []
        items = [_listed(v.config) for v in found if _matches(v.config, params)]
        return page(items, params, "LayerVersions", lambda item: str(item["Version"]))

    def list_layers(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        latest: dict[str, layer_records.LayerVersion] = {}
        for v in layer_records.all_versions(self.state.reader):  # newest first within a layer
            if v.name not in latest and _matches(v.config, params):
                latest[v.name] = v
        items = [{"LayerName": name, "LayerArn": v.config["LayerArn"], "LatestMatchingVersion": _listed(v.config)}
                 for name, v in latest.items()]
        return page(items, params, "Layers", lambda item: str(item["LayerName"]))

    def delete_layer_version(self, ctx: RequestContext, LayerName: str, VersionNumber: Any,
                             **_: Any) -> dict[str, Any]:
        # Idempotent, as on AWS: deleting a version that is not there succeeds. The archive stays
        # for the functions that use it; the startup sweep removes it once none does.
        name = self.name(LayerName)
        number = version_number(VersionNumber)
        if name is not None:
            self.state.write(lambda conn: layer_records.delete_version(conn, name, number))
        return {}

    # -- for the rest of Sluice --------------------------------------------------------------

    def archive(self, name: str, number: int) -> bytes | None:
        """A published layer version's archive (the download Content.Location points at)."""
        found = layer_records.version(self.state.reader, name, number)
        return self.code.read(found.config["_code"]["blob"]) if found is not None else None


def _matches(config: layer_records.Config, params: dict[str, Any]) -> bool:
    runtime, arch = params.get("CompatibleRuntime"), params.get("CompatibleArchitecture")
    if runtime and runtime not in (config.get("CompatibleRuntimes") or []):
        return False
    return not (arch and arch not in (config.get("CompatibleArchitectures") or []))


def _listed(config: layer_records.Config) -> dict[str, Any]:
    return {k: config[k] for k in _LISTED if k in config}

