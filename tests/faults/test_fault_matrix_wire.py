"""Fault matrix, byte level: a raw loopback server misbehaving in every way a socket allows.

Each test asserts the typed error (or the recovery), how many requests the server saw, and that
no connection is left open (tasks and child processes: the autouse fixture).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path
from typing import Any

import anyio
import pytest

from lmbridge import (
    APIConnectionError,
    Bridge,
    InvalidResponseError,
    ReadTimeoutError,
    ResponseTooLargeError,
    ServerError,
    SSEEventTooLargeError,
    StreamError,
)
from tests.faults.conftest import SleepRecorder
from tests.faults.rawserver import (
    MODEL,
    RawRequest,
    RawServer,
    refused_url,
    reset,
    send,
    send_chunks_forever,
    stall,
)
from tests.faults.support import CHAT, NESTED, bridge, chunk, completion, sse_head

# --- reaching the server -----------------------------------------------------------------------


async def test_refused_is_retried_then_a_connection_error(
    no_lms: Path, sleeps: SleepRecorder
) -> None:
    async with bridge(refused_url(), no_lms, sleeps) as b:
        with pytest.raises(APIConnectionError, match="could not reach"):
            await b.chat(MODEL, "hi")
    assert len(sleeps.waits) == 2  # three attempts: nothing was ever sent


async def test_a_reset_before_the_answer_is_not_repeated(
    no_lms: Path, sleeps: SleepRecorder
) -> None:
    async def handler(request: RawRequest, reader: Any, writer: asyncio.StreamWriter) -> bool:
        return reset(writer)

    async with RawServer(handler) as server:
        async with bridge(server.url, no_lms, sleeps) as b:
            with pytest.raises(APIConnectionError):
                await b.chat(MODEL, "hi")
        assert server.seen("POST", CHAT) == 1  # it may have run: never sent twice
        assert await server.no_connections()


async def test_a_stall_before_the_answer_is_a_read_timeout(
    no_lms: Path, sleeps: SleepRecorder
) -> None:
    async def handler(request: RawRequest, reader: Any, writer: Any) -> bool:
        return await stall(reader)

    async with RawServer(handler) as server:
        async with bridge(server.url, no_lms, sleeps) as b:
            with pytest.raises(ReadTimeoutError):
                await b.chat(MODEL, "hi")
        assert server.seen("POST", CHAT) == 1
        assert sleeps.waits == []
        assert await server.no_connections()


# --- statuses and Retry-After --------------------------------------------------------------------


def after_failures(
    failures: list[tuple[int, dict[str, str], Any]],
) -> Callable[[RawRequest, Any, asyncio.StreamWriter], Any]:
    """A handler answering the chat POSTs with ``failures`` first, then a completion."""
    queue = list(failures)

    async def handler(request: RawRequest, reader: Any, writer: asyncio.StreamWriter) -> bool:
        if queue:
            status, headers, body = queue.pop(0)
            return await send(writer, status, body, headers)
        return await send(writer, 200, completion())

    return handler


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"Retry-After": "<in 30 s>"}, 30.0),  # an HTTP date, made when the test runs
        ({"Retry-After": "999999"}, 60.0),  # capped at max_retry_after
        ({"Retry-After": "nan"}, None),  # unusable: the backoff applies
        ({"Retry-After": "soon"}, None),
    ],
    ids=["seconds", "ms", "http-date", "capped", "nan", "garbage"],
)
@pytest.mark.parametrize("status", [429, 503])
async def test_429_and_503_honour_every_retry_after_form(
    no_lms: Path,
    sleeps: SleepRecorder,
    headers: dict[str, str],
    expected: float | None,
    status: int,
) -> None:
    if headers.get("Retry-After") == "<in 30 s>":
        headers = {"Retry-After": formatdate(time.time() + 30, usegmt=True)}
    handler = after_failures([(status, headers, {"error": "Try again later"})])
    async with RawServer(handler) as server:
        async with bridge(server.url, no_lms, sleeps) as b:
            result = await b.chat(MODEL, "hi")
        assert result.text == "ok"
        assert server.seen("POST", CHAT) == 2
        assert await server.no_connections()
    assert len(sleeps.waits) == 1
    if expected is None:
        assert 0 <= sleeps.waits[0] <= 0.5  # the first jittered backoff step
    else:
        assert sleeps.waits[0] == pytest.approx(expected, abs=2.0)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_retried_until_it_gives_up(
    no_lms: Path, sleeps: SleepRecorder, status: int
) -> None:
    body = {"error": {"message": "overloaded", "type": "server_error"}}
    failure: tuple[int, dict[str, str], Any] = (status, {}, body)
    async with RawServer(after_failures([failure] * 3)) as server:
        async with bridge(server.url, no_lms, sleeps) as b:
            with pytest.raises(ServerError, match="overloaded") as caught:
                await b.chat(MODEL, "hi")
        assert caught.value.status_code == status
        assert server.seen("POST", CHAT) == 3
        assert await server.no_connections()


async def test_a_503_with_a_deeply_nested_body_is_still_retried(
    no_lms: Path, sleeps: SleepRecorder
) -> None:
    async with RawServer(after_failures([(503, {}, NESTED)])) as server:
        async with bridge(server.url, no_lms, sleeps) as b:
            result = await b.chat(MODEL, "hi")
        assert result.text == "ok"
        assert server.seen("POST", CHAT) == 2


# --- bodies that never end -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 503])
async def test_an_endless_body_stops_at_max_body_bytes(
    no_lms: Path, sleeps: SleepRecorder, status: int
) -> None:
    async def handler(request: RawRequest, reader: Any, writer: asyncio.StreamWriter) -> bool:
        return await send_chunks_forever(writer, status, b"x" * 4096)

    async with RawServer(handler) as server:
        async with bridge(server.url, no_lms, sleeps, max_body_bytes=64 * 1024) as b:
            with pytest.raises(ResponseTooLargeError) as caught:
                await b.chat(MODEL, "hi")
        assert caught.value.limit == 64 * 1024
        assert caught.value.status_code == status
        assert server.seen("POST", CHAT) == 1  # never retried, even as a 503
        assert await server.no_connections()


async def test_a_declared_oversized_body_is_not_read_at_all(
    no_lms: Path, sleeps: SleepRecorder
) -> None:
    async def handler(request: RawRequest, reader: Any, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n{")
        await writer.drain()
        return await stall(reader)

    async with RawServer(handler) as server:
        async with bridge(server.url, no_lms, sleeps, max_body_bytes=1024) as b:
            with pytest.raises(ResponseTooLargeError):
                await b.chat(MODEL, "hi")
        assert await server.no_connections()


# --- streams ---------------------------------------------------------------------------------------


async def stream_text(b: Bridge) -> str:
    async with b.stream(MODEL, "hi") as s:
        return (await s.result()).text


async def test_a_stream_without_done_or_finish_reason_is_a_stream_error(
    no_lms: Path, sleeps: SleepRecorder
) -> None:
    async def handler(request: RawRequest, reader: Any, writer: asyncio.StreamWriter) -> bool:
        sse_head(writer)
        writer.write(chunk("Hel") + chunk("lo"))
        await writer.drain()
        return False  # the connection closes: the body ends without [DONE]

    async with RawServer(handler) as server:
        async with bridge(server.url, no_lms, sleeps) as b:
            with pytest.raises(StreamError, match="before the reply was complete"):
                await stream_text(b)
        assert server.seen("POST", CHAT) == 1
        assert await server.no_connections()


async def test_a_malformed_event_is_an_invalid_response(
    no_lms: Path, sleeps: SleepRecorder
) -> None:
    async def handler(request: RawRequest, reader: Any, writer: asyncio.StreamWriter) -> bool:
        sse_head(writer)
        writer.write(chunk("Hi") + b"data: {not json\n\n" + b"data: [DONE]\n\n")
        await writer.drain()
        return False

    async with RawServer(handler) as server:
        async with bridge(server.url, no_lms, sleeps) as b:
            with pytest.raises(InvalidResponseError, match="stream chunk"):
                await stream_text(b)
        assert await server.no_connections()


async def test_a_deeply_nested_event_is_an_invalid_response(
    no_lms: Path, sleeps: SleepRecorder
) -> None:
    async def handler(request: RawRequest, reader: Any, writer: asyncio.StreamWriter) -> bool:
        sse_head(writer)
        writer.write(f'data: {{"choices": {NESTED}}}\n\n'.encode())
        await writer.drain()
        return False

    async with RawServer(handler) as server:
        async with bridge(server.url, no_lms, sleeps) as b:
            with pytest.raises(InvalidResponseError):
                await stream_text(b)
        assert await server.no_connections()


async def test_an_oversized_event_is_refused_without_buffering_it_all(
    no_lms: Path, sleeps: SleepRecorder
) -> None:
    async def handler(request: RawRequest, reader: Any, writer: asyncio.StreamWriter) -> bool:
        sse_head(writer)
        writer.write(b"data: ")
        return await _flood(writer)

    async with RawServer(handler) as server:
        async with bridge(server.url, no_lms, sleeps) as b:
            with pytest.raises(SSEEventTooLargeError):
                await stream_text(b)
        assert await server.no_connections()


async def _flood(writer: asyncio.StreamWriter) -> bool:
    """One event line that never ends."""
    try:
        while True:
            writer.write(b"x" * 65536)
            await writer.drain()
    except ConnectionError:
        return False


async def test_an_endless_stream_is_closed_when_the_reader_leaves(
    no_lms: Path, sleeps: SleepRecorder
) -> None:
    async def handler(request: RawRequest, reader: Any, writer: asyncio.StreamWriter) -> bool:
        sse_head(writer)
        try:
            while True:
                writer.write(chunk("word "))
                await writer.drain()
        except ConnectionError:
            return False

    async with RawServer(handler) as server:
        async with bridge(server.url, no_lms, sleeps) as b:
            async with b.stream(MODEL, "hi") as s:
                seen = 0
                async for _ in s:
                    seen += 1
                    if seen == 200:
                        break
            with pytest.raises(StreamError, match="closed before the reply was complete"):
                await s.result()
            assert await server.no_connections()  # the Bridge is still open: no pooled leftover
        assert server.seen("POST", CHAT) == 1


async def test_a_stall_mid_stream_is_a_read_timeout(no_lms: Path, sleeps: SleepRecorder) -> None:
    async def handler(request: RawRequest, reader: Any, writer: asyncio.StreamWriter) -> bool:
        sse_head(writer)
        writer.write(chunk("Hel"))
        await writer.drain()
        return await stall(reader)

    async with RawServer(handler) as server:
        async with bridge(server.url, no_lms, sleeps) as b:
            with pytest.raises(ReadTimeoutError):
                await stream_text(b)
        assert server.seen("POST", CHAT) == 1
        assert await server.no_connections()


async def test_a_reset_mid_stream_is_a_stream_error(no_lms: Path, sleeps: SleepRecorder) -> None:
    async def handler(request: RawRequest, reader: Any, writer: asyncio.StreamWriter) -> bool:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        payload = chunk("Hel")
        writer.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        return reset(writer)

    async with RawServer(handler) as server:
        async with bridge(server.url, no_lms, sleeps) as b:
            with pytest.raises(StreamError):
                await stream_text(b)
        assert server.seen("POST", CHAT) == 1
        assert await server.no_connections()


async def test_a_trickling_body_is_ended_by_the_callers_deadline(
    no_lms: Path, sleeps: SleepRecorder
) -> None:
    # One byte every 50 ms: never a read timeout, never past the cap, never done.
    async def handler(request: RawRequest, reader: Any, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
        try:
            while True:
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(0.05)
        except ConnectionError:
            return False

    async with RawServer(handler) as server, bridge(server.url, no_lms, sleeps) as b:
        with pytest.raises(TimeoutError), anyio.fail_after(0.4):  # the documented deadline
            await b.chat(MODEL, "hi")
        assert await server.no_connections()  # the connection went with the call
        assert server.seen("POST", CHAT) == 1
