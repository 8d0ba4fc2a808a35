"""What every streamed reply shares: typed events as batches arrive, the result at the end.

:class:`EventStream` owns one HTTP stream of server-sent events and gives the guarantees of
``bridge.stream()`` to the other streaming calls (``stream_complete``, ``stream_respond``): events
are delivered before the error that followed them, a stream that ends before its reply was
complete raises :class:`~lmbridge.StreamError` (a partial reply is never passed off as whole),
and :meth:`EventStream.aclose` is called by the Bridge on every exit path. A subclass says what
one event means (:meth:`EventStream._handle`) and how the result is built.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any, Generic, TypeVar

import anyio
import pydantic_core

from lmbridge import errors
from lmbridge.chat.events import StreamEvent
from lmbridge.transport.sse import ServerSentEvent

__all__ = ["EventStream"]

R = TypeVar("R")

_DRAIN_SECONDS = 1.0


class EventStream(Generic[R]):
    """A streamed reply: ``async for event in stream``, then ``await stream.result()``.

    Calling ``result()`` without iterating reads the rest of the stream. Iterate at most once.

    Args:
        source: batches of server-sent events, one batch per network read.
        sent_model: the model name the request carried.
        url: the endpoint, for errors.
        server: the root URL of the server streaming it, for the result's ``server``.
    """

    def __init__(
        self,
        source: AsyncIterator[list[ServerSentEvent]],
        *,
        sent_model: str,
        url: str,
        server: str | None = None,
    ) -> None:
        self._server = server
        self._source = source
        self.sent_model = sent_model
        self._url = url
        self._pending: list[StreamEvent] = []
        self._next = 0
        self._ended = False
        self._complete = False
        self._may_end = False  # a finish reason arrived: the body's end completes the reply
        self._failure: Exception | None = None
        self._error: Exception | None = None
        self._result: R | None = None

    # --- what a subclass provides --------------------------------------------------------------

    def _handle(self, event: ServerSentEvent, pending: list[StreamEvent]) -> bool:
        """Add the stream events ``event`` means to ``pending``; ``True`` when the reply is
        complete. Raise an :class:`~lmbridge.LMBridgeError` for an in-stream error."""
        raise NotImplementedError

    def _build(self) -> R:
        """The result, once the reply is complete."""
        raise NotImplementedError

    async def _finish(self, result: R) -> R:
        """The result handed out: ``result`` itself, unless a subclass validates it."""
        return result

    def _json(self, data: str) -> dict[str, Any]:
        """One event's JSON object, or :class:`~lmbridge.InvalidResponseError`."""
        try:
            value = pydantic_core.from_json(data)
        except ValueError as exc:
            raise errors.InvalidResponseError(
                f"the server sent a stream event that is not JSON: {exc}",
                url=self._url,
                model=self.sent_model,
                body=data,
            ) from exc
        if not isinstance(value, dict):
            raise errors.InvalidResponseError(
                "the server sent a stream event that is not a JSON object",
                url=self._url,
                model=self.sent_model,
                body=data,
            )
        return value

    # --- reading --------------------------------------------------------------------------------

    def __aiter__(self) -> EventStream[R]:
        return self

    async def __anext__(self) -> StreamEvent:
        if self._next < len(self._pending):
            event = self._pending[self._next]
            self._next += 1
            return event
        while True:
            if self._failure is not None:
                failure, self._failure = self._failure, None
                raise failure
            if self._ended:
                raise StopAsyncIteration
            try:
                await self._read_batch()
            except errors.LMBridgeError as exc:
                self._ended = True
                self._error = exc
                raise
            if self._pending:
                self._next = 1
                return self._pending[0]

    async def _read_batch(self) -> None:
        pending: list[StreamEvent] = []
        self._pending = pending
        self._next = 0
        try:
            batch = await self._source.__anext__()
        except StopAsyncIteration:
            self._ended = True
            self._complete = self._complete or self._may_end
            if not self._complete:
                raise errors.StreamError(
                    "the stream ended before the reply was complete",
                    url=self._url,
                    model=self.sent_model,
                ) from None
            return
        for event in batch:
            if event.data == "[DONE]":
                self._complete = True
            elif event.data:
                try:
                    if self._handle(event, pending):
                        self._complete = True
                except errors.LMBridgeError as exc:
                    # The events before the error are delivered first; then it is raised.
                    self._ended = True
                    self._failure = self._error = exc
                    return
            if self._complete:
                await self._drain()
                self._ended = True
                return

    async def _drain(self) -> None:
        """Read what follows the end (normally nothing), so the connection can be reused."""
        with anyio.move_on_after(_DRAIN_SECONDS):
            async for _ in self._source:
                pass

    @property
    def completed(self) -> R | None:
        """The result, once :meth:`result` returned it (no I/O); ``None`` before."""
        return self._result

    async def result(self) -> R:
        """The complete result, reading the rest of the stream first if needed.

        Raises:
            StreamError: the stream broke, or was closed before the reply was complete; the
                error that ended the stream is raised again on every call.
        """
        if self._result is None:
            if not self._ended:
                async for _ in self:
                    pass
            if self._error is not None:
                raise self._error
            if not self._complete:
                raise errors.StreamError(
                    "the stream was closed before the reply was complete; read the whole "
                    "stream (or call result()) inside the `async with` block",
                    url=self._url,
                    model=self.sent_model,
                )
            try:
                result = await self._finish(self._build())
                if self._server is not None:
                    result = dataclasses.replace(result, server=self._server)  # type: ignore[type-var]
                self._result = result
            except errors.LMBridgeError as exc:
                self._error = exc  # raised again by a second call, not recomputed
                raise
        return self._result

    async def aclose(self) -> None:
        """Stop reading; the response is closed by the enclosing ``async with``."""
        self._ended = True
        aclose = getattr(self._source, "aclose", None)
        if aclose is not None:
            with anyio.CancelScope(shield=True):
                await aclose()
