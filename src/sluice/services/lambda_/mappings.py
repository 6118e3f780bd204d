"""Event source mappings (SQS): Create/Get/Update/Delete/ListEventSourceMappings.

The polling itself is the engine's (engine/pollers.py); this is the control plane. AWS answers
Create/Update/Delete with 202 (the model's responseCode).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from . import records
from .names import invalid, parse_function_name
from .roles import ExecutionRoles
from .state import LambdaState

_DEFAULTS = {"BatchSize": 10, "MaximumBatchingWindowInSeconds": 0}
_SETTINGS = ("BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes", "ScalingConfig", "FilterCriteria")
# What the execution role needs on the queue for Lambda to poll it, in the order AWS checks them.
POLLING_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")


def mapping_not_found(mapping_id: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException",
                        f"The resource you requested does not exist. (Service: Lambda, Status Code: 404, "
                        f"Request ID: {mapping_id})", Type="User")


def _check(params: dict[str, Any], is_sqs_fifo: bool) -> None:
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


class EventSourceMappings:
    def __init__(self, state: LambdaState, roles: ExecutionRoles, on_changed: Callable[[], None]) -> None:
        """`on_changed` wakes the pollers (called from a request's thread)."""
        self.state = state
        self.roles = roles
        self.on_changed = on_changed

    def _out(self, mapping_id: str, config: records.Config) -> dict[str, Any]:
        out = dict(config)
        out["UUID"] = mapping_id
        settings = self.state.settings
        out["EventSourceMappingArn"] = (f"arn:aws:lambda:{settings.region}:{settings.account_id}:"
                                        f"event-source-mapping:{mapping_id}")
        return out

    def _mapping(self, mapping_id: str) -> records.Mapping:
        found = records.mapping(self.state.reader, mapping_id)
        if found is None:
            raise mapping_not_found(mapping_id)
        return found

    def _check_polling_role(self, function: str, queue_arn: str) -> None:
        """Lambda polls the queue as the function's execution role: AWS refuses a mapping whose
        role may not (an unknown function is answered later)."""
        role = records.function_role(self.state.reader, function)
        if role is None:
            return
        missing = self.roles.missing_permission(role, function, POLLING_ACTIONS, queue_arn)
        if missing is not None:
            raise invalid(f"The function execution role does not have permissions to call "
                          f"{missing.split(':', 1)[1]} on SQS")

    def create_event_source_mapping(self, ctx: RequestContext, FunctionName: str, EventSourceArn: str | None = None,
                                    **params: Any) -> dict[str, Any]:
        if not EventSourceArn or EventSourceArn.split(":")[2:3] != ["sqs"]:
            raise invalid("Sluice supports event source mappings from SQS queues only.")
        ref = parse_function_name(FunctionName)
        _check(params, EventSourceArn.endswith(".fifo"))
        self._check_polling_role(ref.name, EventSourceArn)
        mapping_id = str(uuid.uuid4())
        config: records.Config = dict(_DEFAULTS)
        config.update({k: params[k] for k in _SETTINGS if params.get(k) is not None})
        enabled = params.get("Enabled", True)
        config.update(EventSourceArn=EventSourceArn, FunctionArn=self.state.arn(ref.name, ref.qualifier),
                      LastModified=self.state.clock.now(), State="Enabled" if enabled else "Disabled",
                      StateTransitionReason="USER_INITIATED")

        def txn(conn: sqlite3.Connection) -> None:
            if not records.function_exists(conn, ref.name):
                raise ServiceError("ResourceNotFoundException", f"Function not found: {self.state.arn(ref.name)}",
                                   Type="User")
            for existing in records.mappings(conn, ref.name):
                if existing.config["EventSourceArn"] == EventSourceArn:
                    raise ServiceError(
                        "ResourceConflictException",
                        f"An event source mapping with SQS arn (\" {EventSourceArn} \") and function (\" "
                        f"{ref.name} \") already exists. Please update or delete the existing mapping with "
                        f"UUID {existing.uuid}", Type="User")
            records.insert_mapping(conn, mapping_id, ref.name, config)

        self.state.write(txn)
        self.on_changed()
        out = self._out(mapping_id, config)
        out["State"] = "Creating"  # what AWS answers; the mapping is enabled right after
        return out

    def get_event_source_mapping(self, ctx: RequestContext, UUID: str, **_: Any) -> dict[str, Any]:
        return self._out(UUID, self._mapping(UUID).config)

    def update_event_source_mapping(self, ctx: RequestContext, UUID: str, **params: Any) -> dict[str, Any]:
        found = self._mapping(UUID)
        config = found.config
        merged = {**config, **{k: v for k, v in params.items() if v is not None}}
        _check(merged, config["EventSourceArn"].endswith(".fifo"))
        config.update({k: params[k] for k in _SETTINGS if params.get(k) is not None})
        function = found.function
        if params.get("FunctionName"):
            ref = parse_function_name(params["FunctionName"])
            function = ref.name
            config["FunctionArn"] = self.state.arn(ref.name, ref.qualifier)
        if params.get("Enabled") is not None:
            config["State"] = "Enabled" if params["Enabled"] else "Disabled"
        config["LastModified"] = self.state.clock.now()
        self.state.write(lambda conn: records.update_mapping(conn, UUID, function, config))
        self.on_changed()
        return self._out(UUID, config)

    def delete_event_source_mapping(self, ctx: RequestContext, UUID: str, **_: Any) -> dict[str, Any]:
        config = self._mapping(UUID).config
        self.state.write(lambda conn: records.delete_mapping(conn, UUID))
        self.on_changed()
        out = self._out(UUID, config)
        out["State"] = "Deleting"
        return out

    def list_event_source_mappings(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        wanted = parse_function_name(params["FunctionName"]).name if params.get("FunctionName") else None
        source = params.get("EventSourceArn")
        items = [self._out(m.uuid, m.config) for m in records.mappings(self.state.reader, wanted)
                 if not source or m.config["EventSourceArn"] == source]
        return {"EventSourceMappings": items}

    def enabled_mappings(self) -> list[dict[str, Any]]:
        """Every enabled mapping, for the pollers."""
        return [self._out(m.uuid, m.config) for m in records.mappings(self.state.reader)
                if m.config.get("State") == "Enabled"]
