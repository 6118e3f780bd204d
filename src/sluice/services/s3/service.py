"""S3: its operations, split by subject into parts sharing one `S3State`, and what the rest of
Sluice uses of it (a delivery target, bucket policies for IAM, storage totals for metrics).

No HTTP, no XML, no waits: members in, members out. Event notifications are written with the
object change; the engine delivers them (`NotificationOutbox`, added to the Engine in server.py).
"""

from __future__ import annotations

import inspect
import io
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from ...clock import Clock
from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ...store import Store
from ..base import Operation, Service
from ..delivery import INVALID, NOT_FOUND, Deliveries, Delivery, DeliveryResult
from .access import Access
from .attributes import ObjectAttributes
from .bucket_tagging import BucketTagging
from .bucket_views import BucketViews
from .buckets import Buckets
from .configurations import BucketSettings
from .cors import BucketCors
from .encryption import with_encryption
from .event_records import EventRecorder
from .expiry import LifecycleExpiry, LifecycleRun
from .lifecycle import BucketLifecycle
from .listings import Listings
from .multipart import Multipart
from .notification_config import DestinationCheck, MayInvoke, ResolveFunction
from .notifications import Notifications
from .objects import Objects
from .policy import Policies
from .post import PostUploads
from .records import BucketTotals, buckets, objects
from .reports import BucketReports
from .state import S3State

# Reads cheap enough for the event loop (`runs_on_loop`).
_LOOP_READS = frozenset({"GetObject", "HeadObject"})
# Operations that change no bucket's row, policy or lifecycle configuration (besides reads,
# Get*/Head*/List*): after any other, the bucket views are forgotten (bucket_views.py). An
# operation missing here only costs the next requests a read.
_KEEP_VIEWS = frozenset({
    "PutObject", "CopyObject", "DeleteObject", "DeleteObjects", "PostObject", "CreateMultipartUpload",
    "UploadPart", "UploadPartCopy", "CompleteMultipartUpload", "AbortMultipartUpload", "PutObjectTagging",
    "DeleteObjectTagging", "PutObjectAcl"})


def _nothing(destinations: Sequence[str]) -> None:
    pass


