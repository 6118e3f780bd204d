"""SNS: boto3 and the AWS CLI against a real server; filter policies as pure functions (tables);
deliveries to Lambda, to http endpoints on loopback and to SQS, in AWS's exact shapes; FIFO
topics; pending deliveries surviving SIGKILL. The retry policies: test_sns_policy.py; the outbox
on a manual clock: test_sns_engine.py.

Every response is checked for AWS's exact field names, error codes and messages.
"""

from __future__ import annotations

import asyncio
import base64
import json
import queue
import re
import threading
import time
import urllib.request
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sluice.clock import ManualClock
from sluice.engine.dispatcher import OutboxDispatcher
from sluice.engine.sns_http import post_notification
from sluice.protocol.context import RequestContext
from sluice.schema import SCHEMA
from sluice.services.delivery import (
    FIFO_NOT_ALLOWED,
    NOT_FOUND,
    TOO_LARGE,
    Deliveries,
    Delivery,
    DeliveryResult,
    MessageAttribute,
)
from sluice.services.sns.filters import FilterPolicyError, compile_policy
from sluice.services.sns.records import Pending
from sluice.services.sns.service import SnsService
from sluice.settings import Settings
from sluice.store import Store

from .conftest import AwsCli, make_client
from .lambda_helpers import create
from .server import SluiceProcess, free_port

ACCOUNT = "000000000000"
REGION = "us-east-1"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
NOTIFICATION_KEYS = ["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
                     "Signature", "SigningCertURL", "UnsubscribeURL", "MessageAttributes"]


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def sns(endpoint: str) -> Any:
    return make_client("sns", endpoint)


@pytest.fixture
def topic(sns: Any) -> str:
    return str(sns.create_topic(Name=unique())["TopicArn"])


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


# -- filter policies: a table of policies x messages ---------------------------------------------------

def S(v: str) -> dict[str, str]:  # noqa: N802 - short names keep the table readable
    return {"DataType": "String", "StringValue": v}


def N(v: str) -> dict[str, str]:  # noqa: N802
    return {"DataType": "Number", "StringValue": v}


def A(v: list[Any]) -> dict[str, str]:  # noqa: N802
    return {"DataType": "String.Array", "StringValue": json.dumps(v)}


B = {"DataType": "Binary", "BinaryValue": base64.b64encode(b"\x00").decode()}

AWS_EXAMPLE = {"customer_interests": A(["soccer", "rugby", "hockey"]), "store": S("example_corp"),
               "event": S("order_placed"), "price_usd": N("210.75")}

