"""Lambda's control plane: functions, versions, aliases, permissions, concurrency, async settings,
and the Invoke operation, which hands work to the engine. No HTTP, no JSON wire details."""

from __future__ import annotations

import asyncio
import base64
import fnmatch
import hashlib
import json
import re
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from ...auth.identity import Identity
from ...clock import Clock
from ...engine import xray
from ...engine.types import (
    DEFAULT_MAX_AGE,
    DEFAULT_MAX_RETRIES,
    EventInvokeConfig,
    ResolvedFunction,
)
from ...protocol import safejson
from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ...protocol.validate import validate
from ...runtime import FunctionSpec, InvocationRequest, InvocationResult, interpreter_for
from ...settings import Settings
from ...store import Store
from ..base import Service
from ..delivery import ACCESS_DENIED, INVALID, NOT_FOUND, TOO_LARGE, Delivery, DeliveryResult
from .code import MAX_ZIPPED, CodeStore, too_large
from .mappings import EventSourceMappings
from .names import LATEST, FunctionRef, function_arn, invalid, parse_function_name

SUPPORTED_RUNTIMES = ("python3.9", "python3.10", "python3.11", "python3.12", "python3.13")
ACCOUNT_CONCURRENCY = 1000
MIN_UNRESERVED = 100
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 1024 * 1024  # aws-reference §2: 1 MB for asynchronous invocations
RENEW_MARGIN = 600.0  # seconds before a role session expires that functions get new credentials
ROLE_PATTERN = r"^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$"


class Invoker(Protocol):
    """The engine, as the Invoke operation sees it."""

    async def invoke_sync(self, fn: ResolvedFunction, request: InvocationRequest) -> InvocationResult: ...

    async def enqueue(self, fn: ResolvedFunction, request_id: str, payload: bytes, trace_header: str) -> None: ...


def _now_iso(clock: Clock) -> str:
    t = clock.utcnow()
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"


T = TypeVar("T")

# Limits AWS enforces that the botocore model does not carry.
_LIMITS: dict[str, tuple[int | None, int | None]] = {"Timeout": (1, 900), "MemorySize": (128, 10240)}


