"""Bucket lifecycle rules: AWS's validation of a configuration, which objects a rule covers, and
when an object falls due.

AWS evaluates lifecycle once a day: an object expires at the first midnight UTC at or after its
creation time plus the rule's Days ("rounded to the next day midnight UTC"). On a clock with
`--time-scale N` a lifecycle "day" is 86400/N clock seconds and its "midnights" are the multiples
of that since the epoch, so compressed time keeps the same rounding (at scale 1 they are AWS's).

Error codes and messages follow S3's answers; where S3's wording is not known the choice is noted.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import os
from collections.abc import Sequence
from typing import Any

from ...protocol.errors import ServiceError
from ...protocol.values import as_datetime
from . import errors

DAY = 86_400.0
MAX_RULES = 1000
MAX_ID = 255
MAX_NEWER_NONCURRENT = 100
_MALFORMED = "The XML you provided was not well-formed or did not validate against our published schema"
_FILTER_MEMBERS = ("Prefix", "Tag", "And", "ObjectSizeGreaterThan", "ObjectSizeLessThan")
_STATUSES = ("Enabled", "Disabled")
_TRANSITION_CLASSES = ("GLACIER", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "DEEP_ARCHIVE",
                       "GLACIER_IR")


def malformed() -> ServiceError:
    return ServiceError("MalformedXML", _MALFORMED)


def _invalid_request(message: str) -> ServiceError:
    return ServiceError("InvalidRequest", message)


def _positive(value: Any, message: str, name: str, upper: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0 or (upper is not None and value > upper):
        raise errors.invalid_argument(message, name, str(value))
    return value


def _midnight(value: Any, name: str) -> float:
    when = as_datetime(value)
    stamp = when.timestamp()
    if stamp % DAY:
        raise errors.invalid_argument("'Date' must be at midnight GMT", name, when.strftime("%Y-%m-%dT%H:%M:%S"))
    return stamp


# -- validation ----------------------------------------------------------------------------


def validate(configuration: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The rules of a PutBucketLifecycleConfiguration body, checked as S3 checks them and put in
    the form GetBucketLifecycleConfiguration returns (a missing ID generated, dates as seconds)."""
    rules = (configuration or {}).get("Rules")
    if not rules or len(rules) > MAX_RULES:
        raise malformed()
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for rule in rules:
        checked = _rule(rule)
        if checked["ID"] in seen:
            raise errors.invalid_argument("Rule ID must be unique. Found same ID for more than one rule", "ID",
                                          checked["ID"])
        seen.add(checked["ID"])
        out.append(checked)
    return out


def _rule(rule: dict[str, Any]) -> dict[str, Any]:
    rule_id = rule.get("ID")
    if rule_id is None or rule_id == "":
        # S3 names a rule given none with a random string; this is one of that shape.
        rule_id = base64.b64encode(os.urandom(36)).decode()[:48]
    if len(rule_id) > MAX_ID:
        raise errors.invalid_argument("ID length should not exceed allowed limit of 255", "ID", rule_id)
    if rule.get("Status") not in _STATUSES:
        raise malformed()
    out: dict[str, Any] = {"ID": rule_id, "Status": rule["Status"]}
    has_prefix, has_filter = "Prefix" in rule, "Filter" in rule
    if has_prefix == has_filter:  # exactly one of the legacy Prefix and Filter
        raise malformed()
    if has_prefix:
        out["Prefix"] = rule["Prefix"] or ""
    else:
        out["Filter"] = _filter(rule["Filter"] or {})
    tagged = bool(tags_of(out))
    actions = 0
    if "Expiration" in rule:
        out["Expiration"] = _expiration(rule["Expiration"] or {}, tagged)
        actions += 1
    if "NoncurrentVersionExpiration" in rule:
        out["NoncurrentVersionExpiration"] = _noncurrent(rule["NoncurrentVersionExpiration"] or {})
        actions += 1
    if "AbortIncompleteMultipartUpload" in rule:
        days = (rule["AbortIncompleteMultipartUpload"] or {}).get("DaysAfterInitiation")
        if days is None:
            raise malformed()
        if tagged:
            raise _invalid_request("AbortIncompleteMultipartUpload cannot be specified with Tags.")
        _positive(days, "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
                  "DaysAfterInitiation")
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
        actions += 1
    for member in ("Transitions", "NoncurrentVersionTransitions"):
        if rule.get(member):
            out[member] = [_transition(t, member == "NoncurrentVersionTransitions") for t in rule[member]]
            actions += 1
    if not actions:
        raise _invalid_request("At least one action needs to be specified in a rule")
    return out


