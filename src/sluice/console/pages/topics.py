"""SNS pages: topics (create, delete), a topic's subscriptions (subscribe, unsubscribe) and
publishing a message to it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...protocol.http import HttpResponse
from ..request import ConsoleRequest

if TYPE_CHECKING:
    from ..app import Console
    from ..router import Router

PROTOCOLS = ("sqs", "lambda", "http", "https", "email", "email-json", "sms", "application", "firehose")


def register(router: Router, console: Console) -> None:
    router.get("/topics", topics_index)
    router.post("/topics", topic_create)
    router.get("/topics/{topic}", topic_page)
    router.post("/topics/{topic}/subscribe", topic_subscribe)
    router.post("/topics/{topic}/unsubscribe", topic_unsubscribe)
    router.post("/topics/{topic}/publish", topic_publish)
    router.post("/topics/{topic}/delete", topic_delete)


def _arn(r: ConsoleRequest, name: str) -> str:
    settings = r.console.settings
    return f"arn:aws:sns:{settings.region}:{settings.account_id}:{name}"


async def _all_topics(r: ConsoleRequest) -> tuple[list[str], Any]:
    topics, error = await r.attempt_all("sns", "ListTopics", "Topics")
    return [t["TopicArn"] for t in topics], error


async def topics_index(r: ConsoleRequest) -> HttpResponse:
    arns, error = await _all_topics(r)
    topics = []
    for arn in arns:
        found, _ = await r.attempt("sns", "GetTopicAttributes", TopicArn=arn)
        attrs = found.get("Attributes", {})
        topics.append({"name": arn.rsplit(":", 1)[-1], "arn": arn,
                       "confirmed": attrs.get("SubscriptionsConfirmed", "?"),
                       "pending": attrs.get("SubscriptionsPending", "?"),
                       "fifo": attrs.get("FifoTopic") == "true"})
    return r.render("topics/index.html", area_nav="topics_index", topics=topics, error=error)


async def topic_create(r: ConsoleRequest) -> HttpResponse:
    name = r.field("name").strip()
    attributes = {"FifoTopic": "true"} if name.endswith(".fifo") else {}
    await r.call("sns", "CreateTopic", Name=name, Attributes=attributes)
    return r.redirect(r.url("topic_page", topic=name))


async def _topic(r: ConsoleRequest, name: str) -> dict[str, Any]:
    arn = _arn(r, name)
    attrs = (await r.call("sns", "GetTopicAttributes", TopicArn=arn)).get("Attributes", {})
    subscriptions, error = await r.attempt_all("sns", "ListSubscriptionsByTopic", "Subscriptions", TopicArn=arn)
    return {"name": name, "arn": arn, "attrs": attrs, "subscriptions": subscriptions, "subscriptions_error": error}


async def topic_page(r: ConsoleRequest) -> HttpResponse:
    return r.render("topics/topic.html", area_nav="topics_index", t=await _topic(r, r.params["topic"]),
                    protocols=PROTOCOLS, done="")


async def _subscriptions(r: ConsoleRequest, done: str) -> HttpResponse:
    return r.render("topics/_subscriptions.html", t=await _topic(r, r.params["topic"]), done=done)


async def topic_subscribe(r: ConsoleRequest) -> HttpResponse:
    found = await r.call("sns", "Subscribe", TopicArn=_arn(r, r.params["topic"]), Protocol=r.field("protocol"),
                         Endpoint=r.field("endpoint").strip(), ReturnSubscriptionArn=True)
    return await _subscriptions(r, f"Subscribed: {found.get('SubscriptionArn', '')}")


async def topic_unsubscribe(r: ConsoleRequest) -> HttpResponse:
    arn = r.field("subscription_arn")
    await r.call("sns", "Unsubscribe", SubscriptionArn=arn)
    return await _subscriptions(r, f"Unsubscribed {arn}.")


async def topic_publish(r: ConsoleRequest) -> HttpResponse:
    params: dict[str, Any] = {"TopicArn": _arn(r, r.params["topic"]), "Message": r.field("message")}
    if r.field("subject").strip():
        params["Subject"] = r.field("subject").strip()
    if r.field("group_id").strip():
        params["MessageGroupId"] = r.field("group_id").strip()
    found = await r.call("sns", "Publish", **params)
    return r.render("queues/_result.html", text=f"Message published: {found.get('MessageId', '')}")


async def topic_delete(r: ConsoleRequest) -> HttpResponse:
    await r.call("sns", "DeleteTopic", TopicArn=_arn(r, r.params["topic"]))
    return r.redirect(r.url("topics_index"))