def not_found(arn: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", f"Function not found: {arn}", 404, Type="User")


def _public(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if not k.startswith("_")}


class LambdaService(EventSourceMappings, Service):
    name = "lambda"

    def __init__(self, store: Store, clock: Clock, settings: Settings, s3: Service | None = None,
                 python_overrides: dict[str, str] | None = None,
                 invoker: Callable[[LambdaService], Invoker] | None = None,
                 on_mappings_changed: Callable[[], None] = lambda: None) -> None:
        """`invoker` builds the engine's invoker over this service's functions (None: Invoke is
        unavailable, e.g. an API-only instance); `on_mappings_changed` wakes the SQS pollers."""
        self.db = store.db
        self.clock = clock
        self.settings = settings
        self.code = CodeStore(store.blobs, store.data_dir / "code")
        self.s3 = s3
        self.python_overrides = python_overrides or {}
        self.on_mappings_changed = on_mappings_changed
        # Wired with --enforce-iam: (role ARN, session name) -> the role session's temporary
        # credentials, so that the handler's own calls are evaluated against the role's policies.
        self.role_credentials: Callable[[str, str], Identity] | None = None
        # Wired with --enforce-iam: whether Lambda may assume a role (it exists and trusts lambda.amazonaws.com).
        self.may_assume_role: Callable[[str], bool] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # resolve() runs for every invoke and every attempt: its answers are cached until the
        # next write to any Lambda state (the generation moves on).
        self._generation = 0
        # The third item: when the spec's role credentials must be renewed (None: never).
        self._resolved: dict[tuple[str, str | None], tuple[int, ResolvedFunction, float | None]] = {}
        self.invoker = invoker(self) if invoker is not None else None

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return self.db.write(fn)
        finally:
            self._generation += 1

    async def start(self) -> None:
        # The engine (invoker, pollers, environments) is started and stopped by the server.
        self._loop = asyncio.get_running_loop()

    # -- lookups -------------------------------------------------------------------------

    def _arn(self, name: str, qualifier: str | None = None) -> str:
        return function_arn(self.settings.region, self.settings.account_id, name, qualifier)

    def _ref(self, FunctionName: str, Qualifier: str | None = None) -> FunctionRef:
        return parse_function_name(FunctionName, Qualifier)

    def _function_row(self, name: str, conn: sqlite3.Connection | None = None) -> sqlite3.Row:
        c = conn or self.db.reader
        row = c.execute("SELECT * FROM lambda_functions WHERE name=?", (name,)).fetchone()
        if row is None:
            raise not_found(self._arn(name))
        return row  # type: ignore[no-any-return]

    def _version_config(self, name: str, qualifier: str | None,
                        conn: sqlite3.Connection | None = None) -> tuple[dict[str, Any], str]:
        """The configuration a qualifier points at, and the version it resolves to."""
        c = conn or self.db.reader
        row = self._function_row(name, c)
        if qualifier in (None, LATEST):
            return json.loads(row["config"]), LATEST
        assert qualifier is not None
        if qualifier.isdigit():
            v = c.execute("SELECT config FROM lambda_versions WHERE name=? AND version=?", (name, qualifier)).fetchone()
            if v is None:
                raise not_found(self._arn(name, qualifier))
            return json.loads(v["config"]), qualifier
        a = c.execute("SELECT config FROM lambda_aliases WHERE name=? AND alias=?", (name, qualifier)).fetchone()
        if a is None:
            raise not_found(self._arn(name, qualifier))
        version = json.loads(a["config"])["FunctionVersion"]
        return self._version_config(name, version, c)[0], version

    def resolve(self, FunctionName: str, Qualifier: str | None = None) -> ResolvedFunction:
        """Everything an invocation needs; the engine calls this at each attempt."""
        key = (FunctionName, Qualifier)
        generation = self._generation
        cached = self._resolved.get(key)
        if cached is not None and cached[0] == generation and (cached[2] is None or cached[2] > self.clock.now()):
            return cached[1]
        resolved, renew_at = self._resolve(FunctionName, Qualifier)
        if len(self._resolved) > 10_000:
            self._resolved.clear()
        self._resolved[key] = (generation, resolved, renew_at)
        return resolved

    def _resolve(self, FunctionName: str, Qualifier: str | None) -> tuple[ResolvedFunction, float | None]:
        ref = self._ref(FunctionName, Qualifier)
        row = self._function_row(ref.name)
        config, version = self._version_config(ref.name, ref.qualifier)
        latest = json.loads(row["config"])
        code = config["_code"]
        env = (config.get("Environment") or {}).get("Variables") or {}
        logging_config = config.get("LoggingConfig") or {}
        credentials, renew_at = self._credentials(config.get("Role") or "", ref.name)
        spec = FunctionSpec(
            function_name=ref.name,
            function_arn=self._arn(ref.name),
            version=version,
            handler=config.get("Handler") or "",
            runtime=config.get("Runtime") or "python3.12",
            code_dir=self.code.task_root(code["hex"], code["blob"]),
            timeout=int(config.get("Timeout", 3)),
            memory_mb=int(config.get("MemorySize", 128)),
            environment=dict(env),
            log_group=logging_config.get("LogGroup") or f"/aws/lambda/{ref.name}",
            log_format=logging_config.get("LogFormat") or "Text",
            application_log_level=logging_config.get("ApplicationLogLevel"),
            system_log_level=logging_config.get("SystemLogLevel"),
            region=self.settings.region,
            account_id=self.settings.account_id,
            endpoint_url=self.settings.endpoint_url,
            credentials=credentials,
            interpreter=interpreter_for(config.get("Runtime") or "python3.12", self.python_overrides),
            # New credentials mean new environments (the old ones age out), as their variables differ.
            revision=f"{config.get('RevisionId') or ''}/{credentials[0]}",
        )
        # AWS: async settings per qualifier; the DLQ is a function-level setting ($LATEST's).
        invoke_cfg = self._invoke_config(ref.name, ref.qualifier or LATEST)
        dlq = (latest.get("DeadLetterConfig") or {}).get("TargetArn")
        return ResolvedFunction(
            name=ref.name,
            invoked_arn=self._arn(ref.name, ref.qualifier),
            executed_version=version,
            spec=spec,
            reserved_concurrency=row["reserved_concurrency"],
            invoke_config=invoke_cfg,
            dead_letter_arn=dlq or None,
        ), renew_at

    def _invoke_config(self, name: str, qualifier: str) -> EventInvokeConfig:
        row = self.db.query_one("SELECT config FROM lambda_invoke_configs WHERE name=? AND qualifier=?",
                                (name, qualifier))
        if row is None:
            return EventInvokeConfig()
        c = json.loads(row["config"])
        dest = c.get("DestinationConfig") or {}
        return EventInvokeConfig(
            max_retries=c.get("MaximumRetryAttempts", DEFAULT_MAX_RETRIES),
            max_age=c.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE),
            on_success=(dest.get("OnSuccess") or {}).get("Destination"),
            on_failure=(dest.get("OnFailure") or {}).get("Destination"),
        )

    def code_zip(self, name: str, hex_digest: str) -> bytes | None:
        """A deployment package of this function ($LATEST or a version), by its SHA-256."""
        rows = self.db.query("SELECT config FROM lambda_functions WHERE name=? UNION ALL "
                             "SELECT config FROM lambda_versions WHERE name=?", (name, name))
        for row in rows:
            code = json.loads(row["config"])["_code"]
            if code["hex"] == hex_digest:
                return self.code.read(code["blob"])
        return None

    def _credentials(self, role: str, name: str) -> tuple[tuple[str, str, str], float | None]:
        """The execution role's temporary credentials (the session is named after the function, as
        on AWS) and when to renew them; without enforcement, stable per-function placeholders."""
        if self.role_credentials is not None and role:
            session = self.role_credentials(role, name)
            renew_at = session.expires - RENEW_MARGIN if session.expires is not None else None
            return (session.access_key, session.secret_key, session.session_token or ""), renew_at
        return _credentials_for(role, name), None

    def execution_role(self, function_name: str) -> str | None:
        """The role a function's deliveries (DLQ, destinations) are made as; None if it is gone."""
        row = self.db.query_one("SELECT config FROM lambda_functions WHERE name=?", (function_name,))
        return json.loads(row["config"]).get("Role") if row else None

    def resource_policy(self, arn: str) -> tuple[str | None, str | None]:
        """(the function's policy from AddPermission, its account) for IAM enforcement."""
        try:
            ref = self._ref(arn)
        except ServiceError:
            return None, None
        row = self.db.query_one("SELECT account FROM lambda_functions WHERE name=?", (ref.name,))
        if row is None:
            return None, None
        statements = self.policy_statements(ref.name, ref.qualifier)
        if not statements:
            return None, row["account"]
        return json.dumps({"Version": "2012-10-17", "Id": "default", "Statement": statements}), row["account"]

    def allows(self, function_arn: str, principal: str, source_arn: str, source_account: str) -> bool:
        """Whether the function's resource policy (AddPermission) lets a service principal invoke it,
        with its SourceArn / SourceAccount conditions."""
        try:
            ref = self._ref(function_arn)
            self._function_row(ref.name)
        except ServiceError:
            return False
        statements = self.policy_statements(ref.name, ref.qualifier)
        if ref.qualifier:
            statements = statements + self.policy_statements(ref.name, None)
        return any(_statement_allows(s, principal, source_arn, source_account) for s in statements)

    def function_names(self) -> list[str]:
        return [r["name"] for r in self.db.query("SELECT name FROM lambda_functions ORDER BY name")]

    def reserved_total(self, except_name: str | None = None) -> int:
        if except_name is None:
            cached = self.__dict__.get("_reserved_cache")
            if cached is not None and cached[0] == self._generation:
                return int(cached[1])
            total = self._reserved_total(None)
            self.__dict__["_reserved_cache"] = (self._generation, total)
            return total
        return self._reserved_total(except_name)

    def _reserved_total(self, except_name: str | None) -> int:
        row = self.db.query_one(
            "SELECT COALESCE(SUM(reserved_concurrency), 0) AS s FROM lambda_functions WHERE name != ?",
            (except_name or "",))
        return int(row["s"]) if row else 0

    def policy_statements(self, name: str, qualifier: str | None = None) -> list[dict[str, Any]]:
        row = self.db.query_one("SELECT statements FROM lambda_policies WHERE name=? AND qualifier=?",
                                (name, qualifier or ""))
        return json.loads(row["statements"]) if row else []

    # -- functions -----------------------------------------------------------------------

    def _check_runtime(self, runtime: str | None) -> None:
        if runtime is None:
            return
        if runtime not in SUPPORTED_RUNTIMES:
            raise invalid(
                f"The runtime parameter of {runtime} is not supported by Sluice. Sluice runs "
                f"{', '.join(SUPPORTED_RUNTIMES)}; use one of them for functions you want to run locally.")

    def _check_role(self, role: str | None) -> None:
        if role is not None and not re.match(ROLE_PATTERN, role):
            raise ServiceError(
                "ValidationException",
                f"1 validation error detected: Value '{role}' at 'role' failed to satisfy constraint: Member must "
                "satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+",
                400)
        # AWS always checks that Lambda can assume the role; Sluice does with --enforce-iam only, so
        # that functions created without IAM set up (any role ARN) keep working by default.
        if role is not None and self.may_assume_role is not None and not self.may_assume_role(role):
            raise invalid("The role defined for the function cannot be assumed by Lambda.")

    def _check_dlq(self, dlc: dict[str, Any] | None) -> None:
        if not dlc or not dlc.get("TargetArn"):
            return
        arn = dlc["TargetArn"]
        parts = arn.split(":")
        if len(parts) < 6 or parts[2] not in ("sqs", "sns"):
            raise invalid(
                "The provided target arn is invalid. Only SQS queues and SNS topics are supported as "
                "dead-letter queues.")

    def _load_code(self, ctx: RequestContext, code: dict[str, Any]) -> dict[str, Any]:
        if code.get("ZipFile") is not None:
            return self.code.save(code["ZipFile"])
        if code.get("S3Bucket") and code.get("S3Key"):
            return self.code.save(self._fetch_s3(ctx, code["S3Bucket"], code["S3Key"]))
        if code.get("ImageUri"):
            raise invalid("Sluice runs Zip packages only: container images are not supported.")
        raise invalid("Please provide a source for function code.")

    def _fetch_s3(self, ctx: RequestContext, bucket: str, key: str) -> bytes:
        if self.s3 is None:
            raise invalid("S3 is not available")
        get_object = self.s3.operation("GetObject")
        assert get_object is not None
        try:
            result = get_object(ctx, Bucket=bucket, Key=key)
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

    def create_function(self, ctx: RequestContext, FunctionName: str, Role: str, Code: dict[str, Any],
                        **params: Any) -> dict[str, Any]:
        validate(params, None, extra=_LIMITS)
        ref = self._ref(FunctionName)
        if ref.qualifier:
            raise invalid("Unsupported qualifier in function name.")
        package_type = params.get("PackageType") or "Zip"
        if package_type != "Zip":
            raise invalid("Sluice runs Zip packages only: container images are not supported.")
        runtime = params.get("Runtime")
        if runtime is None:
            raise invalid("Runtime is required for Zip package type.")  # AWS: same message family
        self._check_runtime(runtime)
        if not params.get("Handler"):
            raise invalid("Handler is required for Zip package type.")
        self._check_role(Role)
        self._check_dlq(params.get("DeadLetterConfig"))
        code = self._load_code(ctx, Code)
        name = ref.name
        logging_config = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}
        logging_config.update(params.get("LoggingConfig") or {})
        config: dict[str, Any] = {
            "FunctionName": name,
            "FunctionArn": self._arn(name),
            "Runtime": runtime,
            "Role": Role,
            "Handler": params["Handler"],
            "CodeSize": code["size"],
            "Description": params.get("Description") or "",
            "Timeout": params.get("Timeout") or 3,
            "MemorySize": params.get("MemorySize") or 128,
            "LastModified": _now_iso(self.clock),
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
            "RuntimeVersionConfig": {"RuntimeVersionArn": f"arn:aws:lambda:{self.settings.region}::runtime:sluice-{runtime}"},
            "LoggingConfig": logging_config,
            "_code": code,
        }
        if params.get("Environment") is not None:
            config["Environment"] = {"Variables": (params["Environment"] or {}).get("Variables") or {}}
        if (params.get("DeadLetterConfig") or {}).get("TargetArn"):
            config["DeadLetterConfig"] = {"TargetArn": params["DeadLetterConfig"]["TargetArn"]}
        now = self.clock.now()
        tags = params.get("Tags") or {}

        def txn(conn: sqlite3.Connection) -> dict[str, Any]:
            if conn.execute("SELECT 1 FROM lambda_functions WHERE name=?", (name,)).fetchone():
                raise ServiceError("ResourceConflictException", f"Function already exist: {name}", 409, Type="User")
            conn.execute("INSERT INTO lambda_functions (name, account, config, tags, created) VALUES (?,?,?,?,?)",
                         (name, ctx.account_id, json.dumps(config), json.dumps(tags), now))
            if params.get("Publish"):
                return self._publish(conn, name, None, None)
            return config

        result = self._write(txn)
        out = _public(result)
        # What AWS answers to CreateFunction: the function is still being created.
        out.update(State="Pending", StateReason="The function is being created.", StateReasonCode="Creating")
        return out

    def get_function(self, ctx: RequestContext, FunctionName: str, Qualifier: str | None = None,
                     **_: Any) -> dict[str, Any]:
        ref = self._ref(FunctionName, Qualifier)
        config, _version = self._version_config(ref.name, ref.qualifier)
        row = self._function_row(ref.name)
        result: dict[str, Any] = {
            "Configuration": _public(config),
            # A URL that downloads the package, as AWS's presigned S3 URL does.
            "Code": {"RepositoryType": "S3",
                     "Location": f"{ctx.endpoint}/_sluice/lambda-code/{ref.name}/{config['_code']['hex']}.zip"},
            "Tags": json.loads(row["tags"]),
        }
        if row["reserved_concurrency"] is not None:
            result["Concurrency"] = {"ReservedConcurrentExecutions": row["reserved_concurrency"]}
        return result

    def get_function_configuration(self, ctx: RequestContext, FunctionName: str, Qualifier: str | None = None,
                                   **_: Any) -> dict[str, Any]:
        ref = self._ref(FunctionName, Qualifier)
        return _public(self._version_config(ref.name, ref.qualifier)[0])

    def list_functions(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        marker = params.get("Marker") or ""
        limit = min(params.get("MaxItems") or 50, 10000)
        rows = self.db.query("SELECT name, config FROM lambda_functions WHERE name > ? ORDER BY name LIMIT ?",
                             (marker, limit + 1))
        functions = [_public(json.loads(r["config"])) for r in rows[:limit]]
        if params.get("FunctionVersion") == "ALL":
            for r in rows[:limit]:
                for v in self.db.query("SELECT config FROM lambda_versions WHERE name=? ORDER BY CAST(version AS INTEGER)",
                                       (r["name"],)):
                    functions.append(_public(json.loads(v["config"])))
        result: dict[str, Any] = {"Functions": functions}
        if len(rows) > limit:
            result["NextMarker"] = rows[limit - 1]["name"]
        return result

    def delete_function(self, ctx: RequestContext, FunctionName: str, Qualifier: str | None = None,
                        **_: Any) -> dict[str, Any]:
        ref = self._ref(FunctionName, Qualifier)

        def txn(conn: sqlite3.Connection) -> None:
            self._function_row(ref.name, conn)
            if ref.qualifier is None:
                conn.execute("DELETE FROM lambda_functions WHERE name=?", (ref.name,))
                return
            if ref.qualifier == LATEST:
                raise invalid("$LATEST version cannot be deleted without deleting the function.")
            if not ref.qualifier.isdigit():
                raise invalid("Deletion of aliases is not supported. Use DeleteAlias.")
            aliases = [json.loads(r["config"]) for r in conn.execute(
                "SELECT config FROM lambda_aliases WHERE name=?", (ref.name,))]
            using = [a["Name"] for a in aliases if a["FunctionVersion"] == ref.qualifier]
            if using:
                raise ServiceError("ResourceConflictException",
                                   f"Unable to delete version because the following aliases reference it: {using}",
                                   409, Type="User")
            cur = conn.execute("DELETE FROM lambda_versions WHERE name=? AND version=?", (ref.name, ref.qualifier))
            if cur.rowcount == 0:
                raise not_found(self._arn(ref.name, ref.qualifier))

        self._write(txn)
        return {"StatusCode": 204}

    def _update_latest(self, name: str, change: Any, revision: str | None) -> dict[str, Any]:
        def txn(conn: sqlite3.Connection) -> dict[str, Any]:
            row = self._function_row(name, conn)
            config = json.loads(row["config"])
            if revision and revision != config["RevisionId"]:
                raise _precondition()
            change(config)
            config["LastModified"] = _now_iso(self.clock)
            config["RevisionId"] = str(uuid.uuid4())
            conn.execute("UPDATE lambda_functions SET config=? WHERE name=?", (json.dumps(config), name))
            return config

        config = self._write(txn)
        out = _public(config)
        out.update(LastUpdateStatus="InProgress", LastUpdateStatusReason="The function is being created.",
                   LastUpdateStatusReasonCode="Creating")
        return out

    def update_function_code(self, ctx: RequestContext, FunctionName: str, **params: Any) -> dict[str, Any]:
        ref = self._ref(FunctionName)
        self._function_row(ref.name)
        code = self._load_code(ctx, params)

        def change(config: dict[str, Any]) -> None:
            config.update(CodeSize=code["size"], CodeSha256=code["sha256"], _code=code)

        out = self._update_latest(ref.name, change, params.get("RevisionId"))
        if params.get("Publish"):
            return _public(self._write(lambda conn: self._publish(conn, ref.name, None, None)))
        return out

    def update_function_configuration(self, ctx: RequestContext, FunctionName: str, **params: Any) -> dict[str, Any]:
        validate(params, None, extra=_LIMITS)
        ref = self._ref(FunctionName)
        self._check_runtime(params.get("Runtime"))
        self._check_role(params.get("Role"))
        self._check_dlq(params.get("DeadLetterConfig"))

        def change(config: dict[str, Any]) -> None:
            for key in ("Role", "Handler", "Description", "Timeout", "MemorySize", "Runtime", "TracingConfig",
                        "EphemeralStorage"):
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

        return self._update_latest(ref.name, change, params.get("RevisionId"))

    # -- versions and aliases ------------------------------------------------------------

    def _publish(self, conn: sqlite3.Connection, name: str, description: str | None,
                 code_sha: str | None) -> dict[str, Any]:
        row = self._function_row(name, conn)
        latest = json.loads(row["config"])
        if code_sha and code_sha != latest["CodeSha256"]:
            raise invalid(f"CodeSHA256 ({code_sha}) is different from current CodeSHA256 in $LATEST "
                          f"({latest['CodeSha256']}). Please try again with the CodeSHA256 in $LATEST.")
        last = conn.execute(
            "SELECT config FROM lambda_versions WHERE name=? ORDER BY CAST(version AS INTEGER) DESC LIMIT 1",
            (name,)).fetchone()
        if last is not None:
            prev = json.loads(last["config"])
            if _same_version(prev, latest):
                return prev  # AWS: publishing an unchanged $LATEST returns the existing version
        version = str(row["next_version"])
        config = dict(latest)
        config.update(Version=version, FunctionArn=self._arn(name, version), RevisionId=str(uuid.uuid4()),
                      LastModified=_now_iso(self.clock))
        if description is not None:
            config["Description"] = description
        conn.execute("INSERT INTO lambda_versions (name, version, config) VALUES (?,?,?)",
                     (name, version, json.dumps(config)))
        conn.execute("UPDATE lambda_functions SET next_version = next_version + 1 WHERE name=?", (name,))
        return config

    def publish_version(self, ctx: RequestContext, FunctionName: str, **params: Any) -> dict[str, Any]:
        ref = self._ref(FunctionName)

        def txn(conn: sqlite3.Connection) -> dict[str, Any]:
            latest = json.loads(self._function_row(ref.name, conn)["config"])
            if params.get("RevisionId") and params["RevisionId"] != latest["RevisionId"]:
                raise _precondition()
            return self._publish(conn, ref.name, params.get("Description"), params.get("CodeSha256"))

        return _public(self._write(txn))

    def list_versions_by_function(self, ctx: RequestContext, FunctionName: str, **params: Any) -> dict[str, Any]:
        ref = self._ref(FunctionName)
        row = self._function_row(ref.name)
        versions = [_public(json.loads(row["config"]))]
        versions += [_public(json.loads(r["config"])) for r in self.db.query(
            "SELECT config FROM lambda_versions WHERE name=? ORDER BY CAST(version AS INTEGER)", (ref.name,))]
        return _page(versions, params, "Versions", key=lambda v: v["Version"])

    def _alias_out(self, name: str, config: dict[str, Any]) -> dict[str, Any]:
        out = dict(config)
        out["AliasArn"] = self._arn(name, config["Name"])
        return out

    def create_alias(self, ctx: RequestContext, FunctionName: str, Name: str, FunctionVersion: str,
                     **params: Any) -> dict[str, Any]:
        ref = self._ref(FunctionName)
        if Name.isdigit() or Name == LATEST:
            raise ServiceError("ValidationException",
                               f"1 validation error detected: Value '{Name}' at 'name' failed to satisfy constraint: "
                               "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)", 400)
        config = {"Name": Name, "FunctionVersion": FunctionVersion, "Description": params.get("Description") or "",
                  "RevisionId": str(uuid.uuid4())}
        if params.get("RoutingConfig"):
            config["RoutingConfig"] = params["RoutingConfig"]

        def txn(conn: sqlite3.Connection) -> None:
            self._function_row(ref.name, conn)
            self._check_version_exists(conn, ref.name, FunctionVersion)
            if conn.execute("SELECT 1 FROM lambda_aliases WHERE name=? AND alias=?", (ref.name, Name)).fetchone():
                raise ServiceError("ResourceConflictException",
                                   f"Alias already exists: {self._arn(ref.name, Name)}", 409, Type="User")
            conn.execute("INSERT INTO lambda_aliases (name, alias, config) VALUES (?,?,?)",
                         (ref.name, Name, json.dumps(config)))

        self._write(txn)
        return self._alias_out(ref.name, config)

    def _check_version_exists(self, conn: sqlite3.Connection, name: str, version: str) -> None:
        if version == LATEST:
            return
        if not conn.execute("SELECT 1 FROM lambda_versions WHERE name=? AND version=?", (name, version)).fetchone():
            raise not_found(self._arn(name, version))

    def _alias(self, name: str, alias: str) -> dict[str, Any]:
        self._function_row(name)
        row = self.db.query_one("SELECT config FROM lambda_aliases WHERE name=? AND alias=?", (name, alias))
        if row is None:
            raise ServiceError("ResourceNotFoundException", f"Cannot find alias arn: {self._arn(name, alias)}", 404,
                               Type="User")
        return json.loads(row["config"])  # type: ignore[no-any-return]

    def get_alias(self, ctx: RequestContext, FunctionName: str, Name: str, **_: Any) -> dict[str, Any]:
        ref = self._ref(FunctionName)
        return self._alias_out(ref.name, self._alias(ref.name, Name))

    def update_alias(self, ctx: RequestContext, FunctionName: str, Name: str, **params: Any) -> dict[str, Any]:
        ref = self._ref(FunctionName)

        def txn(conn: sqlite3.Connection) -> dict[str, Any]:
            config = self._alias(ref.name, Name)
            if params.get("RevisionId") and params["RevisionId"] != config["RevisionId"]:
                raise _precondition()
            if params.get("FunctionVersion"):
                self._check_version_exists(conn, ref.name, params["FunctionVersion"])
                config["FunctionVersion"] = params["FunctionVersion"]
            for key in ("Description", "RoutingConfig"):
                if params.get(key) is not None:
                    config[key] = params[key]
            config["RevisionId"] = str(uuid.uuid4())
            conn.execute("UPDATE lambda_aliases SET config=? WHERE name=? AND alias=?",
                         (json.dumps(config), ref.name, Name))
            return config

        return self._alias_out(ref.name, self._write(txn))

    def delete_alias(self, ctx: RequestContext, FunctionName: str, Name: str, **_: Any) -> dict[str, Any]:
        ref = self._ref(FunctionName)
        self._function_row(ref.name)
        self._write(lambda conn: conn.execute("DELETE FROM lambda_aliases WHERE name=? AND alias=?",
                                                (ref.name, Name)))
        return {}

    def list_aliases(self, ctx: RequestContext, FunctionName: str, **params: Any) -> dict[str, Any]:
        ref = self._ref(FunctionName)
        self._function_row(ref.name)
        aliases = [self._alias_out(ref.name, json.loads(r["config"])) for r in self.db.query(
            "SELECT config FROM lambda_aliases WHERE name=? ORDER BY alias", (ref.name,))]
        if params.get("FunctionVersion"):
            aliases = [a for a in aliases if a["FunctionVersion"] == params["FunctionVersion"]]
        return _page(aliases, params, "Aliases", key=lambda a: a["Name"])

    # -- resource policies ---------------------------------------------------------------

    def add_permission(self, ctx: RequestContext, FunctionName: str, StatementId: str, Action: str,
                       Principal: str, **params: Any) -> dict[str, Any]:
        ref = self._ref(FunctionName, params.get("Qualifier"))
        if ref.qualifier:
            self._version_config(ref.name, ref.qualifier)
        resource = self._arn(ref.name, ref.qualifier)
        principal: dict[str, str] | str
        if Principal == "*":
            principal = "*"
        elif Principal.endswith(".amazonaws.com"):
            principal = {"Service": Principal}
        elif Principal.isdigit():
            principal = {"AWS": f"arn:aws:iam::{Principal}:root"}
        else:
            principal = {"AWS": Principal}
        statement: dict[str, Any] = {"Sid": StatementId, "Effect": "Allow", "Principal": principal,
                                     "Action": Action, "Resource": resource}
        condition: dict[str, dict[str, str]] = {}
        if params.get("SourceAccount"):
            condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = params["SourceAccount"]
        if params.get("PrincipalOrgID"):
            condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = params["PrincipalOrgID"]
        if params.get("SourceArn"):
            condition.setdefault("ArnLike", {})["AWS:SourceArn"] = params["SourceArn"]
        if condition:
            statement["Condition"] = condition

        def txn(conn: sqlite3.Connection) -> None:
            self._function_row(ref.name, conn)
            row = conn.execute("SELECT statements, revision FROM lambda_policies WHERE name=? AND qualifier=?",
                               (ref.name, ref.qualifier or "")).fetchone()
            statements = json.loads(row["statements"]) if row else []
            if params.get("RevisionId") and row and params["RevisionId"] != row["revision"]:
                raise _precondition()
            if any(s["Sid"] == StatementId for s in statements):
                raise ServiceError("ResourceConflictException",
                                   f"The statement id ({StatementId}) provided already exists. Please provide a new "
                                   "statement id, or remove the existing statement.", 409, Type="User")
            statements.append(statement)
            conn.execute("INSERT OR REPLACE INTO lambda_policies (name, qualifier, statements, revision) "
                         "VALUES (?,?,?,?)", (ref.name, ref.qualifier or "", json.dumps(statements),
                                              str(uuid.uuid4())))

        self._write(txn)
        return {"Statement": json.dumps(statement)}

    def remove_permission(self, ctx: RequestContext, FunctionName: str, StatementId: str,
                          **params: Any) -> dict[str, Any]:
        ref = self._ref(FunctionName, params.get("Qualifier"))

        def txn(conn: sqlite3.Connection) -> None:
            self._function_row(ref.name, conn)
            row = conn.execute("SELECT statements FROM lambda_policies WHERE name=? AND qualifier=?",
                               (ref.name, ref.qualifier or "")).fetchone()
            statements = json.loads(row["statements"]) if row else []
            kept = [s for s in statements if s["Sid"] != StatementId]
            if len(kept) == len(statements):
                raise ServiceError("ResourceNotFoundException", "Statement is not found in resource policy.", 404,
                                   Type="User")
            if kept:
                conn.execute("UPDATE lambda_policies SET statements=?, revision=? WHERE name=? AND qualifier=?",
                             (json.dumps(kept), str(uuid.uuid4()), ref.name, ref.qualifier or ""))
            else:
                conn.execute("DELETE FROM lambda_policies WHERE name=? AND qualifier=?",
                             (ref.name, ref.qualifier or ""))

        self._write(txn)
        return {}

    def get_policy(self, ctx: RequestContext, FunctionName: str, Qualifier: str | None = None,
                   **_: Any) -> dict[str, Any]:
        ref = self._ref(FunctionName, Qualifier)
        self._function_row(ref.name)
        row = self.db.query_one("SELECT statements, revision FROM lambda_policies WHERE name=? AND qualifier=?",
                                (ref.name, ref.qualifier or ""))
        if row is None:
            raise ServiceError("ResourceNotFoundException", "The resource you requested does not exist.", 404,
                               Type="User")
        policy = {"Version": "2012-10-17", "Id": "default", "Statement": json.loads(row["statements"])}
        return {"Policy": json.dumps(policy), "RevisionId": row["revision"]}

    # -- concurrency ---------------------------------------------------------------------

    def put_function_concurrency(self, ctx: RequestContext, FunctionName: str, ReservedConcurrentExecutions: int,
                                 **_: Any) -> dict[str, Any]:
        ref = self._ref(FunctionName)
        self._function_row(ref.name)
        limit = self.settings.account_concurrency
        if limit - self.reserved_total(except_name=ref.name) - ReservedConcurrentExecutions < MIN_UNRESERVED:
            raise invalid(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}].")
        self._write(lambda conn: conn.execute(
            "UPDATE lambda_functions SET reserved_concurrency=? WHERE name=?", (ReservedConcurrentExecutions, ref.name)))
        return {"ReservedConcurrentExecutions": ReservedConcurrentExecutions}

    def get_function_concurrency(self, ctx: RequestContext, FunctionName: str, **_: Any) -> dict[str, Any]:
        ref = self._ref(FunctionName)
        row = self._function_row(ref.name)
        value = row["reserved_concurrency"]
        return {} if value is None else {"ReservedConcurrentExecutions": value}

    def delete_function_concurrency(self, ctx: RequestContext, FunctionName: str, **_: Any) -> dict[str, Any]:
        ref = self._ref(FunctionName)
        self._function_row(ref.name)
        self._write(lambda conn: conn.execute(
            "UPDATE lambda_functions SET reserved_concurrency=NULL WHERE name=?", (ref.name,)))
        return {}

    def get_account_settings(self, ctx: RequestContext, **_: Any) -> dict[str, Any]:
        rows = self.db.query("SELECT config FROM lambda_functions")
        total = sum(json.loads(r["config"])["CodeSize"] for r in rows)
        limit = self.settings.account_concurrency
        return {
            "AccountLimit": {"TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000,
                             "CodeSizeZipped": 52428800, "ConcurrentExecutions": limit,
                             "UnreservedConcurrentExecutions": limit - self.reserved_total()},
            "AccountUsage": {"TotalCodeSize": total, "FunctionCount": len(rows)},
        }

    # -- asynchronous invocation settings -------------------------------------------------

    def _check_destination(self, name: str, arn: str | None, on_success: bool) -> None:
        if not arn:
            return
        parts = arn.split(":")
        service = parts[2] if len(parts) > 5 and parts[0] == "arn" else ""
        if service == "lambda":
            target = parse_function_name(arn)
            if target.name == name:
                raise invalid("You can't specify the function as a destination for itself.")
            if self.db.query_one("SELECT 1 FROM lambda_functions WHERE name=?", (target.name,)) is None:
                raise invalid(f"The destination ARN {arn} is invalid.")
            return
        if service in ("sqs", "sns", "events") or (service == "s3" and not on_success):
            return
        success = f"OnSuccess(destination={arn})" if on_success else "null"
        failure = "null" if on_success else f"OnFailure(destination={arn})"
        raise invalid(f"The provided destination config DestinationConfig(onSuccess={success}, "
                      f"onFailure={failure}) is invalid.")

    def _invoke_config_target(self, FunctionName: str, Qualifier: str | None) -> tuple[str, str]:
        ref = self._ref(FunctionName, Qualifier)
        try:
            self._version_config(ref.name, ref.qualifier)
        except ServiceError as err:
            if err.code == "ResourceNotFoundException":
                raise ServiceError("ResourceNotFoundException", "The function doesn't exist.", 404,
                                   Type="User") from None
            raise
        return ref.name, ref.qualifier or LATEST

    def _invoke_config_out(self, name: str, qualifier: str, config: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in config.items() if k != "LastModified"}
        out["FunctionArn"] = self._arn(name, qualifier)
        out["LastModified"] = config["LastModified"]
        return out

    def _store_invoke_config(self, name: str, qualifier: str, params: dict[str, Any], merge: bool) -> dict[str, Any]:
        def txn(conn: sqlite3.Connection) -> dict[str, Any]:
            row = conn.execute("SELECT config FROM lambda_invoke_configs WHERE name=? AND qualifier=?",
                               (name, qualifier)).fetchone()
            if merge and row is None:
                raise _no_invoke_config(self._arn(name, qualifier))
            config: dict[str, Any] = json.loads(row["config"]) if (merge and row) else {}
            for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
                if params.get(key) is not None:
                    config[key] = params[key]
            if params.get("DestinationConfig") is not None:
                dest = dict(config.get("DestinationConfig") or {})
                dest.update(params["DestinationConfig"])
                config["DestinationConfig"] = dest
            config.setdefault("DestinationConfig", {})
            config["LastModified"] = self.clock.now()
            conn.execute("INSERT OR REPLACE INTO lambda_invoke_configs (name, qualifier, config) VALUES (?,?,?)",
                         (name, qualifier, json.dumps(config)))
            return config

        return self._invoke_config_out(name, qualifier, self._write(txn))

    def _validate_invoke_config(self, name: str, params: dict[str, Any]) -> None:
        dest = params.get("DestinationConfig") or {}
        if (params.get("MaximumRetryAttempts") is None and params.get("MaximumEventAgeInSeconds") is None
                and not (dest.get("OnSuccess") or {}).get("Destination")
                and not (dest.get("OnFailure") or {}).get("Destination")):
            raise invalid("You must specify at least one of error handling or destination setting.")
        self._check_destination(name, (dest.get("OnSuccess") or {}).get("Destination"), True)
        self._check_destination(name, (dest.get("OnFailure") or {}).get("Destination"), False)

    def put_function_event_invoke_config(self, ctx: RequestContext, FunctionName: str, **params: Any) -> dict[str, Any]:
        name, qualifier = self._invoke_config_target(FunctionName, params.get("Qualifier"))
        self._validate_invoke_config(name, params)
        return self._store_invoke_config(name, qualifier, params, merge=False)

    def update_function_event_invoke_config(self, ctx: RequestContext, FunctionName: str,
                                            **params: Any) -> dict[str, Any]:
        name, qualifier = self._invoke_config_target(FunctionName, params.get("Qualifier"))
        self._validate_invoke_config(name, params)
        return self._store_invoke_config(name, qualifier, params, merge=True)

    def get_function_event_invoke_config(self, ctx: RequestContext, FunctionName: str,
                                         Qualifier: str | None = None, **_: Any) -> dict[str, Any]:
        name, qualifier = self._invoke_config_target(FunctionName, Qualifier)
        row = self.db.query_one("SELECT config FROM lambda_invoke_configs WHERE name=? AND qualifier=?",
                                (name, qualifier))
        if row is None:
            raise _no_invoke_config(self._arn(name, qualifier))
        return self._invoke_config_out(name, qualifier, json.loads(row["config"]))

    def delete_function_event_invoke_config(self, ctx: RequestContext, FunctionName: str,
                                            Qualifier: str | None = None, **_: Any) -> dict[str, Any]:
        name, qualifier = self._invoke_config_target(FunctionName, Qualifier)

        def txn(conn: sqlite3.Connection) -> None:
            cur = conn.execute("DELETE FROM lambda_invoke_configs WHERE name=? AND qualifier=?", (name, qualifier))
            if cur.rowcount == 0:
                raise _no_invoke_config(self._arn(name, qualifier))

        self._write(txn)
        return {}

    def list_function_event_invoke_configs(self, ctx: RequestContext, FunctionName: str,
                                           **params: Any) -> dict[str, Any]:
        name, _ = self._invoke_config_target(FunctionName, None)
        items = [self._invoke_config_out(name, r["qualifier"], json.loads(r["config"])) for r in self.db.query(
            "SELECT qualifier, config FROM lambda_invoke_configs WHERE name=? ORDER BY qualifier", (name,))]
        return _page(items, params, "FunctionEventInvokeConfigs", key=lambda c: c["FunctionArn"])

    # -- tags ----------------------------------------------------------------------------

    def _name_from_arn(self, arn: str) -> str:
        return self._ref(arn).name

    def tag_resource(self, ctx: RequestContext, Resource: str, Tags: dict[str, str], **_: Any) -> dict[str, Any]:
        name = self._name_from_arn(Resource)

        def txn(conn: sqlite3.Connection) -> None:
            tags = json.loads(self._function_row(name, conn)["tags"])
            tags.update(Tags)
            conn.execute("UPDATE lambda_functions SET tags=? WHERE name=?", (json.dumps(tags), name))

        self._write(txn)
        return {}

    def untag_resource(self, ctx: RequestContext, Resource: str, TagKeys: list[str], **_: Any) -> dict[str, Any]:
        name = self._name_from_arn(Resource)

        def txn(conn: sqlite3.Connection) -> None:
            tags = json.loads(self._function_row(name, conn)["tags"])
            for k in TagKeys:
                tags.pop(k, None)
            conn.execute("UPDATE lambda_functions SET tags=? WHERE name=?", (json.dumps(tags), name))

        self._write(txn)
        return {}

    def list_tags(self, ctx: RequestContext, Resource: str, **_: Any) -> dict[str, Any]:
        return {"Tags": json.loads(self._function_row(self._name_from_arn(Resource))["tags"])}

    # -- delivery target (SNS subscriptions, EventBridge targets, destinations) -------------

    def deliver(self, arn: str, delivery: Delivery) -> DeliveryResult:
        """Invoke the function asynchronously with `delivery.body` as the event, as AWS services do.

        Runs in a worker thread: the event is queued on the engine's loop and committed before
        this returns."""
        try:
            fn = self.resolve(arn)
        except ServiceError as err:
            return DeliveryResult.failed(NOT_FOUND if err.code == "ResourceNotFoundException" else INVALID, err.message)
        if delivery.principal == "s3.amazonaws.com" and not self.allows(
                arn, delivery.principal, delivery.source_arn or "", delivery.source_account or ""):
            # The permission was removed after the notification was configured: AWS refuses too.
            return DeliveryResult.failed(ACCESS_DENIED, f"{delivery.principal} may not invoke {arn}")
        payload = delivery.body.encode()
        if len(payload) > MAX_ASYNC_PAYLOAD:
            return DeliveryResult.failed(TOO_LARGE, f"payload of {len(payload)} bytes")
        if self._loop is None or self.invoker is None:
            return DeliveryResult.failed(INVALID, "the Lambda engine is not running")
        request_id = str(uuid.uuid4())
        trace = delivery.system_attributes.get("AWSTraceHeader") or new_trace_header(self.clock)
        future = asyncio.run_coroutine_threadsafe(self.invoker.enqueue(fn, request_id, payload, trace), self._loop)
        future.result(timeout=30)
        return DeliveryResult(True, request_id)

    # -- invoke --------------------------------------------------------------------------

    async def invoke(self, ctx: RequestContext, FunctionName: str, **params: Any) -> dict[str, Any]:
        assert self.invoker is not None
        fn = self.resolve(FunctionName, params.get("Qualifier"))
        kind = params.get("InvocationType") or "RequestResponse"
        payload: bytes = params.get("Payload") or b""
        limit = MAX_ASYNC_PAYLOAD if kind == "Event" else MAX_SYNC_PAYLOAD
        if len(payload) > limit:
            raise _too_large("Invoke", limit)
        if not payload.strip():
            payload = b"{}"
        else:
            try:
                safejson.loads(payload)
            except ValueError as exc:
                raise ServiceError("InvalidRequestContentException",
                                   f"Could not parse request body into json: Could not parse payload into json: "
                                   f"{exc}", 400, Type="User") from None
        if kind == "DryRun":
            ctx.status = 204
            return {}
        sent = ctx.headers.get("x-amzn-trace-id")
        # A client's header (botocore sends one from inside a handler) keeps its trace; junk starts a new one.
        trace = sent if sent and xray.parse(sent) else new_trace_header(self.clock)
        if kind == "Event":
            await self.invoker.enqueue(fn, ctx.request_id, payload, trace)
            ctx.status = 202
            return {}
        request = InvocationRequest(request_id=ctx.request_id, payload=payload, invoked_arn=fn.invoked_arn,
                                    trace_header=trace, client_context=params.get("ClientContext"))
        result = await self.invoker.invoke_sync(fn, request)
        out: dict[str, Any] = {"StatusCode": 200, "Payload": result.payload, "ExecutedVersion": fn.executed_version}
        if result.function_error:
            out["FunctionError"] = result.function_error
        if params.get("LogType") == "Tail":
            tail = result.log_tail.encode()[-4096:]
            out["LogResult"] = base64.b64encode(tail).decode()
        return out