def _filter(value: dict[str, Any]) -> dict[str, Any]:
    given = [m for m in _FILTER_MEMBERS if m in value]
    if len(given) > 1:
        raise malformed()
    if not given:
        return {}  # an empty filter: the rule covers the whole bucket
    member = given[0]
    if member == "Prefix":
        return {"Prefix": value["Prefix"] or ""}
    if member == "Tag":
        return {"Tag": _tag(value["Tag"])}
    if member == "And":
        both = value["And"] or {}
        out: dict[str, Any] = {}
        if "Prefix" in both:
            out["Prefix"] = both["Prefix"] or ""
        tags = [_tag(t) for t in both.get("Tags") or []]
        if len({t["Key"] for t in tags}) != len(tags):
            raise _invalid_request("Duplicate Tag Keys are not allowed.")
        if tags:
            out["Tags"] = tags
        for size in ("ObjectSizeGreaterThan", "ObjectSizeLessThan"):
            if size in both:
                out[size] = _size(both[size], size)
        _check_size_range(out)
        return {"And": out}
    return {member: _size(value[member], member)}


def _tag(tag: dict[str, Any] | None) -> dict[str, str]:
    if not tag or "Key" not in tag or "Value" not in tag:
        raise malformed()
    key, value = str(tag["Key"]), str(tag["Value"])
    if not key or len(key) > 128:
        raise errors.invalid_tag("The TagKey you have provided is invalid")
    if len(value) > 256:
        raise errors.invalid_tag("The TagValue you have provided is invalid")
    return {"Key": key, "Value": value}


def _size(value: Any, name: str) -> int:
    if not isinstance(value, int) or value < 0:
        # S3's wording for a negative size is not known: InvalidArgument as for other bad numbers.
        raise errors.invalid_argument(f"'{name}' should be a non-negative integer", name, str(value))
    return value


def _check_size_range(filt: dict[str, Any]) -> None:
    low, high = filt.get("ObjectSizeGreaterThan"), filt.get("ObjectSizeLessThan")
    if low is not None and high is not None and low >= high:
        raise errors.invalid_argument("ObjectSizeGreaterThan must be less than ObjectSizeLessThan",
                                      "ObjectSizeGreaterThan", str(low))


def _expiration(value: dict[str, Any], tagged: bool) -> dict[str, Any]:
    given = [m for m in ("Days", "Date", "ExpiredObjectDeleteMarker") if value.get(m) is not None]
    # One of Days, Date and ExpiredObjectDeleteMarker, as S3's schema says.
    if len(given) != 1:
        raise malformed()
    member = given[0]
    if member == "Days":
        return {"Days": _positive(value["Days"], "'Days' for Expiration action must be a positive integer", "Days")}
    if member == "Date":
        return {"Date": _midnight(value["Date"], "Date")}
    if tagged:
        raise _invalid_request("ExpiredObjectDeleteMarker cannot be specified with tags.")
    return {"ExpiredObjectDeleteMarker": bool(value["ExpiredObjectDeleteMarker"])}


def _noncurrent(value: dict[str, Any]) -> dict[str, Any]:
    days = value.get("NoncurrentDays")
    if days is None:
        raise malformed()
    out = {"NoncurrentDays": _positive(
        days, "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer", "NoncurrentDays")}
    newer = value.get("NewerNoncurrentVersions")
    if newer is not None:
        out["NewerNoncurrentVersions"] = _positive(
            newer, "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a positive integer "
            "between 1 and 100", "NewerNoncurrentVersions", MAX_NEWER_NONCURRENT)
    return out