ATTRIBUTE_CASES: list[tuple[dict[str, Any], dict[str, dict[str, str]], bool]] = [
    # AWS's documented example message, with the policy that accepts it and the one that rejects it.
    ({"store": ["example_corp"], "event": [{"anything-but": "order_cancelled"}],
      "customer_interests": ["rugby", "football", "baseball"], "price_usd": [{"numeric": [">=", 100]}]},
     AWS_EXAMPLE, True),
    ({"store": ["example_corp"], "event": ["order_cancelled"], "encrypted": [False],
      "customer_interests": ["basketball", "baseball"]}, AWS_EXAMPLE, False),
    # exact strings and numbers
    ({"a": ["x"]}, {"a": S("x")}, True),
    ({"a": ["x"]}, {"a": S("X")}, False),
    ({"a": ["x"]}, {}, False),
    ({"a": [5]}, {"a": N("5.0")}, True),
    ({"a": [5]}, {"a": S("5")}, False),
    ({"a": ["5"]}, {"a": N("5")}, False),
    # prefix, suffix, equals-ignore-case
    ({"a": [{"prefix": "bas"}]}, {"a": S("baseball")}, True),
    ({"a": [{"prefix": "bas"}]}, {"a": S("rugby")}, False),
    ({"a": [{"suffix": "ball"}]}, {"a": S("baseball")}, True),
    ({"a": [{"suffix": "ball"}]}, {"a": S("rugby")}, False),
    ({"a": [{"equals-ignore-case": "BaSe"}]}, {"a": S("base")}, True),
    ({"a": [{"equals-ignore-case": "BaSe"}]}, {"a": S("bases")}, False),
    # anything-but: values, lists, prefix, suffix, equals-ignore-case, numbers; arrays; absence
    ({"a": [{"anything-but": ["rugby", "tennis"]}]}, {"a": S("baseball")}, True),
    ({"a": [{"anything-but": ["rugby", "tennis"]}]}, {"a": S("rugby")}, False),
    ({"a": [{"anything-but": ["rugby", "tennis"]}]}, {"a": A(["rugby", "baseball"])}, True),
    ({"a": [{"anything-but": ["rugby", "tennis"]}]}, {}, False),
    ({"a": [{"anything-but": {"prefix": "order-"}}]}, {"a": S("order-1")}, False),
    ({"a": [{"anything-but": {"prefix": "order-"}}]}, {"a": S("ship-1")}, True),
    ({"a": [{"anything-but": {"suffix": "-x"}}]}, {"a": S("a-x")}, False),
    ({"a": [{"anything-but": {"suffix": "-x"}}]}, {"a": S("a-y")}, True),
    ({"a": [{"anything-but": {"equals-ignore-case": ["A", "B"]}}]}, {"a": S("a")}, False),
    ({"a": [{"anything-but": {"equals-ignore-case": ["A", "B"]}}]}, {"a": S("c")}, True),
    ({"a": [{"anything-but": [100, 500]}]}, {"a": N("100")}, False),
    ({"a": [{"anything-but": [100, 500]}]}, {"a": N("100.1")}, True),
    # numeric ranges
    ({"a": [{"numeric": ["=", 301.5]}]}, {"a": N("3.015e2")}, True),
    ({"a": [{"numeric": [">", 0, "<=", 150]}]}, {"a": N("150")}, True),
    ({"a": [{"numeric": [">", 0, "<=", 150]}]}, {"a": N("0")}, False),
    ({"a": [{"numeric": [">", 0, "<=", 150]}]}, {"a": N("150.5")}, False),
    ({"a": [{"numeric": [">", 0, "<=", 150]}]}, {"a": S("50")}, False),
    ({"a": [{"numeric": ["<", 0]}]}, {"a": N("-1")}, True),
    # exists (Binary attributes are ignored, as if absent)
    ({"a": [{"exists": True}]}, {"a": S("anything")}, True),
    ({"a": [{"exists": True}]}, {"b": S("x")}, False),
    ({"a": [{"exists": True}]}, {"a": B}, False),
    ({"a": [{"exists": False}]}, {"b": S("x")}, True),
    ({"a": [{"exists": False}]}, {"a": S("x")}, False),
    # IP addresses
    ({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": S("10.0.0.255")}, True),
    ({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": S("10.0.1.1")}, False),
    ({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": S("not-an-ip")}, False),
    ({"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": S("2001:db8::1")}, True),
    # String.Array: any element
    ({"a": ["rugby"]}, {"a": A(["soccer", "rugby"])}, True),
    ({"a": [True]}, {"a": A([True, 1])}, True),
    ({"a": [None]}, {"a": A([None])}, True),
    ({"a": [1]}, {"a": A([2, 3])}, False),
    # several keys (AND), several values (OR), $or
    ({"a": ["x"], "b": ["y"]}, {"a": S("x"), "b": S("y")}, True),
    ({"a": ["x"], "b": ["y"]}, {"a": S("x"), "b": S("z")}, False),
    ({"a": ["x", "z"]}, {"a": S("z")}, True),
    ({"$or": [{"a": ["x"]}, {"b": ["y"]}]}, {"b": S("y")}, True),
    ({"$or": [{"a": ["x"]}, {"b": ["y"]}]}, {"a": S("z")}, False),
    ({"a": ["x"], "$or": [{"b": ["y"]}, {"c": [{"exists": True}]}]}, {"a": S("x"), "c": N("1")}, True),
    ({"a": ["x"], "$or": [{"b": ["y"]}, {"c": [{"exists": True}]}]}, {"a": S("x")}, False),
]

BODY_CASES: list[tuple[dict[str, Any], str, bool]] = [
    ({"store": ["example_corp"]}, '{"store": "example_corp"}', True),
    ({"order": {"status": ["paid"]}}, '{"order": {"status": "paid"}}', True),
    ({"order": {"status": ["paid"]}}, '{"order": {"status": "open"}}', False),
    ({"order": {"status": ["paid"]}}, '{"order": "paid"}', False),
    ({"tags": ["b"]}, '{"tags": ["a", "b"]}', True),
    ({"items": {"sku": [{"prefix": "A-"}]}}, '{"items": [{"sku": "B-1"}, {"sku": "A-2"}]}', True),
    ({"items": {"sku": [{"prefix": "A-"}]}}, '{"items": [{"sku": "B-1"}]}', False),
    ({"price": [{"numeric": [">", 10]}]}, '{"price": 11}', True),
    ({"price": [{"numeric": [">", 10]}]}, '{"price": "11"}', False),
    ({"x": [None]}, '{"x": null}', True),
    ({"x": [None]}, "{}", False),
    ({"flag": [True]}, '{"flag": true}', True),
    ({"flag": [True]}, '{"flag": "true"}', False),
    ({"a": {"b": [{"exists": False}]}}, '{"a": {}}', True),
    ({"a": {"b": [{"exists": False}]}}, '{"a": {"b": 1}}', False),
    ({"a": {"b": [{"exists": True}]}}, '{"a": {"b": null}}', True),
    ({"ip": [{"cidr": "192.168.0.0/16"}]}, '{"ip": "192.168.4.2"}', True),
    ({"name": [{"equals-ignore-case": "ALICE"}]}, '{"name": "alice"}', True),
    ({"name": [{"suffix": ".png"}]}, '{"name": "a.jpg"}', False),
    ({"$or": [{"a": {"b": ["1"]}}, {"c": ["2"]}]}, '{"c": "2"}', True),
    ({"$or": [{"a": {"b": ["1"]}}, {"c": ["2"]}]}, '{"a": {"b": "1"}}', True),
    ({"$or": [{"a": {"b": ["1"]}}, {"c": ["2"]}]}, '{"a": {"b": "2"}}', False),
    ({"store": ["example_corp"]}, "not json", False),
    ({"store": ["example_corp"]}, '["example_corp"]', False),
]


@pytest.mark.parametrize(("policy", "attributes", "expected"), ATTRIBUTE_CASES)
def test_filter_policy_on_message_attributes(policy: dict[str, Any], attributes: dict[str, Any],
                                             expected: bool) -> None:
    assert compile_policy(policy, "MessageAttributes").matches_attributes(attributes) is expected


@pytest.mark.parametrize(("policy", "body", "expected"), BODY_CASES)
def test_filter_policy_on_message_body(policy: dict[str, Any], body: str, expected: bool) -> None:
    assert compile_policy(policy, "MessageBody").matches_body(body) is expected


INVALID_POLICIES: list[tuple[str, Any, str]] = [
    ("MessageAttributes", {"store": [str(i) for i in range(151)]}, "FilterPolicy: Filter policy is too complex"),
    ("MessageAttributes", {"store": [["example_corp"]]},
     "FilterPolicy: Match value must be String, number, true, false, or null"),
    ("MessageAttributes", {"store": [{"exists": None}]},
     "FilterPolicy: exists match pattern must be either true or false."),
    ("MessageAttributes", {"store": [{"error": True}]}, "FilterPolicy: Unrecognized match type error"),
    ("MessageAttributes", {"price": [{"numeric": ["<", "100"]}]}, "FilterPolicy: Value of < must be numeric\n at ..."),
    ("MessageAttributes", {"price": [{"numeric": [">", 50, "<=", "100"]}]},
     "FilterPolicy: Value of <= must be numeric\n at ..."),
    ("MessageAttributes", {"price": [{"numeric": []}]}, "FilterPolicy: Invalid member in numeric match: ]\n at ..."),
    ("MessageAttributes", {"price": [{"numeric": [50, "<=", "100"]}]},
     "FilterPolicy: Invalid member in numeric match: 50\n at ..."),
    ("MessageAttributes", {"price": [{"numeric": ["0"]}]},
     "FilterPolicy: Unrecognized numeric range operator: 0\n at ..."),
    ("MessageAttributes", {"price": [{"numeric": ["<", 20, ">", 1]}]},
     "FilterPolicy: Too many elements in numeric expression\n at ..."),
    ("MessageAttributes", {"price": [{"numeric": [">", 20, ">", 1]}]},
     "FilterPolicy: Bad numeric range operator: >\n at ..."),
    ("MessageAttributes", {"price": [{"numeric": [">", 20, "<", 1]}]},
     "FilterPolicy: Bottom must be less than top\n at ..."),
    ("MessageAttributes", {"store": {"key": [{"exists": None}]}},
     "Filter policy scope MessageAttributes does not support nested filter policy"),
    ("MessageAttributes", {f"key_{c}": ["v"] for c in "abcdef"},
     "FilterPolicy: Filter policy can not have more than 5 keys"),
    ("MessageBody", {"key_a": {"key_b": {"key_c": ["v1", "v2", "v3", "v4"]}}, "key_d": {"key_e": ["v1", "v2", "v3"]},
                     "key_f": ["v1", "v2", "v3"]}, "FilterPolicy: Filter policy is too complex"),
    ("MessageAttributes", {"a": "x"}, 'FilterPolicy: "a" must be an object or an array'),
    ("MessageAttributes", {"a": [{"prefix": 1}]}, "FilterPolicy: prefix match pattern must be a string"),
    ("MessageAttributes", {"a": [{"anything-but": {"wildcard": "x"}}]},
     "FilterPolicy: Unsupported anything-but pattern: wildcard"),
]


@pytest.mark.parametrize(("scope", "policy", "message"), INVALID_POLICIES)
def test_filter_policy_validation(scope: str, policy: Any, message: str) -> None:
    with pytest.raises(FilterPolicyError) as exc:
        compile_policy(policy, scope)
    assert exc.value.message == message


# -- topics ------------------------------------------------------------------------------------------------

def test_topic_lifecycle_and_default_attributes(sns: Any) -> None:
    name = unique()
    arn = sns.create_topic(Name=name, Attributes={"DisplayName": "Shown"},
                           Tags=[{"Key": "team", "Value": "a"}])["TopicArn"]
    assert arn == f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
    assert sns.create_topic(Name=name)["TopicArn"] == arn  # idempotent
    assert sns.create_topic(Name=name, Attributes={"DisplayName": "Shown"})["TopicArn"] == arn
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert set(attrs) == {"Policy", "Owner", "SubscriptionsPending", "TopicArn", "EffectiveDeliveryPolicy",
                          "SubscriptionsConfirmed", "DisplayName", "SubscriptionsDeleted"}
    assert attrs["Owner"] == ACCOUNT and attrs["TopicArn"] == arn and attrs["DisplayName"] == "Shown"
    assert (attrs["SubscriptionsPending"], attrs["SubscriptionsConfirmed"], attrs["SubscriptionsDeleted"]) == \
        ("0", "0", "0")
    policy = json.loads(attrs["Policy"])
    assert policy == {
        "Version": "2008-10-17", "Id": "__default_policy_ID",
        "Statement": [{"Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
                       "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                                  "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                                  "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
                       "Resource": arn, "Condition": {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}}]}
    assert json.loads(attrs["EffectiveDeliveryPolicy"]) == {"http": {
        "defaultHealthyRetryPolicy": {"minDelayTarget": 20, "maxDelayTarget": 20, "numRetries": 3,
                                      "numMaxDelayRetries": 0, "numNoDelayRetries": 0, "numMinDelayRetries": 0,
                                      "backoffFunction": "linear"},
        "disableSubscriptionOverrides": False,
        "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"}}}

    delivery = json.dumps({"http": {"defaultHealthyRetryPolicy": {"numRetries": 5, "minDelayTarget": 1,
                                                                  "maxDelayTarget": 10}}})
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DeliveryPolicy", AttributeValue=delivery)
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Other")
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["DeliveryPolicy"] == delivery and attrs["DisplayName"] == "Other"
    assert json.loads(attrs["EffectiveDeliveryPolicy"])["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 5

    with pytest.raises(ClientError) as exc:
        sns.create_topic(Name=name, Attributes={"DisplayName": "Different"})
    assert error_of(exc) == ("InvalidParameter",
                             "Invalid parameter: Attributes Reason: Topic already exists with different attributes",
                             400)
    with pytest.raises(ClientError) as exc:
        sns.create_topic(Name=name, Tags=[{"Key": "team", "Value": "b"}])
    assert error_of(exc)[1] == "Invalid parameter: Tags Reason: Topic already exists with different tags"
    with pytest.raises(ClientError) as exc:
        sns.set_topic_attributes(TopicArn=arn, AttributeName="Bogus", AttributeValue="x")
    assert error_of(exc) == ("InvalidParameter", "Invalid parameter: AttributeName", 400)
    with pytest.raises(ClientError) as exc:
        sns.set_topic_attributes(TopicArn=arn, AttributeName="ContentBasedDeduplication", AttributeValue="true")
    assert error_of(exc)[1] == ("Invalid parameter: ContentBasedDeduplication Reason: Content-based deduplication "
                                "can only be set for FIFO topics")

    sns.delete_topic(TopicArn=arn)
    sns.delete_topic(TopicArn=arn)  # deleting again succeeds, as on AWS
    with pytest.raises(ClientError) as exc:
        sns.get_topic_attributes(TopicArn=arn)
    assert error_of(exc) == ("NotFound", "Topic does not exist", 404)


def test_topic_names_and_arns_are_checked(sns: Any) -> None:
    for name in ("has space", "x" * 257, "dot.ted"):
        with pytest.raises(ClientError) as exc:
            sns.create_topic(Name=name)
        assert error_of(exc) == ("InvalidParameter", "Invalid parameter: Topic Name", 400)
    with pytest.raises(ClientError) as exc:
        sns.create_topic(Name="no-suffix", Attributes={"FifoTopic": "true"})
    assert error_of(exc)[1].startswith("Invalid parameter: Fifo Topic names must end with .fifo")
    with pytest.raises(ClientError) as exc:
        sns.get_topic_attributes(TopicArn="not-an-arn")
    assert error_of(exc) == ("InvalidParameter",
                             "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1", 400)
    with pytest.raises(ClientError) as exc:
        sns.publish(TopicArn=f"arn:aws:sns:{REGION}:111111111111:theirs", Message="x")
    code, message, status = error_of(exc)
    assert (code, status) == ("AuthorizationError", 403)
    assert message.startswith(f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: SNS:Publish on "
                              f"resource: arn:aws:sns:{REGION}:111111111111:theirs")


def test_list_topics_pages_of_100(endpoint: str) -> None:
    # A region of its own, so the topics other tests create do not interfere.
    sns = boto3.client("sns", endpoint_url=endpoint, region_name="eu-west-3", aws_access_key_id="test",
                       aws_secret_access_key="test")
    arns = [sns.create_topic(Name=f"page-{i:03d}")["TopicArn"] for i in range(105)]
    first = sns.list_topics()
    assert len(first["Topics"]) == 100 and "NextToken" in first
    second = sns.list_topics(NextToken=first["NextToken"])
    assert "NextToken" not in second
    assert [t["TopicArn"] for t in first["Topics"] + second["Topics"]] == arns
    with pytest.raises(ClientError) as exc:
        sns.list_topics(NextToken="garbage!")
    assert error_of(exc) == ("InvalidParameter", "Invalid parameter: NextToken", 400)
    for arn in arns:
        sns.delete_topic(TopicArn=arn)


def test_tags(sns: Any, topic: str) -> None:
    sns.tag_resource(ResourceArn=topic, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    sns.tag_resource(ResourceArn=topic, Tags=[{"Key": "a", "Value": "3"}])
    assert sns.list_tags_for_resource(ResourceArn=topic)["Tags"] == [{"Key": "a", "Value": "3"},
                                                                     {"Key": "b", "Value": "2"}]
    sns.untag_resource(ResourceArn=topic, TagKeys=["a"])
    assert sns.list_tags_for_resource(ResourceArn=topic)["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(ClientError) as exc:
        sns.tag_resource(ResourceArn=topic, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert error_of(exc) == ("TagLimitExceeded",
                             "Could not complete request: tag quota of per resource exceeded", 400)
    with pytest.raises(ClientError) as exc:
        sns.tag_resource(ResourceArn=topic, Tags=[{"Key": "d", "Value": "1"}, {"Key": "d", "Value": "2"}])
    assert error_of(exc) == ("InvalidParameter", "Invalid parameter: Duplicated keys are not allowed.", 400)
    with pytest.raises(ClientError) as exc:
        sns.list_tags_for_resource(ResourceArn=topic + "-gone")
    assert error_of(exc) == ("ResourceNotFound", "Resource does not exist", 404)


# -- subscriptions -----------------------------------------------------------------------------------------

LAMBDA_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:nobody"


def test_subscription_lifecycle_and_attributes(sns: Any, topic: str) -> None:
    policy = json.dumps({"store": ["example_corp"]})
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=LAMBDA_ARN,
                        Attributes={"FilterPolicy": policy})["SubscriptionArn"]
    assert re.fullmatch(re.escape(topic) + r":[0-9a-f-]{36}", sub)
    # Subscribing the same endpoint again answers the same subscription.
    assert sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=LAMBDA_ARN)["SubscriptionArn"] == sub
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs == {
        "Owner": ACCOUNT, "RawMessageDelivery": "false", "TopicArn": topic, "Endpoint": LAMBDA_ARN,
        "Protocol": "lambda", "PendingConfirmation": "false", "ConfirmationWasAuthenticated": "true",
        "SubscriptionArn": sub, "SubscriptionPrincipal": f"arn:aws:iam::{ACCOUNT}:root",
        "FilterPolicy": policy, "FilterPolicyScope": "MessageAttributes",
    }
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicyScope",
                                    AttributeValue="MessageBody")
    redrive = json.dumps({"deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"})
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RedrivePolicy", AttributeValue=redrive)
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["FilterPolicyScope"] == "MessageBody" and attrs["RedrivePolicy"] == redrive
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy", AttributeValue="")
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert "FilterPolicy" not in attrs and "FilterPolicyScope" not in attrs

    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert listed == [{"SubscriptionArn": sub, "Owner": ACCOUNT, "Protocol": "lambda", "Endpoint": LAMBDA_ARN,
                       "TopicArn": topic}]
    assert listed[0] in sns.list_subscriptions()["Subscriptions"]
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsConfirmed"] == "1"

    sns.unsubscribe(SubscriptionArn=sub)
    sns.unsubscribe(SubscriptionArn=sub)  # again: succeeds, as on AWS
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert (attrs["SubscriptionsConfirmed"], attrs["SubscriptionsDeleted"]) == ("0", "1")
    with pytest.raises(ClientError) as exc:
        sns.get_subscription_attributes(SubscriptionArn=sub)
    assert error_of(exc) == ("NotFound", "Subscription does not exist", 404)


def test_subscribe_errors(sns: Any, topic: str) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"Protocol": "http", "Endpoint": "http://example.com/hook"},
         "Invalid parameter: Endpoint Reason: Sluice delivers http(s) notifications only to loopback endpoints "
         "(127.0.0.0/8, ::1, localhost); it never sends traffic off this machine"),
        ({"Protocol": "https", "Endpoint": "https://10.0.0.1/"}, "Invalid parameter: Endpoint Reason: Sluice delivers"),
        ({"Protocol": "http", "Endpoint": "https://127.0.0.1/"},
         "Invalid parameter: Endpoint must match the specified protocol"),
        ({"Protocol": "carrier-pigeon", "Endpoint": "x"},
         "Invalid parameter: Amazon SNS does not support this protocol string: carrier-pigeon"),
        ({"Protocol": "email", "Endpoint": "a@example.com"}, "Invalid parameter: Protocol Reason: Sluice does not"),
        ({"Protocol": "sqs", "Endpoint": "my-queue"}, "Invalid parameter: SQS endpoint ARN"),
        ({"Protocol": "sqs", "Endpoint": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q.fifo"},
         "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard "
         "SNS topics"),
        ({"Protocol": "lambda", "Endpoint": LAMBDA_ARN, "Attributes": {"RawMessageDelivery": "true"}},
         "Invalid parameter: Attributes Reason: Delivery protocol [lambda] does not support raw message delivery."),
        ({"Protocol": "lambda", "Endpoint": LAMBDA_ARN, "Attributes": {"Bogus": "1"}},
         "Invalid parameter: Attributes Reason: AttributeName"),
        ({"Protocol": "lambda", "Endpoint": LAMBDA_ARN,
          "Attributes": {"FilterPolicy": json.dumps({"price": [{"numeric": ["<", "100"]}]})}},
         "Invalid parameter: Attributes Reason: FilterPolicy: Value of < must be numeric\n at ..."),
        ({"Protocol": "lambda", "Endpoint": LAMBDA_ARN, "Attributes": {"FilterPolicy": "{"}},
         "Invalid parameter: Attributes Reason: FilterPolicy: failed to parse JSON."),
        ({"Protocol": "lambda", "Endpoint": LAMBDA_ARN, "Attributes": {"FilterPolicyScope": "Everything"}},
         "Invalid parameter: Attributes Reason: FilterPolicyScope: Invalid value [Everything]. Please use either "
         "MessageBody or MessageAttributes"),
        ({"Protocol": "lambda", "Endpoint": LAMBDA_ARN, "Attributes": {"RedrivePolicy": "{}"}},
         "Invalid parameter: Attributes Reason: RedrivePolicy: deadLetterTargetArn is an invalid arn"),
        ({"Protocol": "lambda", "Endpoint": LAMBDA_ARN, "Attributes": {"DeliveryPolicy": "{}"}},
         "Invalid parameter: Attributes Reason: DeliveryPolicy: Delivery protocol [lambda] does not support "
         "delivery policies."),
    ]
    for params, message in cases:
        with pytest.raises(ClientError) as exc:
            sns.subscribe(TopicArn=topic, **params)
        code, got, status = error_of(exc)
        assert (code, status) == ("InvalidParameter", 400), params
        assert got.startswith(message), (params, got)
    with pytest.raises(ClientError) as exc:
        sns.subscribe(TopicArn=topic + "-gone", Protocol="lambda", Endpoint=LAMBDA_ARN)
    assert error_of(exc) == ("NotFound", "Topic does not exist", 404)
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=LAMBDA_ARN)["SubscriptionArn"]
    with pytest.raises(ClientError) as exc:
        sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=LAMBDA_ARN,
                      Attributes={"FilterPolicy": json.dumps({"a": ["b"]})})
    assert error_of(exc)[1] == ("Invalid parameter: Attributes Reason: Subscription already exists with different "
                                "attributes")
    with pytest.raises(ClientError) as exc:
        sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy",
                                        AttributeValue=json.dumps({"a": {"b": ["c"]}}))
    assert error_of(exc)[1] == ("Invalid parameter: Filter policy scope MessageAttributes does not support nested "
                                "filter policy")
    with pytest.raises(ClientError) as exc:
        sns.unsubscribe(SubscriptionArn="nope")
    assert error_of(exc) == ("InvalidParameter",
                             "Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, not 1",
                             400)


# -- publishing ----------------------------------------------------------------------------------------------

def test_publish_errors(sns: Any, topic: str) -> None:
    cases: list[tuple[dict[str, Any], tuple[str, str]]] = [
        ({"Message": ""}, ("InvalidParameter", "Invalid parameter: Empty message")),
        ({"Message": "x", "Subject": ""}, ("InvalidParameter", "Invalid parameter: Subject")),
        ({"Message": "x", "Subject": "two\nlines"}, ("InvalidParameter", "Invalid parameter: Subject")),
        ({"Message": "x" * 262_145}, ("InvalidParameter", "Invalid parameter: Message too long")),
        ({"Message": "x" * 262_000, "MessageAttributes": {"big": {"DataType": "String", "StringValue": "y" * 200}}},
         ("InvalidParameter", "Invalid parameter: Message too long")),
        ({"Message": "x", "MessageStructure": "json"},
         ("InvalidParameter", "Invalid parameter: Message Structure - JSON message body failed to parse")),
        ({"Message": json.dumps({"sqs": "only"}), "MessageStructure": "json"},
         ("InvalidParameter", "Invalid parameter: Message Structure - No default entry in JSON message body")),
        ({"Message": "x", "MessageDeduplicationId": "d"},
         ("InvalidParameter", "Invalid parameter: MessageDeduplicationId Reason: The request includes "
                              "MessageDeduplicationId parameter that is not valid for this topic type")),
        ({"Message": "x", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "abc"}}},
         ("ParameterValueInvalid", "Could not cast message attribute 'n' value to number.")),
        ({"Message": "x", "MessageAttributes": {"n": {"DataType": "Text", "StringValue": "abc"}}},
         ("ParameterValueInvalid", "The message attribute 'n' has an invalid message attribute type, the set of "
                                   "supported type prefixes is Binary, Number, and String.")),
        ({"Message": "x", "MessageAttributes": {"n": {"DataType": "Binary", "StringValue": "abc"}}},
         ("ParameterValueInvalid", "The message attribute 'n' with type 'Binary' must use field 'Binary'.")),
        ({"Message": "x", "MessageAttributes": {".n": {"DataType": "String", "StringValue": "abc"}}},
         ("ParameterValueInvalid", "Invalid message attribute name starting with character '.' was found.")),
    ]
    for params, expected in cases:
        with pytest.raises(ClientError) as exc:
            sns.publish(TopicArn=topic, **params)
        assert error_of(exc)[:2] == expected, params
    with pytest.raises(ClientError) as exc:
        sns.publish(TopicArn=topic + "-gone", Message="x")
    assert error_of(exc) == ("NotFound", "Topic does not exist", 404)
    # exactly 256 KiB is accepted; TargetArn works as TopicArn
    assert sns.publish(TopicArn=topic, Message="x" * 262_144)["MessageId"]
    assert set(sns.publish(TargetArn=topic, Message="x")) == {"MessageId", "ResponseMetadata"}


