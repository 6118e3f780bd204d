"""The tags CloudFormation puts on the resources it makes besides their own `Tags` property.

- The stack's Tags (CreateStack/UpdateStack `Tags`) are propagated to every resource that takes
  tags; a tag the resource itself gives with the same key keeps the resource's value (the one the
  template author wrote closest to the resource).
- CloudFormation adds aws:cloudformation:stack-name, aws:cloudformation:stack-id and
  aws:cloudformation:logical-id — in fact only on some types. S3 buckets, Lambda functions and
  (since 2023) log groups get them; SQS queues, SNS topics and IAM roles do not (SQS and SNS
  refuse `aws:` keys, IAM never got them: cloudformation-coverage-roadmap issues 652, 1502, 277,
  1159, 1158), so Sluice adds them where AWS does.

The engine merges these into the properties a provider is given (never into the resource's
recorded properties, so change sets and diffs see only the template's)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Types Sluice has a provider for whose `Tags` is a list of {Key, Value}, as the stack tags are.
PROPAGATED = frozenset({"AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::Lambda::Function",
                        "AWS::IAM::Role", "AWS::Logs::LogGroup"})
WITH_SYSTEM_TAGS = frozenset({"AWS::S3::Bucket", "AWS::Lambda::Function", "AWS::Logs::LogGroup"})


def system_tags(stack_name: str, stack_id: str, logical_id: str) -> list[dict[str, str]]:
    return [{"Key": "aws:cloudformation:stack-name", "Value": stack_name},
            {"Key": "aws:cloudformation:logical-id", "Value": logical_id},
            {"Key": "aws:cloudformation:stack-id", "Value": stack_id}]


def with_stack_tags(type_name: str, properties: Mapping[str, Any] | None, stack_tags: Sequence[Mapping[str, str]],
                    stack_name: str, stack_id: str, logical_id: str) -> dict[str, Any] | None:
    """`properties` with the stack's tags (and AWS's own) merged into `Tags` (None stays None)."""
    if properties is None:
        return None
    if type_name not in PROPAGATED:
        return dict(properties)
    merged: dict[str, str] = {str(t["Key"]): str(t.get("Value", "")) for t in stack_tags}
    own = properties.get("Tags")
    if isinstance(own, list):
        merged.update((str(t["Key"]), str(t.get("Value", ""))) for t in own if isinstance(t, dict) and "Key" in t)
    if type_name in WITH_SYSTEM_TAGS:
        merged.update((t["Key"], t["Value"]) for t in system_tags(stack_name, stack_id, logical_id))
    if not merged:
        return dict(properties)
    return {**properties, "Tags": [{"Key": k, "Value": v} for k, v in merged.items()]}
