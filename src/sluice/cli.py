"""`sluice up | logs | trace | status | dlq redrive | demo | --version`."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from pathlib import Path
from urllib.parse import urlsplit

from . import __version__

# The server, its settings and its credentials are imported when `up` runs, not for `--help` or
# the client commands: they pull in botocore and every service (most of a second).


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sluice", description="AWS's S3 -> Lambda -> DLQ pipeline, locally.")
    parser.add_argument("--version", action="version", version=f"sluice {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the server in the foreground")
    up.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    up.add_argument("--port", type=int, default=4566)
    up.add_argument("--data-dir", type=Path, default=Path(".sluice"), help="where state lives (default .sluice)")
    up.add_argument("--time-scale", type=float, default=1.0,
                    help="run the engine's waits (retries, backoff, event age) N times faster")
    up.add_argument("--clock", choices=["real", "manual"], default="real",
                    help="manual: the engine's time moves only when a test advances it "
                         "(POST /_sluice/clock/advance, see docs/testing-api.md)")
    up.add_argument("--account", default="000000000000")
    up.add_argument("--region", default="us-east-1")
    up.add_argument("--credentials", type=Path, metavar="FILE",
                    help='extra access keys, JSON: {"AKIA...": {"secret": "...", "account": "123456789012", '
                         '"user": "alice", "email": "a@example.com"}} (account, user and email optional; the email names '
                         'the account in S3 ACL grants; test/test and any 12-digit key work anyway)')
    up.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                    help="debug logs one line per request")
    up.add_argument("-v", "--verbose", action="store_const", const="debug", dest="log_level")
    up.add_argument("--max-environments", type=int, default=8,
                    help="execution environments this machine runs at once (local capacity; events wait for one)")
    up.add_argument("--idle-timeout", type=float, default=600.0,
                    help="seconds an idle execution environment is kept warm")
    up.add_argument("--account-concurrency", type=int, default=1000,
                    help="the account's Lambda concurrency limit (AWS's default: 1000)")
    up.add_argument("--python", action="append", default=[], metavar="RUNTIME=PATH",
                    help="interpreter for a runtime, e.g. python3.12=/usr/bin/python3.12; default: python3.X on "
                         "PATH or in pyenv, else the closest version (said at start-up and in GetFunction)")
    up.add_argument("--verify-signatures", action="store_true",
                    help="check each request's AWS SigV4 signature against the caller's secret key "
                         "(default: only keys with a secret of their own, from --credentials, IAM or STS; "
                         "test, 12-digit ids and unknown keys are taken unchecked)")
    up.add_argument("--enforce-iam", action="store_true",
                    help="evaluate every request against IAM identity and resource policies, as AWS does "
                         "(default: identity policies are not evaluated; unsigned requests are anonymous and, "
                         "with other accounts' callers, get what resource policies and ACLs grant)")
    up.add_argument("--s3-legacy-bucket-defaults", action="store_true",
                    help="new S3 buckets as before 2023: ACLs enabled (ObjectWriter), no public access block, "
                         "no default encryption (default: BucketOwnerEnforced with Block Public Access on "
                         "and SSE-S3, as AWS today)")

    up.add_argument("--otel-endpoint", metavar="URL",
                    help="export each event's path as OpenTelemetry spans to URL/v1/traces (OTLP/HTTP, JSON), "
                         "e.g. http://127.0.0.1:4318")

    trace = sub.add_parser("trace", help="show the journey of one event: upload, notification, attempts, outcome")
    trace.add_argument("target", help="bucket/key (its latest upload), an S3 request id or a Lambda request id")
    trace.add_argument("--all", action="store_true", help="with bucket/key: every recorded upload of the key")
    trace.add_argument("--json", action="store_true", help="print the journey as JSON")
    trace.add_argument("--endpoint", default="http://127.0.0.1:4566", help="the Sluice server")

    status = sub.add_parser("status", help="async backlogs, in-flight counts, error rates and DLQ depths")
    status.add_argument("--watch", action="store_true", help="refresh every second until Ctrl-C")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.add_argument("--endpoint", default="http://127.0.0.1:4566", help="the Sluice server")

    logs = sub.add_parser("logs", help="print a function's (or a log group's) log events from a running server")
    logs.add_argument("target", help="a function name (its group /aws/lambda/<name>) or a log group starting with /")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new events (Ctrl-C stops)")
    logs.add_argument("--since", default="10m", help="how far back to start: 30s, 10m, 2h, 1d or an ISO time")
    logs.add_argument("--filter-pattern", help="a CloudWatch Logs filter pattern")
    logs.add_argument("--endpoint", default="http://127.0.0.1:4566", help="the Sluice server")
    logs.add_argument("--region", default=None)

    dlq = sub.add_parser("dlq", help="work with dead-letter queues of a running server")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True)
    redrive = dlq_sub.add_parser("redrive", help="replay every DLQ message through a function's async path")
    redrive.add_argument("queue", help="queue name, URL or ARN")
    redrive.add_argument("--to", required=True, dest="function", help="function name or ARN")
    redrive.add_argument("--endpoint", default="http://127.0.0.1:4566", help="the Sluice server")
    redrive.add_argument("--region", default="us-east-1")
    redrive.add_argument("--wait", type=float, default=600.0, help="seconds to wait for outcomes")

    demo = sub.add_parser("demo", help="run the S3EventProcessor exercise (S3 -> Lambda -> retries -> DLQ) on a "
                                       "temporary server, in under 30 seconds")
    demo.add_argument("--keep", action="store_true",
                      help="keep the server up afterwards for a look in the web console (Ctrl-C stops it)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "up":
        logging.basicConfig(
            level=getattr(logging, args.log_level.upper()),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        for noisy in ("botocore", "urllib3", "asyncio"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        if args.time_scale <= 0:
            print("sluice: --time-scale must be positive", file=sys.stderr)
            return 2
        # Start-up makes ~200k objects that live as long as the server and hardly any garbage
        # cycle: the collector's ~80 passes over them were ~10 ms of the start, for nothing.
        # The server turns it back on once it listens (server.py, _Server.startup).
        gc.disable()
        from .uvicorn_parts import enter_package

        enter_package()  # before the server's modules import uvicorn: they need none of its CLI
        from .auth.identity import load_credentials
        from .runtime.python import PYTHON_RUNTIMES
        from .server import serve
        from .settings import Settings

        overrides = {}
        for item in args.python:
            runtime, sep, path = item.partition("=")
            if not sep or runtime not in PYTHON_RUNTIMES or not path:
                print(f"sluice: --python takes RUNTIME=PATH with RUNTIME one of {', '.join(PYTHON_RUNTIMES)}, "
                      f"e.g. python3.12=/usr/bin/python3.12 (got {item!r})", file=sys.stderr)
                return 2
            overrides[runtime] = path
        if args.max_environments < 1:
            print("sluice: --max-environments must be at least 1", file=sys.stderr)
            return 2
        if args.otel_endpoint is not None:
            url = urlsplit(args.otel_endpoint)
            if url.scheme not in ("http", "https") or not url.hostname:
                # Export runs in the background and drops what fails: a typo would go unseen.
                print(f"sluice: --otel-endpoint takes an http(s) URL, e.g. http://127.0.0.1:4318 "
                      f"(got {args.otel_endpoint!r})", file=sys.stderr)
                return 2
        credentials = {}
        if args.credentials is not None:
            try:
                credentials = load_credentials(args.credentials, args.account)
            except ValueError as exc:
                print(f"sluice: --credentials: {exc}", file=sys.stderr)
                return 2
        serve(Settings(host=args.host, port=args.port, data_dir=args.data_dir, time_scale=args.time_scale,
                       clock=args.clock,
                       credentials=credentials,
                       account_id=args.account, region=args.region, log_level=args.log_level,
                       max_environments=args.max_environments, environment_idle_timeout=args.idle_timeout,
                       account_concurrency=args.account_concurrency, python_overrides=overrides,
                       verify_signatures=args.verify_signatures,
                       enforce_iam=args.enforce_iam, s3_legacy_bucket_defaults=args.s3_legacy_bucket_defaults,
                       otel_endpoint=args.otel_endpoint))
        return 0
    if args.command == "demo":
        from .demo import run as demo

        return demo(keep=args.keep)
    if args.command == "dlq":
        from .tools.redrive import run as redrive

        return redrive(args.queue, args.function, endpoint=args.endpoint, region=args.region, wait=args.wait)
    if args.command == "trace":
        from .tools.trace import run as trace

        return trace(args.target, endpoint=args.endpoint, every=args.all, as_json=args.json)
    if args.command == "status":
        from .tools.status import run as show_status

        return show_status(endpoint=args.endpoint, watch=args.watch, as_json=args.json)
    if args.command == "logs":
        from .tools.logs_tail import run

        return run(args.target, endpoint=args.endpoint, since=args.since, follow=args.follow,
                   pattern=args.filter_pattern, region=args.region)
    return 2


if __name__ == "__main__":
    sys.exit(main())