def _transition(value: dict[str, Any], noncurrent: bool) -> dict[str, Any]:
    """Transitions are stored and returned, never applied: Sluice keeps one storage class."""
    storage_class = value.get("StorageClass")
    if storage_class not in _TRANSITION_CLASSES:
        raise malformed()
    out: dict[str, Any] = {"StorageClass": storage_class}
    days_member = "NoncurrentDays" if noncurrent else "Days"
    if value.get(days_member) is not None and value.get("Date") is not None:
        raise malformed()  # a transition has Days or Date, not both
    if value.get(days_member) is not None:
        days = value[days_member]
        if not isinstance(days, int) or days < 0:
            raise errors.invalid_argument(f"'{days_member}' in Transition action must be nonnegative", days_member,
                                          str(days))
        out[days_member] = days
    elif not noncurrent and value.get("Date") is not None:
        out["Date"] = _midnight(value["Date"], "Date")
    else:
        raise malformed()
    if noncurrent and value.get("NewerNoncurrentVersions") is not None:
        out["NewerNoncurrentVersions"] = value["NewerNoncurrentVersions"]
    return out


# -- which objects a rule covers -----------------------------------------------------------


def prefix_of(rule: dict[str, Any]) -> str:
    if "Prefix" in rule:
        return str(rule["Prefix"])
    filt = rule.get("Filter") or {}
    return str(filt.get("Prefix") or (filt.get("And") or {}).get("Prefix") or "")


def tags_of(rule: dict[str, Any]) -> list[dict[str, str]]:
    filt = rule.get("Filter") or {}
    if "Tag" in filt:
        return [filt["Tag"]]
    return list((filt.get("And") or {}).get("Tags") or [])


def covers(rule: dict[str, Any], key: str, size: int, tags: dict[str, str]) -> bool:
    """Whether the rule's filter takes in an object with this key, size and tags."""
    if not key.startswith(prefix_of(rule)):
        return False
    if any(tags.get(t["Key"]) != t["Value"] for t in tags_of(rule)):
        return False
    filt = rule.get("Filter") or {}
    sizes = filt.get("And") or filt
    low, high = sizes.get("ObjectSizeGreaterThan"), sizes.get("ObjectSizeLessThan")
    return (low is None or size > low) and (high is None or size < high)


def enabled(rules: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rules if r.get("Status") == "Enabled"]


# -- when ----------------------------------------------------------------------------------


def due(since: float, days: int, day: float = DAY) -> float:
    """The lifecycle midnight at which something `days` days old after `since` falls due (`day`:
    the length of a lifecycle day on this clock)."""
    return math.ceil((since + days * day) / day) * day


def expiry(rule: dict[str, Any], created: float, day: float = DAY) -> float | None:
    """When the rule expires a current version created at `created` (None: it does not)."""
    expiration = rule.get("Expiration") or {}
    if expiration.get("Days"):
        return due(created, int(expiration["Days"]), day)
    if expiration.get("Date") is not None:
        return float(expiration["Date"])
    return None


def first_expiry(rules: Sequence[dict[str, Any]], key: str, size: int, tags: dict[str, str], created: float,
                 day: float = DAY) -> tuple[float, str] | None:
    """(when, rule id) of the earliest expiration an enabled rule sets for a current version."""
    found: list[tuple[float, str]] = []
    for rule in enabled(rules):
        when = expiry(rule, created, day)
        if when is not None and covers(rule, key, size, tags):
            found.append((when, rule["ID"]))
    return min(found) if found else None


def expiration_header(found: tuple[float, str]) -> str:
    """The x-amz-expiration value: expiry-date="Fri, 23 Dec 2012 00:00:00 GMT", rule-id="..."."""
    when = dt.datetime.fromtimestamp(found[0], tz=dt.timezone.utc)
    return f'expiry-date="{when.strftime("%a, %d %b %Y %H:%M:%S GMT")}", rule-id="{found[1]}"'
