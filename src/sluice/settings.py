"""Run-time settings: where state lives, where the server listens, who the caller is."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .auth.identity import ConfiguredKey

DEFAULT_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"


@dataclass
class Settings:
    """A server's settings, from `sluice up`'s options (or a test's)."""

    host: str = "127.0.0.1"
    port: int = 4566
    data_dir: Path = field(default_factory=lambda: Path(".sluice"))
    time_scale: float = 1.0
    # "real" (wall-clock time, engine waits scaled by time_scale) or "manual" (engine time moves
    # only when advanced: a ManualClock, for tests that drive retries and schedules by hand).
    clock: str = "real"
    account_id: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION
    # Access keys beyond test/test and 12-digit account keys (`sluice up --credentials FILE`).
    credentials: dict[str, ConfiguredKey] = field(default_factory=dict)
    log_level: str = "info"
    # Request bodies up to this size are read into memory before the operation runs;
    # larger ones stream from the socket to disk.
    buffer_limit: int = 1024 * 1024
    # Lambda: the account's concurrency limit (AWS's default), and how many execution
    # environments this machine runs at once (local capacity, not AWS concurrency).
    account_concurrency: int = 1000
    max_environments: int = 8
    environment_idle_timeout: float = 600.0
    python_overrides: dict[str, str] = field(default_factory=dict)
    # Check every request's SigV4 signature against the caller's secret (off: any key works).
    verify_signatures: bool = False
    # Evaluate every request against IAM policies as AWS does (off: any key is accepted, free).
    enforce_iam: bool = False
    # New S3 buckets get ACLs enabled and no public access block (AWS before April 2023, and what
    # S3-compatible suites such as ceph's s3-tests expect) instead of BucketOwnerEnforced + BPA.
    s3_legacy_bucket_defaults: bool = False
    # OpenTelemetry: spans go to <otel_endpoint>/v1/traces (OTLP/HTTP, JSON) when set.
    otel_endpoint: str | None = None

    @property
    def endpoint_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"
