"""The simulator as an ASGI application (for uvicorn, or any ASGI server)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

from lmbridge.testing.exchange import ConnectionDropped, SimRequest, SimResponse, SimStream

__all__ = ["SimASGIApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[SimRequest], Awaitable[SimResponse]]


async def _watch_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return


class SimASGIApp:
    """ASGI 3 adapter over the simulator's request handler.

    A client that disconnects mid-response cancels the handler (so the simulator sees the request
    end), and a simulated connection drop leaves the response incomplete so the server closes the
    connection.

    Args:
        handler: the simulator's request handler.
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        request = SimRequest(
            method=scope["method"],
            path=scope["path"],
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
            body=b"".join(chunks),
            query=scope.get("query_string", b"").decode("latin-1"),
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(_watch_disconnect, receive, tg.cancel_scope)
            await self._respond(request, send)
            tg.cancel_scope.cancel()

    async def _respond(self, request: SimRequest, send: Send) -> None:
        response = await self._handler(request)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        stream = response.body if isinstance(response.body, SimStream) else None
        try:
            if stream is None:
                assert isinstance(response.body, bytes)
                headers.append((b"content-length", str(len(response.body)).encode()))
                await send(
                    {"type": "http.response.start", "status": response.status, "headers": headers}
                )
                await send({"type": "http.response.body", "body": response.body})
                return
            await send(
                {"type": "http.response.start", "status": response.status, "headers": headers}
            )
            async for chunk in stream:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except ConnectionDropped:
            # Returning without finishing the body makes the server close the connection mid-stream.
            return
        finally:
            if stream is not None:
                with anyio.CancelScope(shield=True):
                    await stream.aclose()
