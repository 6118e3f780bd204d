"""An HTTP client for the web console as a browser would use it (no browser): it keeps the
session cookie, reads the CSRF token from the page it was served, and sends the `Origin` a page
of the server has. Tests of every console page use it."""

from __future__ import annotations

import http.client
import re
from dataclasses import dataclass, field
from html import unescape
from urllib.parse import urlencode, urlsplit

PREFIX = "/_sluice/console"
_TOKEN = re.compile(r'<meta name="csrf-token" content="([0-9a-f]*)">')


@dataclass
class Page:
    status: int
    headers: dict[str, str]  # lower-case names
    text: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class ConsoleClient:
    endpoint: str
    cookies: dict[str, str] = field(default_factory=dict)
    token: str = ""

    @property
    def origin(self) -> str:
        return self.endpoint.rstrip("/")

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Page:
        parts = urlsplit(self.endpoint)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
        try:
            sent = dict(headers or {})
            if self.cookies:
                sent.setdefault("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
            conn.request(method, path if path.startswith("/") else f"{PREFIX}/{path}", body=body, headers=sent)
            response = conn.getresponse()
            raw = response.read()
            got = {k.lower(): v for k, v in response.getheaders()}
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    cookie_value = rest.split(";", 1)[0]
                    if "Max-Age=0" in value:
                        self.cookies.pop(key, None)
                    else:
                        self.cookies[key] = cookie_value
            page = Page(response.status, got, raw.decode("utf-8", "replace"))
        finally:
            conn.close()
        found = _TOKEN.search(page.text)
        if found:
            self.token = found.group(1)
        return page

    def get(self, path: str, htmx: bool = False) -> Page:
        return self.request("GET", path, headers={"HX-Request": "true"} if htmx else None)

    def post(self, path: str, fields: dict[str, str] | list[tuple[str, str]] | None = None, *,
             origin: str | None = "same", token: bool = True, htmx: bool = True,
             extra: dict[str, str] | None = None) -> Page:
        """A form POST as a console page sends it: htmx's (token in X-CSRF-Token) by default."""
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"}
        if origin is not None:
            headers["Origin"] = self.origin if origin == "same" else origin
            if origin != "same":
                headers["Sec-Fetch-Site"] = "cross-site"
        if htmx:
            headers["HX-Request"] = "true"
        if token:
            if not self.token:
                self.get("")  # a page first: it carries the token
            headers["X-CSRF-Token"] = self.token
        headers.update(extra or {})
        return self.request("POST", path, urlencode(fields or {}).encode(), headers)

    def stream(self, path: str, until: str, max_bytes: int = 1 << 20) -> str:
        """Read a server-sent event stream until a whole message containing `until` has come
        (the server pushes at once, then on changes); the text read."""
        parts = urlsplit(self.endpoint)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
        try:
            headers = {"Accept": "text/event-stream"}
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            conn.request("GET", path if path.startswith("/") else f"{PREFIX}/{path}", headers=headers)
            response = conn.getresponse()
            assert response.status == 200, response.status
            assert (response.getheader("content-type") or "").startswith("text/event-stream")
            text = ""
            while len(text) < max_bytes:
                chunk = response.read1(65536)
                if not chunk:
                    break
                text += chunk.decode("utf-8", "replace")
                found = text.find(until)
                if found >= 0 and "\n\n" in text[found:]:
                    break
            return text
        finally:
            conn.close()

    def upload(self, path: str, data: bytes, content_type: str = "text/plain") -> Page:
        """What console.js sends for each dropped file: the raw bytes, the token in a header."""
        if not self.token:
            self.get("")
        return self.request("POST", path, data, {"Content-Type": content_type, "Origin": self.origin,
                                                  "X-CSRF-Token": self.token, "Sec-Fetch-Site": "same-origin"})


def error_code(page: Page) -> str | None:
    """The AWS error code a page shows (the `_error.html` fragment), if any."""
    found = re.search(r'class="error" role="alert" data-code="([^"]+)"', page.text)
    return found.group(1) if found else None


def error_message(page: Page) -> str:
    found = re.search(r'<span class="message">(.*?)</span>', page.text, re.S)
    return unescape(found.group(1)).strip() if found else ""
