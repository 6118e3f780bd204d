"""Published things: AWS::Lambda::Version, AWS::Lambda::Alias, AWS::Lambda::LayerVersion."""

from __future__ import annotations

from typing import ClassVar

from ....protocol.errors import ServiceError
from .base import ResourceRequest, ResourceResult
from .calls import Caller
from .support import check_properties, physical_name


def _gone(err: ServiceError) -> bool:
    return err.code == "ResourceNotFoundException"


class VersionProvider:
    """A published version; Ref and the physical id are the version's ARN."""

    type_name: ClassVar[str] = "AWS::Lambda::Version"
    replace_on: ClassVar[frozenset[str]] = frozenset({"FunctionName", "CodeSha256", "Description", "RuntimePolicy"})
    _known = ("FunctionName", "CodeSha256", "Description", "ProvisionedConcurrencyConfig", "RuntimePolicy")

    def __init__(self, call: Caller) -> None:
        self.call = call

    def create(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, self._known, ("FunctionName",))
        out = self.call(req, "lambda", "PublishVersion", FunctionName=props["FunctionName"],
                        CodeSha256=props.get("CodeSha256"), Description=props.get("Description"))
        arn = out["FunctionArn"]
        return ResourceResult(arn, {"Version": out["Version"], "FunctionArn": arn}, ref_value=arn)

    def update(self, req: ResourceRequest) -> ResourceResult:
        # Only ProvisionedConcurrencyConfig changes in place, and Sluice starts environments on
        # demand: the version itself stays as published.
        arn = req.physical_id or ""
        return ResourceResult(arn, {"Version": arn.rsplit(":", 1)[-1], "FunctionArn": arn}, ref_value=arn)

    def delete(self, req: ResourceRequest) -> None:
        if not req.physical_id:
            return
        name, _, version = req.physical_id.rpartition(":")
        try:
            self.call(req, "lambda", "DeleteFunction", FunctionName=name, Qualifier=version)
        except ServiceError as err:
            if not _gone(err):
                raise


class AliasProvider:
    type_name: ClassVar[str] = "AWS::Lambda::Alias"
    replace_on: ClassVar[frozenset[str]] = frozenset({"FunctionName", "Name"})
    _known = ("FunctionName", "Name", "FunctionVersion", "Description", "RoutingConfig",
              "ProvisionedConcurrencyConfig")

    def __init__(self, call: Caller) -> None:
        self.call = call

    def create(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, self._known, ("FunctionName", "Name", "FunctionVersion"))
        try:
            out = self.call(req, "lambda", "CreateAlias", FunctionName=props["FunctionName"], Name=props["Name"],
                            FunctionVersion=props["FunctionVersion"], Description=props.get("Description"),
                            RoutingConfig=props.get("RoutingConfig"))
        except ServiceError as err:
            if err.code != "ResourceConflictException":
                raise
            out = self.call(req, "lambda", "GetAlias", FunctionName=props["FunctionName"], Name=props["Name"])
            if str(out.get("FunctionVersion")) != str(props["FunctionVersion"]):
                raise
            # A create resumed after a crash: the alias it made is there, as the template asks.
        return ResourceResult(out["AliasArn"], {"AliasArn": out["AliasArn"], "Id": out["AliasArn"]},
                              ref_value=out["AliasArn"])

    def update(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, self._known, ("FunctionName", "Name", "FunctionVersion"))
        out = self.call(req, "lambda", "UpdateAlias", FunctionName=props["FunctionName"], Name=props["Name"],
                        FunctionVersion=props["FunctionVersion"], Description=props.get("Description") or "",
                        RoutingConfig=props.get("RoutingConfig") or {"AdditionalVersionWeights": {}})
        return ResourceResult(out["AliasArn"], {"AliasArn": out["AliasArn"], "Id": out["AliasArn"]},
                              ref_value=out["AliasArn"])

    def delete(self, req: ResourceRequest) -> None:
        props = req.properties or {}
        if not props.get("FunctionName") or not props.get("Name"):
            return
        try:
            self.call(req, "lambda", "DeleteAlias", FunctionName=props["FunctionName"], Name=props["Name"])
        except ServiceError as err:
            if not _gone(err):
                raise


class LayerVersionProvider:
    """A published layer version; Ref and the physical id are its ARN."""

    type_name: ClassVar[str] = "AWS::Lambda::LayerVersion"
    _known = ("CompatibleArchitectures", "CompatibleRuntimes", "Content", "Description", "LayerName", "LicenseInfo")
    replace_on: ClassVar[frozenset[str]] = frozenset(_known)  # a layer version never changes

    def __init__(self, call: Caller) -> None:
        self.call = call

    def create(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, self._known, ("Content",))
        name = props.get("LayerName") or physical_name(req, 140)
        out = self.call(req, "lambda", "PublishLayerVersion", LayerName=name, Content=props["Content"],
                        CompatibleRuntimes=props.get("CompatibleRuntimes"),
                        CompatibleArchitectures=props.get("CompatibleArchitectures"),
                        Description=props.get("Description"), LicenseInfo=props.get("LicenseInfo"))
        arn = out["LayerVersionArn"]
        return ResourceResult(arn, {"LayerVersionArn": arn}, ref_value=arn)

    def update(self, req: ResourceRequest) -> ResourceResult:
        arn = req.physical_id or ""
        return ResourceResult(arn, {"LayerVersionArn": arn}, ref_value=arn)

    def delete(self, req: ResourceRequest) -> None:
        if not req.physical_id or req.physical_id.count(":") < 7:
            return
        layer_arn, _, number = req.physical_id.rpartition(":")
        try:
            self.call(req, "lambda", "DeleteLayerVersion", LayerName=layer_arn, VersionNumber=int(number))
        except ServiceError as err:
            if not _gone(err):
                raise
