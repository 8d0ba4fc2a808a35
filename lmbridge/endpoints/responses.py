"""``bridge.respond()`` and ``bridge.stream_respond()``: LM Studio's stateful Responses API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Literal

from typing_extensions import Unpack

from lmbridge.chat.observed import timed
from lmbridge.chat.repair import DEFAULT_VALIDATION_RETRIES, check_retries, validated_response
from lmbridge.chat.requests import RequestOptions
from lmbridge.chat.responses import build_responses_body, result_from_response
from lmbridge.chat.results import ResponseResult
from lmbridge.chat.structured import ResponseFormat
from lmbridge.chat.text_streams import ResponseStream
from lmbridge.chat.window import FitMode
from lmbridge.chat.wire import ResponseObject
from lmbridge.endpoints.wiring import Wiring
from lmbridge.servers import Server

__all__ = ["ResponseCalls"]

_RESPONSES = "/v1/responses"


class ResponseCalls(Wiring):
    """``respond()`` and ``stream_respond()`` (a base of :class:`~lmbridge.Bridge`)."""

    async def respond(
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
        fit: FitMode | None = None,
        response_format: ResponseFormat | None = None,
        validation_retries: int = DEFAULT_VALIDATION_RETRIES,
        **options: Unpack[RequestOptions],
    ) -> ResponseResult:
        """Use the stateful Responses API (``POST /v1/responses``, LM Studio 0.3.29+).

        Pass the returned ``id`` as ``previous_response_id`` to continue. ``tools`` may be in
        chat format (``{"type": "function", "function": {...}}``): they are flattened to the
        format this endpoint requires. ``response_format`` and ``validation_retries`` work as
        in :meth:`chat` (``parsed`` holds the object); a reply in plain prose raises
        :class:`~lmbridge.StructuredOutputIgnoredError` (some LM Studio versions ignore the
        schema here). ``fit`` works as in :meth:`chat` on ``input`` (with a
        ``previous_response_id``, the server's history is not counted). ``options``:
        ``timeout``, ``max_retries``, ``extra_body`` (see :class:`~lmbridge.RequestOptions`).
        """
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

        async def on(server: Server) -> tuple[Server, dict[str, Any], ResponseResult]:
            url = server.http.url(_RESPONSES)
            sent = await server.context.prepare_response(model, body, fit, url=url)
            name, parsed, timing = await server.calls.post(
                _RESPONSES, sent, ResponseObject, model=model, kind="llm", options=options
            )
            self._mismatch.check(name, parsed.model)
            result = result_from_response(parsed, sent_model=name)
            return server, sent, timed(result, timing, server=server.url)

        # A follow-up goes to the server that stores the conversation it continues.
        pin = self._router.storing(previous_response_id)
        server, sent, result = await self._router.run(model, on, pin=pin)
        if response_format is not None:
            result = await self._structured_response(
                server,
                result,
                sent,
                response_format=response_format,
                validation_retries=validation_retries,
                options=options,
            )
        self._router.remember(result.id, server)
        return result

    async def _structured_response(
        self,
        server: Server,
        result: ResponseResult,
        body: Mapping[str, Any],
        *,
        response_format: ResponseFormat,
        validation_retries: int,
        options: Mapping[str, Any],
    ) -> ResponseResult:
        """A ``respond()`` result parsed into ``response_format``, re-asking ``server`` like
        ``chat()``."""
        original = body["input"]
        items = [{"role": "user", "content": original}] if isinstance(original, str) else original

        async def ask(extra: list[dict[str, Any]]) -> ResponseResult:
            from lmbridge.chat.responses import result_from_response
            from lmbridge.chat.wire import ResponseObject

            again = {**body, "input": [*items, *extra]}
            name, answer, timing = await server.calls.post(
                _RESPONSES,
                again,
                ResponseObject,
                model=result.sent_model,
                kind="llm",
                options=options,
            )
            return timed(result_from_response(answer, sent_model=name), timing, server=server.url)

        return await validated_response(
            result,
            response_format=response_format,
            retries=check_retries(validation_retries),
            ask=ask,
            url=server.http.url(_RESPONSES),
        )

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
        fit: FitMode | None = None,
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
        does. ``fit`` works as in :meth:`respond`, on the server the stream goes to. Leaving the
        block early, breaking out of the loop or cancelling the task closes the response.
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
        retries = check_retries(validation_retries)
        async with AsyncExitStack() as stack:
            streamed = {**body, "stream": True}
            pin = self._router.storing(previous_response_id)

            async def fitted(server: Server, body: dict[str, Any]) -> dict[str, Any]:
                url = server.http.url(_RESPONSES)
                return await server.context.prepare_response(model, body, fit, url=url)

            server, name, events = await self._open_events(
                stack, _RESPONSES, streamed, model, options, pin=pin, prepare=fitted
            )
            validate = None
            if response_format is not None:
                fmt = response_format

                async def validate(result: ResponseResult) -> ResponseResult:
                    return await self._structured_response(
                        server,
                        result,
                        body,
                        response_format=fmt,
                        validation_retries=retries,
                        options=options,
                    )

            stream = ResponseStream(
                events,
                sent_model=name,
                url=server.http.url(_RESPONSES),
                mismatch=self._mismatch,
                validation=validate,
                server=server.url,
            )
            try:
                yield stream
            finally:
                await stream.aclose()
                if stream.completed is not None:
                    self._router.remember(stream.completed.id, server)