class S3Service(Service):
    name = "s3"

    def __init__(self, store: Store, clock: Clock, deliveries: Deliveries | None = None, *,
                 notify: Callable[[Sequence[str]], None] = _nothing, sample_traces: bool = False,
                 resolve_function: ResolveFunction | None = None, may_invoke: MayInvoke | None = None,
                 kept_blobs: Callable[[], set[str]] = set, account_emails: Mapping[str, str] | None = None,
                 legacy_bucket_defaults: bool = False) -> None:
        """`account_emails` / `legacy_bucket_defaults`: see `Access`; `notify`: called (from any thread) with the destinations of an object change's
        notification rows once they are committed; `sample_traces`: new trace headers are sampled (an OTLP export is on);
        `resolve_function` / `may_invoke`: Lambda's checks of a notification destination;
        `kept_blobs`: the bodies other services keep in the same blob store (Lambda's archives)."""
        self.kept_blobs = kept_blobs
        db = store.db
        self.views = BucketViews(lambda name: buckets.view(db.reader, name))
        self.state = S3State(db, store.blobs, clock, EventRecorder(clock, sample_traces), notify, self.views)
        self.access = Access(self.state, account_emails or {}, legacy_bucket_defaults)
        self.objects = Objects(self.state, self.access)
        self.policies = Policies(self.state)
        self.cors = BucketCors(self.state)  # the gateway answers preflights with it
        self._parts = (
            Buckets(self.state, self.access), self.objects, self.access, ObjectAttributes(self.state), Listings(self.state),
            Multipart(self.state, self.access), self.policies, PostUploads(self.state, self.access), BucketTagging(self.state),
            Notifications(self.state, DestinationCheck(clock, deliveries, resolve_function, may_invoke)),
            self.cors, BucketSettings(self.state, legacy_bucket_defaults), BucketReports(self.state),
            BucketLifecycle(self.state),
        )
        self.expiry = LifecycleExpiry(self.state)

    def operation_owners(self) -> Sequence[object]:
        return self._parts

    def operation(self, op_name: str) -> Operation | None:
        """The operation, checking x-amz-expected-bucket-owner (and -source-bucket-owner) first:
        a bucket of another account is AccessDenied, whatever the operation."""
        fn = super().operation(op_name)
        if fn is None:
            return None
        if inspect.iscoroutinefunction(fn):
            return with_encryption(self.state, op_name, fn)
        found = fn

        def checked(ctx: RequestContext, **params: Any) -> Any:
            self._check_expected_owners(params)
            return found(ctx, **params)

        # Object writes and reads say (and writes record) their server-side encryption.
        encrypted = with_encryption(self.state, op_name, checked)
        if op_name in _KEEP_VIEWS or op_name.startswith(("Get", "Head", "List")):
            return encrypted
        views = self.views

        def changing(ctx: RequestContext, **params: Any) -> Any:
            try:
                return encrypted(ctx, **params)
            finally:
                views.invalidate()  # committed (or failed): no view from before it is kept

        return changing

    def runs_on_loop(self, op_name: str) -> bool:
        # An object's metadata and, for bodies kept in its row, its body: indexed reads. A body in
        # a file is a ResponseBody, read in pieces off the loop as the gateway sends it.
        return op_name in _LOOP_READS

    def _check_expected_owners(self, params: dict[str, Any]) -> None:
        self._check_expected_owner(params.get("Bucket"), params.get("ExpectedBucketOwner"))
        if params.get("ExpectedSourceBucketOwner") and isinstance(params.get("CopySource"), str):
            source = params["CopySource"].lstrip("/").split("/", 1)[0]
            self._check_expected_owner(unquote(source), params["ExpectedSourceBucketOwner"])

    def _check_expected_owner(self, bucket: Any, expected: Any) -> None:
        if not expected or not isinstance(bucket, str):
            return
        owner = self.views.get(bucket)
        if owner is not None and owner.record.account != expected:
            raise ServiceError("AccessDenied", "Access Denied", 403)

    def reset(self) -> None:
        self.views.invalidate()

    async def start(self) -> None:
        # Body files no row points to are left over from writes cut short (a crash between the
        # file and its row): remove them.
        self.state.blobs.sweep(objects.referenced_blobs(self.state.db.reader) | self.kept_blobs())

    # -- for the rest of Sluice --------------------------------------------------------------

    def deliver(self, arn: str, delivery: Delivery) -> DeliveryResult:
        """Write `delivery.body` as a JSON object (Lambda's S3 failure destinations)."""
        bucket = arn.split(":::", 1)[1] if ":::" in arn else ""
        if not bucket or not delivery.object_key:
            return DeliveryResult.failed(INVALID, f"not an S3 bucket ARN with a key: {arn}")
        found = buckets.find(self.state.db.reader, bucket)
        if found is None:
            return DeliveryResult.failed(NOT_FOUND, f"bucket {bucket} does not exist")
        ctx = RequestContext(request_id=os.urandom(8).hex().upper(), host_id="", account_id=found.account,
                             region=found.region, service="s3")
        try:
            self.objects.put_object(ctx, Bucket=bucket, Key=delivery.object_key,
                                    Body=io.BytesIO(delivery.body.encode()), ContentType="application/json")
        except ServiceError as err:
            return DeliveryResult.failed(NOT_FOUND if err.code in ("NoSuchBucket", "NoSuchKey") else INVALID, err.message)
        return DeliveryResult(True, delivery.object_key)

    def apply_lifecycle(self, at: float) -> LifecycleRun:
        """Apply the buckets' lifecycle rules to what is due at the clock time `at` (the engine's
        S3Lifecycle worker calls this at each lifecycle midnight)."""
        return self.expiry.apply_due(at)

    def resource_policy(self, arn: str) -> tuple[str | None, str | None]:
        """(bucket policy, owner account) for arn:aws:s3:::bucket[/key]; (None, None) if no bucket."""
        return self.policies.resource_policy(arn)

    def acl_grants(self, arn: str, action: str, account: str | None) -> str | None:
        """Which ACL grant ("group", "account"; None: none) lets a caller of `account` (None:
        anonymous) perform `action` on arn:aws:s3:::bucket[/key] (IAM enforcement counts it as a
        resource-based allow)."""
        return self.access.grants(arn, action, account)

    def object_owner(self, arn: str, action: str) -> str | None:
        """Another account than the bucket's owning the object, for the actions its ACL governs."""
        return self.access.object_owner(arn, action)

    def restricts_public_policy(self, arn: str) -> bool:
        """The bucket's RestrictPublicBuckets is on (IAM enforcement reads it with the policy)."""
        return self.access.restricts_public_policy(arn.split(":::", 1)[-1].split("/", 1)[0])

    def existing_object_tags(self, arn: str) -> dict[str, str] | None:
        """The tags of the object arn:aws:s3:::bucket/key names (its current version), for the
        s3:ExistingObjectTag/<key> condition; None when there is no such object."""
        bucket, _, key = arn.split(":::", 1)[-1].partition("/")
        found = objects.current(self.state.db.reader, bucket, key) if key else None
        return dict(found.tags) if found is not None and not found.delete_marker else None

    def storage_totals(self) -> list[BucketTotals]:
        """Every bucket's stored bytes (STANDARD storage class) and object count, for the daily
        AWS/S3 storage metrics. One aggregate read."""
        return buckets.totals(self.state.db.reader)
