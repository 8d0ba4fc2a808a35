"""Turn chat completions — whole, or as a stream of chunks — into one :class:`ChatResult`.

Pure logic, no I/O: inline ``<think>`` blocks split from the text (incrementally for streams),
tool calls joined from their pieces and their arguments parsed (in exactly one function).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from lmbridge import errors
from lmbridge.chat.events import (
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallReady,
    UsageReport,
    text_delta,
)
from lmbridge.chat.results import ChatResult, ToolCall
from lmbridge.chat.wire import (
    ChatChunk,
    ChatCompletion,
    ToolCallDelta as WireToolCallDelta,
    Usage,
    WireChoice,
    WireFunction,
    WireMessage,
    WireToolCall,
)
from lmbridge.jsonparse import JSONParseError, parse_json

__all__ = [
    "ChatAssembler",
    "ThinkSplitter",
    "make_tool_call",
    "parse_arguments",
    "result_from_completion",
    "split_think",
]


# --- inline <think> blocks ---------------------------------------------------------------------

# A TextDelta per token, built through its slots (see chat.events.text_delta), inline in feed().
_new = object.__new__
_set_text = vars(TextDelta)["text"].__set__
_set_type = vars(TextDelta)["type"].__set__

_OPEN = "<think>"
_CLOSE = "</think>"


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that could be the start of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class ThinkSplitter:
    """Separates reasoning from text when a model writes ``<think>...</think>`` inline.

    Only a block that opens the reply (after optional whitespace) counts as reasoning, as models
    emit it; a ``<think>`` later in the text is left alone. Tags may be split across any number of
    :meth:`feed` calls. An unterminated block (a reply cut off by ``max_tokens``) is reasoning.
    """

    __slots__ = ("_pending", "_state", "found")

    def __init__(self) -> None:
        self._state = "start"  # start -> think -> after -> text, or start -> text
        self._pending = ""
        #: whether an inline reasoning block opened the reply
        self.found = False

    @property
    def in_text(self) -> bool:
        """Whether every later piece is text as it is (no block can open any more)."""
        return self._state == "text"

    def feed(self, piece: str) -> tuple[str, str]:
        """Take the next piece of content; return the ``(reasoning, text)`` it completes."""
        if self._state == "text":
            return "", piece
        buffered = self._pending + piece
        self._pending = ""
        if self._state == "start":
            stripped = buffered.lstrip()
            if not stripped or (len(stripped) < len(_OPEN) and _OPEN.startswith(stripped)):
                self._pending = buffered
                return "", ""
            if not stripped.startswith(_OPEN):
                self._state = "text"
                return "", buffered
            self._state = "think"
            self.found = True
            buffered = stripped[len(_OPEN) :]
        if self._state == "think":
            end = buffered.find(_CLOSE)
            if end < 0:
                keep = _partial_suffix(buffered, _CLOSE)
                self._pending = buffered[len(buffered) - keep :] if keep else ""
                return buffered[: len(buffered) - keep], ""
            reasoning = buffered[:end]
            self._state = "after"
            _, text = self.feed(buffered[end + len(_CLOSE) :])
            return reasoning, text
        # "after": drop the blank lines models put between the block and the answer
        text = buffered.lstrip()
        if not text:
            return "", ""
        self._state = "text"
        return "", text

    def end(self) -> tuple[str, str]:
        """Flush what is held back at the end of the reply."""
        pending, self._pending = self._pending, ""
        if self._state == "think":
            return pending, ""
        if self._state == "start":
            return "", pending
        return "", ""


def split_think(content: str) -> tuple[str | None, str]:
    """Split a whole reply into ``(reasoning or None, text)``."""
    splitter = ThinkSplitter()
    reasoning, text = splitter.feed(content)
    tail_reasoning, tail_text = splitter.end()
    if not splitter.found:
        return None, content
    return reasoning + tail_reasoning, text + tail_text


# --- tool calls ---------------------------------------------------------------------------------


def new_call_id() -> str:
    """An id for a tool call the server sent without one."""
    return "call_" + uuid.uuid4().hex[:24]


_QUOTED_CHARS = 200  # how much of broken arguments an error quotes back to the model


def parse_arguments(raw: object) -> tuple[dict[str, Any], str, str | None]:
    """Parse tool-call arguments: ``(arguments, raw JSON string, error or None)``.

    The one place tool-call arguments are parsed: calls from the server, calls recovered from
    text and calls handed to a :class:`~lmbridge.agent.tools.ToolRegistry` all come through here.
    Empty arguments (``""``, ``null``) mean a call without arguments. Anything that is not a JSON
    object is an error kept alongside the raw string; the error is worded for the model, which
    is told what went wrong so it can send the call again.
    """
    if raw is None:
        return {}, "", None
    if isinstance(raw, Mapping):
        arguments = dict(raw)
        try:
            text = json.dumps(arguments, ensure_ascii=False, default=str)
        except (RecursionError, ValueError):  # nested past the stack, or circular
            return {}, "", "The arguments are nested too deeply to read."
        return arguments, text, None
    if not isinstance(raw, str):
        kinds = {"list": "an array", "bool": "a boolean", "int": "a number", "float": "a number"}
        kind = kinds.get(type(raw).__name__, f"a {type(raw).__name__}")
        try:
            text = json.dumps(raw, ensure_ascii=False, default=str)
        except (RecursionError, ValueError):
            text = ""
        return {}, text, f"The arguments must be a JSON object, not {kind}."
    if not raw.strip():
        return {}, raw, None  # some servers send "" for a call without arguments
    try:
        value = parse_json(raw)
    except JSONParseError as exc:
        quoted = raw if len(raw) <= _QUOTED_CHARS else raw[: _QUOTED_CHARS - 1] + "…"
        return (
            {},
            raw,
            f"The arguments were not valid JSON: {exc.msg} at position {exc.pos} of "
            f"{quoted!r}. Send the arguments as one JSON object.",
        )
    if value is None:
        return {}, raw, None
    if not isinstance(value, dict):
        kinds = {"list": "an array", "str": "a string"}
        kind = kinds.get(type(value).__name__, f"a {type(value).__name__}")
        return {}, raw, f"The arguments must be a JSON object, not {kind}."
    return value, raw, None


def make_tool_call(call_id: str | None, name: str, raw: object) -> ToolCall:
    """A :class:`ToolCall` with its arguments parsed (or the parse error recorded)."""
    arguments, text, error = parse_arguments(raw)
    return ToolCall(
        id=call_id or new_call_id(),
        name=name,
        arguments=arguments,
        arguments_json=text,
        error=error,
    )


def _joined(*parts: str | None) -> str | None:
    present = [p for p in parts if p]
    return "".join(present) if present else None


def result_from_completion(
    completion: ChatCompletion, *, sent_model: str, url: str | None = None
) -> ChatResult[Any]:
    """A :class:`ChatResult` from a non-streamed completion (parsed output is added later).

    Raises:
        InvalidResponseError: the completion has no choices: an empty result would pass a
            failure off as an empty reply.
    """
    if not completion.choices:
        raise errors.InvalidResponseError(
            "the server's completion has no choices: there is no reply in it",
            url=url,
            model=sent_model,
            body=completion.model_dump_json(),
        )
    choice = completion.choices[0]
    message = choice.message
    inline_reasoning, text = split_think(message.content or "")
    tool_calls = [
        make_tool_call(call.id, call.function.name, call.function.arguments)
        for call in message.tool_calls or ()
    ]
    return ChatResult(
        text=text,
        # Some servers fill both fields with the same text: take one, as streams do.
        reasoning=_joined(message.reasoning_content or message.reasoning, inline_reasoning),
        tool_calls=tool_calls,
        finish_reason=choice.finish_reason,
        usage=completion.usage,
        model=completion.model,
        sent_model=sent_model,
        stats=completion.stats,
        raw=completion,
    )


class _CallParts:
    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name = ""
        self.arguments: list[str] = []


class ChatAssembler:
    """Accumulates stream chunks into events and, at the end, one :class:`ChatResult`.

    Tool-call pieces are joined by ``index``: only the first piece of a call has to carry ``id``
    and ``name``; servers that repeat them in every piece, or send an empty name later, are
    handled, and parallel calls may interleave. Pure logic, no I/O.
    """

    def __init__(self, sent_model: str) -> None:
        self.sent_model = sent_model
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._think = ThinkSplitter()
        self._calls: dict[int, _CallParts] = {}
        self._slots: dict[int, int] = {}  # the wire index -> the key of the call it feeds now
        self._finished_calls: list[ToolCall] | None = None
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.model: str | None = None
        self.stats: dict[str, Any] | None = None
        self.response_id: str | None = None

    def feed(self, chunk: ChatChunk, events: list[StreamEvent]) -> None:
        """Take one validated chunk; append the events it produces to ``events``."""
        if self.model is None:
            self.model = chunk.get("model")
        if self.response_id is None:
            self.response_id = chunk.get("id")
        stats = chunk.get("stats")
        if stats is not None:
            self.stats = stats
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # n > 1 is not requested; ignore stray choices rather than mix them
            delta = choice.get("delta")
            if delta:
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                if reasoning:
                    self._reasoning.append(reasoning)
                    events.append(ReasoningDelta(reasoning))
                content = delta.get("content")
                if content:
                    if self._think.in_text:  # past any <think> block: the common case, inlined
                        self._text.append(content)
                        event = _new(TextDelta)  # text_delta(content), inlined: once per token
                        _set_text(event, content)
                        _set_type(event, "text")
                        events.append(event)
                    else:
                        self._add_content(content, events)
                tool_calls = delta.get("tool_calls")
                if tool_calls:
                    self._add_tool_calls(tool_calls, events)
            finish_reason = choice.get("finish_reason")
            if finish_reason is not None:
                self.finish_reason = finish_reason
                self._flush_content(events)
                events.extend(ToolCallReady(call) for call in self.tool_calls())
        usage = chunk.get("usage")
        if usage is not None:
            self.usage = usage
            events.append(UsageReport(usage))

    def _add_content(self, content: str, events: list[StreamEvent]) -> None:
        self._take(*self._think.feed(content), events)

    def _flush_content(self, events: list[StreamEvent]) -> None:
        self._take(*self._think.end(), events)

    def _take(self, reasoning: str, text: str, events: list[StreamEvent]) -> None:
        if reasoning:
            self._reasoning.append(reasoning)
            events.append(ReasoningDelta(reasoning))
        if text:
            self._text.append(text)
            events.append(text_delta(text))

    def _add_tool_calls(self, pieces: list[WireToolCallDelta], events: list[StreamEvent]) -> None:
        for piece in pieces:
            wire_index = piece.get("index", 0)
            call_id = piece.get("id")
            function = piece.get("function") or {}
            name = function.get("name")
            fragment = function.get("arguments") or ""
            slot = self._slots.get(wire_index)
            parts = self._calls.get(slot) if slot is not None else None
            index: int
            if (
                slot is not None
                and parts is not None
                and not (call_id and parts.id and call_id != parts.id and parts.name)
            ):
                index = slot
            else:
                # A new call. Some servers reuse index 0 for every parallel call, so a new id at
                # an index already in use starts a new call too.
                index = wire_index if wire_index not in self._calls else max(self._calls) + 1
                parts = self._calls[index] = _CallParts()
                self._slots[wire_index] = index
            if call_id and not parts.id:
                parts.id = call_id
            if name and not parts.name:
                parts.name = name
            if fragment:
                parts.arguments.append(fragment)
            events.append(ToolCallDelta(index, call_id, name or None, fragment))
            self._finished_calls = None

    def tool_calls(self) -> list[ToolCall]:
        """The tool calls assembled so far, in index order (ids generated where missing)."""
        if self._finished_calls is None:
            for parts in self._calls.values():
                if parts.id is None:
                    parts.id = new_call_id()
            self._finished_calls = [
                make_tool_call(parts.id, parts.name, "".join(parts.arguments))
                for _, parts in sorted(self._calls.items())
            ]
        return self._finished_calls

    @property
    def text(self) -> str:
        """The text so far."""
        return "".join(self._text)

    def result(self) -> ChatResult[Any]:
        """The assembled result (call after the stream ended)."""
        self._flush_content([])
        text = self.text
        reasoning = "".join(self._reasoning) or None
        calls = self.tool_calls()
        raw = ChatCompletion(
            id=self.response_id,
            object="chat.completion",
            model=self.model,
            choices=[
                WireChoice(
                    index=0,
                    message=WireMessage(
                        role="assistant",
                        content=text,
                        reasoning_content=reasoning,
                        tool_calls=[
                            WireToolCall(
                                id=c.id,
                                function=WireFunction(name=c.name, arguments=c.arguments_json),
                            )
                            for c in calls
                        ]
                        or None,
                    ),
                    finish_reason=self.finish_reason,
                )
            ],
            usage=self.usage,
            stats=self.stats,
        )
        return ChatResult(
            text=text,
            reasoning=reasoning,
            tool_calls=calls,
            finish_reason=self.finish_reason,
            usage=self.usage,
            model=self.model,
            sent_model=self.sent_model,
            stats=self.stats,
            raw=raw,
        )
