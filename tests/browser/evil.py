"""A page on another origin, served by the test: what a malicious site would do with the user's
browser while the console is open in another tab."""

from __future__ import annotations

import html
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


class OtherOrigin:
    """A loopback HTTP server that answers every GET with the page set by `serve_form`.

    Reached as http://127.0.0.1:<port> it is the same site as the console (same host, another
    port: `Sec-Fetch-Site: same-site`) but another origin; as http://localhost:<port> it is
    another site altogether (`cross-site`). Both must be refused."""

    def __init__(self) -> None:
        self.page = b"<!doctype html><title>elsewhere</title>"
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                body = owner.page
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # quiet: pytest shows nothing of it anyway

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, name="other-origin", daemon=True)

    def url(self, host: str = "localhost") -> str:
        return f"http://{host}:{self.port}/"

    def serve_form(self, action: str, fields: Mapping[str, str]) -> None:
        """A page with a POST form to `action` (a console endpoint) and a button that sends it,
        and a second button that sends the same fields with fetch() (no-cors: the response is
        opaque to the page, but the request still reaches the server)."""
        inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                         for k, v in fields.items())
        body = "&".join(f"{k}={v}" for k, v in fields.items())
        self.page = f"""<!doctype html><title>a page elsewhere</title>
<h1>Win a prize</h1>
<form id="attack" method="post" action="{html.escape(action)}">{inputs}
<button id="submit" type="submit">Claim it</button></form>
<button id="fetch" onclick="send()">Claim it quietly</button><p id="fetched"></p>
<script>
function send() {{
  fetch({action!r}, {{method: "POST", mode: "no-cors", credentials: "include",
    headers: {{"Content-Type": "application/x-www-form-urlencoded"}}, body: {body!r}}})
    .then(() => {{ document.getElementById("fetched").textContent = "sent"; }})
    .catch((e) => {{ document.getElementById("fetched").textContent = "failed: " + e; }});
}}
</script>""".encode()

    def __enter__(self) -> OtherOrigin:
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
