"""Bucket lifecycle configuration: Put/Get/DeleteBucketLifecycleConfiguration (and the legacy
Put/GetBucketLifecycle), and the x-amz-expiration an object's reads and writes report.

Applying the rules is expiry.py's (`LifecycleExpiry`), run by the engine once a lifecycle day.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from . import core, errors
from . import lifecycle_rules as rules
from .records import ObjectRecord, UploadRecord
from .records import lifecycle as stored
from .state import S3State

DEFAULT_MINIMUM_SIZE = "all_storage_classes_128K"  # AWS's default since September 2024
_MINIMUM_SIZES = (DEFAULT_MINIMUM_SIZE, "varies_by_storage_class")


def lifecycle_day(state: S3State) -> float:
    """How long a lifecycle day lasts on this clock (86400 s, compressed by --time-scale)."""
    return state.clock.engine_seconds(rules.DAY)


def expiration_member(state: S3State, record: ObjectRecord) -> dict[str, str]:
    """{"Expiration": 'expiry-date="...", rule-id="..."'} for a current version a rule will expire,
    else {} (what PutObject, CopyObject, CompleteMultipartUpload, GetObject and HeadObject add)."""
    if not record.is_latest or record.delete_marker:
        return {}
    document = _configuration(state, record.bucket)
    if not document:
        return {}
    found = rules.first_expiry(document["Rules"], record.key, record.size, record.tags, record.last_modified,
                               lifecycle_day(state))
    return {"Expiration": rules.expiration_header(found)} if found else {}


def _configuration(state: S3State, bucket: str) -> dict[str, Any] | None:
    """The bucket's lifecycle configuration as its view holds it (bucket_views.py)."""
    view = state.views.get(bucket)
    return view.lifecycle if view is not None else None


def abort_members(state: S3State, upload: UploadRecord) -> dict[str, Any]:
    """{"AbortDate", "AbortRuleId"} for an upload an AbortIncompleteMultipartUpload rule will abort,
    else {} (what CreateMultipartUpload and ListParts add: x-amz-abort-date, x-amz-abort-rule-id)."""
    document = _configuration(state, upload.bucket)
    if not document:
        return {}
    found = [(rules.due(upload.initiated, int(r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]),
                        lifecycle_day(state)), r["ID"])
             for r in rules.enabled(document["Rules"])
             if r.get("AbortIncompleteMultipartUpload") and upload.key.startswith(rules.prefix_of(r))]
    if not found:
        return {}
    when, rule_id = min(found)
    return {"AbortDate": when, "AbortRuleId": rule_id}


class BucketLifecycle:
    def __init__(self, state: S3State) -> None:
        self.s = state

    def put_bucket_lifecycle_configuration(self, ctx: RequestContext, Bucket: str,
                                           LifecycleConfiguration: dict[str, Any] | None = None,
                                           **params: Any) -> dict[str, Any]:
        minimum = params.get("TransitionDefaultMinimumObjectSize") or DEFAULT_MINIMUM_SIZE
        if minimum not in _MINIMUM_SIZES:
            raise errors.invalid_argument("Invalid value for x-amz-transition-default-minimum-object-size",
                                          "x-amz-transition-default-minimum-object-size", minimum)
        core.bucket(self.s, Bucket)  # NoSuchBucket before the body's errors, as S3 answers
        document = {"Rules": rules.validate(LifecycleConfiguration), "TransitionDefaultMinimumObjectSize": minimum}

        def txn(conn: sqlite3.Connection) -> None:
            core.require_bucket(conn, Bucket)
            stored.put(conn, Bucket, document)

        self.s.db.write(txn)
        return {"TransitionDefaultMinimumObjectSize": minimum}

    def get_bucket_lifecycle_configuration(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        core.bucket(self.s, Bucket)
        document = stored.config(self.s.db.reader, Bucket)
        if document is None:
            raise ServiceError("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist",
                               BucketName=Bucket)
        return document

    def delete_bucket_lifecycle(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        def txn(conn: sqlite3.Connection) -> None:
            core.require_bucket(conn, Bucket)
            stored.delete(conn, Bucket)

        self.s.db.write(txn)
        return {}

    # -- the legacy API (rules with a Prefix and no Filter), kept by AWS for old clients ------

    def put_bucket_lifecycle(self, ctx: RequestContext, Bucket: str,
                             LifecycleConfiguration: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
        legacy = (LifecycleConfiguration or {}).get("Rules")
        current = [_renamed(r, _LEGACY_NAMES, to_list=True) for r in legacy] if isinstance(legacy, list) else legacy
        self.put_bucket_lifecycle_configuration(ctx, Bucket, {"Rules": current})
        return {}

    def get_bucket_lifecycle(self, ctx: RequestContext, Bucket: str, **params: Any) -> dict[str, Any]:
        document = self.get_bucket_lifecycle_configuration(ctx, Bucket)
        # The legacy shape has no Filter: a rule with one shows its prefix (the rest cannot be said).
        back = {new: old for old, new in _LEGACY_NAMES.items()}
        return {"Rules": [_renamed({**{k: v for k, v in r.items() if k != "Filter"}, "Prefix": rules.prefix_of(r)},
                                   back, to_list=False) for r in document["Rules"]]}


# The legacy API's rules hold one transition of each kind, under singular names.
_LEGACY_NAMES = {"Transition": "Transitions", "NoncurrentVersionTransition": "NoncurrentVersionTransitions"}


def _renamed(rule: Any, names: dict[str, str], to_list: bool) -> Any:
    """The rule with its transitions under the other API's names: a single one made a list of one
    (`to_list`), or the first of a list."""
    if not isinstance(rule, dict):
        return rule
    out = {k: v for k, v in rule.items() if k not in names}
    for old, new in names.items():
        if rule.get(old):
            value = rule[old]
            out[new] = [value] if to_list else value[0]
    return out
