"""AWS::Events::Rule, AWS::Logs::LogGroup, AWS::CloudWatch::Alarm."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from ....protocol.errors import ServiceError
from .base import ResourceRequest, ResourceResult
from .calls import Caller, model_members
from .support import (
    as_bool,
    as_int,
    as_json_text,
    check_properties,
    physical_name,
    tag_list,
    tag_map,
    undo_on_failure,
)


class RuleProvider:
    """Ref is the rule's name, or `<bus>|<name>` for a rule on a custom bus (as AWS answers)."""

    type_name: ClassVar[str] = "AWS::Events::Rule"
    replace_on: ClassVar[frozenset[str]] = frozenset({"Name", "EventBusName"})
    _known = ("Description", "EventBusName", "EventPattern", "Name", "RoleArn", "ScheduleExpression", "State",
              "Targets", "Tags")

    def __init__(self, call: Caller) -> None:
        self.call = call

    @staticmethod
    def _bus(props: dict[str, Any]) -> str | None:
        bus = props.get("EventBusName")
        return bus if bus and bus != "default" else None

    @staticmethod
    def _ref(bus: str | None, name: str) -> str:
        # A bus given by ARN is named by its last part in the Ref, as AWS names it.
        return f"{bus.rsplit('/', 1)[-1]}|{name}" if bus else name

    def _put(self, req: ResourceRequest, props: dict[str, Any], name: str) -> ResourceResult:
        bus = self._bus(props)
        arn = self.call(req, "events", "PutRule", Name=name, EventBusName=bus,
                        EventPattern=as_json_text(props.get("EventPattern")),
                        ScheduleExpression=props.get("ScheduleExpression"), State=props.get("State"),
                        Description=props.get("Description"), RoleArn=props.get("RoleArn"),
                        Tags=tag_list(props) or None)["RuleArn"]
        old_ids = {t["Id"] for t in (req.old_properties or {}).get("Targets") or []}
        targets = props.get("Targets") or []
        gone = sorted(old_ids - {t.get("Id") for t in targets})
        if gone:
            self.call(req, "events", "RemoveTargets", Rule=name, EventBusName=bus, Ids=gone)
        if targets:
            out = self.call(req, "events", "PutTargets", Rule=name, EventBusName=bus, Targets=targets)
            failed = out.get("FailedEntries") or []
            if failed:
                raise ServiceError(failed[0].get("ErrorCode") or "ValidationException",
                                   failed[0].get("ErrorMessage") or "PutTargets failed")
        ref = self._ref(bus, name)
        return ResourceResult(ref, {"Arn": arn})

    def create(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, self._known)
        name = props.get("Name") or physical_name(req, 64, random_length=12)
        ref = self._ref(self._bus(props), name)
        with undo_on_failure(lambda: self.delete(replace(req, physical_id=ref))):
            return self._put(req, props, name)

    def update(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, self._known)
        return self._put(req, props, (req.physical_id or "").rsplit("|", 1)[-1])

    def delete(self, req: ResourceRequest) -> None:
        if not req.physical_id:
            return
        props = req.properties or {}
        name, bus = req.physical_id.rsplit("|", 1)[-1], self._bus(props)
        ids = [t["Id"] for t in props.get("Targets") or [] if t.get("Id")]
        try:
            if ids:
                self.call(req, "events", "RemoveTargets", Rule=name, EventBusName=bus, Ids=ids)
            self.call(req, "events", "DeleteRule", Name=name, EventBusName=bus)
        except ServiceError as err:
            if err.code != "ResourceNotFoundException":
                raise


