"""Functions: Create/Get/List/Delete, their code and configuration, and their tags."""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ...protocol.validate import validate
from ...runtime import runtimes
from ...runtime.variables import refused_keys
from ..base import Service
from . import records
from .code import MAX_ZIPPED, CodeStore, too_large
from .invoke_config import check_dead_letter_config
from .layer_use import FunctionLayers, Layer, public_layers
from .names import LATEST, invalid, parse_function_name
from .roles import ExecutionRoles
from .state import LambdaState, not_found, now_iso, precondition_failed, public
from .versions import publish

IMAGES_REFUSED = ("Sluice runs Zip packages only: a container image needs a container engine (Docker or "
                  "similar), which Sluice does not use. Package the function as a .zip file.")
ROLE_PATTERN = re.compile(r"^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")

# Limits AWS enforces that the botocore model does not carry.
_LIMITS: dict[str, tuple[int | None, int | None]] = {"Timeout": (1, 900), "MemorySize": (128, 10240)}
# What UpdateFunctionConfiguration replaces as given.
_REPLACED = ("Role", "Handler", "Description", "Timeout", "MemorySize", "Runtime", "TracingConfig", "EphemeralStorage")


def check_environment(environment: dict[str, Any] | None) -> None:
    refused = refused_keys((environment or {}).get("Variables") or {})
    if refused:
        raise invalid(
            "Lambda was unable to configure your environment variables because the environment variables you "
            "have provided contains reserved keys that are currently not supported for modification. Reserved "
            f"keys used in this request: {', '.join(refused)}")


