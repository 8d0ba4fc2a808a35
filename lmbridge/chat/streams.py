"""``bridge.stream(...)``: typed events while the reply arrives, the full result at the end."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
import pydantic_core
from pydantic import ValidationError

from lmbridge import errors
from lmbridge.chat.assemble import ChatAssembler
from lmbridge.chat.events import StreamEvent
from lmbridge.chat.observed import CallObserver
from lmbridge.chat.partial import PartialJSON
from lmbridge.chat.results import ChatResult, MismatchWarnings
from lmbridge.chat.structured import ResponseFormat, finish_chat
from lmbridge.chat.window import PromptWindow
from lmbridge.chat.wire import ChatChunk, chat_chunk_adapter
from lmbridge.transport.classify import embedded_status, error_from_response
from lmbridge.transport.sse import ServerSentEvent

if TYPE_CHECKING:
    from lmbridge.chat.repair import StructuredRetry

__all__ = ["ChatStream", "in_stream_error"]

T = TypeVar("T")

_DRAIN_SECONDS = 1.0


def in_stream_error(
    error: str | dict[str, Any], *, url: str | None, model: str | None
) -> errors.LMBridgeError:
    """The typed error for an in-stream ``{"error": ...}``: the one its status would give."""
    payload = pydantic_core.to_json({"error": error})
    status = embedded_status(error)
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
    :class:`~lmbridge.StreamError`: a partial reply is never passed off as complete. One that ends
    with nothing at all (no content, no finish reason) right after a prompt near the context limit
    raises :class:`~lmbridge.ContextLengthExceededError`: that is how LM Studio has answered an
    overflow.

    Args:
        source: batches of server-sent events, one batch per network read.
        sent_model: the model name the request carried.
        url: the endpoint, for errors.
        response_format: what the finished reply is parsed into, if anything.
        mismatch: told which model answered, once the reply is complete.
        observer: told when the first token arrives and how the stream ended (timing, events).
        window: the prompt measured against the model's context window, if it was: fills the
            result's ``context`` and learns from its usage.
        validation: validates the finished reply and re-asks (without streaming) when it does
            not validate; without it the reply is parsed once.
        server: the root URL of the server streaming it, for the result's ``server``.
    """

    def __init__(
        self,
        source: AsyncIterator[list[ServerSentEvent]],
        *,
        sent_model: str,
        url: str,
        response_format: ResponseFormat | None,
        mismatch: MismatchWarnings,
        observer: CallObserver | None = None,
        window: PromptWindow | None = None,
        validation: StructuredRetry | None = None,
        server: str | None = None,
    ) -> None:
        self._server = server
        self._source = source
        # The adapter's own validator: its Python wrapper costs a call per chunk (#18).
        self._chunks = chat_chunk_adapter().validator
        self._observer = observer
        self._window = window
        self._assembler = ChatAssembler(sent_model)
        self._url = url
        self._response_format = response_format
        self._mismatch = mismatch
        self._pending: list[StreamEvent] = []
        self._next = 0
        self._ended = False  # nothing more will be read
        self._complete = False  # the reply ended properly ([DONE], or a finish_reason then EOF)
        self._failure: Exception | None = None  # raised once the events before it are delivered
        self._error: Exception | None = None  # what ended the stream badly; result() raises it
        self._result: ChatResult[T] | None = None
        self._validation = validation
        structured = response_format is not None and not (
            isinstance(response_format, dict) and response_format.get("type") == "text"
        )
        self._partial = PartialJSON() if structured else None

    def __aiter__(self) -> ChatStream[T]:
        return self

    async def __anext__(self) -> StreamEvent:
        if self._next < len(self._pending):
            event = self._pending[self._next]
            self._next += 1
            return event
        while True:
            if self._failure is not None:
                failure, self._failure = self._failure, None
                if self._observer is not None:
                    self._observer.failed(failure)
                raise failure
            if self._ended:
                raise StopAsyncIteration
            try:
                await self._read_batch()
            except errors.LMBridgeError as exc:
                self._ended = True
                self._error = exc
                if self._observer is not None:
                    self._observer.failed(exc)
                raise
            if self._pending:
                if self._observer is not None:
                    self._observer.first_token()  # only the first one counts
                self._next = 1
                return self._pending[0]

    async def _read_batch(self) -> None:
        """Turn the next network read's events into stream events (in ``self._pending``)."""
        pending: list[StreamEvent] = []
        self._pending = pending
        self._next = 0
        try:
            batch = await self._source.__anext__()
        except StopAsyncIteration:
            self._end(done=False)
            return
        feed = self._assembler.feed
        validate = self._chunks.validate_json
        for event in batch:
            data = event.data
            if data == "[DONE]":
                await self._drain()
                self._end(done=True)
                return
            if not data:
                continue
            try:
                chunk: ChatChunk = validate(data)  # no method call per token (#18)
            except ValidationError as exc:
                self._failure = self._error = self._invalid_chunk(data, exc)
                return
            error = chunk.get("error")
            if error is not None:
                self._ended = True
                model = self._assembler.sent_model
                self._failure = self._error = in_stream_error(error, url=self._url, model=model)
                return
            feed(chunk, pending)
        if self._partial is not None:
            self._partial.update(self._assembler.text, pending)

    async def _drain(self) -> None:
        """Read what follows ``[DONE]`` (normally nothing but the body's end).

        A body read to its end lets the connection go back to the pool for the next request;
        one closed early must be discarded. A server that keeps sending is not waited for.
        """
        with anyio.move_on_after(_DRAIN_SECONDS):
            async for _ in self._source:
                pass

    def _invalid_chunk(self, data: str, exc: ValidationError) -> errors.InvalidResponseError:
        """The error for a chunk that did not validate; the stream ends with it."""
        self._ended = True
        error = errors.InvalidResponseError(
            f"the server sent a stream chunk that is not a chat completion chunk: {exc.errors()[0]['msg']}",
            url=self._url,
            model=self._assembler.sent_model,
            body=data,
        )
        error.__cause__ = exc  # as `raise ... from exc` would set it
        error.__suppress_context__ = True
        return error

    def _end(self, *, done: bool) -> None:
        self._ended = True
        assembler = self._assembler
        window = self._window
        silent = not assembler.text and not assembler.tool_calls() and assembler.usage is None
        if window is not None and assembler.finish_reason is None and silent and window.near_limit:
            raise window.overflow(
                "the stream ended without a word right after a prompt near the context limit "
                "(how LM Studio answers a prompt that does not fit)",
                url=self._url,
            )
        self._complete = done or self._assembler.finish_reason is not None
        if not self._complete:
            raise errors.StreamError(
                "the stream ended before the reply was complete (no [DONE], no finish_reason)",
                url=self._url,
                model=self._assembler.sent_model,
            )

    @property
    def text(self) -> str:
        """The text received so far."""
        return self._assembler.text

    async def result(self) -> ChatResult[T]:
        """The complete result, reading the rest of the stream first if needed.

        Raises:
            StreamError: the stream broke, or was closed before the reply was complete (a
                partial reply is never returned as if it were whole); the error that ended the
                stream is raised again on every call.
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
                    model=self._assembler.sent_model,
                )
            if self._validation is not None:
                try:
                    result: ChatResult[T] = await self._validation.finish(self._assembler.result())
                except errors.LMBridgeError as exc:
                    self._error = exc  # the re-asks are not sent again by a second call
                    raise
            else:
                result = finish_chat(
                    self._assembler.result(),
                    response_format=self._response_format,
                    url=self._url,
                    mismatch=self._mismatch,
                )
            if self._window is not None:
                result = self._window.finish(result)
            if self._observer is not None:
                result = self._observer.complete(result)
            if self._server is not None:
                result = dataclasses.replace(result, server=self._server)
            self._result = result
        return self._result

    async def aclose(self) -> None:
        """Stop reading; the response is closed by the enclosing ``async with``."""
        if self._observer is not None and self._result is None and self._complete:
            # Read to its end without result(): the observer still learns the usage and timing.
            self._observer.answered(self._assembler.result())
        self._ended = True
        aclose = getattr(self._source, "aclose", None)
        if aclose is not None:
            with anyio.CancelScope(shield=True):
                await aclose()
