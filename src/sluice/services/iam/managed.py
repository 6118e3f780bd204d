"""AWS managed policies (arn:aws:iam::aws:policy/...): the common ones, with AWS's documents.

They are package data (managed_policies.json, from the AWS Managed Policy Reference Guide), read
once on first use. Each has one version here, its default; AWS's history is not reproduced.
Policy ids are derived from the ARN (stable across runs), not AWS's real ids.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from .ids import POLICY_ID

AWS_POLICY_PREFIX = "arn:aws:iam::aws:policy/"
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@dataclass(frozen=True)
class ManagedPolicy:
    """An AWS managed policy, from the package data: one version, its default."""

    arn: str
    name: str
    path: str
    policy_id: str
    description: str
    default_version: str
    document: str
    created: dt.datetime
    updated: dt.datetime


def _policy_id(arn: str) -> str:
    digest = hashlib.sha256(arn.encode()).digest()
    return POLICY_ID + "".join(_ALPHABET[b % 32] for b in digest[:17])


def _date(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


@cache
def aws_policies() -> dict[str, ManagedPolicy]:
    """ARN -> policy, in the data file's order."""
    raw = json.loads(resources.files(__package__).joinpath("managed_policies.json").read_text())
    out = {}
    for p in raw:
        arn = p["Arn"]
        rest = arn[len(AWS_POLICY_PREFIX):]
        path, _, name = rest.rpartition("/")
        out[arn] = ManagedPolicy(
            arn=arn, name=name, path=f"/{path}/" if path else "/", policy_id=_policy_id(arn),
            description=p["Description"], default_version=p["DefaultVersionId"],
            document=json.dumps(p["Document"], indent=4), created=_date(p["CreateDate"]),
            updated=_date(p["UpdateDate"]),
        )
    return out


def aws_policy(arn: str) -> ManagedPolicy | None:
    return aws_policies().get(arn) if arn.startswith(AWS_POLICY_PREFIX) else None
