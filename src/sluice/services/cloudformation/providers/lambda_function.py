"""AWS::Lambda::Function: inline code zipped as CloudFormation zips it, S3 code, configuration,
reserved concurrency and tags, each changed in place by the Lambda operation that owns it."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from importlib import resources
from typing import Any, ClassVar

from ....protocol.errors import ServiceError
from .base import ResourceRequest, ResourceResult
from .calls import Caller
from .support import (
    as_int,
    changed,
    check_properties,
    invalid_properties,
    physical_name,
    tag_map,
    undo_on_failure,
)

_PROPERTIES = frozenset({
    "Architectures", "Code", "CodeSigningConfigArn", "DeadLetterConfig", "Description", "Environment",
    "EphemeralStorage", "FileSystemConfigs", "FunctionName", "Handler", "ImageConfig", "KmsKeyArn", "Layers",
    "LoggingConfig", "MemorySize", "PackageType", "RecursiveLoop", "ReservedConcurrentExecutions", "Role",
    "Runtime", "RuntimeManagementConfig", "SnapStart", "Tags", "Timeout", "TracingConfig", "VpcConfig",
})
# Properties UpdateFunctionConfiguration sets, with what an absent one is reset to on update.
_CONFIG_RESET: dict[str, Any] = {
    "Description": "", "Environment": {"Variables": {}}, "DeadLetterConfig": {"TargetArn": ""}, "Layers": [],
    "Timeout": 3, "MemorySize": 128, "TracingConfig": {"Mode": "PassThrough"}, "EphemeralStorage": {"Size": 512},
    "Handler": None, "Runtime": None, "Role": None, "LoggingConfig": None, "KmsKeyArn": None,
    "VpcConfig": None, "FileSystemConfigs": None, "ImageConfig": None, "SnapStart": None,
}
_CREATE_ONLY = ("Architectures", "CodeSigningConfigArn", "PackageType")


def _inline(name: str) -> bytes:
    return (resources.files(__package__) / "inline" / name).read_bytes()


def inline_zip(req: ResourceRequest, source: str, runtime: str | None) -> bytes:
    """The package CloudFormation builds from Code.ZipFile: the source as `index.py` or
    `index.js`, beside the cfn-response module such code may import."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if (runtime or "").startswith("python"):
            zf.writestr("index.py", source)
            zf.writestr("cfnresponse.py", _inline("cfnresponse.py.txt"))
        elif (runtime or "").startswith("nodejs"):
            zf.writestr("index.js", source)
            zf.writestr("node_modules/cfn-response/index.js", _inline("cfn-response.js"))
        else:
            raise invalid_properties(req, "#/Code/ZipFile: ZipFile can only be used when Runtime is set to "
                                          "either of nodejs or python runtimes.")
    return buf.getvalue()


def code_members(req: ResourceRequest, props: dict[str, Any]) -> dict[str, Any]:
    """Code in CreateFunction's / UpdateFunctionCode's shape."""
    code = props.get("Code") or {}
    if code.get("ZipFile") is not None:
        return {"ZipFile": inline_zip(req, str(code["ZipFile"]), props.get("Runtime"))}
    out = {k: code[k] for k in ("S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri") if code.get(k)}
    if not out:
        raise invalid_properties(req, "#/Code: Please provide a source for function code.")
    return out


def function_attributes(arn: str) -> dict[str, Any]:
    # SnapStart does not apply to Sluice's runtimes: what AWS answers for a function without it.
    return {"Arn": arn, "SnapStartResponse.ApplyOn": "None", "SnapStartResponse.OptimizationStatus": "Off"}


class FunctionProvider:
    type_name: ClassVar[str] = "AWS::Lambda::Function"
    replace_on: ClassVar[frozenset[str]] = frozenset({"FunctionName", "PackageType"})

    def __init__(self, call: Caller) -> None:
        self.call = call

    def _config(self, req: ResourceRequest, props: dict[str, Any], *, reset: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, default in _CONFIG_RESET.items():
            value = as_int(req, props, key) if key in ("Timeout", "MemorySize") else props.get(key)
            if value is None and reset and default is not None:
                value = default
            if value is not None:
                out[key] = value
        return out

    def create(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, _PROPERTIES, ("Code", "Role"))
        name = props.get("FunctionName") or physical_name(req, 64, random_length=12)
        members = self._config(req, props, reset=False)
        members.update({k: props[k] for k in _CREATE_ONLY if props.get(k) is not None})
        tags = tag_map(props)
        try:
            out = self.call(req, "lambda", "CreateFunction", FunctionName=name, Code=code_members(req, props),
                            Tags=tags or None, **members)
        except ServiceError as err:
            # A create resumed after a crash: the function it generated the name for is there.
            if err.code != "ResourceConflictException" or props.get("FunctionName"):
                raise
            out = self.call(req, "lambda", "GetFunctionConfiguration", FunctionName=name)
        reserved = as_int(req, props, "ReservedConcurrentExecutions")
        if reserved is not None:
            with undo_on_failure(lambda: self.delete(replace(req, physical_id=name))):
                self.call(req, "lambda", "PutFunctionConcurrency", FunctionName=name,
                          ReservedConcurrentExecutions=reserved)
        return ResourceResult(name, function_attributes(out["FunctionArn"]))

    def update(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, _PROPERTIES, ("Code", "Role"))
        name = req.physical_id or props["FunctionName"]
        if changed(req, "Code") or (changed(req, "Runtime") and (props.get("Code") or {}).get("ZipFile") is not None):
            self.call(req, "lambda", "UpdateFunctionCode", FunctionName=name, **code_members(req, props))
        if changed(req, *_CONFIG_RESET):
            self.call(req, "lambda", "UpdateFunctionConfiguration", FunctionName=name,
                      **self._config(req, props, reset=True))
        if changed(req, "ReservedConcurrentExecutions"):
            reserved = as_int(req, props, "ReservedConcurrentExecutions")
            if reserved is None:
                self.call(req, "lambda", "DeleteFunctionConcurrency", FunctionName=name)
            else:
                self.call(req, "lambda", "PutFunctionConcurrency", FunctionName=name,
                          ReservedConcurrentExecutions=reserved)
        arn = self.call(req, "lambda", "GetFunctionConfiguration", FunctionName=name)["FunctionArn"]
        if changed(req, "Tags"):
            old, new = tag_map(req.old_properties or {}), tag_map(props)
            gone = [k for k in old if k not in new]
            if gone:
                self.call(req, "lambda", "UntagResource", Resource=arn, TagKeys=gone)
            if new:
                self.call(req, "lambda", "TagResource", Resource=arn, Tags=new)
        return ResourceResult(name, function_attributes(arn))

    def delete(self, req: ResourceRequest) -> None:
        if not req.physical_id:
            return
        try:
            self.call(req, "lambda", "DeleteFunction", FunctionName=req.physical_id)
        except ServiceError as err:
            if err.code != "ResourceNotFoundException":
                raise
