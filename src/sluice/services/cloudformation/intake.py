"""A template as a stack operation receives it: the body (inline or from an S3 URL), its
transforms expanded, its parameters resolved, its capabilities checked."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ..base import Service
from . import errors, parameters, template
from .intrinsics import pseudo_parameters
from .plan import Plan, make_plan

MAX_BODY = 51_200  # TemplateBody's limit
MAX_URL_BODY = 1_000_000  # a template read from S3
SERVERLESS = "AWS::Serverless-2016-10-31"
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"

# Expands the SAM transform: (template, account, region, parameter values) -> the processed
# template. Provided by services/cloudformation/sam.py (wired in server.py); None: a Transform is
# refused clearly.
Expand = Callable[[dict[str, Any], str, str, dict[str, Any]], dict[str, Any]]

_IAM_TYPES = {"AWS::IAM::Role": "RoleName", "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
              "AWS::IAM::User": "UserName", "AWS::IAM::Group": "GroupName", "AWS::IAM::Policy": None,
              "AWS::IAM::AccessKey": None, "AWS::IAM::InstanceProfile": "InstanceProfileName",
              "AWS::IAM::UserToGroupAddition": None}


@dataclass(frozen=True)
class StackInput:
    """What a stack operation knows of the stack before its template is expanded: the transform
    is given the parameter values the stack will have (given, previous, defaults) and the
    pseudo parameters, as CloudFormation gives them to the SAM transform."""

    stack_name: str
    stack_id: str
    given: list[dict[str, Any]] | None = None
    previous: dict[str, str] | None = None


@dataclass
class Intake:
    """A template read for a stack operation, in its three forms: as given, parsed, and expanded."""

    body: str  # as given
    original: dict[str, Any]  # parsed, before transforms
    processed: dict[str, Any]  # transforms expanded


class Templates:
    """Reads templates for the stack operations (collaborators: S3 for TemplateURL, the SAM expander)."""

    def __init__(self, services: Mapping[str, Service], expand: Expand | None) -> None:
        self.services = services
        self.expand = expand

    def read(self, ctx: RequestContext, body: str | None, url: str | None, *, expand: bool = True,
             stack: StackInput | None = None) -> Intake:
        """`stack`: the stack the template is for (None: a template read on its own, e.g. by
        GetTemplateSummary, whose transform sees only the parameters' defaults)."""
        if body is not None and url is not None:
            raise errors.validation("Specify exactly one of TemplateBody or TemplateUrl.")
        if body is None and url is None:
            raise errors.validation("Either Template URL or Template Body must be specified.")
        if body is not None:
            if len(body.encode()) > MAX_BODY:
                raise errors.validation(f"1 validation error detected: Value '{body[:20]}...' at 'templateBody' failed"
                                        f" to satisfy constraint: Member must have length less than or equal to"
                                        f" {MAX_BODY}")
            text = body
        else:
            assert url is not None
            text = self._from_s3(ctx, url)
        original = template.parse(text)
        processed = self.transform(ctx, original, stack) if expand else original
        return Intake(text, original, processed)

    def _from_s3(self, ctx: RequestContext, url: str) -> str:
        bucket, key = _s3_location(url)
        version = parse_qs(urlparse(url).query).get("versionId")  # `aws cloudformation package` may add one
        s3 = self.services["s3"]
        get = s3.operation("GetObject")
        assert get is not None
        s3_ctx = RequestContext(str(uuid.uuid4()), "", ctx.account_id, ctx.region, "s3", operation="GetObject")
        try:
            found = get(s3_ctx, Bucket=bucket, Key=key, **({"VersionId": version[0]} if version else {}))
        except ServiceError as err:
            raise errors.validation(f"S3 error: {err.message}") from None
        raw = found.get("Body", b"")
        data = raw if isinstance(raw, bytes) else b"".join(raw)
        if len(data) > MAX_URL_BODY:
            raise errors.validation("Template may not exceed 1000000 bytes in size.")
        try:
            return data.decode()
        except UnicodeDecodeError:
            raise errors.template_format("YAML not well-formed.") from None

    def previous(self, ctx: RequestContext, body: str, original: dict[str, Any] | None, processed: dict[str, Any],
                 stack: StackInput) -> Intake:
        """UsePreviousTemplate: the stack's template again — its transform run anew, as on AWS,
        since the parameter values it resolved (an AutoPublishAlias, a CodeUri) may have changed."""
        if original is None or not template.transforms(original):
            return Intake(body, original or processed, processed)
        return Intake(body, original, self.transform(ctx, original, stack))

    def transform(self, ctx: RequestContext, doc: dict[str, Any], stack: StackInput | None) -> dict[str, Any]:
        """`doc` with its transforms expanded (errors.TransformFailed when the transform refuses it)."""
        names = template.transforms(doc)
        if not names:
            return doc
        for name in names:
            if name not in (SERVERLESS, LANGUAGE_EXTENSIONS):
                raise errors.validation(f"Transform {name} is not supported by Sluice (only {SERVERLESS} and"
                                        f" {LANGUAGE_EXTENSIONS})")
        if LANGUAGE_EXTENSIONS in names and _uses_for_each(doc):
            raise errors.validation(f"Fn::ForEach ({LANGUAGE_EXTENSIONS}) is not supported by Sluice")
        # AWS::LanguageExtensions without Fn::ForEach adds only functions the evaluator knows
        # (Fn::Length, Fn::ToJsonString, Fn::FindInMap's DefaultValue): nothing to expand.
        source = {k: v for k, v in doc.items() if k != "Transform"}
        if SERVERLESS not in names:
            return template.check(source)
        if self.expand is None:
            raise errors.validation(f"Transform {SERVERLESS} is not available in this Sluice build")
        values = _transform_values(source, stack, ctx.account_id, ctx.region)
        expanded = self.expand({**source, "Transform": SERVERLESS}, ctx.account_id, ctx.region, values)
        expanded.pop("Transform", None)
        return template.check(expanded)


def _transform_values(doc: dict[str, Any], stack: StackInput | None, account: str,
                      region: str) -> dict[str, Any]:
    """The parameter values the SAM transform resolves `Ref`s with (AutoPublishAlias, CodeUri,
    Layers, ... naming a parameter): the stack's values, typed as `Ref` gives them, and the
    pseudo parameters (AWS::NotificationARNs left out: it is not known to the transform)."""
    declarations = doc.get("Parameters") or {}
    if not isinstance(declarations, dict):
        return {}
    parameters.check_declarations(declarations)
    if stack is None:
        defaulted = {name: decl for name, decl in declarations.items() if "Default" in decl}
        try:
            values = parameters.effective(defaulted, None)
        except ServiceError:
            values = {}  # a default its own constraints refuse: the stack operation will say so
        pseudo = pseudo_parameters(account, region, "", "")
        pseudo = {k: v for k, v in pseudo.items() if k in ("AWS::AccountId", "AWS::Region", "AWS::Partition",
                                                            "AWS::URLSuffix")}
    else:
        # Refused values (a missing or disallowed parameter) fail here with the error
        # CloudFormation gives for them, before the transform runs.
        values = parameters.effective(declarations, stack.given, stack.previous)
        pseudo = pseudo_parameters(account, region, stack.stack_name, stack.stack_id)
        pseudo.pop("AWS::NotificationARNs", None)
    return {**parameters.typed(declarations, values), **pseudo}


def _uses_for_each(value: Any) -> bool:
    if isinstance(value, dict):
        return any(str(k).startswith("Fn::ForEach") or _uses_for_each(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_uses_for_each(v) for v in value)
    return False


def _s3_location(url: str) -> tuple[str, str]:
    """(bucket, key) of a template URL: path style (https://s3[.region].amazonaws.com/bucket/key,
    or Sluice's own endpoint http://host:port/bucket/key) or virtual-hosted
    (https://bucket.s3[.region].amazonaws.com/key)."""
    try:
        parsed = urlparse(url)
    except ValueError:  # a host urllib cannot read ("https://[x/...")
        raise errors.validation("TemplateURL must be a supported URL.") from None
    host = (parsed.hostname or "").lower()
    path = unquote(parsed.path.lstrip("/"))
    if parsed.scheme not in ("http", "https") or not host:
        raise errors.validation("TemplateURL must be a supported URL.")
    marker = ".s3." if ".s3." in host else ".s3-" if ".s3-" in host else None
    if marker is not None and not host.startswith("s3."):
        bucket = host.split(marker, 1)[0]
        if not path:
            raise errors.validation("TemplateURL must reference a valid S3 object to which you have access.")
        return bucket, path
    bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise errors.validation("TemplateURL must reference a valid S3 object to which you have access.")
    return bucket, key


def check_capabilities(processed: dict[str, Any], original: dict[str, Any], given: list[str] | None,
                       *, change_set: bool) -> None:
    """InsufficientCapabilitiesException as CloudFormation answers it: IAM resources need
    CAPABILITY_IAM (named ones CAPABILITY_NAMED_IAM); a transform in CreateStack/UpdateStack
    needs CAPABILITY_AUTO_EXPAND (a change set shows the expansion instead)."""
    have = set(given or [])
    for value in have:
        if value not in ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"):
            raise errors.validation(f"Requires capabilities : [{value}]")
    if template.transforms(original) and not change_set and "CAPABILITY_AUTO_EXPAND" not in have:
        raise ServiceError("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_AUTO_EXPAND]")
    needs = None
    for res in (processed.get("Resources") or {}).values():
        kind = res.get("Type") if isinstance(res, dict) else None
        if kind in _IAM_TYPES:
            name_prop = _IAM_TYPES[kind]
            named = name_prop is not None and name_prop in (res.get("Properties") or {})
            if named:
                needs = "CAPABILITY_NAMED_IAM"
            elif needs is None:
                needs = "CAPABILITY_IAM"
    if needs == "CAPABILITY_NAMED_IAM" and "CAPABILITY_NAMED_IAM" not in have:
        raise ServiceError("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_NAMED_IAM]")
    if needs == "CAPABILITY_IAM" and not have & {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"}:
        raise ServiceError("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_IAM]")


def prepare(processed: dict[str, Any], given: list[dict[str, Any]] | None, previous: dict[str, str] | None,
            account: str, region: str, stack_name: str, stack_id: str) -> Plan:
    """The parameter values and plan of a template about to be deployed (ValidationError if refused)."""
    declarations = processed.get("Parameters") or {}
    parameters.check_declarations(declarations)
    values = parameters.effective(declarations, given, previous)
    return make_plan(processed, values, pseudo_parameters(account, region, stack_name, stack_id))
