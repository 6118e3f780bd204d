"""Access keys -> identities: configured root keys, IAM users' keys and STS sessions.

Resolution order for a key: `--credentials FILE` entries, the default `test` key and any
12-digit key (root of that account, secret "test"), IAM users' access keys (Active only), then
STS session keys (until they expire on the Clock). Sessions are rows in `sts_sessions`, so
temporary credentials survive a restart like everything else. Answers are remembered until IAM's
change counter moves (cache.py): enforcement asks on every request.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass

from ...auth.identity import (
    ASSUMED_ROLE,
    USER,
    ConfiguredKey,
    Identity,
    root_identity,
    well_known_identity,
)
from ...clock import Clock
from ...settings import Settings
from ...store.db import Database
from . import ids
from .cache import ChangeCounter, Remembered
from .records import (
    SessionRecord,
    find_session,
    find_user,
    insert_session,
    key_owner,
    reusable_session,
)

# Credentials Sluice issues itself (to functions) are reused until this close to expiry.
REUSE_MARGIN = 300.0
SELF_ISSUED_SECONDS = 3600
# Expired sessions are kept this long (so a late caller hears "expired", not "invalid").
EXPIRED_RETENTION = 86400.0


@dataclass(frozen=True)
class Lookup:
    """What an access key stands for: an identity, or None (unknown or an expired session's key)."""

    identity: Identity | None
    expired: bool = False  # a session key that was valid once


class Credentials:
    def __init__(self, db: Database, clock: Clock, settings: Settings, changes: ChangeCounter) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.changes = changes
        self._lookups: Remembered[Lookup] = Remembered(changes)

    # -- resolution ------------------------------------------------------------------------

    def lookup(self, access_key: str) -> Lookup:
        found = self._lookups.get(access_key, lambda: self._resolve(access_key))
        expires = found.identity.expires if found.identity is not None else None
        if expires is not None and expires <= self.clock.now():
            return Lookup(None, expired=True)  # a remembered session that has run out since
        return found

    def _resolve(self, access_key: str) -> Lookup:
        configured = self.settings.credentials.get(access_key)
        if configured is not None:
            return Lookup(self._configured(access_key, configured))
        known = well_known_identity(access_key, self.settings.account_id)
        if known is not None:
            return Lookup(known)
        if access_key.startswith(ids.ACCESS_KEY):
            return Lookup(self._user_key(access_key))
        if access_key.startswith(ids.TEMPORARY_KEY):
            return self._session(access_key)
        return Lookup(None)

    def _configured(self, access_key: str, key: ConfiguredKey) -> Identity:
        if key.user is None:
            return root_identity(access_key, key.secret, key.account)
        user = find_user(self.db.reader, key.account, key.user)
        if user is not None:
            return Identity(access_key, key.secret, None, key.account, user.arn, USER, user.user_id)
        # The user is not created (yet): an identity with no policies, as a deleted user would be.
        return Identity(access_key, key.secret, None, key.account, ids.user_arn(key.account, "/", key.user),
                        USER, _stable_id(ids.USER_ID, f"{key.account}:{key.user}"))

    def _user_key(self, access_key: str) -> Identity | None:
        found = key_owner(self.db.reader, access_key)
        if found is None or found.key.status != "Active":
            return None
        key = found.key
        if key.user_lname == "":  # the account root's own access key
            return root_identity(access_key, key.secret, key.account)
        if found.user_arn is None or found.user_id is None:
            return None
        return Identity(access_key, key.secret, None, key.account, found.user_arn, USER, found.user_id)

    def _session(self, access_key: str) -> Lookup:
        session = find_session(self.db.reader, access_key)
        if session is None:
            return Lookup(None)
        if session.expires <= self.clock.now():
            return Lookup(None, expired=True)
        return Lookup(_session_identity(session))

    # -- issuing ---------------------------------------------------------------------------

    def issue_session(self, *, account: str, arn: str, kind: str, user_id: str, role_arn: str | None,
                      seconds: int, reuse_key: str | None = None) -> Identity:
        now = self.clock.now()
        session = SessionRecord(
            access_key=ids.access_key_id(ids.TEMPORARY_KEY), secret=ids.secret_access_key(), token=ids.session_token(),
            account=account, arn=arn, kind=kind, user_id=user_id, role_arn=role_arn, expires=float(int(now) + seconds),
            reuse_key=reuse_key, created=now)

        def insert(conn: sqlite3.Connection) -> None:
            insert_session(conn, session, purge_before=now - EXPIRED_RETENTION)

        self.db.write(insert)
        self.changes.bump()
        return _session_identity(session)

    def role_session(self, role_arn: str, role_id: str, session_name: str) -> Identity:
        """Credentials for a role session Sluice starts itself (a function's execution role):
        the same ones until they are close to expiry, then new ones."""
        reuse_key = f"{role_arn}|{session_name}"
        found = reusable_session(self.db.reader, reuse_key, self.clock.now() + REUSE_MARGIN)
        if found is not None:
            return _session_identity(found)
        account, role_name = role_account_and_name(role_arn)
        return self.issue_session(
            account=account, arn=ids.assumed_role_arn(account, role_name, session_name), kind=ASSUMED_ROLE,
            user_id=f"{role_id}:{session_name}", role_arn=role_arn, seconds=SELF_ISSUED_SECONDS,
            reuse_key=reuse_key)


def role_account_and_name(role_arn: str) -> tuple[str, str]:
    """arn:aws:iam::123456789012:role/path/Name -> ("123456789012", "Name")."""
    parts = role_arn.split(":", 5)
    return parts[4], parts[5].rsplit("/", 1)[-1]


def derived_role_id(role_arn: str) -> str:
    """A stable role id for a role that does not exist (functions may name any role)."""
    return _stable_id(ids.ROLE_ID, role_arn)


def _stable_id(prefix: str, seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return prefix + "".join("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[b % 32] for b in digest[:17])


def _session_identity(s: SessionRecord) -> Identity:
    return Identity(s.access_key, s.secret, s.token, s.account, s.arn, s.kind, s.user_id, s.role_arn, s.expires)
