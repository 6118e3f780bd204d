"""A bucket's id-keyed report configurations: analytics (storage class analysis), inventory,
metrics and S3 Intelligent-Tiering archive configurations. Put/Get/Delete/List for each kind,
kept in the bucket's configuration document by id; stored only (Sluice produces no reports,
metrics filters or archive tiers), so that tools that manage them find what they wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from . import bucket_config
from .state import S3State

MAX_PER_BUCKET = 1000  # AWS's limit for each kind


@dataclass(frozen=True)
class Kind:
    """One kind of report configuration: where the bucket keeps it and its members' names."""

    key: str  # the member of the bucket's configuration document
    member: str  # the configuration's member in Put/Get (botocore's name)
    listed: str  # the list's member in List*


ANALYTICS = Kind("Analytics", "AnalyticsConfiguration", "AnalyticsConfigurationList")
INVENTORY = Kind("Inventory", "InventoryConfiguration", "InventoryConfigurationList")
METRICS = Kind("Metrics", "MetricsConfiguration", "MetricsConfigurationList")
TIERING = Kind("IntelligentTiering", "IntelligentTieringConfiguration", "IntelligentTieringConfigurationList")


def _no_such(bucket: str) -> ServiceError:
    return ServiceError("NoSuchConfiguration", "The specified configuration does not exist.", 404,
                        BucketName=bucket)


class BucketReports:
    def __init__(self, state: S3State) -> None:
        self.s = state

    def _all(self, bucket: str, kind: Kind) -> dict[str, Any]:
        found: dict[str, Any] = bucket_config.read(self.s, bucket, kind.key) or {}
        return found

    def _put(self, kind: Kind, Bucket: str, Id: str, params: dict[str, Any]) -> dict[str, Any]:
        config = dict(params.get(kind.member) or {})
        if config.get("Id") != Id:
            # AWS compares the document's Id with the id query parameter.
            raise ServiceError("InvalidArgument", "The configuration ID does not match the ID in the request.",
                               ArgumentName="id", ArgumentValue=Id)
        configs = self._all(Bucket, kind)
        if Id not in configs and len(configs) >= MAX_PER_BUCKET:
            raise ServiceError("TooManyConfigurations", "You are attempting to create a new configuration but "
                               f"have already reached the {MAX_PER_BUCKET:,}-configuration limit.")
        bucket_config.write(self.s, Bucket, kind.key, {**configs, Id: config})
        return {}

    def _get(self, kind: Kind, Bucket: str, Id: str) -> dict[str, Any]:
        config = self._all(Bucket, kind).get(Id)
        if config is None:
            raise _no_such(Bucket)
        return {kind.member: config}

    def _delete(self, kind: Kind, Bucket: str, Id: str) -> dict[str, Any]:
        configs = self._all(Bucket, kind)
        if Id not in configs:
            raise _no_such(Bucket)
        del configs[Id]
        bucket_config.write(self.s, Bucket, kind.key, configs or None)
        return {}

    def _list(self, kind: Kind, Bucket: str, params: dict[str, Any]) -> dict[str, Any]:
        configs = self._all(Bucket, kind)
        # One page: a bucket holds at most 1,000 of each, and S3 itself pages by 100 with an
        # opaque token; a client reading IsTruncated=false takes the whole list.
        result: dict[str, Any] = {"IsTruncated": False}
        if params.get("ContinuationToken"):
            result["ContinuationToken"] = params["ContinuationToken"]
        if configs:
            result[kind.listed] = [configs[i] for i in sorted(configs)]
        return result

    # -- analytics --

    def put_bucket_analytics_configuration(self, ctx: RequestContext, Bucket: str, Id: str,
            **params: Any) -> dict[str, Any]:
        return self._put(ANALYTICS, Bucket, Id, params)

    def get_bucket_analytics_configuration(self, ctx: RequestContext, Bucket: str, Id: str, **_: Any) -> dict[str, Any]:
        return self._get(ANALYTICS, Bucket, Id)

    def delete_bucket_analytics_configuration(self, ctx: RequestContext, Bucket: str, Id: str,
            **_: Any) -> dict[str, Any]:
        return self._delete(ANALYTICS, Bucket, Id)

    def list_bucket_analytics_configurations(self, ctx: RequestContext, Bucket: str, **params: Any) -> dict[str, Any]:
        return self._list(ANALYTICS, Bucket, params)

    # -- inventory --

    def put_bucket_inventory_configuration(self, ctx: RequestContext, Bucket: str, Id: str,
            **params: Any) -> dict[str, Any]:
        return self._put(INVENTORY, Bucket, Id, params)

    def get_bucket_inventory_configuration(self, ctx: RequestContext, Bucket: str, Id: str, **_: Any) -> dict[str, Any]:
        return self._get(INVENTORY, Bucket, Id)

    def delete_bucket_inventory_configuration(self, ctx: RequestContext, Bucket: str, Id: str,
            **_: Any) -> dict[str, Any]:
        return self._delete(INVENTORY, Bucket, Id)

    def list_bucket_inventory_configurations(self, ctx: RequestContext, Bucket: str, **params: Any) -> dict[str, Any]:
        return self._list(INVENTORY, Bucket, params)

    # -- metrics --

    def put_bucket_metrics_configuration(self, ctx: RequestContext, Bucket: str, Id: str,
            **params: Any) -> dict[str, Any]:
        return self._put(METRICS, Bucket, Id, params)

    def get_bucket_metrics_configuration(self, ctx: RequestContext, Bucket: str, Id: str, **_: Any) -> dict[str, Any]:
        return self._get(METRICS, Bucket, Id)

    def delete_bucket_metrics_configuration(self, ctx: RequestContext, Bucket: str, Id: str,
            **_: Any) -> dict[str, Any]:
        return self._delete(METRICS, Bucket, Id)

    def list_bucket_metrics_configurations(self, ctx: RequestContext, Bucket: str, **params: Any) -> dict[str, Any]:
        return self._list(METRICS, Bucket, params)

    # -- intelligent tiering --

    def put_bucket_intelligent_tiering_configuration(self, ctx: RequestContext, Bucket: str, Id: str,
            **params: Any) -> dict[str, Any]:
        return self._put(TIERING, Bucket, Id, params)

    def get_bucket_intelligent_tiering_configuration(self, ctx: RequestContext, Bucket: str, Id: str, **_: Any) -> dict[str, Any]:
        return self._get(TIERING, Bucket, Id)

    def delete_bucket_intelligent_tiering_configuration(self, ctx: RequestContext, Bucket: str, Id: str,
            **_: Any) -> dict[str, Any]:
        return self._delete(TIERING, Bucket, Id)

    def list_bucket_intelligent_tiering_configurations(self, ctx: RequestContext, Bucket: str, **params: Any) -> dict[str, Any]:
        return self._list(TIERING, Bucket, params)
