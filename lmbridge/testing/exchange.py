"""The simulator's own request/response types, shared by the in-process transport and the ASGI app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lmbridge.testing.failures import SimError

__all__ = [
    "ConnectionDropped",
    "SimRequest",
    "SimResponse",
    "SimStream",
    "error_response",
    "json_response",
    "sse_data",
    "sse_event",
]


class ConnectionDropped(Exception):
    """Raised by a response stream to break the connection instead of ending the body cleanly."""


@dataclass(frozen=True)
class SimRequest:
    """An HTTP request as the simulator sees it (header names lower-case)."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    query: str = ""


class SimStream:
    """A streamed response body: an async iterator of bytes that reports how it ended, exactly once.

    ``on_end(True)`` when the body was sent to the end, ``on_end(False)`` when the client went away (or
    the stream broke) first. ``aclose()`` closes the underlying generator, so its ``finally`` blocks run
    even when the client stops reading mid-stream.
    """

    def __init__(
        self, chunks: AsyncIterator[bytes], *, on_end: Callable[[bool], None] | None = None
    ) -> None:
        self._chunks = chunks
        self._callbacks: list[Callable[[bool], None]] = [] if on_end is None else [on_end]
        self._ended = False

    def add_on_end(self, callback: Callable[[bool], None]) -> None:
        """Also call ``callback(completed)`` when the stream ends."""
        self._callbacks.append(callback)

    def _end(self, completed: bool) -> None:
        if self._ended:
            return
        self._ended = True
        for callback in self._callbacks:
            callback(completed)

    def __aiter__(self) -> SimStream:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            self._end(True)
            raise
        except BaseException:
            self._end(False)
            raise

    async def aclose(self) -> None:
        """Stop the stream (the client disconnected or finished); idempotent."""
        try:
            aclose = getattr(self._chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            self._end(False)


@dataclass
class SimResponse:
    """A response: status, headers and a body that is either bytes or a :class:`SimStream`."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes | SimStream


def json_response(payload: Any, status: int = 200) -> SimResponse:
    """A JSON response."""
    data = json.dumps(payload).encode()
    return SimResponse(status, [("content-type", "application/json")], data)


def error_response(error: SimError) -> SimResponse:
    """The HTTP response for a :class:`SimError`."""
    data, content_type = error.encode()
    headers = [("content-type", content_type), *((k, v) for k, v in error.headers.items())]
    return SimResponse(error.status, headers, data)


def sse_data(payload: Any) -> bytes:
    """One ``data:`` server-sent event (a JSON payload, or a literal such as ``[DONE]``)."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {text}\n\n".encode()


def sse_event(name: str, payload: Any) -> bytes:
    """One named server-sent event (``event:`` line plus ``data:`` line)."""
    return f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()


SSE_HEADERS = [("content-type", "text/event-stream"), ("cache-control", "no-cache")]
