"""A raw HTTP/1.1 server on loopback for faults no well-behaved server produces.

Each test gives it a handler that writes whatever bytes it likes: an endless body, a reset, a
stall, a broken event stream. It counts the requests it read and the connections open now, so a
test can assert that the client sent what it should and left nothing open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import anyio

MODEL = "raw/model"


@dataclass
class RawRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[RawRequest, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]
"""Answers one request; returns whether the connection may serve another one."""


async def _read_request(reader: asyncio.StreamReader) -> RawRequest | None:
    line = await reader.readline()
    if not line:
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return RawRequest(method, path, headers, body)


async def send(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes | str | Any = b"",
    headers: dict[str, str] | None = None,
) -> bool:
    """A complete response (JSON, declared as such, when ``body`` is neither bytes nor text);
    keeps the connection."""
    head = [f"HTTP/1.1 {status} X"]
    if isinstance(body, str):
        payload = body.encode()
    elif isinstance(body, bytes):
        payload = body  # sent without a content type
    else:
        payload = json.dumps(body).encode()
        head.append("Content-Type: application/json")
    head.append(f"Content-Length: {len(payload)}")
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
    await writer.drain()
    return True


async def send_chunks_forever(writer: asyncio.StreamWriter, status: int, chunk: bytes) -> bool:
    """A chunked body that never ends (until the client goes away)."""
    writer.write(f"HTTP/1.1 {status} X\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
    piece = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    with contextlib.suppress(ConnectionError):
        while True:
            writer.write(piece)
            await writer.drain()
    return False


def reset(writer: asyncio.StreamWriter) -> bool:
    """Close the connection with a TCP reset."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
    return False


async def stall(reader: asyncio.StreamReader) -> bool:
    """Send nothing; return when the client closes the connection."""
    with contextlib.suppress(ConnectionError):
        await reader.read()
    return False


async def listing(request: RawRequest, writer: asyncio.StreamWriter) -> bool | None:
    """Answer the model listing like an OpenAI-only server; ``None`` for other requests."""
    if request.method == "GET" and request.path.startswith("/api/"):
        return await send(writer, 404, {"error": "Unexpected endpoint"})
    if request.method == "GET" and request.path == "/v1/models":
        return await send(writer, 200, {"object": "list", "data": [{"id": MODEL}]})
    return None


@dataclass
class RawServer:
    """``async with RawServer(handler) as server``: ``server.url``, ``requests``, ``open``."""

    handler: Handler
    list_models: bool = True
    """Answer the listing routes like an OpenAI-only server (else the handler answers them)."""
    requests: list[RawRequest] = field(default_factory=list)
    open: int = 0
    url: str = ""
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def seen(self, method: str, path: str) -> int:
        """How many ``method path`` requests arrived."""
        return sum(1 for r in self.requests if r.method == method and r.path == path)

    async def no_connections(self, timeout: float = 2.0) -> bool:
        """Whether every connection is closed (waiting up to ``timeout`` for the last to go)."""
        with anyio.move_on_after(timeout):
            while self.open:
                await asyncio.sleep(0.01)
        return self.open == 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.open += 1
        try:
            while (request := await _read_request(reader)) is not None:
                self.requests.append(request)
                answered = await listing(request, writer) if self.list_models else None
                if answered is None:
                    answered = await self.handler(request, reader, writer)
                if not answered:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # the server is shutting down: this connection's end is expected
        finally:
            self.open -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._tasks.discard(task)

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        await self.no_connections(0.5)  # let connections the client closed end on their own
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()


def refused_url() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
