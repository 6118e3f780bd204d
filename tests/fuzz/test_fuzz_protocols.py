"""Fuzz every service's wire protocol with raw HTTP requests against a real `sluice up`.

Each test sends generated requests for one service (valid ones built by botocore's serializers,
then mutated: members, bodies, framing, encodings, content types, headers, paths) and checks each
answer (see target.py), then checks the data written before the run is intact.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from .cases import fuzz_case, post_object
from .profiles import examples, profile
from .stats import Stats
from .target import FuzzTarget
from .wire import Case

# Relative share of the examples each service gets (more operations, more wire variety: more).
WEIGHTS = {"s3": 2.0, "sqs": 1.2, "sns": 0.8, "lambda": 1.2, "events": 0.8, "cloudwatch": 1.0, "logs": 0.8,
           "iam": 1.0, "sts": 0.4, "cloudformation": 0.8}


def _fuzz(target: FuzzTarget, service: str, weight: float, request: pytest.FixtureRequest) -> None:
    spec = target.spec(service)
    extra = post_object(spec, ["pg-bucket", "pg-versioned"]) if service == "s3" else None
    target.revive()
    target.stats = Stats()

    @settings(profile(), max_examples=examples(weight))
    @given(case=fuzz_case(spec, extra))
    def one(case: Case) -> None:
        target.run(case)

    try:
        one()
    finally:
        request.node.user_properties.append(("fuzz_stats", target.stats.to_json()))
    target.verify_kept()


@pytest.mark.parametrize("service", list(WEIGHTS))
def test_fuzz_service(fuzz_target: FuzzTarget, service: str, request: pytest.FixtureRequest) -> None:
    _fuzz(fuzz_target, service, WEIGHTS[service], request)


def test_kept_function_still_runs(fuzz_target: FuzzTarget) -> None:
    fuzz_target.kept.invoke()
    fuzz_target.verify_kept()


@pytest.mark.parametrize("service", ["s3", "sqs", "lambda", "iam"])
def test_fuzz_with_verify_signatures(signed_fuzz_target: FuzzTarget, service: str,
                                     request: pytest.FixtureRequest) -> None:
    """With --verify-signatures the SigV4 parser meets every mutated Authorization, date and
    header first; unmutated requests are signed genuinely and reach the services."""
    _fuzz(signed_fuzz_target, service, 0.25, request)
