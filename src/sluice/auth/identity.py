"""Who a caller is: the identity behind an access key, as the rest of Sluice needs it.

`Identities` is what the SigV4 verifier and the enforcer ask ("whose key is this, and what is
its secret?"); the IAM service implements it over configured root keys, IAM users' access keys
and STS temporary credentials. Also here: the `--credentials FILE` format, which maps extra
access keys to accounts or users.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .policy import Principal

ROOT = "root"
USER = "user"
ASSUMED_ROLE = "assumed-role"

# Any 12-digit access key id is the root of that account (secret "test"): the LocalStack
# convention, so a second account needs no set-up.
ACCOUNT_KEY = re.compile(r"^\d{12}$")
DEFAULT_SECRET = "test"
DEFAULT_KEY = "test"  # the default account's root


@dataclass(frozen=True)
class Identity:
    """The caller behind an access key (a root, an IAM user or a role session), with its secret."""

    access_key: str
    secret_key: str
    session_token: str | None
    account: str
    arn: str  # arn:aws:iam::123:root | arn:aws:iam::123:user/u | arn:aws:sts::123:assumed-role/R/s
    kind: str  # "root" | "user" | "assumed-role"
    user_id: str  # root: the account id; user: AIDA...; role session: AROA...:session
    role_arn: str | None = None
    expires: float | None = None  # epoch seconds, temporary credentials only

    def principal(self) -> Principal:
        return Principal(self.arn, self.account, self.kind, self.role_arn)


class Identities(Protocol):
    def identity(self, access_key: str) -> Identity | None:
        """The identity of a key; None for a key nobody issued (or whose session expired)."""


def has_own_secret(access_key: str, configured: Mapping[str, ConfiguredKey],
                   identity: Callable[[str], Identity | None]) -> bool:
    """A key issued with a secret of its own (`--credentials`, IAM CreateAccessKey, STS), whose
    signature plain mode checks; not `test`, a 12-digit id or a key nobody issued (users' own
    keys work unconfigured). `test`, the common case, costs one comparison."""
    if access_key == DEFAULT_KEY:
        return False
    if access_key in configured:
        return True
    return not ACCOUNT_KEY.match(access_key) and identity(access_key) is not None


def root_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def root_identity(access_key: str, secret: str, account: str) -> Identity:
    return Identity(access_key, secret, None, account, root_arn(account), ROOT, account)


def well_known_identity(access_key: str, default_account: str) -> Identity | None:
    """The root identity of a key that needs no IAM records: `test` (the default account) and a
    12-digit key id (that account); None for any other key. (`--credentials` keys come first.)"""
    if access_key == DEFAULT_KEY:
        return root_identity(access_key, DEFAULT_SECRET, default_account)
    if ACCOUNT_KEY.match(access_key):
        return root_identity(access_key, DEFAULT_SECRET, access_key)
    return None


@dataclass(frozen=True)
class ConfiguredKey:
    """An access key from `--credentials FILE`: a root key of `account`, or a key of IAM user
    `user` in `account` (the user's policies apply once the user exists)."""

    secret: str
    account: str
    user: str | None = None
    email: str | None = None  # the account's e-mail address, as S3 ACL grants by e-mail name it


def parse_credentials(data: Mapping[str, Any], default_account: str) -> dict[str, ConfiguredKey]:
    """Read the credentials file's JSON: {"AKIA...": {"secret": "...", "account": "123456789012",
    "user": "alice", "email": "a@example.com"}}; `account` defaults to the server's account, `user`
    to none (root); `email` is the account's address for S3 ACL grants by e-mail.
    A user may also be given by ARN (arn:aws:iam::123456789012:user/alice), which sets the account.
    Raises ValueError with what is wrong."""
    if not isinstance(data, Mapping):
        raise ValueError("the credentials file must hold a JSON object of access key ids")
    keys: dict[str, ConfiguredKey] = {}
    for key_id, entry in data.items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("secret"), str) or not entry["secret"]:
            raise ValueError(f"{key_id}: needs a \"secret\" string")
        account = entry.get("account", default_account)
        user = entry.get("user")
        if isinstance(user, str) and user.startswith("arn:"):
            m = re.fullmatch(r"arn:aws:iam::(\d{12}):user/(?:.*/)?([\w+=,.@-]+)", user)
            if m is None:
                raise ValueError(f"{key_id}: \"user\" {user!r} is not an IAM user ARN")
            if "account" in entry and entry["account"] != m.group(1):
                raise ValueError(f"{key_id}: \"account\" does not match the user ARN's account")
            account, user = m.group(1), m.group(2)
        if not isinstance(account, str) or not re.fullmatch(r"\d{12}", account):
            raise ValueError(f"{key_id}: \"account\" must be a 12-digit account id")
        if user is not None and (not isinstance(user, str) or not re.fullmatch(r"[\w+=,.@-]{1,64}", user)):
            raise ValueError(f"{key_id}: \"user\" must be an IAM user name or ARN")
        email = entry.get("email")
        if email is not None and (not isinstance(email, str) or "@" not in email):
            raise ValueError(f"{key_id}: \"email\" must be an e-mail address")
        keys[str(key_id)] = ConfiguredKey(entry["secret"], account, user, email)
    return keys


def load_credentials(path: Path, default_account: str) -> dict[str, ConfiguredKey]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from None
    return parse_credentials(data, default_account)