def test_publish_batch(sns: Any, topic: str) -> None:
    result = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "ok-1", "Message": "a"},
        {"Id": "bad", "Message": ""},
        {"Id": "ok-2", "Message": "b", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
    ])
    assert [e["Id"] for e in result["Successful"]] == ["ok-1", "ok-2"]
    assert all(set(e) == {"Id", "MessageId"} for e in result["Successful"])
    assert result["Failed"] == [{"Id": "bad", "Code": "InvalidParameter", "Message": "Invalid parameter: Empty message",
                                 "SenderFault": True}]
    cases: list[tuple[list[dict[str, Any]], tuple[str, str]]] = [
        ([], ("EmptyBatchRequest", "The batch request doesn't contain any entries.")),
        ([{"Id": str(i), "Message": "m"} for i in range(11)],
         ("TooManyEntriesInBatchRequest", "The batch request contains more entries than permissible.")),
        ([{"Id": "same", "Message": "m"}, {"Id": "same", "Message": "n"}],
         ("BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id.")),
        ([{"Id": "bad id!", "Message": "m"}],
         ("InvalidBatchEntryId", "The Id of a batch entry in a batch request doesn't abide by the specification.")),
        ([{"Id": str(i), "Message": "x" * 30_000} for i in range(10)],
         ("BatchRequestTooLong", "The length of all the messages put together is more than the limit.")),
    ]
    for entries, expected in cases:
        with pytest.raises(ClientError) as exc:
            sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
        assert error_of(exc)[:2] == expected


