"""The SAM transform: `Transform: AWS::Serverless-2016-10-31` expanded by AWS's own translator.

CloudFormation runs AWS's aws-sam-translator (the library behind the AWS::Serverless macro) on
the template before anything else reads it; Sluice runs the same library, offline:

- managed policy names in a function's `Policies` ("AmazonS3ReadOnlyAccess") become ARNs from
  the map the caller passes (Sluice's IAM AWS-managed policies), then from the translator's own
  bundled map of every AWS managed policy (so a policy Sluice does not carry still gets its real
  ARN, and attaching it fails in IAM with AWS's NoSuchEntity rather than as a bad ARN);
- the region and partition come from the stack, never from a boto3 profile or the network.

The expanded template is what CloudFormation keeps as the stack's "Processed" template
(GetTemplate TemplateStage=Processed); `Transform` is gone from it, as on AWS.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from ...protocol.context import RequestContext
from ..base import Service
from . import errors

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"

# The translator keeps the region it works for in a class attribute (ArnGenerator); two stacks of
# different regions expanded at once must not see each other's.
_TRANSLATE_LOCK = threading.Lock()


class TransformError(Exception):
    """The template cannot be expanded; str() is the reason CloudFormation shows for it."""


def transforms_of(template: Mapping[str, Any]) -> list[str]:
    """The template's `Transform` names, in order (a string or a list of them)."""
    value = template.get("Transform")
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    # AWS::Include and other macros written as objects: named so the failure says which.
    if isinstance(value, list):
        return [v if isinstance(v, str) else str(v.get("Name", v)) for v in value
                if isinstance(v, (str, dict))]
    if isinstance(value, dict):
        return [str(value.get("Name", value))]
    raise TransformError("Template format error: Transform must be a string or a list of strings")


def needs_expansion(template: Mapping[str, Any]) -> bool:
    return bool(transforms_of(template))


def iam_managed_policies(list_policies: Callable[..., Mapping[str, Any]],
                         ctx: object) -> dict[str, str]:
    """Name -> ARN of the AWS managed policies IAM knows, read through IAM's ListPolicies
    (`list_policies` is that operation, `ctx` the stack's request context)."""
    out: dict[str, str] = {}
    params: dict[str, Any] = {"Scope": "AWS"}
    while True:
        listed = list_policies(ctx, **params)
        out.update((p["PolicyName"], p["Arn"]) for p in listed.get("Policies", []))
        if not listed.get("IsTruncated"):
            return out
        params["Marker"] = listed["Marker"]


def expander(iam: Service) -> Callable[[dict[str, Any], str, str, dict[str, Any]], dict[str, Any]]:
    """The transform as the stack operations call it: (template, account, region, parameter
    values) -> processed; the values are the stack's parameters (typed: lists for list types)
    and its pseudo parameters, as CloudFormation hands them to the transform.

    Managed policy names are looked up in the account's IAM (ListPolicies, only when a name is
    not one the translator knows); a failed transform is errors.TransformFailed with AWS's words."""

    def expand_for(template: dict[str, Any], account_id: str, region: str,
                   parameter_values: dict[str, Any]) -> dict[str, Any]:
        def policies() -> Mapping[str, str]:
            # Looked up here, not when the server is built: it parses IAM's botocore model.
            list_policies = iam.operation("ListPolicies")
            if list_policies is None:
                return {}
            ctx = RequestContext(str(uuid.uuid4()), "", account_id, region, "iam",
                                 operation="ListPolicies")
            return iam_managed_policies(list_policies, ctx)

        try:
            return expand(template, parameter_values, region=region, managed_policies=policies)
        except TransformError as e:
            raise errors.TransformFailed(str(e)) from e

    return expand_for


def partition_of(region: str) -> str:
    """AWS's partition for a region (the ARNs the translator writes carry it)."""
    for prefix, partition in (("cn-", "aws-cn"), ("us-gov", "aws-us-gov"),
                              ("us-isob", "aws-iso-b"), ("us-iso-", "aws-iso")):
        if region.startswith(prefix):
            return partition
    return "aws"