class LogGroupProvider:
    type_name: ClassVar[str] = "AWS::Logs::LogGroup"
    replace_on: ClassVar[frozenset[str]] = frozenset({"LogGroupName", "LogGroupClass"})
    _known = ("LogGroupName", "RetentionInDays", "KmsKeyId", "LogGroupClass", "Tags", "DataProtectionPolicy",
              "FieldIndexPolicies", "ResourcePolicyDocument", "DeletionProtectionEnabled", "BearerTokenAuthenticationEnabled")

    def __init__(self, call: Caller) -> None:
        self.call = call

    @staticmethod
    def _arn(req: ResourceRequest, name: str) -> str:
        return f"arn:aws:logs:{req.region}:{req.account_id}:log-group:{name}:*"

    def create(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, self._known)
        name = props.get("LogGroupName") or physical_name(req, 512)
        try:
            self.call(req, "logs", "CreateLogGroup", logGroupName=name, tags=tag_map(props) or None,
                      logGroupClass=props.get("LogGroupClass"), kmsKeyId=props.get("KmsKeyId"))
        except ServiceError as err:
            # A create resumed after a crash: the group it generated the name for is there.
            if err.code != "ResourceAlreadyExistsException" or props.get("LogGroupName"):
                raise
        retention = as_int(req, props, "RetentionInDays")
        with undo_on_failure(lambda: self.delete(replace(req, physical_id=name))):
            if retention is not None:
                self.call(req, "logs", "PutRetentionPolicy", logGroupName=name, retentionInDays=retention)
            if as_bool(req, props, "DeletionProtectionEnabled"):
                self._protect(req, name, True)
        return ResourceResult(name, {"Arn": self._arn(req, name)})

    def _protect(self, req: ResourceRequest, name: str, on: bool) -> None:
        self.call(req, "logs", "PutLogGroupDeletionProtection", logGroupIdentifier=name, deletionProtectionEnabled=on)

    def update(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, self._known)
        old = req.old_properties or {}
        name = req.physical_id or props["LogGroupName"]
        retention = as_int(req, props, "RetentionInDays")
        if retention != as_int(req, old, "RetentionInDays"):
            if retention is None:
                self.call(req, "logs", "DeleteRetentionPolicy", logGroupName=name)
            else:
                self.call(req, "logs", "PutRetentionPolicy", logGroupName=name, retentionInDays=retention)
        protect = bool(as_bool(req, props, "DeletionProtectionEnabled"))
        if protect != bool(as_bool(req, old, "DeletionProtectionEnabled")):
            self._protect(req, name, protect)
        new_tags, old_tags = tag_map(props), tag_map(old)
        if new_tags != old_tags:
            gone = [k for k in old_tags if k not in new_tags]
            if gone:
                self.call(req, "logs", "UntagResource", resourceArn=self._arn(req, name)[:-2], tagKeys=gone)
            if new_tags:
                self.call(req, "logs", "TagResource", resourceArn=self._arn(req, name)[:-2], tags=new_tags)
        return ResourceResult(name, {"Arn": self._arn(req, name)})

    def delete(self, req: ResourceRequest) -> None:
        if not req.physical_id:
            return
        try:
            self.call(req, "logs", "DeleteLogGroup", logGroupName=req.physical_id)
        except ServiceError as err:
            if err.code != "ResourceNotFoundException":
                raise


class AlarmProvider:
    type_name: ClassVar[str] = "AWS::CloudWatch::Alarm"
    replace_on: ClassVar[frozenset[str]] = frozenset({"AlarmName"})

    def __init__(self, call: Caller) -> None:
        self.call = call

    def _put(self, req: ResourceRequest, name: str) -> ResourceResult:
        allowed = model_members("cloudwatch", "PutMetricAlarm")
        props = check_properties(req, allowed, ("ComparisonOperator", "EvaluationPeriods"))
        members = {k: v for k, v in props.items() if k not in ("AlarmName", "Tags")}
        self.call(req, "cloudwatch", "PutMetricAlarm", AlarmName=name, Tags=tag_list(props) or None, **members)
        found = self.call(req, "cloudwatch", "DescribeAlarms", AlarmNames=[name]).get("MetricAlarms") or []
        arn = found[0]["AlarmArn"] if found else f"arn:aws:cloudwatch:{req.region}:{req.account_id}:alarm:{name}"
        return ResourceResult(name, {"Arn": arn})

    def create(self, req: ResourceRequest) -> ResourceResult:
        name = (req.properties or {}).get("AlarmName") or physical_name(req, 255)
        return self._put(req, name)

    def update(self, req: ResourceRequest) -> ResourceResult:
        # PutMetricAlarm replaces the whole alarm: a setting left out of the template is gone.
        return self._put(req, req.physical_id or req.properties["AlarmName"])

    def delete(self, req: ResourceRequest) -> None:
        if req.physical_id:
            # DeleteAlarms with a name that is not there succeeds, as on AWS.
            self.call(req, "cloudwatch", "DeleteAlarms", AlarmNames=[req.physical_id])