def test_fifo_topics(sns: Any) -> None:
    name = unique() + ".fifo"
    arn = sns.create_topic(Name=name, Attributes={"FifoTopic": "true"})["TopicArn"]
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["FifoTopic"] == "true" and attrs["ContentBasedDeduplication"] == "false"
    with pytest.raises(ClientError) as exc:
        sns.publish(TopicArn=arn, Message="m")
    assert error_of(exc)[1] == "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
    with pytest.raises(ClientError) as exc:
        sns.publish(TopicArn=arn, Message="m", MessageGroupId="g")
    assert error_of(exc)[1] == ("Invalid parameter: The topic should either have ContentBasedDeduplication enabled "
                                "or MessageDeduplicationId provided explicitly")
    first = sns.publish(TopicArn=arn, Message="m", MessageGroupId="g", MessageDeduplicationId="d1")
    again = sns.publish(TopicArn=arn, Message="other", MessageGroupId="g", MessageDeduplicationId="d1")
    assert again["MessageId"] == first["MessageId"]  # deduplicated within the 5-minute window
    second = sns.publish(TopicArn=arn, Message="m", MessageGroupId="g", MessageDeduplicationId="d2")
    assert len(first["SequenceNumber"]) == 20 and int(second["SequenceNumber"]) > int(first["SequenceNumber"])

    sns.set_topic_attributes(TopicArn=arn, AttributeName="ContentBasedDeduplication", AttributeValue="true")
    a = sns.publish(TopicArn=arn, Message="same body", MessageGroupId="g")
    b = sns.publish(TopicArn=arn, Message="same body", MessageGroupId="other-group")
    assert a["MessageId"] == b["MessageId"]
    batch = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "1", "Message": "x1", "MessageGroupId": "g"}, {"Id": "2", "Message": "x2", "MessageGroupId": "g"}])
    assert all("SequenceNumber" in e for e in batch["Successful"])
    with pytest.raises(ClientError) as exc:
        sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint=LAMBDA_ARN)
    assert error_of(exc)[1] == "Invalid parameter: Invalid protocol type: lambda"
    with pytest.raises(ClientError) as exc:
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:q.fifo",
                      Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn":
                                                               f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"})})
    assert error_of(exc)[1] == ("Invalid parameter: Attributes Reason: RedrivePolicy: must use a FIFO queue as DLQ "
                                "for a FIFO Subscription to a FIFO Topic.")


