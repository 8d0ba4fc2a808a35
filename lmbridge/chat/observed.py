"""One model call as observability sees it: its events, its span and its :class:`Timing`.

The Bridge opens a :class:`CallObserver` around each of ``chat``, ``stream``, ``embed``,
``complete`` and ``respond``, and hands it down (to the request it sends, to the
:class:`~lmbridge.chat.streams.ChatStream`), which mark the moments that matter; nothing calls back
up. On the way out it stamps the result's ``timing`` and emits ``request_finished``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from types import TracebackType
from typing import Any, TypeVar

import anyio
import pydantic_core
from pydantic import BaseModel

from lmbridge import errors
from lmbridge.chat.results import ChatResult, CompletionResult, EmbeddingResult, ResponseResult
from lmbridge.events import (
    EventEmitter,
    RequestFinished,
    RequestStarted,
    SpanHandle,
    Stopwatch,
    Timing,
)
from lmbridge.events.kinds import Operation

__all__ = ["CallObserver", "Operation", "observe_call", "timed"]

R = TypeVar("R", ChatResult[Any], CompletionResult, EmbeddingResult, ResponseResult)

_content_log = logging.getLogger("lmbridge.content")


def timed(result: R, timing: Timing, *, server: str | None = None) -> R:
    """``result`` with its ``timing`` (and, when given, the ``server`` that answered).

    What ``dataclasses.replace`` does for these results (plain frozen dataclasses, no
    ``__post_init__``), at a fifth of its cost: it runs on every call (#18).
    """
    copy = object.__new__(type(result))
    copy.__dict__.update(result.__dict__)
    copy.__dict__["timing"] = timing
    if server is not None:
        copy.__dict__["server"] = server
    return copy


def _reasons(result: object) -> tuple[str, ...]:
    """The finish reasons of a result, or of a wire answer's choices."""
    if isinstance(result, BaseModel) and "finish_reason" not in type(result).__pydantic_fields__:
        # What getattr() would find, without pydantic raising and catching an AttributeError
        # for the (usual) absent attribute: ~3 us a call (#18).
        reason = (result.__pydantic_extra__ or {}).get("finish_reason")
    else:
        reason = getattr(result, "finish_reason", None)
    if reason:
        return (reason,)
    choices = getattr(result, "choices", None) or ()
    return tuple(r for r in (getattr(c, "finish_reason", None) for c in choices) if r)


def _tokens(result: object) -> tuple[int | None, int | None]:
    """Prompt and completion tokens, whatever the endpoint called them."""
    usage = getattr(result, "usage", None)
    if usage is None:
        return None, None
    if isinstance(usage, dict):  # the Responses API's own names
        return usage.get("input_tokens"), usage.get("output_tokens")
    completion = getattr(usage, "completion_tokens", None)
    return usage.prompt_tokens, completion


class CallObserver:
    """The moments of one call and what it came to; see :func:`observe_call`."""

    def __init__(
        self, events: EventEmitter, *, operation: Operation, model: str, path: str, stream: bool
    ) -> None:
        self.events = events
        self.watch = Stopwatch()
        self._operation: Operation = operation
        self._model = model
        self._path = path
        self._stream = stream
        self._generates = operation != "embeddings"
        self._sent_model: str | None = None
        self._result: object = None
        self._timing: Timing | None = None
        self._error: BaseException | None = None
        self.span: SpanHandle | None = None

    def sending(self, name: str) -> None:
        """The request for ``name`` goes out now (again, after a heal)."""
        self._sent_model = name
        self.watch.sent()

    def first_token(self) -> None:
        """The first token (or the whole answer, for a call that does not stream) arrived."""
        if self._generates:
            self.watch.first_token()

    def failed(self, error: BaseException) -> None:
        """The call failed part way (a stream that broke, even if the caller caught it)."""
        self._error = error

    def answered(self, answer: object) -> Timing:
        """The call's timing, now that ``answer`` (a result, or a wire answer) is complete; the
        answer is remembered for the ``request_finished`` event."""
        _, completion = _tokens(answer)
        timing = self.watch.timing(completion, streamed=self._stream)
        if not self._generates:
            timing = Timing(total=timing.total)
        self._timing = timing
        self._result = answer
        return timing

    def complete(self, result: R) -> R:
        """``result`` with its ``timing`` (see :meth:`answered`)."""
        return timed(result, self.answered(result))

    def finished_event(self, error: BaseException | None) -> RequestFinished:
        """The ``request_finished`` event: the call ended with ``error``, or as recorded."""
        error = error or self._error
        result = self._result
        prompt, completion = _tokens(result)
        status: int | None = 200 if result is not None and error is None else None
        if isinstance(error, errors.LMBridgeError):
            status = error.status_code
        return RequestFinished(
            operation=self._operation,
            model=self._model,
            path=self._path,
            stream=self._stream,
            sent_model=self._sent_model,
            response_model=getattr(result, "model", None),
            status=status,
            error=None if error is None else type(error).__qualname__,
            timing=self._timing or Timing(total=self.watch.elapsed()),
            prompt_tokens=prompt,
            completion_tokens=completion,
            finish_reasons=_reasons(result),
        )

    def annotate(self, event: RequestFinished, prompt: object) -> None:
        """Put what the call came to on its span (and, if opted in, its content in the log)."""
        if self.span is not None:
            self.span.set(
                {
                    "gen_ai.response.model": event.response_model,
                    "gen_ai.usage.input_tokens": event.prompt_tokens,
                    "gen_ai.usage.output_tokens": event.completion_tokens,
                    "gen_ai.response.finish_reasons": list(event.finish_reasons) or None,
                }
            )
        if not self.events.log_content:
            return
        # Opted in with Bridge(log_content=True): the one place prompt and reply text leave.
        reply = _reply_text(self._result)
        if _content_log.isEnabledFor(logging.DEBUG):
            _content_log.debug(
                "%s %s prompt: %s reply: %s", event.operation, event.model, _json(prompt), reply
            )
        if self.span is not None:
            self.span.set(
                {
                    "gen_ai.input.messages": _json(prompt),
                    "gen_ai.output.messages": None if reply is None else _json(reply),
                }
            )


def _reply_text(answer: object) -> str | None:
    text = getattr(answer, "text", None)
    if isinstance(text, str):
        return text
    choices = getattr(answer, "choices", None) or ()
    for choice in choices:
        message = getattr(choice, "message", None)
        content = getattr(message, "content", None) if message else getattr(choice, "text", None)
        if isinstance(content, str):
            return content
    return None


def _json(value: object) -> str:
    return pydantic_core.to_json(value, fallback=repr).decode()


def observe_call(
    events: EventEmitter,
    *,
    operation: Operation,
    model: str,
    path: str,
    stream: bool = False,
    body: Mapping[str, Any],
) -> AbstractAsyncContextManager[CallObserver]:
    """Observe one model call over the block: started and finished events, a span, the timing.

    ``body`` is the request: its sampling options go on the span; its messages (or input, or
    prompt) are read only with ``log_content=True``.
    """
    return _Observed(events, operation, model, path, stream, body)


class _Observed:
    """:func:`observe_call`: a class, not a generator, as it wraps every model call (#18)."""

    __slots__ = ("_body", "_call", "_span", "events")

    def __init__(
        self,
        events: EventEmitter,
        operation: Operation,
        model: str,
        path: str,
        stream: bool,
        body: Mapping[str, Any],
    ) -> None:
        self.events = events
        self._body = body
        self._call = CallObserver(
            events, operation=operation, model=model, path=path, stream=stream
        )
        self._span: AbstractContextManager[SpanHandle] | None = None

    async def __aenter__(self) -> CallObserver:
        events, call, options = self.events, self._call, self._body
        operation, model = call._operation, call._model
        await events.emit(
            RequestStarted(operation=operation, model=model, path=call._path, stream=call._stream)
        )
        if events.tracer is None:
            span_context = events.span(operation)  # no tracer: a no-op
        else:
            span_operation = "chat" if operation == "responses" else operation
            span_context = events.span(
                f"{span_operation} {model}",
                kind="client",
                attributes={
                    "gen_ai.operation.name": span_operation,
                    "gen_ai.request.model": model,
                    "gen_ai.request.temperature": options.get("temperature"),
                    "gen_ai.request.max_tokens": options.get(
                        "max_tokens", options.get("max_output_tokens")
                    ),
                    "gen_ai.request.top_p": options.get("top_p"),
                    "gen_ai.request.seed": options.get("seed"),
                },
            )
        call.span = span_context.__enter__()
        self._span = span_context
        return call

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        events, call = self.events, self._call
        span_context = self._span
        assert span_context is not None
        try:
            if exc is not None:
                finished = call.finished_event(exc)
                with anyio.CancelScope(shield=True):
                    await events.emit(finished)
            else:
                finished = call.finished_event(None)
                body = self._body
                prompt = next((body[k] for k in ("messages", "input", "prompt") if k in body), None)
                call.annotate(finished, prompt)
                await events.emit(finished)
        except BaseException as error:
            # As leaving a ``with`` block by this error would: the span sees it.
            if not span_context.__exit__(type(error), error, error.__traceback__):
                raise
            return True
        return bool(span_context.__exit__(exc_type, exc, traceback))
