"""SNS's HTTP/S delivery client (engine/sns_http.py) against real sockets on loopback: how it reads
an endpoint's answer, what it counts as delivered, retried or refused, and what it never sends."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sluice.engine.sns_http import HttpNotification, Outcome, post_notification

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def note(url: str, content_type: str = "text/plain; charset=UTF-8") -> HttpNotification:
    return HttpNotification(url=url, body="hello", message_type="Notification", message_id="m-1",
                            topic_arn="arn:aws:sns:us-east-1:000000000000:t",
                            subscription_arn="arn:aws:sns:us-east-1:000000000000:t:s", content_type=content_type)


def post_to(answer: Answer, timeout: float = 10.0) -> tuple[Outcome, bytes]:
    """Serve one connection with `answer`; POST to it; (the outcome, the request the server read)."""
    seen: list[bytes] = []

    async def main() -> Outcome:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            seen.append(head + await reader.readexactly(length))
            await answer(reader, writer)

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await post_notification(note(f"http://127.0.0.1:{port}/hook?x=1"), timeout)

    outcome = asyncio.run(main())
    return outcome, b"".join(seen)


def answering(data: bytes, close: bool = True) -> Answer:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()
        if close:
            writer.close()
        else:  # a keep-alive endpoint that ignores `Connection: close`: it waits for the next request
            await reader.read()
            writer.close()

    return answer


def test_the_request_sns_makes() -> None:
    outcome, request = post_to(answering(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    assert outcome.ok
    head, body = request.split(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /hook?x=1 HTTP/1.1" and body == b"hello"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["x-amz-sns-message-type"] == "Notification" and headers["x-amz-sns-message-id"] == "m-1"
    assert headers["x-amz-sns-subscription-arn"] == "arn:aws:sns:us-east-1:000000000000:t:s"
    assert headers["User-Agent"] == "Amazon Simple Notification Service Agent"
    assert headers["Content-Length"] == "5" and "x-amz-sns-rawdelivery" not in headers


def test_an_answer_on_a_connection_kept_open_is_read_by_its_length() -> None:
    # The endpoint answers 200 and keeps the connection: delivered, without waiting for a close.
    outcome, _ = post_to(answering(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close=False), timeout=5)
    assert outcome.ok
    chunked = b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    outcome, _ = post_to(answering(chunked, close=False), timeout=5)
    assert outcome.ok


def test_statuses_decide_retry_or_not() -> None:
    server_error, _ = post_to(answering(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"))
    assert (server_error.ok, server_error.retry, server_error.code) == (False, True, "HTTP 503")
    client_error, _ = post_to(answering(b"HTTP/1.1 404 Not Found\r\n\r\n"))
    assert (client_error.ok, client_error.retry, client_error.code) == (False, False, "HTTP 404")
    continued, _ = post_to(answering(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n\r\n"))
    assert continued.ok


def test_a_broken_or_silent_endpoint_is_retried() -> None:
    garbage, _ = post_to(answering(b"SMTP ready\r\n"))
    assert (garbage.ok, garbage.retry, garbage.code) == (False, True, "ConnectionError")
    silent, _ = post_to(answering(b"", close=False), timeout=0.5)  # no answer within the timeout
    assert (silent.ok, silent.retry, silent.code) == (False, True, "ConnectionError")


def test_nothing_leaves_for_another_machine_or_with_a_forged_header() -> None:
    away = asyncio.run(post_notification(note("http://192.0.2.1/hook")))
    assert (away.ok, away.retry, away.code) == (False, False, "EndpointRefused")
    forged = asyncio.run(post_notification(note("http://127.0.0.1:9/hook", "text/plain\r\nX-Forged: 1")))
    assert (forged.ok, forged.retry) == (False, False)
