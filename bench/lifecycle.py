"""S3 lifecycle: how long one lifecycle run takes to expire N objects, in process on a manual clock.

For an unversioned bucket (objects deleted) and a versioned one (delete markers written), N
objects are uploaded under a one-day Expiration rule, then `S3Service.apply_lifecycle` is called
at a time three days on (everything due) and once more (nothing due: the nightly cost of a quiet
bucket). Also the cost of the x-amz-expiration lookup every Put/Get/Head makes.

    .venv/bin/python bench/lifecycle.py [--objects 10000]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path
from typing import Any

from sluice.protocol.context import RequestContext
from sluice.server import Sluice
from sluice.services.s3.lifecycle import expiration_member
from sluice.services.s3.records import objects
from sluice.settings import Settings

DAY = 86_400.0
CTX = RequestContext(request_id="bench", host_id="bench", account_id="000000000000", region="us-east-1",
                     service="s3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    args = parser.parse_args()
    app = Sluice.build(Settings(data_dir=Path(tempfile.mkdtemp(prefix="sluice-bench-lc-")) / "data", clock="manual"))
    s3: Any = app.services["s3"]

    def call(operation: str, **params: Any) -> Any:
        return s3.operation(operation)(CTX, **params)

    try:
        for bucket, versioned in (("plain", False), ("versioned", True)):
            call("CreateBucket", Bucket=bucket)
            if versioned:
                call("PutBucketVersioning", Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            call("PutBucketLifecycleConfiguration", Bucket=bucket, LifecycleConfiguration={"Rules": [
                {"ID": "r", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 1}}]})
            for i in range(args.objects):
                call("PutObject", Bucket=bucket, Key=f"logs/{i:07d}", Body=io.BytesIO(b"x" * 100))
            started = time.perf_counter()
            run = s3.apply_lifecycle(app.clock.now() + 3 * DAY)
            took = time.perf_counter() - started
            started = time.perf_counter()
            s3.apply_lifecycle(app.clock.now() + 4 * DAY)
            quiet = time.perf_counter() - started
            print(f"{bucket:9} expired {run.expired} in {took:.2f} s ({run.expired / took:,.0f}/s); "
                  f"a run with nothing due: {quiet * 1000:.1f} ms")

        call("PutObject", Bucket="plain", Key="other", Body=io.BytesIO(b"x"))
        record = objects.current(s3.state.db.reader, "plain", "other")
        for label, rules in (("no rule", 0), ("10 rules", 10)):
            if rules:
                call("PutBucketLifecycleConfiguration", Bucket="plain", LifecycleConfiguration={"Rules": [
                    {"ID": f"r{i}", "Filter": {"Prefix": f"o{i}"}, "Status": "Enabled", "Expiration": {"Days": 1}}
                    for i in range(rules)]})
            else:
                call("DeleteBucketLifecycle", Bucket="plain")
            started = time.perf_counter()
            for _ in range(10_000):
                expiration_member(s3.state, record)
            print(f"x-amz-expiration lookup, {label}: {(time.perf_counter() - started) / 10_000 * 1e6:.1f} us")
    finally:
        app.close()


if __name__ == "__main__":
    main()
