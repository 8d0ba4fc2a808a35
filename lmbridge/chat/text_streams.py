"""``bridge.stream_complete()`` and ``bridge.stream_respond()``: the other endpoints, streamed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from lmbridge import errors
from lmbridge.chat.assemble import make_tool_call
from lmbridge.chat.event_stream import EventStream
from lmbridge.chat.events import ReasoningDelta, StreamEvent, TextDelta, ToolCallReady, UsageReport
from lmbridge.chat.partial import PartialJSON
from lmbridge.chat.responses import result_from_response
from lmbridge.chat.results import CompletionResult, MismatchWarnings, ResponseResult
from lmbridge.chat.streams import in_stream_error
from lmbridge.chat.wire import ResponseObject, Usage
from lmbridge.transport.sse import ServerSentEvent

__all__ = ["CompletionStream", "ResponseStream"]


class CompletionStream(EventStream[CompletionResult]):
    """A ``/v1/completions`` reply as it streams: :class:`~lmbridge.TextDelta` and
    :class:`~lmbridge.UsageReport` events, then ``await stream.result()`` for the
    :class:`~lmbridge.CompletionResult` ``complete()`` returns."""

    def __init__(
        self,
        source: Any,
        *,
        sent_model: str,
        url: str,
        mismatch: MismatchWarnings,
        server: str | None = None,
    ):
        super().__init__(source, sent_model=sent_model, url=url, server=server)
        self._mismatch = mismatch
        self._text: list[str] = []
        self._finish_reason: str | None = None
        self._usage: Usage | None = None
        self._model: str | None = None

    @property
    def text(self) -> str:
        """The text received so far."""
        return "".join(self._text)

    def _handle(self, event: ServerSentEvent, pending: list[StreamEvent]) -> bool:
        chunk = self._json(event.data)
        error = chunk.get("error")
        if error is not None:
            raise in_stream_error(error, url=self._url, model=self.sent_model)
        self._model = chunk.get("model") or self._model
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            text = choice.get("text")
            if isinstance(text, str) and text:
                self._text.append(text)
                pending.append(TextDelta(text))
            if choice.get("finish_reason"):
                self._finish_reason = str(choice["finish_reason"])
                self._may_end = True
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._usage = Usage.model_validate(usage)
            pending.append(UsageReport(self._usage))
        return False

    def _build(self) -> CompletionResult:
        self._mismatch.check(self.sent_model, self._model)
        return CompletionResult(
            text=self.text,
            finish_reason=self._finish_reason,
            usage=self._usage,
            model=self._model,
            sent_model=self.sent_model,
        )


_TEXT_DELTA = "response.output_text.delta"
_REASONING_DELTAS = ("response.reasoning_text.delta", "response.reasoning_summary_text.delta")
_FINAL = ("response.completed", "response.incomplete")


class ResponseStream(EventStream[ResponseResult]):
    """A ``/v1/responses`` reply as it streams: :class:`~lmbridge.TextDelta`,
    :class:`~lmbridge.ReasoningDelta`, :class:`~lmbridge.ToolCallReady` and
    :class:`~lmbridge.UsageReport` events, then ``await stream.result()`` for the
    :class:`~lmbridge.ResponseResult` ``respond()`` returns (built from the final response
    object the server sends, so its ``id`` continues the conversation). With a
    ``response_format``, :class:`~lmbridge.PartialParsed` events too, and ``result()``
    validates (re-asking without streaming) as ``respond()`` does."""

    def __init__(
        self,
        source: Any,
        *,
        sent_model: str,
        url: str,
        mismatch: MismatchWarnings,
        validation: Callable[[ResponseResult], Awaitable[ResponseResult]] | None = None,
        server: str | None = None,
    ) -> None:
        super().__init__(source, sent_model=sent_model, url=url, server=server)
        self._mismatch = mismatch
        self._text: list[str] = []
        self._final: ResponseObject | None = None
        self._validation = validation
        self._partial = PartialJSON() if validation is not None else None

    @property
    def text(self) -> str:
        """The text received so far."""
        return "".join(self._text)

    def _handle(self, event: ServerSentEvent, pending: list[StreamEvent]) -> bool:
        payload = self._json(event.data)
        kind = payload.get("type") or event.event
        if kind == _TEXT_DELTA:
            delta = str(payload.get("delta") or "")
            if delta:
                self._text.append(delta)
                pending.append(TextDelta(delta))
                if self._partial is not None:
                    self._partial.update(self.text, pending)
        elif kind in _REASONING_DELTAS:
            delta = str(payload.get("delta") or "")
            if delta:
                pending.append(ReasoningDelta(delta))
        elif kind == "response.output_item.done":
            item = payload.get("item")
            if isinstance(item, dict) and item.get("type") == "function_call":
                call_id = item.get("call_id") or item.get("id")
                call = make_tool_call(call_id, str(item.get("name", "")), item.get("arguments"))
                pending.append(ToolCallReady(call))
        elif kind in ("error", "response.failed"):
            response = payload.get("response")
            error = response.get("error") if isinstance(response, dict) else None
            detail = error if isinstance(error, dict) else payload
            message = detail.get("message") or "the response failed"
            raise in_stream_error(
                {"message": message, "code": detail.get("code")},
                url=self._url,
                model=self.sent_model,
            )
        elif kind in _FINAL:
            self._final = self._response(payload.get("response"))
            usage = self._final.usage
            if usage:
                pending.append(UsageReport(_usage(usage)))
            return True
        return False

    def _response(self, value: Any) -> ResponseObject:
        try:
            return ResponseObject.model_validate(value)
        except ValidationError as exc:
            raise errors.InvalidResponseError(
                "the server's final stream event holds no valid response object",
                url=self._url,
                model=self.sent_model,
            ) from exc

    def _build(self) -> ResponseResult:
        assert self._final is not None  # complete means the final event arrived
        self._mismatch.check(self.sent_model, self._final.model)
        return result_from_response(self._final, sent_model=self.sent_model)

    async def _finish(self, result: ResponseResult) -> ResponseResult:
        return result if self._validation is None else await self._validation(result)


def _usage(usage: dict[str, Any]) -> Usage:
    """The Responses API's counts (``input_tokens``/``output_tokens``) as chat usage."""
    prompt = int(usage.get("input_tokens") or 0)
    completion = int(usage.get("output_tokens") or 0)
    total = int(usage.get("total_tokens") or prompt + completion)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)
