"""An in-process httpx transport that streams: no sockets, but delays, timeouts and early close behave
like a network."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import httpx

from lmbridge.testing.exchange import ConnectionDropped, SimRequest, SimResponse, SimStream

__all__ = ["SimTransport"]

Handler = Callable[[SimRequest], Awaitable[SimResponse]]


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout")
    if isinstance(timeout, dict):
        value = timeout.get("read")
        if isinstance(value, (int, float)):
            return float(value)
    return None


class _ResponseStream(httpx.AsyncByteStream):
    """Pulls chunks from the simulator as the client reads them, under the client's read timeout."""

    def __init__(self, stream: SimStream, *, read_timeout: float | None, request: httpx.Request):
        self._stream = stream
        self._read_timeout = read_timeout
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            try:
                with anyio.fail_after(self._read_timeout):
                    chunk = await self._stream.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise httpx.ReadTimeout(
                    "simulated read timeout: no data within the read timeout",
                    request=self._request,
                ) from None
            except ConnectionDropped:
                raise httpx.RemoteProtocolError(
                    "peer closed connection without sending complete message body "
                    "(incomplete chunked read)",
                    request=self._request,
                ) from None
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


class SimTransport(httpx.AsyncBaseTransport):
    """Route httpx requests straight into a simulator, streaming responses chunk by chunk.

    Unlike ``httpx.ASGITransport`` it does not buffer bodies: a streamed reply arrives piece by piece
    as the client reads it, the client's read timeout applies to every wait (raising
    ``httpx.ReadTimeout``), a simulated connection drop raises ``httpx.RemoteProtocolError``, and
    closing the response closes the simulator's generator (the simulator sees the client go away).

    Args:
        handler: the simulator's request handler (``SimulatedLMStudio`` passes its own).
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Serve one request in-process."""
        body = await request.aread()
        read_timeout = _read_timeout(request)
        sim_request = SimRequest(
            method=request.method,
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            query=request.url.query.decode("ascii", errors="replace"),
        )
        try:
            with anyio.fail_after(read_timeout):
                response = await self._handler(sim_request)
        except TimeoutError:
            raise httpx.ReadTimeout(
                "simulated read timeout: no response within the read timeout", request=request
            ) from None
        if isinstance(response.body, SimStream):
            stream = _ResponseStream(response.body, read_timeout=read_timeout, request=request)
            return httpx.Response(
                response.status, headers=response.headers, stream=stream, request=request
            )
        return httpx.Response(
            response.status, headers=response.headers, content=response.body, request=request
        )