def test_aws_cli(aws_cli: AwsCli) -> None:
    name = unique("cli")
    arn = json.loads(aws_cli("sns", "create-topic", "--name", name).stdout)["TopicArn"]
    assert arn == f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
    calls = [
        ("sns", "publish", "--topic-arn", arn, "--message", "hello", "--subject", "hi",
         "--message-attributes", '{"k": {"DataType": "String", "StringValue": "v"}}'),
        ("sns", "list-topics"),
        ("sns", "get-topic-attributes", "--topic-arn", arn + "-gone"),
    ]
    with ThreadPoolExecutor(len(calls)) as pool:  # the CLI's start-up dominates: run them side by side
        published, listed, failed = pool.map(lambda a: aws_cli(*a, check=False), calls)
    assert set(json.loads(published.stdout)) == {"MessageId"}
    assert {"TopicArn": arn} in json.loads(listed.stdout)["Topics"]
    assert failed.returncode != 0 and "(NotFound)" in failed.stderr and "Topic does not exist" in failed.stderr


# -- http(s) endpoints on loopback -------------------------------------------------------------------------

class Endpoint:
    """A tiny http.server on 127.0.0.1 recording what SNS POSTs; answers `statuses` in turn, then 200."""

    def __init__(self, port: int = 0) -> None:
        self.requests: queue.Queue[tuple[str, dict[str, str], bytes]] = queue.Queue()
        self.statuses: deque[int] = deque()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.put((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status = outer.statuses.popleft() if outer.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def next(self, timeout: float = 15.0) -> tuple[str, dict[str, str], dict[str, Any] | bytes]:
        path, headers, body = self.requests.get(timeout=timeout)
        try:
            return path, headers, json.loads(body)
        except ValueError:
            return path, headers, body

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Endpoint]:
    server = Endpoint()
    yield server
    server.close()


def subscribe_http(sns: Any, topic: str, hook: Endpoint, **attributes: str) -> tuple[str, dict[str, Any]]:
    sub = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=hook.url(), Attributes=attributes,
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    path, headers, confirmation = hook.next()
    assert isinstance(confirmation, dict)
    return sub, confirmation


def test_http_subscription_handshake_and_notification(sns: Any, topic: str, hook: Endpoint, endpoint: str) -> None:
    assert sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=hook.url())["SubscriptionArn"] == \
        "pending confirmation"
    path, headers, confirmation = hook.next()
    assert path == "/hook" and isinstance(confirmation, dict)
    assert list(confirmation) == ["Type", "MessageId", "Token", "TopicArn", "Message", "SubscribeURL", "Timestamp",
                                  "SignatureVersion", "Signature", "SigningCertURL"]
    assert confirmation["Type"] == "SubscriptionConfirmation" and confirmation["TopicArn"] == topic
    assert confirmation["Message"] == (f"You have chosen to subscribe to the topic {topic}.\nTo confirm the "
                                       "subscription, visit the SubscribeURL included in this message.")
    assert confirmation["SubscribeURL"].startswith(endpoint)
    assert "Action=ConfirmSubscription" in confirmation["SubscribeURL"]
    assert f"TopicArn={topic}&Token={confirmation['Token']}" in confirmation["SubscribeURL"]
    assert TIMESTAMP.match(confirmation["Timestamp"]) and confirmation["SignatureVersion"] == "1"
    assert len(base64.b64decode(confirmation["Signature"])) == 256
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert headers["x-amz-sns-message-id"] == confirmation["MessageId"]
    assert headers["x-amz-sns-topic-arn"] == topic
    assert "x-amz-sns-subscription-arn" not in headers
    assert headers["content-type"] == "text/plain; charset=UTF-8"
    assert headers["user-agent"] == "Amazon Simple Notification Service Agent"

    [pending] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert pending["SubscriptionArn"] == "PendingConfirmation"
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsPending"] == "1"
    sns.publish(TopicArn=topic, Message="not yet")  # a pending subscription receives nothing

    with urllib.request.urlopen(confirmation["SubscribeURL"], timeout=10) as r:  # visiting the SubscribeURL
        xml = r.read().decode()
    found = re.search(r"<SubscriptionArn>(.*)</SubscriptionArn>", xml)
    assert found is not None
    sub = found.group(1)
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["PendingConfirmation"] == "false" and attrs["ConfirmationWasAuthenticated"] == "false"
    assert json.loads(attrs["EffectiveDeliveryPolicy"])["healthyRetryPolicy"]["numRetries"] == 3

    published = sns.publish(TopicArn=topic, Message="hello", Subject="greeting", MessageAttributes={
        "color": {"DataType": "String", "StringValue": "blue"},
        "size": {"DataType": "Number", "StringValue": "3"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        "tags": {"DataType": "String.Array", "StringValue": '["a", "b"]'}})
    path, headers, note = hook.next()
    assert isinstance(note, dict)
    assert list(note) == NOTIFICATION_KEYS
    assert note["MessageId"] == published["MessageId"] and note["Message"] == "hello"
    assert note["Subject"] == "greeting" and note["TopicArn"] == topic
    assert note["MessageAttributes"] == {"color": {"Type": "String", "Value": "blue"},
                                         "size": {"Type": "Number", "Value": "3"},
                                         "blob": {"Type": "Binary", "Value": "AAE="},
                                         "tags": {"Type": "String.Array", "Value": '["a", "b"]'}}
    assert note["UnsubscribeURL"].endswith(f"Action=Unsubscribe&SubscriptionArn={sub}")
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-subscription-arn"] == sub and headers["x-amz-sns-message-id"] == note["MessageId"]

    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RawMessageDelivery", AttributeValue="true")
    sns.publish(TopicArn=topic, Message="raw body")
    path, headers, raw = hook.next()
    assert raw == b"raw body" and headers["x-amz-sns-rawdelivery"] == "true"

    with urllib.request.urlopen(note["UnsubscribeURL"], timeout=10) as r:  # visiting the UnsubscribeURL
        assert r.status == 200
    path, headers, bye = hook.next()
    assert isinstance(bye, dict) and bye["Type"] == "UnsubscribeConfirmation"
    assert headers["x-amz-sns-subscription-arn"] == sub
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


def test_http_confirm_by_api_and_bad_token(sns: Any, topic: str, hook: Endpoint) -> None:
    sub, confirmation = subscribe_http(sns, topic, hook)
    with pytest.raises(ClientError) as exc:
        sns.confirm_subscription(TopicArn=topic, Token="0" * 64)
    assert error_of(exc) == ("InvalidParameter", "Invalid parameter: Token", 400)
    assert sns.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])["SubscriptionArn"] == sub
    assert sns.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])["SubscriptionArn"] == sub
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["PendingConfirmation"] == "false" and attrs["ConfirmationWasAuthenticated"] == "true"


