"""IAM's identifiers as AWS shapes them: unique ids, access keys, secrets, session tokens, ARNs."""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets

# Unique-id prefixes (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html).
ROLE_ID = "AROA"
USER_ID = "AIDA"
POLICY_ID = "ANPA"
ACCESS_KEY = "AKIA"
TEMPORARY_KEY = "ASIA"

# AWS's ids use upper-case letters and the digits 2-7 (base32's alphabet).
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _random(n: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def unique_id(prefix: str) -> str:
    """A 21-character unique id: AROA + 17."""
    return prefix + _random(17)


def access_key_id(prefix: str = ACCESS_KEY) -> str:
    """A 20-character access key id: AKIA/ASIA + 16."""
    return prefix + _random(16)


def secret_access_key() -> str:
    return base64.b64encode(os.urandom(30)).decode()  # 40 characters, as AWS's


def session_token() -> str:
    return base64.b64encode(b"sluice-session:" + os.urandom(96)).decode()


def role_arn(account: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role{path}{name}"


def user_arn(account: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:user{path}{name}"


def policy_arn(account: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:policy{path}{name}"


def assumed_role_arn(account: str, role_name: str, session: str) -> str:
    return f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}"


def timestamp(epoch: float) -> dt.datetime:
    """IAM's dates have whole seconds."""
    return dt.datetime.fromtimestamp(int(epoch), tz=dt.timezone.utc)
