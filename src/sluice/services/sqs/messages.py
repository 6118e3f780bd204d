"""Messages: attribute rules, sizes, the MD5 digests SDKs verify, receipt handles.

MD5OfMessageAttributes (and MD5OfMessageSystemAttributes) is the digest the AWS SDKs recompute
(the Java SDK's MessageMD5ChecksumHandler, for one): attributes sorted by name, each written as
length-prefixed name, length-prefixed data type, one transport byte (1 = string value,
2 = binary value) and the length-prefixed value; lengths are 4-byte big-endian.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import itertools
import os
import re
import struct
from dataclasses import dataclass
from typing import Any

from ...protocol.ids import uuid4_text
from . import errors

MAX_ATTRIBUTES = 10
SYSTEM_ATTRIBUTES_FOR_SENDS = ("AWSTraceHeader",)
RECEIVE_SYSTEM_ATTRIBUTES = ("SenderId", "ApproximateFirstReceiveTimestamp", "ApproximateReceiveCount",
                             "SentTimestamp", "SequenceNumber", "MessageDeduplicationId", "MessageGroupId",
                             "AWSTraceHeader", "DeadLetterQueueSourceArn")

_ATTR_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,256}$")
_BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_FIFO_ID = re.compile(r"^[!-~]{1,128}$")  # alphanumeric and punctuation


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def md5_of_body(body: str) -> str:
    return md5_hex(body.encode("utf-8", "surrogatepass"))


def _update(h: Any, data: bytes) -> None:
    h.update(struct.pack(">I", len(data)))
    h.update(data)


def md5_of_attributes(attributes: dict[str, dict[str, Any]]) -> str | None:
    if not attributes:
        return None
    h = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        value = attributes[name]
        _update(h, name.encode())
        _update(h, value["DataType"].encode())
        if value.get("StringValue") is not None:
            h.update(b"\x01")
            _update(h, value["StringValue"].encode("utf-8", "surrogatepass"))
        elif value.get("BinaryValue") is not None:
            h.update(b"\x02")
            _update(h, value["BinaryValue"])
    return h.hexdigest()


# Characters SQS accepts in bodies and string values (XML 1.0's: #x9 | #xA | #xD | #x20 to
# #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF). In ASCII text only C0 controls can be wrong;
# the whole class, ~3 ms to compile, is compiled by the first text that is not ASCII rather than
# by every start.
_INVALID_ASCII = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


@functools.cache
def _invalid_chars() -> re.Pattern[str]:
    return re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def has_invalid_chars(text: str) -> bool:
    if text.isascii():
        return _INVALID_ASCII.search(text) is not None
    return _invalid_chars().search(text) is not None


def validate_body(body: str | None) -> str:
    if not body:
        raise errors.missing_parameter("MessageBody")
    if has_invalid_chars(body):
        raise errors.invalid_message_contents()
    return body


def validate_attributes(given: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """User message attributes, checked and reduced to DataType plus the one value they carry."""
    if not given:
        return {}
    if len(given) > MAX_ATTRIBUTES:
        raise errors.invalid_parameter(
            f"Number of message attributes [{len(given)}] exceeds the allowed maximum [{MAX_ATTRIBUTES}].")
    out: dict[str, dict[str, Any]] = {}
    for name, value in given.items():
        if not _ATTR_NAME.match(name):
            raise errors.invalid_parameter(
                "Message (user) attribute names can only contain upper and lower score characters, digits, "
                "periods, hyphens and underscores and must be shorter than 256 Bytes.")
        lowered = name.lower()
        if lowered.startswith(("aws.", "amazon.")) or name.startswith(".") or name.endswith(".") or ".." in name:
            raise errors.invalid_parameter(
                "You can't use message attribute names beginning with 'AWS.' or 'Amazon.'. These strings are "
                "reserved for internal use. Additionally, they cannot start or end with '.' or contain '..'.")
        out[name] = _attribute_value(name, value or {}, "user")
    return out


def _attribute_value(name: str, value: dict[str, Any], kind: str) -> dict[str, Any]:
    data_type = value.get("DataType")
    if not data_type:
        raise errors.invalid_parameter(f"The message ({kind}) attribute '{name}' must contain a non-empty "
                                       "message attribute type.")
    base = data_type.split(".", 1)[0]
    if base not in ("String", "Number", "Binary") or len(data_type) > 256 or data_type.endswith("."):
        raise errors.invalid_parameter(
            f"The type of message ({kind}) attribute '{name}' is invalid. You must use only the following "
            "supported type prefixes: Binary, Number, String.")
    if base == "Binary":
        binary = value.get("BinaryValue")
        if not binary:
            raise errors.invalid_parameter(
                f"The message ({kind}) attribute '{name}' must contain a non-empty value of type 'Binary'.")
        return {"DataType": data_type, "BinaryValue": bytes(binary)}
    text = value.get("StringValue")
    if not text:
        raise errors.invalid_parameter(
            f"The message ({kind}) attribute '{name}' must contain a non-empty value of type '{base}'.")
    if has_invalid_chars(text):
        raise errors.invalid_parameter(
            f"The message ({kind}) attribute '{name}' contains invalid characters. Valid unicode characters are "
            "#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
    if base == "Number":
        # decimal (a C extension, ~0.3 MB resident) is imported by the first Number attribute.
        from decimal import Decimal, InvalidOperation

        try:
            number = Decimal(text.strip())
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise errors.invalid_parameter(f"Can't cast the value of message ({kind}) attribute '{name}' to a number.")
    return {"DataType": data_type, "StringValue": text}


def validate_system_attributes(given: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    if not given:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name, value in given.items():
        if name not in SYSTEM_ATTRIBUTES_FOR_SENDS:
            raise errors.invalid_parameter(f"Message system attribute name '{name}' is invalid.")
        checked = _attribute_value(name, value or {}, "system")
        if checked["DataType"] != "String":
            raise errors.invalid_parameter(f"Message system attribute '{name}' must have type 'String'.")
        out[name] = checked
    return out


def attributes_size(attributes: dict[str, dict[str, Any]]) -> int:
    size = 0
    for name, value in attributes.items():
        size += utf8_len(name) + utf8_len(value["DataType"])
        if value.get("StringValue") is not None:
            size += utf8_len(value["StringValue"])
        else:
            size += len(value.get("BinaryValue") or b"")
    return size


def validate_fifo_id(value: str | None, parameter: str) -> None:
    if value is not None and not _FIFO_ID.match(value):
        raise errors.invalid_value(value, parameter, f"{parameter} can only include alphanumeric and punctuation "
                                   "characters. 1 to 128 in length.")


def validate_batch_ids(entries: list[dict[str, Any]] | None, entry_name: str) -> list[dict[str, Any]]:
    if not entries:
        raise errors.empty_batch(entry_name)
    if len(entries) > errors.MAX_BATCH_ENTRIES:
        raise errors.too_many_entries(len(entries))
    seen: set[str] = set()
    for entry in entries:
        entry_id = entry.get("Id") or ""
        if not _BATCH_ID.match(entry_id):
            raise errors.invalid_batch_entry_id()
        if entry_id in seen:
            raise errors.batch_ids_not_distinct(entry_id)
        seen.add(entry_id)
    return entries


# -- stored form (JSON in SQLite) -------------------------------------------------------------------

def attributes_to_json(attributes: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name, value in attributes.items():
        if value.get("BinaryValue") is not None:
            out[name] = {"DataType": value["DataType"], "BinaryValue": base64.b64encode(value["BinaryValue"]).decode()}
        else:
            out[name] = {"DataType": value["DataType"], "StringValue": value["StringValue"]}
    return out


def attributes_from_json(stored: dict[str, dict[str, str]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, value in stored.items():
        if "BinaryValue" in value:
            out[name] = {"DataType": value["DataType"], "BinaryValue": base64.b64decode(value["BinaryValue"])}
        else:
            out[name] = dict(value)
    return out


def select_attributes(attributes: dict[str, dict[str, Any]], names: list[str] | None) -> dict[str, dict[str, Any]]:
    """The message attributes a ReceiveMessage asked for: names, `All`, `.*`, or prefixes `foo.*`."""
    if not names or not attributes:
        return {}
    if "All" in names or ".*" in names:
        return attributes
    exact = {n for n in names if not n.endswith(".*")}
    prefixes = tuple(n[:-2] for n in names if n.endswith(".*"))
    return {k: v for k, v in attributes.items() if k in exact or (prefixes and k.startswith(prefixes))}


# -- receipt handles ------------------------------------------------------------------------------

_HANDLE = struct.Struct(">BQQ16s")
_HANDLE_PREFIX = "AQEB"


@dataclass(frozen=True)
class Receipt:
    """A receipt handle, decoded: which receive of which message it names."""

    queue_id: int
    message_row: int
    token: str  # hex of the random part: which receive of the message this handle came from


# Receipt tokens and message ids come from a keyed hash of a counter: unpredictable without the
# key (drawn at start), and no system call per message.
_KEY = os.urandom(32)
_COUNTER = itertools.count()


def _random16() -> bytes:
    return hashlib.blake2b(next(_COUNTER).to_bytes(8, "big"), key=_KEY, digest_size=16).digest()


def new_token() -> str:
    return _random16().hex()


def new_message_id() -> str:
    return uuid4_text(_random16())


def encode_receipt(queue_id: int, message_row: int, token: str) -> str:
    raw = _HANDLE.pack(1, queue_id, message_row, bytes.fromhex(token))
    return _HANDLE_PREFIX + binascii.b2a_base64(raw, newline=False).decode()


def decode_receipt(handle: str | None) -> Receipt | None:
    if not handle or not handle.startswith(_HANDLE_PREFIX):
        return None
    try:
        raw = base64.b64decode(handle[len(_HANDLE_PREFIX):], validate=True)
        version, queue_id, row, token = _HANDLE.unpack(raw)
    except (binascii.Error, ValueError, struct.error):
        return None
    if version != 1:
        return None
    return Receipt(queue_id, row, token.hex())