def new_trace_header(clock: Clock) -> str:
    """An X-Ray trace header for an invocation that did not bring one (aws-reference §9)."""
    return str(xray.new_header(clock.now()))


def _credentials_for(role: str, name: str) -> tuple[str, str, str]:
    """Per-function temporary credentials; IAM enforcement maps them back to the role."""
    digest = hashlib.sha256(f"{role}|{name}".encode()).hexdigest().upper()
    return "ASIA" + digest[:16], digest[16:56], base64.b64encode(f"sluice:{role}:{name}".encode()).decode()


def _statement_allows(s: dict[str, Any], principal: str, source_arn: str, source_account: str) -> bool:
    if s.get("Effect") != "Allow" or s.get("Action") not in ("lambda:InvokeFunction", "lambda:*", "*"):
        return False
    who = s.get("Principal")
    if who != "*" and not (isinstance(who, dict) and who.get("Service") == principal):
        return False
    cond = s.get("Condition") or {}
    pattern = (cond.get("ArnLike") or {}).get("AWS:SourceArn") or (cond.get("ArnEquals") or {}).get("AWS:SourceArn")
    if pattern and not fnmatch.fnmatchcase(source_arn, pattern):
        return False
    account = (cond.get("StringEquals") or {}).get("AWS:SourceAccount")
    return not (account and account != source_account)


