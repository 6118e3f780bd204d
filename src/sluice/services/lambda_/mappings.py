"""Event source mappings (SQS): Create/Get/Update/Delete/ListEventSourceMappings.

The polling itself is the engine's (engine/pollers.py); this is the control plane.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from ...clock import Clock
from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ...settings import Settings
from ...store.db import Database, Migration
from .names import invalid, parse_function_name

T = TypeVar("T")

_LAMBDA_ESM_0001 = Migration(
    "lambda-esm-0001",
    """
    CREATE TABLE lambda_mappings (
        uuid TEXT PRIMARY KEY,
        function TEXT NOT NULL,
        config TEXT NOT NULL
    );
    """,
)
MIGRATIONS = (_LAMBDA_ESM_0001,)

_DEFAULTS = {"BatchSize": 10, "MaximumBatchingWindowInSeconds": 0}
# What the execution role needs on the queue for Lambda to poll it, in the order AWS checks them.
POLLING_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")


def mapping_not_found(mapping_id: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException",
                        f"The resource you requested does not exist. (Service: Lambda, Status Code: 404, "
                        f"Request ID: {mapping_id})", 404, Type="User")


class EventSourceMappings:
    """The ESM operations of LambdaService (kept apart: a control plane of its own)."""

    db: Database
    clock: Clock
    settings: Settings
    on_mappings_changed: Callable[[], None]  # set by LambdaService: wakes the pollers
    # Wired with --enforce-iam: (role ARN, session, actions, resource) -> the first action the role
    # may not perform on the resource, or None.
    missing_permission: Callable[[str, str, tuple[str, ...], str], str | None] | None = None

    def execution_role(self, function_name: str) -> str | None:
        raise NotImplementedError

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError  # LambdaService's, which also invalidates its caches

    def _arn(self, name: str, qualifier: str | None = None) -> str:
        raise NotImplementedError

    def _mapping_out(self, mapping_id: str, config: dict[str, Any]) -> dict[str, Any]:
        out = dict(config)
        out["UUID"] = mapping_id
        out["EventSourceMappingArn"] = (f"arn:aws:lambda:{self.settings.region}:{self.settings.account_id}:"
                                        f"event-source-mapping:{mapping_id}")
        return out

    def _check_mapping(self, params: dict[str, Any], is_sqs_fifo: bool) -> None:
        batch = params.get("BatchSize")
        window = params.get("MaximumBatchingWindowInSeconds") or 0
        limit = 10 if is_sqs_fifo or not window else 10000
        if batch is not None and not 1 <= batch <= limit:
            raise invalid(f"Maximum batch size must be between 1 and {limit} (inclusive) for SQS"
                          + ("" if limit == 10 else " when MaximumBatchingWindowInSeconds is set") + ".")
        for kind in params.get("FunctionResponseTypes") or []:
            if kind != "ReportBatchItemFailures":
                raise invalid(f"Unsupported FunctionResponseTypes value: {kind}")
        scaling = (params.get("ScalingConfig") or {}).get("MaximumConcurrency")
        if scaling is not None and not 2 <= scaling <= 1000:
            raise invalid("MaximumConcurrency must be between 2 and 1000.")

    def create_event_source_mapping(self, ctx: RequestContext, FunctionName: str, EventSourceArn: str | None = None,
                                    **params: Any) -> dict[str, Any]:
        if not EventSourceArn or EventSourceArn.split(":")[2:3] != ["sqs"]:
            raise invalid("Sluice supports event source mappings from SQS queues only.")
        ref = parse_function_name(FunctionName)
        self._check_mapping(params, EventSourceArn.endswith(".fifo"))
        self._check_polling_role(ref.name, EventSourceArn)
        mapping_id = str(uuid.uuid4())
        config: dict[str, Any] = dict(_DEFAULTS)
        for key in ("BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes", "ScalingConfig",
                    "FilterCriteria"):
            if params.get(key) is not None:
                config[key] = params[key]
        enabled = params.get("Enabled", True)
        config.update(EventSourceArn=EventSourceArn, FunctionArn=self._arn(ref.name, ref.qualifier),
                      LastModified=self.clock.now(), State="Enabled" if enabled else "Disabled",
                      StateTransitionReason="USER_INITIATED")

        def txn(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM lambda_functions WHERE name=?", (ref.name,)).fetchone() is None:
                raise ServiceError("ResourceNotFoundException",
                                   f"Function not found: {self._arn(ref.name)}", 404, Type="User")
            for row in conn.execute("SELECT uuid, config FROM lambda_mappings WHERE function=?", (ref.name,)):
                if json.loads(row["config"])["EventSourceArn"] == EventSourceArn:
                    raise ServiceError(
                        "ResourceConflictException",
                        f"An event source mapping with SQS arn (\" {EventSourceArn} \") and function (\" "
                        f"{ref.name} \") already exists. Please update or delete the existing mapping with "
                        f"UUID {row['uuid']}", 409, Type="User")
            conn.execute("INSERT INTO lambda_mappings (uuid, function, config) VALUES (?,?,?)",
                         (mapping_id, ref.name, json.dumps(config)))

        self._write(txn)
        self.on_mappings_changed()
        ctx.status = 202
        out = self._mapping_out(mapping_id, config)
        out["State"] = "Creating"  # what AWS answers; the mapping is enabled right after
        return out

    def _check_polling_role(self, function: str, queue_arn: str) -> None:
        """Lambda polls the queue as the function's execution role: AWS refuses a mapping whose
        role may not (checked with --enforce-iam only; an unknown function is answered later)."""
        role = self.execution_role(function) if self.missing_permission is not None else None
        if role is None or self.missing_permission is None:
            return
        missing = self.missing_permission(role, function, POLLING_ACTIONS, queue_arn)
        if missing is not None:
            raise invalid(f"The function execution role does not have permissions to call "
                          f"{missing.split(':', 1)[1]} on SQS")

    def _mapping(self, mapping_id: str) -> dict[str, Any]:
        row = self.db.query_one("SELECT config FROM lambda_mappings WHERE uuid=?", (mapping_id,))
        if row is None:
            raise mapping_not_found(mapping_id)
        return json.loads(row["config"])  # type: ignore[no-any-return]

    def get_event_source_mapping(self, ctx: RequestContext, UUID: str, **_: Any) -> dict[str, Any]:
        return self._mapping_out(UUID, self._mapping(UUID))

    def update_event_source_mapping(self, ctx: RequestContext, UUID: str, **params: Any) -> dict[str, Any]:
        config = self._mapping(UUID)
        merged = {**config, **{k: v for k, v in params.items() if v is not None}}
        self._check_mapping(merged, config["EventSourceArn"].endswith(".fifo"))
        for key in ("BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes", "ScalingConfig",
                    "FilterCriteria"):
            if params.get(key) is not None:
                config[key] = params[key]
        if params.get("FunctionName"):
            ref = parse_function_name(params["FunctionName"])
            config["FunctionArn"] = self._arn(ref.name, ref.qualifier)
        if params.get("Enabled") is not None:
            config["State"] = "Enabled" if params["Enabled"] else "Disabled"
        config["LastModified"] = self.clock.now()
        self._write(lambda conn: conn.execute("UPDATE lambda_mappings SET config=? WHERE uuid=?",
                                              (json.dumps(config), UUID)))
        self.on_mappings_changed()
        ctx.status = 202
        return self._mapping_out(UUID, config)

    def delete_event_source_mapping(self, ctx: RequestContext, UUID: str, **_: Any) -> dict[str, Any]:
        config = self._mapping(UUID)
        self._write(lambda conn: conn.execute("DELETE FROM lambda_mappings WHERE uuid=?", (UUID,)))
        self.on_mappings_changed()
        ctx.status = 202
        out = self._mapping_out(UUID, config)
        out["State"] = "Deleting"
        return out

    def list_event_source_mappings(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        rows = self.db.query("SELECT uuid, function, config FROM lambda_mappings ORDER BY uuid")
        items = []
        wanted_fn = parse_function_name(params["FunctionName"]).name if params.get("FunctionName") else None
        for row in rows:
            config = json.loads(row["config"])
            if wanted_fn and row["function"] != wanted_fn:
                continue
            if params.get("EventSourceArn") and config["EventSourceArn"] != params["EventSourceArn"]:
                continue
            items.append(self._mapping_out(row["uuid"], config))
        return {"EventSourceMappings": items}

    def enabled_mappings(self) -> list[dict[str, Any]]:
        """Every enabled mapping, for the pollers."""
        out = []
        for row in self.db.query("SELECT uuid, config FROM lambda_mappings"):
            config = json.loads(row["config"])
            if config.get("State") == "Enabled":
                out.append(self._mapping_out(row["uuid"], config))
        return out
