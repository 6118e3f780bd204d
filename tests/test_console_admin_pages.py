"""The console's IAM, SNS, EventBridge and alarm pages (issue 17), over HTTP as a browser's
requests, checked through boto3; and, under --enforce-iam, what a signed-in identity without
the permission sees: AccessDenied as AWS shows it, and nothing changed."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from html import unescape
from typing import Any

import pytest

from sluice.testing.client import SluiceTesting

from .conftest import make_client, wait_for
from .console_helpers import PREFIX, ConsoleClient, error_code, error_message
from .console_stream import first_event as _sse_first
from .lambda_helpers import zip_code
from .server import SluiceProcess

S3_READ = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def console(endpoint: str) -> ConsoleClient:
    client = ConsoleClient(endpoint)
    assert client.get("iam").status == 200  # a page of this server: its CSRF token
    return client


# -- IAM ----------------------------------------------------------------------------------------------


def test_a_role_made_and_its_s3_policy_detached_and_attached_again(console: ConsoleClient, endpoint: str) -> None:
    iam = make_client("iam", endpoint)
    role = _name("S3EventProcessorRole")
    made = console.post("iam/roles", [("name", role), ("service", "lambda.amazonaws.com"),
                                      ("policy_arn", BASIC), ("policy_arn", S3_READ)], htmx=False)
    assert made.status == 303 and made.header("location") == f"{PREFIX}/iam/roles/{role}"
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
    assert attached == {BASIC, S3_READ}
    page = console.get(f"iam/roles/{role}")
    assert 'data-policy="AmazonS3ReadOnlyAccess"' in page.text and "Detach AmazonS3ReadOnlyAccess" in page.text

    # The exercise's failure test: remove the function's S3 permission, then give it back.
    detached = console.post(f"iam/roles/{role}/detach", {"policy_arn": S3_READ})
    assert detached.status == 200 and f"Detached {S3_READ}." in detached.text
    assert 'data-policy="AmazonS3ReadOnlyAccess"' not in detached.text
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]] == [BASIC]
    again = console.post(f"iam/roles/{role}/attach", {"policy_arn": S3_READ})
    assert 'data-policy="AmazonS3ReadOnlyAccess"' in again.text
    assert S3_READ in {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}

    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage",
                                                        "Resource": "*"}]}
    inline = console.post(f"iam/roles/{role}/inline", {"policy_name": "dlq", "document": json.dumps(document)})
    assert 'data-policy="dlq"' in inline.text and "sqs:SendMessage" in unescape(inline.text)
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["dlq"]
    bad = console.post(f"iam/roles/{role}/inline", {"policy_name": "bad", "document": "{not json"})
    assert bad.status == 400 and error_code(bad) == "MalformedPolicyDocument"
    gone = console.post(f"iam/roles/{role}/detach", {"policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"})
    assert gone.status == 404 and error_code(gone) == "NoSuchEntity"
    listed = console.get("iam")
    assert f'href="{PREFIX}/iam/roles/{role}"' in listed.text


def test_a_user_and_its_access_keys(console: ConsoleClient, endpoint: str) -> None:
    iam = make_client("iam", endpoint)
    user = _name("dev")
    made = console.post("iam/users", {"name": user}, htmx=False)
    assert made.status == 303
    created = console.post(f"iam/users/{user}/keys")
    key = re.search(r'id="new-access-key">([A-Z0-9]+)<', created.text)
    secret = re.search(r'id="new-secret-key">([^<]+)<', created.text)
    assert key is not None and secret is not None
    keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in keys] == [(key.group(1), "Active")]
    page = console.get(f"iam/users/{user}")
    assert secret.group(1) not in page.text  # shown once, when it was made
    off = console.post(f"iam/users/{user}/keys/status", {"access_key_id": key.group(1), "status": "Inactive"})
    assert f"{key.group(1)} is Inactive." in off.text
    assert iam.list_access_keys(UserName=user)["AccessKeyMetadata"][0]["Status"] == "Inactive"
    attached = console.post(f"iam/users/{user}/attach", {"policy_arn": S3_READ})
    assert 'data-policy="AmazonS3ReadOnlyAccess"' in attached.text
    deleted = console.post(f"iam/users/{user}/keys/delete", {"access_key_id": key.group(1)})
    assert "No access keys." in deleted.text and iam.list_access_keys(UserName=user)["AccessKeyMetadata"] == []
    missing = console.get("iam/users/nobody-here")
    assert missing.status == 404 and error_code(missing) == "NoSuchEntity"


# -- SNS, EventBridge, alarms ---------------------------------------------------------------------------


def test_a_topic_subscribed_to_by_a_queue_and_published_to(console: ConsoleClient, endpoint: str) -> None:
    sqs = make_client("sqs", endpoint)
    topic, queue = _name("alerts"), _name("alert-inbox")
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    made = console.post("topics", {"name": topic}, htmx=False)
    assert made.status == 303
    subscribed = console.post(f"topics/{topic}/subscribe", {"protocol": "sqs", "endpoint": queue_arn})
    assert "Subscribed: arn:aws:sns:" in subscribed.text and queue_arn in subscribed.text
    published = console.post(f"topics/{topic}/publish", {"subject": "hi", "message": "from the console"})
    assert "Message published: " in published.text
    got = wait_for(lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"))
    assert got and json.loads(got[0]["Body"])["Message"] == "from the console"
    listed = console.get("topics")
    assert f'data-topic="{topic}"' in listed.text
    arn = re.search(r'name="subscription_arn" value="([^"]+)"', console.get(f"topics/{topic}").text)
    assert arn is not None
    gone = console.post(f"topics/{topic}/unsubscribe", {"subscription_arn": arn.group(1)})
    assert "No subscriptions." in gone.text
    bad = console.post(f"topics/{topic}/subscribe", {"protocol": "carrier-pigeon", "endpoint": "x"})
    assert bad.status == 400 and error_code(bad) == "InvalidParameter"
    assert console.post(f"topics/{topic}/delete", htmx=False).status == 303
    assert topic not in json.dumps(make_client("sns", endpoint).list_topics())


def test_a_rule_shown_disabled_and_a_test_event_sent(console: ConsoleClient, endpoint: str) -> None:
    events = make_client("events", endpoint)
    rule = _name("orders")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "t1", "Arn": "arn:aws:sqs:us-east-1:000000000000:nowhere"}])
    buses = console.get("events")
    assert 'data-bus="default"' in buses.text
    bus = console.get("events/buses/default")
    assert f'data-rule="{rule}"' in bus.text
    page = console.get(f"events/buses/default/rules/{rule}")
    assert 'id="rule-state">ENABLED<' in page.text and "arn:aws:sqs:us-east-1:000000000000:nowhere" in page.text
    assert console.post(f"events/buses/default/rules/{rule}/state", {"state": "DISABLED"}).status == 200  # HX-Redirect
    assert events.describe_rule(Name=rule)["State"] == "DISABLED"
    sent = console.post("events/buses/default/put", {"source": "shop", "detail_type": "order", "detail": "{}"})
    assert "Event sent: " in sent.text
    refused = console.post("events/buses/default/put", {"source": "shop", "detail_type": "order", "detail": "[oops"})
    assert 'class="error"' in refused.text and "MalformedDetail" in refused.text
    assert console.post(f"events/buses/default/rules/{rule}/delete", {"force": "1"}).status == 200
    assert rule not in [r["Name"] for r in events.list_rules()["Rules"]]


def test_an_alarm_with_its_state_and_history(console: ConsoleClient, endpoint: str) -> None:
    cw = make_client("cloudwatch", endpoint)
    alarm = _name("errors")
    cw.put_metric_alarm(AlarmName=alarm, Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum", Period=60,
                        EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold",
                        Dimensions=[{"Name": "FunctionName", "Value": "f"}])
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="seen in a test")
    listed = console.get("metrics/alarms?state=ALARM")
    assert f'data-alarm="{alarm}"' in listed.text
    page = console.get(f"metrics/alarms/{alarm}")
    assert 'id="alarm-state">ALARM<' in page.text and "seen in a test" in page.text
    assert "StateUpdate" in page.text and "from INSUFFICIENT_DATA to ALARM" in page.text
    assert f'data-alarm="{alarm}"' not in console.get("metrics/alarms?state=OK").text
    cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="back to normal")
    live = _sse_first(endpoint, f"{PREFIX}/metrics/alarms/live?state=OK", "alarms")
    assert re.search(rf'data-alarm="{alarm}">.*?class="state-OK">OK<', live, re.S)


# -- under --enforce-iam ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def enforced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    proc = SluiceProcess(tmp_path_factory.mktemp("console-pages-iam") / "data", "--enforce-iam").start()
    yield proc
    proc.stop()


def _signed_in(endpoint: str, policies: list[str]) -> tuple[ConsoleClient, dict[str, Any]]:
    iam = make_client("iam", endpoint)
    user = _name("viewer")
    iam.create_user(UserName=user)
    for arn in policies:
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
    key: dict[str, Any] = iam.create_access_key(UserName=user)["AccessKey"]
    console = ConsoleClient(endpoint)
    console.get("sign-in")
    signed = console.post("sign-in", {"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"],
                                      "next": f"{PREFIX}/queues"}, htmx=False)
    assert signed.status == 303
    return console, key


def test_without_permission_the_pages_show_access_denied_and_change_nothing(enforced: SluiceProcess) -> None:
    sqs, iam = make_client("sqs", enforced.endpoint), make_client("iam", enforced.endpoint)
    queue = _name("secret-dlq")
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="private body")
    role = _name("fn-role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    iam.attach_role_policy(RoleName=role, PolicyArn=S3_READ)

    # SQS read-only: the queue's attributes, but not its messages (no sqs:ReceiveMessage): the peek
    # is refused as ReceiveMessage would be, the body never shown.
    reader, _ = _signed_in(enforced.endpoint, ["arn:aws:iam::aws:policy/AmazonSQSReadOnlyAccess"])
    page = reader.get(f"queues/{queue}")
    assert page.status == 200 and "(1 available," in page.text
    assert error_code(page) == "AccessDenied" and "sqs:receivemessage" in error_message(page).lower()
    assert "private body" not in page.text
    nobody, _ = _signed_in(enforced.endpoint, [])
    denied = nobody.get(f"queues/{queue}")
    assert denied.status == 403 and error_code(denied) == "AccessDenied" and "private body" not in denied.text
    purge = nobody.post(f"queues/{queue}/purge")
    assert purge.status == 403 and error_code(purge) == "AccessDenied"
    detach = nobody.post(f"iam/roles/{role}/detach", {"policy_arn": S3_READ})
    assert detach.status == 403 and error_code(detach) == "AccessDenied"
    assert "iam:detachrolepolicy" in error_message(detach).lower()
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]] == [S3_READ]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "1"


def test_a_redrive_the_identity_may_not_invoke_leaves_every_message_visible(enforced: SluiceProcess) -> None:
    sqs, iam, lam = (make_client(s, enforced.endpoint) for s in ("sqs", "iam", "lambda"))
    role = _name("redrive-fn-role")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    function = _name("redrive-fn")
    lam.create_function(FunctionName=function, Runtime="python3.12", Role=role_arn, Handler="handler.handler",
                        Code={"ZipFile": zip_code("def handler(e, c):\n    return 1\n")})
    dlq = _name("redrive-dlq")
    url = sqs.create_queue(QueueName=dlq)["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"i": i}))
    # May work the queue and read the function, not invoke it: the redrive's first send is refused.
    console, key = _signed_in(enforced.endpoint, [])
    user = key["UserName"]
    iam.put_user_policy(UserName=user, PolicyName="operator", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
            "sqs:*", "lambda:GetFunctionConfiguration", "lambda:GetFunction", "lambda:ListFunctions"]}]}))
    page = console.get(f"queues/{dlq}")
    assert page.status == 200 and f'value="function:{function}"' in page.text
    refused = console.post(f"queues/{dlq}/redrive", {"target": f"function:{function}"})
    assert refused.status == 200 and "0 of 1 message(s) redriven" in refused.text
    assert "not redriven (left in the queue): AccessDenied" in unescape(refused.text)
    assert "lambda:invokefunction" in unescape(refused.text).lower()
    # Nothing lost and nothing hidden: all three are there to receive at once.
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    assert sorted(json.loads(m["Body"])["i"] for m in got["Messages"]) == [0, 1, 2]
    # The journey of an event of that function: Sluice's record, but the attempt's log lines only
    # for who may read the function's log group.
    request_id = lam.invoke(FunctionName=function, InvocationType="Event", Payload=b"{}")[
        "ResponseMetadata"]["RequestId"]
    assert SluiceTesting(enforced.endpoint).wait_outcome(request_id).status == "Success"
    journey = console.get(f"journeys/trace?target={request_id}")
    assert journey.status == 200 and 'data-attempt="1"' in journey.text
    assert "log lines not shown: AccessDenied" in journey.text and "START RequestId" not in journey.text
    shown = ConsoleClient(enforced.endpoint)
    shown.get("sign-in")
    shown.post("sign-in", {"access_key": "test", "secret_key": "test"}, htmx=False)  # the root
    assert "START RequestId" in shown.get(f"journeys/trace?target={request_id}").text