class Functions:
    def __init__(self, state: LambdaState, code: CodeStore, roles: ExecutionRoles, s3: Service | None,
                 layers: FunctionLayers) -> None:
        """`s3`: where S3Bucket/S3Key packages are read from, through its GetObject operation;
        `layers`: the `Layers` a function asks for, checked and merged."""
        self.state = state
        self.code = code
        self.layers = layers
        self.roles = roles
        self.s3 = s3

    # -- checks ----------------------------------------------------------------------------

    def _check_runtime(self, runtime: str | None) -> None:
        reason = runtimes.refusal(runtime) if runtime is not None else None
        if reason is not None:
            raise invalid(reason)

    def _check_role(self, role: str | None) -> None:
        if role is None:
            return
        if not ROLE_PATTERN.match(role):
            raise ServiceError(
                "ValidationException",
                f"1 validation error detected: Value '{role}' at 'role' failed to satisfy constraint: Member must "
                "satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+")
        if not self.roles.may_assume(role):
            raise invalid("The role defined for the function cannot be assumed by Lambda.")

    # -- code ------------------------------------------------------------------------------

    def _load_code(self, ctx: RequestContext, code: dict[str, Any]) -> dict[str, Any]:
        if code.get("ZipFile") is not None:
            return self.code.save(code["ZipFile"])
        if code.get("S3Bucket") and code.get("S3Key"):
            return self.code.save(self.fetch_s3(ctx, code["S3Bucket"], code["S3Key"], code.get("S3ObjectVersion")))
        if code.get("ImageUri"):
            raise invalid(IMAGES_REFUSED)
        raise invalid("Please provide a source for function code.")

    def fetch_s3(self, ctx: RequestContext, bucket: str, key: str, version: str | None = None) -> bytes:
        get_object = self.s3.operation("GetObject") if self.s3 is not None else None
        if get_object is None:
            raise invalid("S3 is not available")
        try:
            result = get_object(ctx, Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))
        except ServiceError as err:
            raise invalid(f"Error occurred while GetObject. S3 Error Code: {err.code}. "
                          f"S3 Error Message: {err.message}") from None
        body = result["Body"]
        if isinstance(body, bytes):
            return body
        # Read no more than a package may be: the object could be any size.
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in body:
                size += len(chunk)
                if size > MAX_ZIPPED:
                    raise too_large()
                chunks.append(chunk)
        finally:
            body.close()
        return b"".join(chunks)

    def code_zip(self, name: str, hex_digest: str) -> bytes | None:
        """A deployment package of this function ($LATEST or a version), by its SHA-256."""
        for config in records.package_configs(self.state.reader, name):
            code = config["_code"]
            if code["hex"] == hex_digest:
                return self.code.read(code["blob"])
        return None

    # -- operations ------------------------------------------------------------------------

    def create_function(self, ctx: RequestContext, FunctionName: str, Role: str, Code: dict[str, Any],
                        **params: Any) -> dict[str, Any]:
        validate(params, None, extra=_LIMITS)
        ref = parse_function_name(FunctionName)
        if ref.qualifier:
            raise invalid("Unsupported qualifier in function name.")
        if (params.get("PackageType") or "Zip") != "Zip":
            raise invalid(IMAGES_REFUSED)
        runtime = params.get("Runtime")
        if runtime is None:
            raise invalid("Runtime is required for Zip package type.")  # AWS: same message family
        self._check_runtime(runtime)
        if not params.get("Handler"):
            raise invalid("Handler is required for Zip package type.")
        self._check_role(Role)
        check_dead_letter_config(params.get("DeadLetterConfig"))
        check_environment(params.get("Environment"))
        layers = self.layers.resolve(params.get("Layers") or [], [])
        code = self._load_code(ctx, Code)
        self.layers.check_size(code, layers)
        name = ref.name
        config = self._new_config(name, runtime, Role, code, params)
        if layers:
            config.update(Layers=public_layers(layers), _layers=layers)
        now = self.state.clock.now()
        tags = params.get("Tags") or {}

        def txn(conn: sqlite3.Connection) -> records.Config:
            if records.function_exists(conn, name):
                raise ServiceError("ResourceConflictException", f"Function already exist: {name}", Type="User")
            records.insert_function(conn, name, ctx.account_id, config, tags, now)
            if params.get("Publish"):
                return publish(self.state, conn, name, None, None)
            return config

        out = public(self.state.write(txn))
        self.layers.merged(layers)  # made now, on this request's thread, not when it first runs
        # What AWS answers to CreateFunction: the function is still being created.
        out.update(State="Pending", StateReason="The function is being created.", StateReasonCode="Creating")
        return out

    def _new_config(self, name: str, runtime: str, role: str, code: dict[str, Any],
                    params: dict[str, Any]) -> records.Config:
        logging_config = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}
        logging_config.update(params.get("LoggingConfig") or {})
        config: records.Config = {
            "FunctionName": name,
            "FunctionArn": self.state.arn(name),
            "Runtime": runtime,
            "Role": role,
            "Handler": params["Handler"],
            "CodeSize": code["size"],
            "Description": params.get("Description") or "",
            "Timeout": params.get("Timeout") or 3,
            "MemorySize": params.get("MemorySize") or 128,
            "LastModified": now_iso(self.state.clock),
            "CodeSha256": code["sha256"],
            "Version": LATEST,
            "TracingConfig": params.get("TracingConfig") or {"Mode": "PassThrough"},
            "RevisionId": str(uuid.uuid4()),
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": params.get("Architectures") or ["x86_64"],
            "EphemeralStorage": params.get("EphemeralStorage") or {"Size": 512},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "RuntimeVersionConfig": {
                "RuntimeVersionArn": f"arn:aws:lambda:{self.state.settings.region}::runtime:sluice-{runtime}"},
            "LoggingConfig": logging_config,
            "_code": code,
        }
        if params.get("Environment") is not None:
            config["Environment"] = {"Variables": (params["Environment"] or {}).get("Variables") or {}}
        if (params.get("DeadLetterConfig") or {}).get("TargetArn"):
            config["DeadLetterConfig"] = {"TargetArn": params["DeadLetterConfig"]["TargetArn"]}
        return config

    def get_function(self, ctx: RequestContext, FunctionName: str, Qualifier: str | None = None,
                     **_: Any) -> dict[str, Any]:
        ref = parse_function_name(FunctionName, Qualifier)
        config, _version = self.state.version_config(ref.name, ref.qualifier)
        fn = self.state.function(ref.name)
        result: dict[str, Any] = {
            "Configuration": self.state.shown(config),
            # A URL that downloads the package, as AWS's presigned S3 URL does.
            "Code": {"RepositoryType": "S3",
                     "Location": f"{ctx.endpoint}/_sluice/lambda-code/{ref.name}/{config['_code']['hex']}.zip"},
            "Tags": fn.tags,
        }
        if fn.reserved_concurrency is not None:
            result["Concurrency"] = {"ReservedConcurrentExecutions": fn.reserved_concurrency}
        return result

    def get_function_configuration(self, ctx: RequestContext, FunctionName: str, Qualifier: str | None = None,
                                   **_: Any) -> dict[str, Any]:
        ref = parse_function_name(FunctionName, Qualifier)
        return self.state.shown(self.state.version_config(ref.name, ref.qualifier)[0])

    def list_functions(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        limit = min(params.get("MaxItems") or 50, 10000)
        configs = records.function_configs(self.state.reader, params.get("Marker") or "", limit + 1)
        functions = [public(c) for c in configs[:limit]]
        if params.get("FunctionVersion") == "ALL":
            for c in configs[:limit]:
                functions += [public(v) for v in records.version_configs(self.state.reader, c["FunctionName"])]
        result: dict[str, Any] = {"Functions": functions}
        if len(configs) > limit:
            result["NextMarker"] = configs[limit - 1]["FunctionName"]
        return result

    def delete_function(self, ctx: RequestContext, FunctionName: str, Qualifier: str | None = None,
                        **_: Any) -> dict[str, Any]:
        ref = parse_function_name(FunctionName, Qualifier)
        name, qualifier = ref.name, ref.qualifier

        def txn(conn: sqlite3.Connection) -> None:
            self.state.function(name, conn)
            if qualifier is None:
                records.delete_function(conn, name)
                return
            if qualifier == LATEST:
                raise invalid("$LATEST version cannot be deleted without deleting the function.")
            if not qualifier.isdigit():
                raise invalid("Deletion of aliases is not supported. Use DeleteAlias.")
            using = [a["Name"] for a in records.alias_configs(conn, name) if a["FunctionVersion"] == qualifier
                     or qualifier in ((a.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {})]
            if using:
                raise ServiceError("ResourceConflictException",
                                   f"Unable to delete version because the following aliases reference it: {using}",
                                   Type="User")
            if not records.delete_version(conn, name, qualifier):
                raise not_found(self.state.arn(name, qualifier))

        self.state.write(txn)
        return {"StatusCode": 204}

    def _update_latest(self, name: str, change: Callable[[records.Config], None],
                       revision: str | None) -> dict[str, Any]:
        def txn(conn: sqlite3.Connection) -> records.Config:
            config = self.state.function(name, conn).config
            if revision and revision != config["RevisionId"]:
                raise precondition_failed()
            change(config)
            config["LastModified"] = now_iso(self.state.clock)
            config["RevisionId"] = str(uuid.uuid4())
            records.update_function_config(conn, name, config)
            return config

        out = public(self.state.write(txn))
        out.update(LastUpdateStatus="InProgress", LastUpdateStatusReason="The function is being created.",
                   LastUpdateStatusReasonCode="Creating")
        return out

    def update_function_code(self, ctx: RequestContext, FunctionName: str, **params: Any) -> dict[str, Any]:
        name = parse_function_name(FunctionName).name
        self.state.function(name)
        code = self._load_code(ctx, params)

        def change(config: records.Config) -> None:
            self.layers.check_size(code, config.get("_layers") or [])
            config.update(CodeSize=code["size"], CodeSha256=code["sha256"], _code=code)

        out = self._update_latest(name, change, params.get("RevisionId"))
        if params.get("Publish"):
            return public(self.state.write(lambda conn: publish(self.state, conn, name, None, None)))
        return out

    def update_function_configuration(self, ctx: RequestContext, FunctionName: str, **params: Any) -> dict[str, Any]:
        validate(params, None, extra=_LIMITS)
        name = parse_function_name(FunctionName).name
        self._check_runtime(params.get("Runtime"))
        self._check_role(params.get("Role"))
        check_dead_letter_config(params.get("DeadLetterConfig"))
        check_environment(params.get("Environment"))
        layers: list[Layer] | None = None
        if params.get("Layers") is not None:
            layers = self.layers.resolve(params["Layers"], self.state.function(name).config.get("_layers") or [])

        def change(config: records.Config) -> None:
            if layers is not None:
                self.layers.check_size(config["_code"], layers)
                config.pop("Layers", None)
                config.pop("_layers", None)
                if layers:
                    config.update(Layers=public_layers(layers), _layers=layers)
            for key in _REPLACED:
                if params.get(key) is not None:
                    config[key] = params[key]
            if params.get("Environment") is not None:
                config["Environment"] = {"Variables": params["Environment"].get("Variables") or {}}
            if params.get("DeadLetterConfig") is not None:
                target = params["DeadLetterConfig"].get("TargetArn")
                if target:
                    config["DeadLetterConfig"] = {"TargetArn": target}
                else:
                    config.pop("DeadLetterConfig", None)
            if params.get("LoggingConfig") is not None:
                merged = dict(config.get("LoggingConfig") or {})
                merged.update(params["LoggingConfig"])
                config["LoggingConfig"] = merged

        out = self._update_latest(name, change, params.get("RevisionId"))
        if layers:
            self.layers.merged(layers)
        return out

    # -- tags ------------------------------------------------------------------------------

    def _retag(self, arn: str, change: Callable[[dict[str, str]], None]) -> None:
        name = parse_function_name(arn).name

        def txn(conn: sqlite3.Connection) -> None:
            tags = self.state.function(name, conn).tags
            change(tags)
            records.update_tags(conn, name, tags)

        self.state.write(txn)

    def tag_resource(self, ctx: RequestContext, Resource: str, Tags: dict[str, str], **_: Any) -> dict[str, Any]:
        self._retag(Resource, lambda tags: tags.update(Tags))
        return {}

    def untag_resource(self, ctx: RequestContext, Resource: str, TagKeys: list[str], **_: Any) -> dict[str, Any]:
        def remove(tags: dict[str, str]) -> None:
            for k in TagKeys:
                tags.pop(k, None)

        self._retag(Resource, remove)
        return {}

    def list_tags(self, ctx: RequestContext, Resource: str, **_: Any) -> dict[str, Any]:
        return {"Tags": self.state.function(parse_function_name(Resource).name).tags}