def _same_version(prev: dict[str, Any], latest: dict[str, Any]) -> bool:
    keys = ("CodeSha256", "Handler", "Runtime", "Role", "Timeout", "MemorySize", "Environment", "Description",
            "LoggingConfig", "TracingConfig")
    return all(prev.get(k) == latest.get(k) for k in keys)


def _precondition() -> ServiceError:
    return ServiceError("PreconditionFailedException",
                        "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/"
                        "GetAlias API to retrieve the latest Revision Id", 412, Type="User")


def _no_invoke_config(arn: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", f"The function {arn} doesn't have an EventInvokeConfig",
                        404, Type="User")


def _page(items: list[dict[str, Any]], params: dict[str, Any], key_name: str, key: Any) -> dict[str, Any]:
    marker = params.get("Marker")
    limit = params.get("MaxItems") or 50
    start = 0
    if marker:
        keys = [str(key(i)) for i in items]
        start = keys.index(marker) + 1 if marker in keys else len(items)
    page = items[start:start + limit]
    result: dict[str, Any] = {key_name: page}
    if start + limit < len(items):
        result["NextMarker"] = str(key(page[-1]))
    return result


def _too_large(operation: str, limit: int) -> ServiceError:
    # AWS names Invoke by its internal name in this message.
    name = "InvokeFunction" if operation == "Invoke" else operation
    return ServiceError("RequestEntityTooLargeException",
                        f"Request must be smaller than {limit} bytes for the {name} operation", 413, Type="User")
