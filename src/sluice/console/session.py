"""Who the console acts as.

Without --enforce-iam or --verify-signatures: the account's root (the default key `test`), as
any unsigned client is. With either: the identity the user signed in as, with an access key and
its secret checked against IAM's credentials (`enforced`: sign-in is required). The cookie holds the access key and an HMAC of it (and of its secret) under
the per-server secret: it cannot be forged, it stops working when the key is deleted or made
inactive, and the secret itself never leaves the server. HttpOnly, SameSite=Strict, Path=the
console. A server restart draws a new secret: the user signs in again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie

from ..auth.identity import Identity
from ..protocol.http import HttpRequest

COOKIE = "sluice_console"
ROOT_KEY = "test"  # the key every unsigned client acts with (the account's root)

IdentityLookup = Callable[[str], "Identity | None"]


class Sessions:
    def __init__(self, secret: bytes, lookup: IdentityLookup, enforced: bool, path: str) -> None:
        self._secret = secret
        self._lookup = lookup
        self.enforced = enforced
        self._path = path

    def current(self, req: HttpRequest) -> Identity | None:
        """The signed-in identity (blocking: it reads IAM); root when nothing is enforced; None
        when the user must sign in."""
        if not self.enforced:
            return self._lookup(ROOT_KEY)
        value = _cookie(req, COOKIE)
        if not value or "." not in value:
            return None
        encoded, _, mac = value.rpartition(".")
        try:
            access_key = base64.urlsafe_b64decode(encoded.encode()).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        identity = self._lookup(access_key)
        if identity is None or not hmac.compare_digest(mac, self._mac(identity)):
            return None
        return identity

    def sign_in(self, access_key: str, secret_key: str) -> tuple[Identity | None, str]:
        """The identity and its Set-Cookie value, or None when the key or secret is wrong."""
        identity = self._lookup(access_key.strip())
        if identity is None or not hmac.compare_digest(identity.secret_key.encode(), secret_key.strip().encode()):
            return None, ""
        encoded = base64.urlsafe_b64encode(identity.access_key.encode()).decode()
        return identity, self._cookie(f"{encoded}.{self._mac(identity)}", "")

    def sign_out(self) -> str:
        return self._cookie("", "; Max-Age=0")

    def _cookie(self, value: str, extra: str) -> str:
        return f"{COOKIE}={value}; Path={self._path}; HttpOnly; SameSite=Strict{extra}"

    def _mac(self, identity: Identity) -> str:
        message = f"session\0{identity.access_key}\0{identity.secret_key}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()


def _cookie(req: HttpRequest, name: str) -> str | None:
    raw = req.headers.get("cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None
