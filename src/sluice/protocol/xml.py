"""XML bodies driven by botocore shapes (rest-xml, and the query protocol's responses)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

from botocore.model import ListShape, MapShape, Shape, StructureShape

from .values import format_scalar, parse_scalar


class MalformedXML(ValueError):
    pass


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_xml(body: bytes) -> ET.Element:
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise MalformedXML("DTDs are not accepted")
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise MalformedXML(str(exc)) from exc


def element_to_shape(elem: ET.Element, shape: Shape, path: str = "") -> Any:
    """Read `elem` (whose tag has already been matched) as a value of `shape`."""
    if isinstance(shape, StructureShape):
        out: dict[str, Any] = {}
        children: dict[str, list[ET.Element]] = {}
        for child in elem:
            children.setdefault(local_name(child.tag), []).append(child)
        for name, member in shape.members.items():
            ser = member.serialization
            if ser.get("xmlAttribute"):
                attr_name = ser.get("name", name)
                for key, val in elem.attrib.items():
                    if local_name(key) == attr_name.split(":")[-1]:
                        out[name] = val
                continue
            loc = ser.get("name", name)
            if isinstance(member, ListShape) and member.serialization.get("flattened"):
                flat_name = ser.get("name") or member.member.serialization.get("name", name)
                found = children.get(flat_name) or children.get(loc)
                if found:
                    out[name] = [element_to_shape(c, member.member, f"{path}.{name}") for c in found]
                continue
            found = children.get(loc)
            if found:
                out[name] = element_to_shape(found[0], member, f"{path}.{name}")
        return out
    if isinstance(shape, ListShape):
        item_name = shape.member.serialization.get("name", "member")
        return [element_to_shape(c, shape.member, path) for c in elem if local_name(c.tag) == item_name]
    if isinstance(shape, MapShape):
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        entries = list(elem) if shape.serialization.get("flattened") else [
            c for c in elem if local_name(c.tag) == "entry"
        ]
        result: dict[str, Any] = {}
        for entry in entries:
            k = v = None
            for part in entry:
                if local_name(part.tag) == key_name:
                    k = part.text or ""
                elif local_name(part.tag) == value_name:
                    v = element_to_shape(part, shape.value, path)
            if k is not None:
                result[k] = v
        return result
    return parse_scalar(elem.text or "", shape, path.lstrip("."))


def shape_to_xml(
    value: Any, shape: Shape, name: str, namespace: str | None = None, timestamp_format: str = "iso8601",
    text: Callable[[str], str] | None = None,
) -> str:
    """Write `value` as the element `name` (with `xmlns` when given); `text` writes each string
    (default `escape_text`, S3's way; the query services pass `readable_text`)."""
    parts: list[str] = []
    _write(parts, value, shape, name, namespace, timestamp_format, text or escape_text)
    return "".join(parts)


def _write(
    parts: list[str], value: Any, shape: Shape, name: str, namespace: str | None, tsf: str,
    text: Callable[[str], str],
) -> None:
    attrs = f" xmlns={quoteattr(namespace)}" if namespace else ""
    if isinstance(shape, StructureShape):
        inner: list[str] = []
        for mname, member in shape.members.items():
            v = value.get(mname) if isinstance(value, dict) else None
            if v is None:
                continue
            ser = member.serialization
            loc = ser.get("name", mname)
            if ser.get("xmlAttribute"):
                if ":" in loc:
                    prefix = loc.split(":")[0]
                    # The namespace of an attribute's prefix is declared on the member or, as
                    # for S3's Grantee xsi:type, on the structure holding it.
                    declared = member.serialization.get("xmlNamespace") or shape.serialization.get("xmlNamespace")
                    uri = declared.get("uri") if isinstance(declared, dict) and declared.get("prefix", prefix) == prefix \
                        else None
                    if uri:
                        attrs += f" xmlns:{prefix}={quoteattr(uri)}"
                attrs += f" {loc}={quoteattr(format_scalar(v, member, tsf))}"
                continue
            ns = ser.get("xmlNamespace")
            if isinstance(ns, dict) and ns.get("uri") and not ns.get("prefix"):
                pass  # element-level namespaces are not used by the services we serve
            if isinstance(member, ListShape) and ser.get("flattened"):
                item_name = ser.get("name") or member.member.serialization.get("name", mname)
                for item in v:
                    _write(inner, item, member.member, item_name, None, tsf, text)
                continue
            _write(inner, v, member, loc, None, tsf, text)
        parts.append(f"<{name}{attrs}>")
        parts.extend(inner)
        parts.append(f"</{name}>")
        return
    if isinstance(shape, ListShape):
        item_name = shape.member.serialization.get("name", "member")
        parts.append(f"<{name}{attrs}>")
        for item in value:
            _write(parts, item, shape.member, item_name, None, tsf, text)
        parts.append(f"</{name}>")
        return
    if isinstance(shape, MapShape):
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        parts.append(f"<{name}{attrs}>")
        for k, v in value.items():
            parts.append(f"<entry><{key_name}>{text(str(k))}</{key_name}>")
            _write(parts, v, shape.value, value_name, None, tsf, text)
            parts.append("</entry>")
        parts.append(f"</{name}>")
        return
    parts.append(f"<{name}{attrs}>{text(format_scalar(value, shape, tsf))}</{name}>")


# Characters XML 1.0 does not allow in a document, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape_text(text: str) -> str:
    """`text` as element content. Carriage returns and tabs survive a round trip through an XML
    parser only as references. A key may hold control characters XML 1.0 has no place for: S3
    writes them as character references (`a&#x1;b`), which strict XML 1.0 parsers refuse (hence
    EncodingType=url, which SDKs ask for in listings), so Sluice writes the same bytes AWS does
    rather than a raw byte that breaks every parser."""
    text = escape(text, {"\r": "&#13;", "\t": "&#9;"})
    if _NOT_XML.search(text):
        text = _NOT_XML.sub(lambda m: f"&#x{ord(m.group()):x};", text)
    return text


def readable_text(text: str) -> str:
    """`text` as element content of an answer every SDK's XML parser must read: characters XML
    1.0 has no place for, not even as references, become U+FFFD (the query services' answers and
    errors: one raw backspace echoed from a parameter made a whole answer unparseable; S3 writes
    references, as AWS does: `escape_text`)."""
    return escape_text(_NOT_XML.sub("\ufffd", text))


def missing_required(value: Any, shape: Shape) -> bool:
    """Whether a parsed document leaves out a member its model requires, at any depth."""
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            return False
        if any(name not in value for name in shape.required_members):
            return True
        return any(missing_required(v, shape.members[k]) for k, v in value.items() if k in shape.members)
    if isinstance(shape, ListShape) and isinstance(value, list):
        return any(missing_required(v, shape.member) for v in value)
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return any(missing_required(v, shape.value) for v in value.values())
    return False
