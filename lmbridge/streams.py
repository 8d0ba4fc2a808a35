"""``bridge.stream(...)``: typed events while the reply arrives, the full result at the end."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, Generic, TypeVar

import anyio
import pydantic_core
from pydantic import ValidationError

from lmbridge import errors
from lmbridge.results import ChatResult, StreamEvent
from lmbridge.transport.assemble import ChatAssembler
from lmbridge.transport.classify import error_from_response
from lmbridge.transport.sse import ServerSentEvent
from lmbridge.transport.wire import CHAT_CHUNK, ChatChunk

__all__ = ["ChatStream", "in_stream_error"]

T = TypeVar("T")


def in_stream_error(
    error: str | dict[str, Any], *, url: str | None, model: str | None
) -> errors.LMBridgeError:
    """The typed error for an in-stream ``{"error": ...}``: the one its status would give."""
    payload = pydantic_core.to_json({"error": error})
    status = None
    if isinstance(error, dict):
        for key in ("status", "code"):
            value = error.get(key)
            if isinstance(value, int) and 400 <= value < 600:
                status = value
                break
    classified = error_from_response(status or 400, {}, payload, url=url, model=model)
    if status is not None or isinstance(classified, errors.ModelError):
        return classified
    return errors.StreamError(classified.message, url=url, model=model, body=payload)


class ChatStream(Generic[T]):
    """A chat reply as it streams.

    Iterate it (``async for event in stream``) for :data:`~lmbridge.StreamEvent` items, then
    ``await stream.result()`` for the same :class:`~lmbridge.ChatResult` ``chat()`` returns.
    Calling ``result()`` without iterating reads the rest of the stream. Iterate at most once.

    A stream that ends without ``[DONE]`` and without a ``finish_reason`` raises
    :class:`~lmbridge.StreamError`: a partial reply is never passed off as complete.
    """

    def __init__(
        self,
        source: AsyncIterator[ServerSentEvent],
        *,
        requested_model: str,
        url: str,
        finalize: Callable[[ChatResult[Any]], ChatResult[T]],
    ) -> None:
        self._source = source
        self._assembler = ChatAssembler(requested_model)
        self._url = url
        self._finalize = finalize
        self._pending: deque[StreamEvent] = deque()
        self._ended = False
        self._result: ChatResult[T] | None = None

    def __aiter__(self) -> ChatStream[T]:
        return self

    async def __anext__(self) -> StreamEvent:
        pending = self._pending
        while not pending:
            if self._ended:
                raise StopAsyncIteration
            try:
                event = await self._source.__anext__()
            except StopAsyncIteration:
                self._end(done=False)
                continue
            data = event.data
            if data == "[DONE]":
                self._end(done=True)
                continue
            if not data:
                continue
            chunk = self._parse(data)
            if chunk.error is not None:
                self._ended = True
                raise in_stream_error(
                    chunk.error, url=self._url, model=self._assembler.requested_model
                )
            pending.extend(self._assembler.feed(chunk))
        return pending.popleft()

    def _parse(self, data: str) -> ChatChunk:
        try:
            return CHAT_CHUNK.validate_json(data)
        except ValidationError as exc:
            self._ended = True
            raise errors.InvalidResponseError(
                f"the server sent a stream chunk that is not a chat completion chunk: {exc.errors()[0]['msg']}",
                url=self._url,
                model=self._assembler.requested_model,
                body=data,
            ) from exc

    def _end(self, *, done: bool) -> None:
        self._ended = True
        if not done and self._assembler.finish_reason is None:
            raise errors.StreamError(
                "the stream ended before the reply was complete (no [DONE], no finish_reason)",
                url=self._url,
                model=self._assembler.requested_model,
            )

    @property
    def text(self) -> str:
        """The text received so far."""
        return self._assembler.text

    async def result(self) -> ChatResult[T]:
        """The complete result, reading the rest of the stream first if needed."""
        if self._result is None:
            async for _ in self:
                pass
            self._result = self._finalize(self._assembler.result())
        return self._result

    async def aclose(self) -> None:
        """Stop reading; the response is closed by the enclosing ``async with``."""
        self._ended = True
        aclose = getattr(self._source, "aclose", None)
        if aclose is not None:
            with anyio.CancelScope(shield=True):
                await aclose()
