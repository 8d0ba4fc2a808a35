"""The Bridge's calls beyond chat, and the wiring of images and validation retries into chat.

Part of the facade: :class:`~lmbridge.Bridge` inherits :class:`EndpointCalls`, so these are
Bridge methods (``embed``, ``complete``, ``stream_complete``, ``stream_respond``,
``check_vision``); they run through the same model guard and transport as ``chat()``. Kept apart
from ``bridge.py`` so that each module stays readable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Literal, TypeVar

import anyio
from typing_extensions import Unpack

from lmbridge import errors
from lmbridge.calls import ModelCalls
from lmbridge.chat.assemble import result_from_completion
from lmbridge.chat.images import attach_images, resolve_images
from lmbridge.chat.observed import timed
from lmbridge.chat.repair import (
    DEFAULT_VALIDATION_RETRIES,
    StructuredRetry,
    check_retries,
    validated_response,
)
from lmbridge.chat.requests import (
    MessagesArg,
    RequestOptions,
    SamplingOptions,
    embedding_body,
    normalize_messages,
    sampling_body,
)
from lmbridge.chat.results import (
    ChatResult,
    CompletionResult,
    EmbeddingResult,
    MismatchWarnings,
    ResponseResult,
    completion_result,
    embedding_result,
)
from lmbridge.chat.structured import ResponseFormat
from lmbridge.chat.text_streams import CompletionStream, ResponseStream
from lmbridge.chat.wire import ChatCompletion, EmbeddingResponse, TextCompletion, Usage
from lmbridge.lifecycle.models import ModelManager
from lmbridge.lifecycle.vision import check_vision, vision_error_from_server
from lmbridge.transport.client import HTTPTransport
from lmbridge.transport.sse import ServerSentEvent

__all__ = ["EMBED_CONCURRENCY", "EndpointCalls"]

T = TypeVar("T")

EMBED_CONCURRENCY = 4
"""The most embedding batches in flight at once (a local server runs few requests in parallel)."""

_CHAT = "/v1/chat/completions"
_COMPLETIONS = "/v1/completions"
_RESPONSES = "/v1/responses"
_EMBEDDINGS = "/v1/embeddings"

Events = AsyncIterator[list[ServerSentEvent]]


class EndpointCalls:
    """Embeddings (batched), text completions, the streamed forms of completions and responses,
    and the image and validation wiring of chat. A base of :class:`~lmbridge.Bridge`."""

    _http: HTTPTransport
    models: ModelManager
    _mismatch: MismatchWarnings

    _calls: ModelCalls

    # --- images -------------------------------------------------------------------------------

    async def check_vision(self, model: str) -> None:
        """Check, from the model listing, that ``model`` accepts images.

        ``chat``/``stream``/``run_agent`` call it before sending images. A listing that does
        not say (``/v1/models`` only: llama.cpp, vLLM) passes; the server answers.

        Raises:
            WrongModelTypeError: the listing says it cannot see; ``vision_models`` names the
                loaded vision models (or, when none is loaded, the downloaded ones).
        """
        await check_vision(self.models, model)

    async def _with_images(
        self, model: str, messages: MessagesArg, options: Mapping[str, Any]
    ) -> tuple[list[dict[str, Any]], bool]:
        """The messages with ``images`` attached and every image encoded; whether any is sent.

        The model is checked for vision first, so nothing is read or downloaded for a model
        that cannot see.
        """
        normalized, has_images = attach_images(normalize_messages(messages), options.get("images"))
        if not has_images:
            return normalized, False
        await self.check_vision(model)
        return await resolve_images(normalized), True

    async def _images_refused(self, call: Awaitable[T], model: str, images: bool) -> T:
        """``await call``; a server's "this model takes no images" becomes a clear error."""
        try:
            return await call
        except errors.APIStatusError as exc:
            clear = vision_error_from_server(exc, model) if images else None
            if clear is None:
                raise
            raise clear from exc

    # --- structured output --------------------------------------------------------------------

    def _validation(
        self,
        model: str,
        body: Mapping[str, Any],
        response_format: ResponseFormat | None,
        options: Mapping[str, Any],
    ) -> StructuredRetry:
        """The validation (and re-asks) of one chat request's replies."""
        retries = check_retries(options.get("validation_retries", DEFAULT_VALIDATION_RETRIES))

        async def ask(again: dict[str, Any]) -> ChatResult[Any]:
            name, completion, timing = await self._calls.post(
                _CHAT, again, ChatCompletion, model=model, kind="llm", options=options
            )
            url = self._http.url(_CHAT)
            return timed(result_from_completion(completion, sent_model=name, url=url), timing)

        return StructuredRetry(
            response_format=response_format,
            retries=retries if response_format is not None else 0,
            body=body,
            ask=ask,
            url=self._http.url(_CHAT),
            mismatch=self._mismatch,
        )

    async def _structured_response(
        self,
        result: ResponseResult,
        body: Mapping[str, Any],
        *,
        response_format: ResponseFormat,
        validation_retries: int,
        options: Mapping[str, Any],
    ) -> ResponseResult:
        """A ``respond()`` result parsed into ``response_format``, re-asking like ``chat()``."""
        original = body["input"]
        items = [{"role": "user", "content": original}] if isinstance(original, str) else original

        async def ask(extra: list[dict[str, Any]]) -> ResponseResult:
            from lmbridge.chat.responses import result_from_response
            from lmbridge.chat.wire import ResponseObject

            again = {**body, "input": [*items, *extra]}
            name, answer, timing = await self._calls.post(
                _RESPONSES,
                again,
                ResponseObject,
                model=result.sent_model,
                kind="llm",
                options=options,
            )
            return timed(result_from_response(answer, sent_model=name), timing)

        return await validated_response(
            result,
            response_format=response_format,
            retries=check_retries(validation_retries),
            ask=ask,
            url=self._http.url(_RESPONSES),
        )

    # --- other endpoints ----------------------------------------------------------------------

    async def embed(
        self,
        model: str,
        input: str | Sequence[str],
        *,
        encoding_format: Literal["float", "base64"] = "float",
        dimensions: int | None = None,
        batch_size: int | None = None,
        **options: Unpack[RequestOptions],
    ) -> EmbeddingResult:
        """Embed one text or several (``POST /v1/embeddings``); vectors come back in input order.

        ``encoding_format="base64"`` moves less data; the vectors are decoded either way.
        ``batch_size``: send at most this many texts per request (default: all in one); the
        batches go concurrently, at most :data:`EMBED_CONCURRENCY` at once, and the vectors come
        back in input order with the usage summed. ``options``: ``timeout``, ``max_retries``,
        ``extra_body`` (see :class:`~lmbridge.RequestOptions`).
        """
        texts = [input] if isinstance(input, str) else list(input)
        if batch_size is not None and (isinstance(batch_size, bool) or batch_size < 1):
            raise ValueError("batch_size must be a positive int (or None: one request)")
        size = batch_size or max(len(texts), 1)
        batches = [texts[i : i + size] for i in range(0, len(texts), size)] or [texts]
        results: list[EmbeddingResult | None] = [None] * len(batches)
        failures: list[Exception] = []
        limiter = anyio.CapacityLimiter(EMBED_CONCURRENCY)

        async def one(index: int, batch: list[str]) -> None:
            async with limiter:
                try:
                    results[index] = await self._embed_batch(
                        model, batch, encoding_format, dimensions, options
                    )
                except Exception as exc:  # raised below as itself, not in an ExceptionGroup
                    failures.append(exc)

        async with anyio.create_task_group() as group:
            for index, batch in enumerate(batches):
                group.start_soon(one, index, batch)
        if failures:
            raise failures[0]
        return _merge([r for r in results if r is not None])

    async def _embed_batch(
        self,
        model: str,
        texts: list[str],
        encoding_format: Literal["float", "base64"],
        dimensions: int | None,
        options: Mapping[str, Any],
    ) -> EmbeddingResult:
        body = embedding_body(
            model,
            texts,
            encoding_format=encoding_format,
            dimensions=dimensions,
            extra_body=options.get("extra_body"),
        )
        name, answer, timing = await self._calls.post(
            _EMBEDDINGS, body, EmbeddingResponse, model=model, kind="embedding", options=options
        )
        result = embedding_result(
            answer, count=len(texts), sent_model=name, url=self._http.url(_EMBEDDINGS)
        )
        self._mismatch.check(name, answer.model)
        return timed(result, timing)

    async def complete(
        self, model: str, prompt: str, **options: Unpack[SamplingOptions]
    ) -> CompletionResult:
        """Continue raw text with no chat template (``POST /v1/completions``).

        Takes the sampling options of :meth:`chat` (see :class:`~lmbridge.SamplingOptions`).
        """
        body: dict[str, Any] = {"model": model, "prompt": prompt, **sampling_body(options)}
        name, answer, timing = await self._calls.post(
            _COMPLETIONS, body, TextCompletion, model=model, kind="llm", options=options
        )
        self._mismatch.check(name, answer.model)
        url = self._http.url(_COMPLETIONS)
        return timed(completion_result(answer, sent_model=name, url=url), timing)

    @asynccontextmanager
    async def stream_complete(
        self, model: str, prompt: str, **options: Unpack[SamplingOptions]
    ) -> AsyncIterator[CompletionStream]:
        """Stream :meth:`complete`: ``async with bridge.stream_complete(model, prompt) as s``.

        Iterate ``s`` for :class:`~lmbridge.TextDelta` and :class:`~lmbridge.UsageReport`
        events, then ``await s.result()`` for the :class:`~lmbridge.CompletionResult`. Leaving
        the block early, breaking out of the loop or cancelling the task closes the response.
        """
        body: dict[str, Any] = {"model": model, "prompt": prompt, **sampling_body(options)}
        body.update(stream=True, stream_options={"include_usage": True})
        async with AsyncExitStack() as stack:
            name, events = await self._open_events(stack, _COMPLETIONS, body, model, options)
            stream = CompletionStream(
                events, sent_model=name, url=self._http.url(_COMPLETIONS), mismatch=self._mismatch
            )
            try:
                yield stream
            finally:
                await stream.aclose()

    @asynccontextmanager
    async def stream_respond(
        self,
        model: str,
        input: str | Sequence[Mapping[str, Any]],
        *,
        previous_response_id: str | None = None,
        instructions: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        reasoning_effort: Literal["low", "medium", "high"] | None = None,
        temperature: float | None = None,
        max_output_tokens: int | None = None,
        response_format: ResponseFormat | None = None,
        validation_retries: int = DEFAULT_VALIDATION_RETRIES,
        **options: Unpack[RequestOptions],
    ) -> AsyncIterator[ResponseStream]:
        """Stream :meth:`respond`: ``async with bridge.stream_respond(model, input) as s``.

        Iterate ``s`` for :class:`~lmbridge.TextDelta`, :class:`~lmbridge.ReasoningDelta`,
        :class:`~lmbridge.ToolCallReady` and :class:`~lmbridge.UsageReport` events, then
        ``await s.result()`` for the :class:`~lmbridge.ResponseResult` (its ``id`` continues
        the conversation). Takes the arguments of :meth:`respond`; with a ``response_format``
        it also yields :class:`~lmbridge.PartialParsed` events, and the streamed reply is the
        first attempt: ``result()`` validates it and re-asks without streaming, as ``stream()``
        does. Leaving the block early, breaking out of the loop or cancelling the task closes
        the response.
        """
        from lmbridge.chat.responses import build_responses_body

        body = build_responses_body(
            model,
            input,
            previous_response_id=previous_response_id,
            instructions=instructions,
            tools=tools,
            reasoning_effort=reasoning_effort,
            temperature=temperature,
            max_output_tokens=max_output_tokens,
            extra_body=options.get("extra_body"),
            response_format=response_format,
        )
        validate = None
        if response_format is not None:
            fmt, retries = response_format, check_retries(validation_retries)

            async def validate(result: ResponseResult) -> ResponseResult:
                return await self._structured_response(
                    result, body, response_format=fmt, validation_retries=retries, options=options
                )

        async with AsyncExitStack() as stack:
            streamed = {**body, "stream": True}
            name, events = await self._open_events(stack, _RESPONSES, streamed, model, options)
            stream = ResponseStream(
                events,
                sent_model=name,
                url=self._http.url(_RESPONSES),
                mismatch=self._mismatch,
                validation=validate,
            )
            try:
                yield stream
            finally:
                await stream.aclose()

    async def _open_events(
        self,
        stack: AsyncExitStack,
        path: str,
        body: Mapping[str, Any],
        model: str,
        options: Mapping[str, Any],
    ) -> tuple[str, Events]:
        """Open an SSE stream for ``model`` under the model guard, closed with ``stack``."""

        async def open_stream(name: str) -> tuple[str, Events]:
            events = await stack.enter_async_context(
                self._http.stream_events(
                    path,
                    {**body, "model": name},
                    model=name,
                    timeout=options.get("timeout"),
                    max_retries=options.get("max_retries"),
                )
            )
            return name, events

        return await self._calls.guarded(model, "llm", open_stream, hold=stack)


def _merge(results: list[EmbeddingResult]) -> EmbeddingResult:
    """One result from the batches' results, in batch order, usage summed."""
    if len(results) == 1:
        return results[0]
    usages = [r.usage for r in results if r.usage is not None]
    usage = None
    if usages:
        usage = Usage(
            prompt_tokens=sum(u.prompt_tokens for u in usages),
            completion_tokens=sum(u.completion_tokens for u in usages),
            total_tokens=sum(u.total_tokens for u in usages),
        )
    first = results[0]
    return EmbeddingResult(
        vectors=[vector for r in results for vector in r.vectors],
        model=first.model,
        sent_model=first.sent_model,
        usage=usage,
        raw=None,
    )
