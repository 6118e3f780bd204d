"""Applying lifecycle rules: what is due at a given time, expired as a user's delete would be.

The engine (engine/s3_lifecycle.py) calls `LifecycleExpiry.apply_due(at)` at each lifecycle
midnight; this module knows no time of its own. Candidates are found on a reader, then each batch
is applied in one write transaction that checks every candidate again (a PUT may have replaced the
version meanwhile) and writes its notifications in the same commit, as DeleteObject does:
- an expired current version: deleted (unversioned bucket), `s3:LifecycleExpiration:Delete`; or
  hidden by a new delete marker (versioned or suspended bucket), `...:DeleteMarkerCreated`;
- an expired object delete marker (the key's only version: with ExpiredObjectDeleteMarker, or once
  a Days or Date expiration is due for the marker itself) and an expired noncurrent version:
  deleted for good, `s3:LifecycleExpiration:Delete` (with its version id);
- an incomplete multipart upload: aborted (S3 sends no notification for that).
`s3:ObjectRemoved:*` configurations receive none of these, as on AWS.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ...protocol.context import RequestContext
from . import lifecycle_rules as rules
from . import versions
from .lifecycle import lifecycle_day
from .records import ObjectRecord, buckets, uploads
from .records import lifecycle as stored
from .records.lifecycle import UploadRow, VersionRow
from .state import S3State

log = logging.getLogger("sluice.s3.lifecycle")

BATCH = 100  # candidates applied per write transaction (a user's write waits at most one batch)
DELETE = "LifecycleExpiration:Delete"
MARKER_CREATED = "LifecycleExpiration:DeleteMarkerCreated"

T = TypeVar("T")


@dataclass
class LifecycleRun:
    """What one run did."""

    expired: int = 0  # current versions deleted or hidden behind a delete marker
    markers_removed: int = 0  # expired object delete markers
    noncurrent_removed: int = 0
    uploads_aborted: int = 0

    @property
    def total(self) -> int:
        return self.expired + self.markers_removed + self.noncurrent_removed + self.uploads_aborted


class LifecycleExpiry:
    def __init__(self, state: S3State) -> None:
        self.s = state

    def apply_due(self, at: float) -> LifecycleRun:
        """Apply every enabled rule of every bucket to what is due at the clock time `at`."""
        run = LifecycleRun()
        day = lifecycle_day(self.s)
        for bucket, bucket_rules in stored.configured(self.s.db.reader):
            # Action by action across the rules, so the outcome does not depend on their order:
            # noncurrent versions go first, so a delete marker they leave alone is expired the same
            # night (a marker with versions behind it is not an expired one).
            enabled = rules.enabled(bucket_rules)
            for rule in enabled:
                self._expire_noncurrent(bucket, rule, at, day, run)
            for rule in enabled:
                self._expire_current(bucket, rule, at, day, run)
            for rule in enabled:
                self._expire_markers(bucket, rule, at, day, run)
            for rule in enabled:
                self._abort_uploads(bucket, rule, at, day, run)
        if run.total:
            log.info("S3 lifecycle at %.0f: %d expired, %d delete markers and %d noncurrent versions removed, "
                     "%d uploads aborted", at, run.expired, run.markers_removed, run.noncurrent_removed,
                     run.uploads_aborted)
        return run

    # -- the actions -----------------------------------------------------------------------

    def _expire_current(self, bucket: str, rule: dict[str, Any], at: float, day: float, run: LifecycleRun) -> None:
        candidates = [
            v for v in stored.versions(self.s.db.reader, bucket, rules.prefix_of(rule), current_only=True)
            if not v.delete_marker and rules.covers(rule, v.key, v.size, v.tags)
            and (when := rules.expiry(rule, v.last_modified, day)) is not None and when <= at]

        def expire(conn: sqlite3.Connection, ctx: RequestContext, v: VersionRow,
                   status: str | None) -> tuple[list[str], list[str]]:
            now = stored.version(conn, bucket, v.key, v.version_id)
            if now is None or not now.is_latest or now.delete_marker or now.seq != v.seq:
                return [], []
            run.expired += 1
            if status is None:
                gone = versions.remove(conn, bucket, v.key, v.version_id)
                sent = self.s.events.record(conn, ctx, bucket, DELETE, v.key)
                return ([gone.blob] if gone and gone.blob else []), sent
            marker = ObjectRecord(bucket=bucket, key=v.key, blob=None, size=0, etag="",
                                  last_modified=self.s.clock.now(), content_type=None, delete_marker=True)
            doomed = versions.place(conn, marker, status)
            return doomed, self.s.events.record(conn, ctx, bucket, MARKER_CREATED, v.key,
                                                version_id=marker.version_id)

        self._apply(bucket, candidates, expire)

    def _expire_markers(self, bucket: str, rule: dict[str, Any], at: float, day: float, run: LifecycleRun) -> None:
        """Delete markers left as their key's only version: removed by ExpiredObjectDeleteMarker,
        and by a Days or Date expiration once the marker itself is due (S3 does both)."""
        expiration = rule.get("Expiration") or {}
        every = bool(expiration.get("ExpiredObjectDeleteMarker"))
        if not every and not expiration.get("Days") and expiration.get("Date") is None:
            return
        candidates = [v for v in stored.lone_markers(self.s.db.reader, bucket, rules.prefix_of(rule))
                      if rules.covers(rule, v.key, v.size, v.tags)
                      and (every or (rules.expiry(rule, v.last_modified, day) or at + 1) <= at)]

        def remove(conn: sqlite3.Connection, ctx: RequestContext, v: VersionRow,
                   status: str | None) -> tuple[list[str], list[str]]:
            if stored.version(conn, bucket, v.key, v.version_id) is None or stored.version_count(conn, bucket, v.key) != 1:
                return [], []
            versions.remove(conn, bucket, v.key, v.version_id)
            run.markers_removed += 1
            return [], self.s.events.record(conn, ctx, bucket, DELETE, v.key, version_id=v.version_id)

        self._apply(bucket, candidates, remove)

    def _expire_noncurrent(self, bucket: str, rule: dict[str, Any], at: float, day: float,
                           run: LifecycleRun) -> None:
        expiration = rule.get("NoncurrentVersionExpiration")
        if not expiration:
            return
        days, keep = int(expiration["NoncurrentDays"]), int(expiration.get("NewerNoncurrentVersions") or 0)
        candidates: list[VersionRow] = []
        newer: VersionRow | None = None  # the version written after the one looked at (same key)
        kept = 0
        for v in stored.versions(self.s.db.reader, bucket, rules.prefix_of(rule), current_only=False):
            if newer is None or newer.key != v.key:  # a key's newest version: current, never expired here
                newer, kept = v, 0
                continue
            # A version becomes noncurrent when the next one is written; the newest `keep` noncurrent
            # versions are kept whatever their age.
            since, newer = newer.last_modified, v
            kept += 1
            if kept > keep and rules.covers(rule, v.key, v.size, v.tags) and rules.due(since, days, day) <= at:
                candidates.append(v)

        def remove(conn: sqlite3.Connection, ctx: RequestContext, v: VersionRow,
                   status: str | None) -> tuple[list[str], list[str]]:
            now = stored.version(conn, bucket, v.key, v.version_id)
            if now is None or now.is_latest:
                return [], []
            gone = versions.remove(conn, bucket, v.key, v.version_id)
            run.noncurrent_removed += 1
            sent = self.s.events.record(conn, ctx, bucket, DELETE, v.key, version_id=v.version_id)
            return ([gone.blob] if gone and gone.blob else []), sent

        self._apply(bucket, candidates, remove)

    def _abort_uploads(self, bucket: str, rule: dict[str, Any], at: float, day: float, run: LifecycleRun) -> None:
        abort = rule.get("AbortIncompleteMultipartUpload")
        if not abort:
            return
        days = int(abort["DaysAfterInitiation"])
        candidates = [u for u in stored.uploads(self.s.db.reader, bucket, rules.prefix_of(rule))
                      if rules.due(u.initiated, days, day) <= at]

        def aborted(conn: sqlite3.Connection, ctx: RequestContext, u: UploadRow,
                    status: str | None) -> tuple[list[str], list[str]]:
            if not uploads.exists(conn, u.upload_id):
                return [], []  # completed or aborted meanwhile
            run.uploads_aborted += 1
            return uploads.delete(conn, u.upload_id), []

        self._apply(bucket, candidates, aborted)

    # -- the commit path -------------------------------------------------------------------

    def _apply(self, bucket: str, candidates: Sequence[T],
               action: Callable[[sqlite3.Connection, RequestContext, T, str | None], tuple[list[str], list[str]]]) -> None:
        """Run `action` on the candidates, BATCH to a write transaction; then hand the engine the
        notifications' destinations and delete the body files no version keeps any more."""
        for first in range(0, len(candidates), BATCH):
            batch = candidates[first:first + BATCH]

            def txn(conn: sqlite3.Connection, batch: Sequence[T] = batch) -> tuple[list[str], list[str]]:
                found = buckets.find(conn, bucket)
                if found is None:
                    return [], []  # deleted meanwhile
                # The requester of a lifecycle action is S3 itself, in the bucket owner's account.
                ctx = RequestContext(request_id=os.urandom(8).hex().upper(), host_id="", account_id=found.account,
                                     region=found.region, service="s3", operation="LifecycleExpiration",
                                     source_ip="s3.amazonaws.com")
                status = versions.status(conn, bucket)
                doomed: list[str] = []
                notified: list[str] = []
                for item in batch:
                    blobs, sent = action(conn, ctx, item, status)
                    doomed += blobs
                    notified += [t for t in sent if t not in notified]
                return doomed, notified

            doomed, notified = self.s.db.write(txn)
            if notified:
                self.s.notify(notified)
            for blob in doomed:
                self.s.blobs.delete_later(blob)
