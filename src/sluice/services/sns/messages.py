"""What SNS delivers: the JSON envelope (SQS, HTTP/S) and the Lambda event.

A published message is stored once as a dict (see `Publishing._commit`); these functions turn it
into what each kind of subscriber receives, field for field and in the order AWS sends them.

Signatures: AWS signs every notification (SHA1withRSA for SignatureVersion 1, SHA256withRSA for 2)
with a certificate under sns.<region>.amazonaws.com. Sluice has no such certificate, so
`Signature` is a well-formed base64 value that no certificate verifies (an HMAC of AWS's canonical
string under a fixed key, 256 bytes like an RSA-2048 signature), and `SigningCertURL` points at
Sluice's own endpoint. Code that verifies signatures must skip verification against Sluice.
FIFO topics' notifications carry `SequenceNumber` and no signature fields, as AWS sends them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"

SLUICE_PATH = "/_sluice/sns/"
CERT_NAME = "SimpleNotificationService-sluice.pem"
_SIGNING_KEY = b"sluice: not an AWS signing key"


def cert_url(base: str) -> str:
    return f"{base}{SLUICE_PATH}{CERT_NAME}"


def unsubscribe_url(base: str, subscription_arn: str) -> str:
    return f"{base}{SLUICE_PATH}?Action=Unsubscribe&SubscriptionArn={subscription_arn}"


def subscribe_url(base: str, topic_arn: str, token: str) -> str:
    return f"{base}{SLUICE_PATH}?Action=ConfirmSubscription&TopicArn={topic_arn}&Token={token}"


def content_for(msg: dict[str, Any], protocol: str) -> str:
    """The Message a protocol receives: with MessageStructure=json, its own entry or "default"."""
    message = msg["Message"]
    if isinstance(message, dict):
        value = message.get(protocol, message["default"])
        return str(value)
    return str(message)


def wire_attributes(attributes: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """MessageAttributes as they appear in envelopes: {"Type", "Value"}; Binary values base64."""
    out: dict[str, dict[str, str]] = {}
    for name, attr in attributes.items():
        value = attr.get("BinaryValue") if attr["DataType"].startswith("Binary") else attr.get("StringValue")
        out[name] = {"Type": attr["DataType"], "Value": value or ""}
    return out


def signature(fields: dict[str, Any], version: str = "1") -> str:
    """A base64 signature of AWS's canonical string for these fields (see the module docstring)."""
    names: tuple[str, ...]
    if fields.get("Type") == NOTIFICATION:
        names = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
    else:
        names = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
    canonical = "".join(f"{n}\n{fields[n]}\n" for n in names if fields.get(n) is not None)
    algorithm = hashlib.sha256 if version == "2" else hashlib.sha1
    digest = hmac.new(_SIGNING_KEY, canonical.encode(), algorithm).digest()
    blob = (digest * (256 // len(digest) + 1))[:256]
    return base64.b64encode(blob).decode()


def notification_fields(msg: dict[str, Any], protocol: str, subscription_arn: str, base: str,
                        signature_version: str = "1") -> list[tuple[str, Any]]:
    """The envelope of a notification, in AWS's order (SQS, HTTP/S)."""
    fifo = msg.get("SequenceNumber") is not None
    fields: list[tuple[str, Any]] = [("Type", NOTIFICATION), ("MessageId", msg["MessageId"])]
    if fifo:
        fields.append(("SequenceNumber", msg["SequenceNumber"]))
    fields.append(("TopicArn", msg["TopicArn"]))
    if msg.get("Subject") is not None:
        fields.append(("Subject", msg["Subject"]))
    fields += [("Message", content_for(msg, protocol)), ("Timestamp", msg["Timestamp"])]
    if not fifo:
        fields += [("SignatureVersion", signature_version),
                   ("Signature", signature(dict(fields), signature_version)),
                   ("SigningCertURL", cert_url(base))]
    fields.append(("UnsubscribeURL", unsubscribe_url(base, subscription_arn)))
    if msg.get("MessageAttributes"):
        fields.append(("MessageAttributes", wire_attributes(msg["MessageAttributes"])))
    return fields


def confirmation_fields(msg: dict[str, Any], base: str, signature_version: str = "1") -> list[tuple[str, Any]]:
    """SubscriptionConfirmation / UnsubscribeConfirmation, in AWS's order."""
    fields: list[tuple[str, Any]] = [
        ("Type", msg["Type"]), ("MessageId", msg["MessageId"]), ("Token", msg["Token"]),
        ("TopicArn", msg["TopicArn"]), ("Message", msg["Message"]),
        ("SubscribeURL", subscribe_url(base, msg["TopicArn"], msg["Token"])),
        ("Timestamp", msg["Timestamp"]), ("SignatureVersion", signature_version),
    ]
    fields += [("Signature", signature(dict(fields), signature_version)), ("SigningCertURL", cert_url(base))]
    return fields


def aws_json(fields: list[tuple[str, Any]]) -> str:
    """JSON laid out as SNS lays out its envelopes: `"Key" : value` lines, attributes compact."""
    lines = []
    for key, value in fields:
        if key == "MessageAttributes":
            inner = ",\n".join(
                f"    {_dumps(name)} : {json.dumps(attr, ensure_ascii=False, separators=(',', ':'))}"
                for name, attr in value.items())
            lines.append(f'  "MessageAttributes" : {{\n{inner}\n  }}')
        else:
            lines.append(f"  {_dumps(key)} : {_dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def envelope(msg: dict[str, Any], protocol: str, subscription_arn: str, base: str,
             signature_version: str = "1") -> str:
    if msg["Type"] == NOTIFICATION:
        return aws_json(notification_fields(msg, protocol, subscription_arn, base, signature_version))
    return aws_json(confirmation_fields(msg, base, signature_version))


def lambda_event(msg: dict[str, Any], subscription_arn: str, base: str, signature_version: str = "1") -> str:
    """The event a subscribed function receives (note SigningCertUrl/UnsubscribeUrl casing)."""
    sns: dict[str, Any] = {
        "Type": NOTIFICATION,
        "MessageId": msg["MessageId"],
        "TopicArn": msg["TopicArn"],
        "Subject": msg.get("Subject"),
        "Message": content_for(msg, "lambda"),
        "Timestamp": msg["Timestamp"],
    }
    sig = signature({**sns, "Subject": msg.get("Subject")}, signature_version)
    sns.update({
        "SignatureVersion": "1",  # AWS reports 1 here whatever the topic's SignatureVersion
        "Signature": sig,
        "SigningCertUrl": cert_url(base),
        "UnsubscribeUrl": unsubscribe_url(base, subscription_arn),
        "MessageAttributes": wire_attributes(msg.get("MessageAttributes") or {}),
    })
    event = {"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": sns,
    }]}
    return json.dumps(event, ensure_ascii=False)