def test_http_retries_server_errors_and_not_client_errors(sns: Any, topic: str, hook: Endpoint) -> None:
    policy = json.dumps({"healthyRetryPolicy": {"numRetries": 3, "numNoDelayRetries": 2, "minDelayTarget": 1,
                                                "maxDelayTarget": 1}})
    sub, confirmation = subscribe_http(sns, topic, hook, DeliveryPolicy=policy)
    sns.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])
    assert json.loads(sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
                      ["EffectiveDeliveryPolicy"])["healthyRetryPolicy"]["numNoDelayRetries"] == 2

    hook.statuses.extend([500, 503, 502])  # the third retry (after 1 s) succeeds
    first = sns.publish(TopicArn=topic, Message="retry me")["MessageId"]
    # (the delays themselves are proved on a manual clock in test_sns_engine.py)
    seen = [hook.next()[1]["x-amz-sns-message-id"] for _ in range(4)]
    assert seen == [first] * 4

    hook.statuses.append(404)  # a 4xx is a permanent failure: no retry
    sns.publish(TopicArn=topic, Message="gone")
    lost = hook.next()[1]["x-amz-sns-message-id"]
    after = sns.publish(TopicArn=topic, Message="next")["MessageId"]
    assert hook.next()[1]["x-amz-sns-message-id"] == after != lost


