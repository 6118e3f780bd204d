"""What keeps other sites out of the console: the Host, the origin and the CSRF token.

- Host: a server bound to loopback answers only to loopback names, so a page on another site
  cannot reach it through DNS rebinding (a name of the attacker's that resolves to 127.0.0.1).
- Origin: a mutating request (POST, the only method that changes anything) from another origin
  is refused with 403, judged by `Origin` or, when a browser sends none, `Sec-Fetch-Site`.
- CSRF token: every POST carries a synchronizer token (header X-CSRF-Token, which htmx sends
  from the page's `hx-headers`, or the form field `csrf_token`) that only a page of this server
  can know: an HMAC of the per-server secret and the signed-in access key.
- Framing and scripts: every answer forbids framing and allows scripts, styles and connections
  from the console's own origin only.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from ..gateway.testing_api import own_origin
from ..protocol.http import HttpRequest

CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"

SECURITY_HEADERS: list[tuple[str, str]] = [
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy",
     "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
]

_LOOPBACK_NAMES = {"localhost"}


class Refused(Exception):
    """The request is refused before any page sees it."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class Guard:
    def __init__(self, secret: bytes, bound_host: str) -> None:
        """`secret`: random per server; `bound_host`: the address Sluice listens on."""
        self._secret = secret
        self._bound = bound_host

    def csrf_token(self, access_key: str) -> str:
        return hmac.new(self._secret, b"csrf\0" + access_key.encode(), hashlib.sha256).hexdigest()

    def check_host(self, req: HttpRequest) -> None:
        if not _is_loopback(self._bound):
            return  # bound to a public address on purpose: any name for it may be in use
        host = _hostname(req.host)
        if host is None or not (host in _LOOPBACK_NAMES or host.endswith(".localhost") or _is_loopback(host)):
            raise Refused(403, "UnexpectedHost", f"the console answers to loopback names only, not {req.host!r}")

    def check_origin(self, req: HttpRequest) -> None:
        """403 for a POST a browser sent on behalf of another origin's page."""
        site = req.headers.get("sec-fetch-site", "").strip().lower()
        origin = req.headers.get("origin")
        if origin is not None and origin.strip().lower() != own_origin(req):
            raise Refused(403, "CrossOriginRefused", f"a page of {origin} may not change anything here")
        if origin is None and site in ("cross-site", "same-site"):
            raise Refused(403, "CrossOriginRefused", "a page of another site may not change anything here")

    def check_token(self, token: str | None, access_key: str) -> None:
        """403 for a POST without the CSRF token of a page this server rendered."""
        if not hmac.compare_digest((token or "").encode(), self.csrf_token(access_key).encode()):
            raise Refused(403, "InvalidCsrfToken",
                          "the form's security token is missing or out of date: reload the page and try again")


def _hostname(host: str) -> str | None:
    host = host.strip().lower()
    if not host:
        return None
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else None
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
