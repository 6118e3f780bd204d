"""Strategies for the documents carried inside string members: event patterns, filter policies,
IAM-style policies, log filter patterns, input transformers, notification configurations.

Random text almost never gets past a JSON parser, so the rules behind these (and the code that
later matches with them) would go untested: these produce documents of the right shape with
operators, values and types that are often wrong.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from .shapes import text

_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                  st.floats(allow_nan=False, allow_infinity=False), text(max_size=12),
                  st.sampled_from(["\ud800", "a\udfff", "\x00", "\u2028"]))  # escaped in the document's JSON
_FIELD = st.one_of(st.sampled_from(["source", "detail-type", "detail", "a", "a.b", "$or", "", "resources",
                                    "account", "region", "time", "id", "MessageAttributes"]), text(max_size=8))


def _matcher() -> st.SearchStrategy[Any]:
    """One condition of an EventBridge pattern or SNS filter policy, right or wrong."""
    arg = st.one_of(_LEAF, st.lists(_LEAF, max_size=3), st.dictionaries(text(max_size=6), _LEAF, max_size=2))
    numeric = st.lists(st.one_of(st.sampled_from(["=", ">", ">=", "<", "<=", "!=", "=>"]), _LEAF), max_size=5)
    return st.one_of(
        _LEAF,
        st.builds(lambda op, a: {op: a},
                  st.sampled_from(["prefix", "suffix", "equals-ignore-case", "wildcard", "cidr", "anything-but",
                                   "exists", "numeric", "bogus"]), arg),
        st.builds(lambda a: {"numeric": a}, numeric),
        st.builds(lambda a: {"anything-but": {"prefix": a}}, arg),
        st.builds(lambda a: {"prefix": {"equals-ignore-case": a}}, arg),
        st.builds(lambda a: {"cidr": a}, st.sampled_from(["10.0.0.0/24", "::1/128", "1.2.3.4/33", "x/1", "10.0.0.0"])),
        st.builds(lambda a: {"wildcard": a}, st.sampled_from(["*", "a*b*c", "**", "\\*", "*" * 40])),
        st.builds(lambda a, b: {"numeric": [">", a, "<", b]}, _LEAF, _LEAF),
    )


def pattern_object() -> st.SearchStrategy[Any]:
    return st.recursive(
        st.dictionaries(_FIELD, st.lists(_matcher(), max_size=3), max_size=3),
        lambda inner: st.one_of(st.dictionaries(_FIELD, inner, max_size=3),
                                st.builds(lambda alts: {"$or": alts}, st.lists(inner, max_size=3))),
        max_leaves=8,
    )


def _json_text(doc: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    as_text = doc.map(lambda d: json.dumps(d))
    # Sometimes broken right where a parser must notice: cut short, or not JSON at all.
    broken = st.tuples(as_text, st.integers(0, 40)).map(lambda t: t[0][: max(len(t[0]) - t[1], 0)])
    return st.one_of(as_text, as_text, as_text, broken, st.sampled_from(["", "{", "[]", "null", "1", '"x"', "{}"]))


def event_pattern() -> st.SearchStrategy[str]:
    return _json_text(pattern_object())


def filter_policy() -> st.SearchStrategy[str]:
    return _json_text(pattern_object())


_ACTIONS = st.one_of(st.sampled_from(["*", "s3:*", "s3:GetObject", "sqs:SendMessage", "sns:Publish",
                                      "lambda:InvokeFunction", "iam:PassRole", "sts:AssumeRole", "s3:Get*",
                                      "bogus", ":", "s3:"]), text(max_size=10))
_RESOURCES = st.one_of(st.sampled_from(["*", "arn:aws:s3:::pg-bucket/*", "arn:aws:sqs:us-east-1:000000000000:pg-queue",
                                        "arn:aws:iam::000000000000:role/pg-role", "arn:", "arn:aws:s3:::*/${aws:username}"]),
                       text(max_size=10))
_CONDITION = st.dictionaries(
    st.sampled_from(["StringEquals", "StringLike", "ArnLike", "IpAddress", "NumericLessThan", "DateGreaterThan",
                     "Bool", "Null", "ForAnyValue:StringEquals", "StringEqualsIfExists", "Bogus"]),
    st.dictionaries(st.sampled_from(["aws:SourceArn", "aws:SourceIp", "s3:prefix", "aws:username", "aws:CurrentTime",
                                     "aws:SecureTransport", "x"]), st.one_of(_LEAF, st.lists(_LEAF, max_size=3)),
                    max_size=2),
    max_size=2)


def policy_document() -> st.SearchStrategy[str]:
    statement = st.fixed_dictionaries(
        {"Effect": st.sampled_from(["Allow", "Deny", "allow", "Maybe"])},
        optional={"Action": st.one_of(_ACTIONS, st.lists(_ACTIONS, max_size=3)),
                  "NotAction": _ACTIONS,
                  "Resource": st.one_of(_RESOURCES, st.lists(_RESOURCES, max_size=3)),
                  "Principal": st.one_of(st.just("*"), st.dictionaries(
                      st.sampled_from(["AWS", "Service", "Federated", "Bogus"]),
                      st.one_of(st.just("*"), st.sampled_from(["arn:aws:iam::000000000000:root", "000000000000",
                                                               "lambda.amazonaws.com"]), text(max_size=8)),
                      max_size=2)),
                  "Condition": _CONDITION, "Sid": text(max_size=8)})
    doc = st.fixed_dictionaries(
        {"Statement": st.one_of(st.lists(statement, max_size=3), statement)},
        optional={"Version": st.sampled_from(["2012-10-17", "2008-10-17", "2020-01-01"]), "Id": text(max_size=8)})
    return _json_text(doc)


def log_filter_pattern() -> st.SearchStrategy[str]:
    """CloudWatch Logs filter patterns: terms, JSON selectors, space-delimited, regex."""
    selector = st.builds(lambda path, op, value: f"{{ {path} {op} {value} }}",
                         st.sampled_from(["$.a", "$.a.b[0]", "$.*", "$", "$.a[*].b", "$..a", "$.a b"]),
                         st.sampled_from(["=", "!=", ">", "<", ">=", "<=", "IS", "==", "=~"]),
                         st.sampled_from(["1", "-1.5e3", '"x"', "*", "NULL", "TRUE", "EXISTS", '"a*"', "%ab+%", "", "1e999"]))
    delimited = st.builds(lambda fields, cond: f"[{fields}{cond}]",
                          st.sampled_from(["ip, user", "...", "a, ..., b", "", "a,,b", "w1, w2, w3"]),
                          st.sampled_from(["", ", w2 = 404", ", w1 != *x*", ", w9 > 1", ", w1 = %ab%", "]"]))
    terms = st.lists(st.one_of(st.sampled_from(["ERROR", "?ERROR", "-DEBUG", '"quoted term"', '"unclosed',
                                                "%[0-9]+%", "%", "%(%", "?", "-", "&&", "||", "{", "[", "\\"]),
                               text(max_size=8)), max_size=4).map(" ".join)
    combined = st.builds(lambda a, op, b: f"{a} {op} {b}", selector, st.sampled_from(["&&", "||", "&", ""]), selector)
    return st.one_of(selector, delimited, terms, combined)


def input_template() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(['"<a>"', '{"k": <a>}', '{"k": "<a>"}', "<aws.events.event.json>", "<aws.events.rule-arn>",
                         "<<a>>", "<a", "{", '"\\u0000<a>"', "<a.b>", '{"k": <missing>}', "<>", "x" * 9000]),
        text(max_size=40))


def input_paths() -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(
        st.one_of(st.sampled_from(["a", "aws.events.x", "", "a b"]), text(max_size=6)),
        st.one_of(st.sampled_from(["$.detail", "$.detail.a[0]", "$", "$.", "$..x", "$.a[*]", "detail", "$[0]"]),
                  text(max_size=8)),
        max_size=3)


# Member name -> strategy for that member's value (where the name is enough to know the document).
DOCUMENTS: dict[str, st.SearchStrategy[Any]] = {
    "EventPattern": event_pattern(),
    "FilterPolicy": filter_policy(),
    "Policy": policy_document(),
    "PolicyDocument": policy_document(),
    "AssumeRolePolicyDocument": policy_document(),
    "PermissionsBoundary": st.sampled_from(["arn:aws:iam::000000000000:policy/pg-policy", "arn:"]),
    "filterPattern": log_filter_pattern(),
    "InputTemplate": input_template(),
    "InputPathsMap": input_paths(),
    "Input": _json_text(st.recursive(_LEAF, lambda c: st.lists(c, max_size=3) | st.dictionaries(text(max_size=5), c,
                                                                                              max_size=3))),
    "InputPath": st.sampled_from(["$.detail", "$", "$.a[0]", "$..", "x", ""]),
    "AttributeValue": st.one_of(filter_policy(), policy_document(), st.sampled_from(
        ['{"maxReceiveCount": 1, "deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:pg-queue"}',
         '{"maxReceiveCount": "x"}', "true", "false", "MessageBody", "-1", "99999999999"])),
    "AttributeName": st.sampled_from(["FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy",
                                      "DeliveryPolicy", "Policy", "DisplayName", "KmsMasterKeyId", "Bogus",
                                      "SubscriptionRoleArn", "FifoTopic", "ContentBasedDeduplication"]),
}