# -- Lambda ------------------------------------------------------------------------------------------------

RECORDING_HANDLER = """
import json, os

def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
"""


def test_lambda_receives_the_sns_event(sns: Any, endpoint: str, tmp_path: Path) -> None:
    lam = make_client("lambda", endpoint)
    out = tmp_path / "events.jsonl"
    name = create(lam, RECORDING_HANDLER, Environment={"Variables": {"OUT": str(out)}})
    fn_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    topic = sns.create_topic(Name=unique())["TopicArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn_arn,
                        Attributes={"FilterPolicy": json.dumps({"kind": ["wanted"]})})["SubscriptionArn"]
    sns.publish(TopicArn=topic, Message="filtered out", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "unwanted"}})
    published = sns.publish(TopicArn=topic, Message="hello lambda", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "wanted"},
        "n": {"DataType": "Number", "StringValue": "7"}})
    no_subject = sns.publish(TopicArn=topic, Subject="s", Message=json.dumps({"default": "d", "lambda": "for lambda"}),
                             MessageStructure="json", MessageAttributes={
                                 "kind": {"DataType": "String", "StringValue": "wanted"}})

    lines = wait_for(lambda: out.exists() and len(out.read_text().splitlines()) >= 2 and out.read_text().splitlines(),
                     timeout=30)
    events = sorted((json.loads(line) for line in lines), key=lambda e: e["Records"][0]["Sns"]["Message"])
    event = events[1]
    assert list(event) == ["Records"] and len(event["Records"]) == 1
    record = event["Records"][0]
    assert list(record) == ["EventSource", "EventVersion", "EventSubscriptionArn", "Sns"]
    assert (record["EventSource"], record["EventVersion"], record["EventSubscriptionArn"]) == ("aws:sns", "1.0", sub)
    msg = record["Sns"]
    assert list(msg) == ["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
                         "Signature", "SigningCertUrl", "UnsubscribeUrl", "MessageAttributes"]
    assert msg["Type"] == "Notification" and msg["MessageId"] == published["MessageId"]
    assert msg["Subject"] is None and msg["Message"] == "hello lambda" and msg["TopicArn"] == topic
    assert TIMESTAMP.match(msg["Timestamp"])
    assert msg["UnsubscribeUrl"].endswith(f"?Action=Unsubscribe&SubscriptionArn={sub}")
    assert msg["MessageAttributes"] == {"kind": {"Type": "String", "Value": "wanted"},
                                        "n": {"Type": "Number", "Value": "7"}}
    structured = events[0]["Records"][0]["Sns"]
    assert structured["Message"] == "for lambda" and structured["Subject"] == "s"
    assert structured["MessageId"] == no_subject["MessageId"]
    assert len(lines) == 2  # that the filtered-out one never arrives: test_sns_engine.py, on a manual clock


# -- SQS --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sqs(endpoint: str) -> Any:
    return make_client("sqs", endpoint)


