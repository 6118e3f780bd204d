"""What ties a function to the rest: AWS::Lambda::Permission, AWS::Lambda::EventInvokeConfig,
AWS::Lambda::EventSourceMapping."""

from __future__ import annotations

from typing import Any, ClassVar

from ....protocol.errors import ServiceError
from .base import ResourceRequest, ResourceResult
from .calls import Caller, model_members
from .support import as_int, check_properties, physical_name, tag_map

_PERMISSION = ("Action", "FunctionName", "Principal", "EventSourceToken", "FunctionUrlAuthType",
               "InvokedViaFunctionUrl", "PrincipalOrgID", "SourceAccount", "SourceArn")


class PermissionProvider:
    """A statement in the function's resource policy; its id is the generated name (the
    physical id, and `Fn::GetAtt Id`)."""

    type_name: ClassVar[str] = "AWS::Lambda::Permission"
    # Every property of the type is create-only.
    replace_on: ClassVar[frozenset[str]] = frozenset(_PERMISSION)

    def __init__(self, call: Caller) -> None:
        self.call = call

    def create(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, _PERMISSION, ("Action", "FunctionName", "Principal"))
        sid = physical_name(req, 100)
        members = {k: v for k, v in props.items() if k in model_members("lambda", "AddPermission")}
        try:
            self.call(req, "lambda", "AddPermission", StatementId=sid, **members)
        except ServiceError as err:
            # A create resumed after a crash: the statement is there under the same generated id.
            if err.code != "ResourceConflictException":
                raise
        return ResourceResult(sid, {"Id": sid})

    def update(self, req: ResourceRequest) -> ResourceResult:
        sid = req.physical_id or physical_name(req, 100)
        return ResourceResult(sid, {"Id": sid})

    def delete(self, req: ResourceRequest) -> None:
        function = (req.properties or {}).get("FunctionName")
        if not req.physical_id or not function:
            return
        try:
            self.call(req, "lambda", "RemovePermission", FunctionName=function, StatementId=req.physical_id)
        except ServiceError as err:
            if err.code != "ResourceNotFoundException":
                raise


class EventInvokeConfigProvider:
    type_name: ClassVar[str] = "AWS::Lambda::EventInvokeConfig"
    replace_on: ClassVar[frozenset[str]] = frozenset({"FunctionName", "Qualifier"})
    _known = ("FunctionName", "Qualifier", "MaximumEventAgeInSeconds", "MaximumRetryAttempts", "DestinationConfig")

    def __init__(self, call: Caller) -> None:
        self.call = call

    def _put(self, req: ResourceRequest) -> dict[str, Any]:
        props = check_properties(req, self._known, ("FunctionName", "Qualifier"))
        self.call(req, "lambda", "PutFunctionEventInvokeConfig", **props)
        return props

    def create(self, req: ResourceRequest) -> ResourceResult:
        self._put(req)
        pid = physical_name(req, 128)
        return ResourceResult(pid, {"Id": pid})

    def update(self, req: ResourceRequest) -> ResourceResult:
        # Put replaces the whole configuration: a setting left out of the template goes back
        # to Lambda's default, as CloudFormation's update does.
        self._put(req)
        pid = req.physical_id or physical_name(req, 128)
        return ResourceResult(pid, {"Id": pid})

    def delete(self, req: ResourceRequest) -> None:
        props = req.properties or {}
        if not props.get("FunctionName"):
            return
        try:
            self.call(req, "lambda", "DeleteFunctionEventInvokeConfig", FunctionName=props["FunctionName"],
                      Qualifier=props.get("Qualifier"))
        except ServiceError as err:
            if err.code != "ResourceNotFoundException":
                raise


class EventSourceMappingProvider:
    type_name: ClassVar[str] = "AWS::Lambda::EventSourceMapping"
    replace_on: ClassVar[frozenset[str]] = frozenset({
        "EventSourceArn", "StartingPosition", "StartingPositionTimestamp", "SelfManagedEventSource",
        "AmazonManagedKafkaEventSourceConfig", "SelfManagedKafkaEventSourceConfig"})
    _known = frozenset({
        "AmazonManagedKafkaEventSourceConfig", "BatchSize", "BisectBatchOnFunctionError", "DestinationConfig",
        "DocumentDBEventSourceConfig", "Enabled", "EventSourceArn", "FilterCriteria", "FunctionName",
        "FunctionResponseTypes", "KmsKeyArn", "MaximumBatchingWindowInSeconds", "MaximumRecordAgeInSeconds",
        "MaximumRetryAttempts", "MetricsConfig", "ParallelizationFactor", "ProvisionedPollerConfig", "Queues",
        "ScalingConfig", "SelfManagedEventSource", "SelfManagedKafkaEventSourceConfig",
        "SourceAccessConfigurations", "StartingPosition", "StartingPositionTimestamp", "Tags", "Topics",
        "TumblingWindowInSeconds"})

    def __init__(self, call: Caller) -> None:
        self.call = call

    @staticmethod
    def _attributes(out: dict[str, Any], uuid: str) -> dict[str, Any]:
        return {"Id": uuid, "EventSourceMappingArn": out.get("EventSourceMappingArn")}

    def create(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, self._known, ("FunctionName",))
        allowed = model_members("lambda", "CreateEventSourceMapping")
        members = {k: v for k, v in props.items() if k in allowed and k != "Tags"}
        try:
            out = self.call(req, "lambda", "CreateEventSourceMapping", Tags=tag_map(props) or None, **members)
        except ServiceError as err:
            found = self._same(req, props) if err.code == "ResourceConflictException" else None
            if found is None:
                raise
            out = found  # a create resumed after a crash: the mapping it made is there
        return ResourceResult(out["UUID"], self._attributes(out, out["UUID"]))

    def _same(self, req: ResourceRequest, props: dict[str, Any]) -> dict[str, Any] | None:
        """The mapping of this function and source made by this step's first run (Lambda keeps
        one per pair), if its settings are the template's."""
        listed = self.call(req, "lambda", "ListEventSourceMappings", FunctionName=props["FunctionName"],
                           EventSourceArn=props.get("EventSourceArn")).get("EventSourceMappings") or []
        batch = as_int(req, props, "BatchSize")
        for mapping in listed:
            if batch is None or mapping.get("BatchSize") == batch:
                return mapping
        return None

    def update(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, self._known, ("FunctionName",))
        uuid = req.physical_id or ""
        allowed = model_members("lambda", "UpdateEventSourceMapping")
        members = {k: v for k, v in props.items() if k in allowed}
        out = self.call(req, "lambda", "UpdateEventSourceMapping", UUID=uuid, **members)
        return ResourceResult(uuid, self._attributes(out, uuid))

    def delete(self, req: ResourceRequest) -> None:
        if not req.physical_id:
            return
        try:
            self.call(req, "lambda", "DeleteEventSourceMapping", UUID=req.physical_id)
        except ServiceError as err:
            if err.code != "ResourceNotFoundException":
                raise
