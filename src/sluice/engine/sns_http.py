"""SNS's HTTP/S subscription deliveries: the POST SNS makes to an endpoint, on the event loop.

The SNS service decides *what* goes out (an `HttpNotification`: body, message type, ids, content
type) and what the outcome means for the message (its retry policy); this module is the wire: the
`x-amz-sns-*` headers, the request, and the reading of the status. A 2xx is delivered; a 4xx is a
client-side error (AWS does not retry those); anything else, a connection error or the 15-second
timeout is a server-side error the policy may retry.

The client is a minimal HTTP/1.1 one on asyncio streams, one connection per delivery: a slow
endpoint holds no thread, and a stopping server cancels it at once. Sluice only ever calls
loopback endpoints (checked at Subscribe, and again here before any traffic leaves); https
endpoints' certificates are not verified (local test servers use self-signed ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

HTTP_TIMEOUT = 15.0  # real seconds: AWS's request timeout for an HTTP/S delivery
MAX_RESPONSE_BYTES = 1 << 20  # read (and ignore) at most this much of an endpoint's answer
USER_AGENT = "Amazon Simple Notification Service Agent"


@dataclass(frozen=True)
class HttpNotification:
    """One message for an HTTP/S subscription."""
    url: str
    body: str
    message_type: str  # Notification, SubscriptionConfirmation, UnsubscribeConfirmation
    message_id: str
    topic_arn: str
    subscription_arn: str | None  # None: no x-amz-sns-subscription-arn (a subscription confirmation)
    content_type: str
    raw: bool = False


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery attempt."""
    ok: bool
    retry: bool = False  # a server-side failure: the retry policy may try again
    code: str = ""
    detail: str = ""


DELIVERED = Outcome(True)


class _BadResponse(Exception):
    """The endpoint's answer is not HTTP."""


def is_loopback_url(url: str) -> bool:
    """Only this machine: 127.0.0.0/8, ::1, or `localhost`. Sluice never sends traffic elsewhere."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def headers_for(note: HttpNotification) -> list[tuple[str, str]]:
    """The headers SNS sends with a message, in its order."""
    headers = [("x-amz-sns-message-type", note.message_type), ("x-amz-sns-message-id", note.message_id),
               ("x-amz-sns-topic-arn", note.topic_arn)]
    if note.subscription_arn is not None:
        headers.append(("x-amz-sns-subscription-arn", note.subscription_arn))
    if note.raw:
        headers.append(("x-amz-sns-rawdelivery", "true"))
    headers += [("Content-Type", note.content_type), ("User-Agent", USER_AGENT)]
    return headers


async def post_notification(note: HttpNotification, timeout: float = HTTP_TIMEOUT) -> Outcome:
    """One HTTP/S delivery attempt (the whole exchange within `timeout` real seconds)."""
    if not is_loopback_url(note.url):
        return Outcome(False, retry=False, code="EndpointRefused", detail="not a loopback endpoint")
    try:
        request = _request(note)
    except (UnicodeEncodeError, ValueError) as exc:  # e.g. a content type that is not a header value
        return Outcome(False, retry=False, code="InvalidRequest", detail=str(exc))
    parts = urlsplit(note.url)
    try:
        # Real time by design (sluice.realtime): the endpoint's answer is a real-world wait.
        status = await asyncio.wait_for(_exchange(parts.hostname or "", _port(parts.scheme, parts.port),
                                                  parts.scheme == "https", request), timeout)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, _BadResponse, ValueError) as exc:
        # ValueError: an answer line longer than the stream's limit
        return Outcome(False, retry=True, code="ConnectionError", detail=str(exc) or type(exc).__name__)
    if 200 <= status < 300:
        return DELIVERED
    detail = f"the endpoint answered {status}"
    return Outcome(False, retry=not 400 <= status < 500, code=f"HTTP {status}", detail=detail)


def _port(scheme: str, port: int | None) -> int:
    return port if port is not None else 443 if scheme == "https" else 80


def _request(note: HttpNotification) -> bytes:
    parts = urlsplit(note.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    body = note.body.encode()
    lines = [f"POST {target} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers_for(note)),
             f"Content-Length: {len(body)}", "Connection: close"]
    if any(c in line for line in lines for c in "\r\n\0"):
        raise ValueError("a header value holds a line break")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _exchange(host: str, port: int, tls: bool, request: bytes) -> int:
    """Send the request; read the answer; its status."""
    context = None
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False  # loopback test servers use self-signed certificates
        context.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection(host, port, ssl=context)
    try:
        writer.write(request)
        await writer.drain()
        while True:
            status, headers = await _read_head(reader)
            if status >= 200:
                break  # 1xx (e.g. 100 Continue): a final answer follows
        await _read_body(reader, headers)
        return status
    finally:
        writer.close()
        with contextlib.suppress(OSError):  # the endpoint closed first
            await writer.wait_closed()


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    line = await reader.readline()
    fields = line.decode("latin-1").split(None, 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        raise _BadResponse(f"not an HTTP response: {line[:80]!r}")
    headers: dict[str, str] = {}
    while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(fields[1]), headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> None:
    """Read the answer's body (up to a limit), so the endpoint sees its answer taken, not reset."""
    length = headers.get("content-length")
    if length is not None and length.isdigit():
        await reader.readexactly(min(int(length), MAX_RESPONSE_BYTES))
        return
    if "chunked" in headers.get("transfer-encoding", "").lower():
        seen = 0
        while seen < MAX_RESPONSE_BYTES:
            size_line = await reader.readline()
            try:
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            except ValueError:
                raise _BadResponse("bad chunk size") from None
            if size == 0:
                return
            await reader.readexactly(size + 2)
            seen += size
        return
    seen = 0
    while seen < MAX_RESPONSE_BYTES and (chunk := await reader.read(65536)):  # until the endpoint closes
        seen += len(chunk)