def make_queue(sqs: Any, name: str, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive(sqs: Any, url: str, count: int = 1, timeout: float = 15) -> list[dict[str, Any]]:
    """Receive and delete (a FIFO queue hands out no more of a group while some are in flight)."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                   MessageAttributeNames=["All"], AttributeNames=["All"])
        for m in resp.get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            got.append(m)
    assert len(got) >= count, [(m["Body"], m["Attributes"].get("SequenceNumber")) for m in got]
    return got


def test_sqs_envelope_and_raw_delivery(sns: Any, sqs: Any, topic: str) -> None:
    url, queue_arn = make_queue(sqs, unique("q"))
    raw_url, raw_arn = make_queue(sqs, unique("raw"))
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw_arn, Attributes={"RawMessageDelivery": "true"})
    published = sns.publish(TopicArn=topic, Message="hello queue", Subject="subj", MessageAttributes={
        "color": {"DataType": "String", "StringValue": "blue"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\xff"}})

    [message] = receive(sqs, url)
    body = json.loads(message["Body"])
    assert list(body) == NOTIFICATION_KEYS
    assert message["Body"].startswith('{\n  "Type" : "Notification",\n  "MessageId" : ')
    assert body["Type"] == "Notification" and body["MessageId"] == published["MessageId"]
    assert (body["TopicArn"], body["Subject"], body["Message"]) == (topic, "subj", "hello queue")
    assert TIMESTAMP.match(body["Timestamp"]) and body["SignatureVersion"] == "1"
    assert body["SigningCertURL"].endswith(".pem")
    assert body["UnsubscribeURL"].endswith(f"?Action=Unsubscribe&SubscriptionArn={sub}")
    assert body["MessageAttributes"] == {"color": {"Type": "String", "Value": "blue"},
                                         "blob": {"Type": "Binary", "Value": "/w=="}}
    assert "MessageAttributes" not in message  # the envelope carries them, not SQS

    [raw] = receive(sqs, raw_url)
    assert raw["Body"] == "hello queue"
    assert raw["MessageAttributes"]["color"] == {"StringValue": "blue", "DataType": "String"}
    assert raw["MessageAttributes"]["blob"] == {"BinaryValue": b"\xff", "DataType": "Binary"}

    sns.publish(TopicArn=topic, Message="no subject")
    body = json.loads(receive(sqs, url)[0]["Body"])
    assert "Subject" not in body and "MessageAttributes" not in body


def test_sqs_filter_policy_on_body(sns: Any, sqs: Any, topic: str) -> None:
    url, queue_arn = make_queue(sqs, unique("q"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={
        "FilterPolicyScope": "MessageBody", "FilterPolicy": json.dumps({"order": {"total": [{"numeric": [">", 100]}]}}),
        "RawMessageDelivery": "true"})
    for total in (50, 150, 99.5, 100.01):
        sns.publish(TopicArn=topic, Message=json.dumps({"order": {"total": total}}))
    got = sorted(json.loads(m["Body"])["order"]["total"] for m in receive(sqs, url, count=2))
    assert got == [100.01, 150]


def test_sqs_fifo_order_and_dead_letter_queue(sns: Any, sqs: Any) -> None:
    topic = sns.create_topic(Name=unique() + ".fifo", Attributes={"FifoTopic": "true",
                                                                  "ContentBasedDeduplication": "true"})["TopicArn"]
    url, queue_arn = make_queue(sqs, unique("q") + ".fifo", FifoQueue="true")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    enveloped_url, enveloped_arn = make_queue(sqs, unique("e") + ".fifo", FifoQueue="true")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=enveloped_arn)
    sequence = [sns.publish(TopicArn=topic, Message=f"m{i}", MessageGroupId="g")["SequenceNumber"] for i in range(10)]
    got = [m["Body"] for m in receive(sqs, url, count=10)]
    assert got == [f"m{i}" for i in range(10)]
    first = receive(sqs, enveloped_url)[0]
    body = json.loads(first["Body"])  # FIFO topics: a SequenceNumber, no signature
    assert list(body) == ["Type", "MessageId", "SequenceNumber", "TopicArn", "Message", "Timestamp", "UnsubscribeURL"]
    assert (body["Message"], body["SequenceNumber"]) == ("m0", sequence[0])
    assert first["Attributes"]["MessageGroupId"] == "g"

    # A subscription whose endpoint is gone: client-side error, no retries, straight to its DLQ.
    standard = sns.create_topic(Name=unique())["TopicArn"]
    dlq_url, dlq_arn = make_queue(sqs, unique("dlq"))
    sns.subscribe(TopicArn=standard, Protocol="lambda", Endpoint=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:gone",
                  Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})
    published = sns.publish(TopicArn=standard, Message="undeliverable")
    [dead] = receive(sqs, dlq_url)
    assert json.loads(dead["Body"])["MessageId"] == published["MessageId"]
    assert set(dead["MessageAttributes"]) >= {"ErrorCode", "ErrorMessage", "RequestID"}


# -- durability --------------------------------------------------------------------------------------------

def test_pending_deliveries_survive_sigkill(tmp_path: Path) -> None:
    port = free_port()
    server = SluiceProcess(tmp_path / "data").start()
    hook = Endpoint(port)
    try:
        sns = make_client("sns", server.endpoint)
        topic = sns.create_topic(Name="durable")["TopicArn"]
        policy = json.dumps({"healthyRetryPolicy": {"numRetries": 20, "minDelayTarget": 1, "maxDelayTarget": 1}})
        sub, confirmation = subscribe_http(sns, topic, hook, DeliveryPolicy=policy)
        sns.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])
        hook.close()  # the endpoint goes away: deliveries fail and wait in the outbox
        ids = [sns.publish(TopicArn=topic, Message=f"m{i}")["MessageId"] for i in range(5)]
        server.kill()  # SIGKILL right after the 200s

        hook = Endpoint(port)
        server = SluiceProcess(tmp_path / "data", port=server.port).start()
        seen: set[str] = set()
        deadline = time.monotonic() + 20
        while not set(ids) <= seen and time.monotonic() < deadline:
            _path, headers, _body = hook.next(timeout=20)
            seen.add(headers["x-amz-sns-message-id"])
        assert set(ids) <= seen
    finally:
        hook.close()
        server.stop()


# -- SNS as a delivery target (in process) -----------------------------------------------------------------

class Recording:
    """A stand-in delivery target for `lambda` ARNs."""

    def __init__(self) -> None:
        self.got: list[tuple[str, Delivery]] = []

    def deliver(self, arn: str, delivery: Delivery) -> DeliveryResult:
        self.got.append((arn, delivery))
        return DeliveryResult(True, "id")


def test_deliver_publishes_to_the_topic(tmp_path: Path) -> None:
    store = Store(tmp_path / "data", SCHEMA)
    clock = ManualClock()
    deliveries = Deliveries()
    target = Recording()
    deliveries.register("lambda", target)
    service = SnsService(store, clock, Settings(data_dir=tmp_path / "data"), deliveries,
                         send_http=post_notification, queued=lambda: dispatcher.notify())
    deliveries.register("sns", service)
    # The engine's dispatcher over the service's outbox, as the server builds it.
    dispatcher: OutboxDispatcher[Pending] = OutboxDispatcher(
        "sns-deliveries", clock, service.outbox, service.deliverer.deliver, key=lambda row: row.id,
        group=lambda row: row.fifo_key, concurrency=4)
    ctx = RequestContext("r", "h", ACCOUNT, REGION, "sns")

    async def main() -> None:
        await dispatcher.start()
        try:
            await deliver_and_check()
        finally:
            await dispatcher.stop(1.0)

    async def deliver_and_check() -> None:
        arn = service.topics.create_topic(ctx, Name="dlq-topic")["TopicArn"]
        fifo = service.topics.create_topic(ctx, Name="f.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
        sub = service.subscriptions.subscribe(ctx, TopicArn=arn, Protocol="lambda", Endpoint=LAMBDA_ARN)[
            "SubscriptionArn"]
        result = deliveries.deliver(arn, Delivery(body='{"failed": true}', subject="from lambda", attributes={
            "kind": MessageAttribute("String", "destination")}))
        assert result.ok and result.message_id
        await clock.run_until_idle()  # the dispatcher delivers it in the background
        assert service.outbox.counts() == (0, 0)
        [(endpoint, delivery)] = target.got
        assert endpoint == LAMBDA_ARN and delivery.source_arn == arn and delivery.principal == "sns.amazonaws.com"
        record = json.loads(delivery.body)["Records"][0]
        assert record["EventSubscriptionArn"] == sub
        assert (record["Sns"]["MessageId"], record["Sns"]["Message"], record["Sns"]["Subject"]) == \
            (result.message_id, '{"failed": true}', "from lambda")
        assert record["Sns"]["MessageAttributes"] == {"kind": {"Type": "String", "Value": "destination"}}

        missing = deliveries.deliver(arn + "-gone", Delivery(body="x"))
        assert (missing.ok, missing.error) == (False, NOT_FOUND)
        too_big = deliveries.deliver(arn, Delivery(body="x" * 262_145))
        assert (too_big.ok, too_big.error) == (False, TOO_LARGE)
        assert deliveries.deliver(fifo, Delivery(body="x", allow_fifo=False)).error == FIFO_NOT_ALLOWED
        assert deliveries.deliver(fifo, Delivery(body="x", group_id="g", deduplication_id="d")).ok

    try:
        asyncio.run(main())
    finally:
        store.close()