def expand(
    template: Mapping[str, Any],
    parameters: Mapping[str, Any],
    *,
    region: str,
    managed_policies: Mapping[str, str] | Callable[[], Mapping[str, str]] = dict,
) -> dict[str, Any]:
    """The template with its transforms applied (a new dict; `template` is left as it was).

    `parameters` are the stack's parameter values (the translator resolves `Ref`s to them where
    SAM must know a value, e.g. a CodeUri or an AutoPublishAlias); `managed_policies` maps AWS
    managed policy names to ARNs, or is a function returning that map, called at most once.
    Raises TransformError with CloudFormation's wording.
    """
    names = transforms_of(template)
    for name in names:
        if name != SAM_TRANSFORM:
            # CloudFormation would look for a macro of that name in the account; Sluice has
            # no macros (AWS::Include, AWS::LanguageExtensions and user macros included).
            raise TransformError(f"Template format error: Unsupported transform: {name}. "
                                 f"Sluice expands only {SAM_TRANSFORM}")
    if not names:
        return copy.deepcopy(dict(template))
    policy_map = dict(managed_policies() if callable(managed_policies) else managed_policies)
    return _translate(copy.deepcopy(dict(template)), dict(parameters), region, policy_map)


def _translate(template: dict[str, Any], parameters: dict[str, Any], region: str,
               policy_map: dict[str, str]) -> dict[str, Any]:
    # Imported here: the translator (with pydantic and boto3) costs ~0.5 s to import, paid by
    # the first SAM template rather than by every server start.
    import boto3
    from samtranslator.model.exceptions import (
        ExceptionWithMessage,
        InvalidDocumentException,
    )
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import (
        to_py27_compatible_template,
        undo_mark_unicode_str_in_template,
    )

    # Pseudo parameters the translator needs; the account stays ${AWS::AccountId} in the output,
    # resolved by the stack like any other reference (as on AWS).
    parameters.setdefault("AWS::Region", region)
    parameters.setdefault("AWS::Partition", partition_of(region))
    # A session only carries the region: nothing here signs or sends a request.
    session = boto3.session.Session(region_name=region, aws_access_key_id="unused",
                                    aws_secret_access_key="unused")
    try:
        with _TRANSLATE_LOCK:
            to_py27_compatible_template(template, parameters)
            translator = Translator(policy_map, Parser(), boto_session=session)
            try:
                out = translator.translate(template, parameter_values=parameters,
                                           get_managed_policy_map=lambda: policy_map)
            finally:
                # The translator counts its work for AWS's own telemetry (a no-op publisher
                # here); unpublished counts make it log a warning when it is collected.
                translator.metrics.publish()
    except InvalidDocumentException as e:
        causes = " ".join(c.message for c in e.causes)
        raise TransformError(_failed(f"{e.message} {causes}".strip())) from e
    except ExceptionWithMessage as e:
        raise TransformError(_failed(e.message)) from e
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as e:
        # The translator assumes a well-formed template in places (a string where a map is
        # expected, ...): such a template fails the transform, it is never a server error.
        raise TransformError(_failed(
            f"Invalid Serverless Application Specification document. {type(e).__name__}: {e}")) from e
    return _versioned_role_policies(undo_mark_unicode_str_in_template(out))


def _versioned_role_policies(template: dict[str, Any]) -> dict[str, Any]:
    """SAM writes the inline policies of the roles it generates from policy templates
    (`S3ReadPolicy`, ...) and statement lists without a `Version`, and CloudFormation deploys
    them on AWS. Sluice's IAM refuses an identity policy without Version 2012-10-17 (as AWS's
    CreatePolicy does), so the version SAM leaves implicit is written here: these documents use
    no policy variables, the one thing the two grammars read differently."""
    for resource in (template.get("Resources") or {}).values():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::IAM::Role":
            continue
        for policy in (resource.get("Properties") or {}).get("Policies") or []:
            document = policy.get("PolicyDocument") if isinstance(policy, dict) else None
            if isinstance(document, dict) and "Version" not in document:
                policy["PolicyDocument"] = {"Version": "2012-10-17", **document}
    return template


def _failed(reason: str) -> str:
    return f"Transform {SAM_TRANSFORM} failed with: {reason}"
