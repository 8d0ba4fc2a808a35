"""What the Bridge returns: chat, completion, embedding and response results, and stream events."""

from __future__ import annotations

import base64
import binascii
import struct
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from lmbridge.chat.tokens import ContextUsage
from lmbridge.chat.wire import (
    ChatCompletion,
    EmbeddingResponse,
    ResponseObject,
    TextCompletion,
    Usage,
)
from lmbridge.display.html import block, field_table, grid, preformatted
from lmbridge.display.text import compact_repr
from lmbridge.errors import InvalidResponseError, ModelMismatchWarning
from lmbridge.events.timing import Timing

__all__ = [
    "ChatResult",
    "CompletionResult",
    "EmbeddingResult",
    "MismatchWarnings",
    "ResponseResult",
    "ToolCall",
    "Usage",
    "completion_result",
    "embedding_result",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call the model asked for.

    Attributes:
        id: the call id (generated when the server sent none), echoed back with the tool's result.
        name: the tool's name.
        arguments: the parsed arguments; ``{}`` when they did not parse (see ``error``).
        arguments_json: the argument string exactly as the model wrote it.
        error: why the arguments did not parse into a JSON object, or ``None``.
    """

    id: str
    name: str
    arguments: dict[str, Any]
    arguments_json: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the arguments parsed into a JSON object."""
        return self.error is None

    def to_message(self) -> dict[str, Any]:
        """This call in OpenAI chat format, for an assistant message's ``tool_calls``."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments_json},
        }


class _ModelNames:
    """What every result says of the model: the name sent, and the one the server named."""

    __slots__ = ()
    sent_model: str
    model: str | None

    @property
    def model_mismatch(self) -> bool:
        """Whether the server answered with another model than the one asked for."""
        return model_differs(self.sent_model, self.model)

    @property
    def requested_model(self) -> str:
        """The former name of :attr:`sent_model` (kept for code written against it)."""
        return self.sent_model

    def _model_fields(self) -> list[tuple[str, object]]:
        shown = self.model if self.model_mismatch else None
        return [("sent_model", self.sent_model), ("answered by", shown)]


def _tokens(usage: Usage | None) -> str | None:
    if usage is None:
        return None
    return f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion"


def _calls_grid(calls: Sequence[ToolCall]) -> str:
    rows = [(c.id, c.name, c.arguments_json, c.error or "") for c in calls]
    return grid("tool calls", ["id", "name", "arguments", "error"], rows) if calls else ""


@dataclass(frozen=True)
class ChatResult(_ModelNames, Generic[T]):
    """The outcome of a chat completion, streamed or not.

    Attributes:
        text: the reply, with any inline ``<think>`` block removed.
        reasoning: the model's reasoning, from ``reasoning_content``, ``reasoning`` or an inline
            ``<think>...</think>`` block; ``None`` when there was none.
        tool_calls: the tool calls asked for, in order.
        finish_reason: why generation stopped (``stop``, ``length``, ``tool_calls``...).
        usage: token counts, when the server sent them.
        model: the model the server says answered.
        sent_model: the model name lmbridge sent: the name asked for, or the key a partial name
            (``"gemma"``) resolved to.
        parsed: the reply parsed into the ``response_format`` model (or dict), if one was given.
        stats: LM Studio's generation stats, when present.
        raw: the validated response (for streams, one assembled from the chunks).
        timing: how long the call took (:class:`~lmbridge.Timing`), measured client-side.
        server: the root URL of the server that answered (``bridge.servers`` lists them).
        context: how full the model's context window was after this call (``87% of 4096``),
            when its loaded context length is known; ``usage`` stays what the server said.
    """

    text: str
    reasoning: str | None
    tool_calls: list[ToolCall]
    finish_reason: str | None
    usage: Usage | None
    model: str | None
    sent_model: str
    parsed: T | None = None
    stats: dict[str, Any] | None = None
    raw: ChatCompletion | None = field(default=None, repr=False)
    # Stamped by the Bridge as the call ends; not compared: two equal answers differ in time.
    timing: Timing = field(default_factory=Timing, repr=False, compare=False)
    # The server that answered (a Bridge may route to several); not compared, like timing.
    server: str | None = field(default=None, repr=False, compare=False)
    context: ContextUsage | None = None

    @property
    def truncated(self) -> bool:
        """Whether generation stopped at the token limit (``finish_reason == "length"``)."""
        return self.finish_reason == "length"

    def to_message(self) -> dict[str, Any]:
        """The reply as an assistant message, to append to a conversation."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            message["tool_calls"] = [call.to_message() for call in self.tool_calls]
        return message

    def __repr__(self) -> str:
        return compact_repr(
            "ChatResult",
            [
                ("text", self.text),
                ("reasoning", self.reasoning),
                ("tool_calls", [c.name for c in self.tool_calls] or None),
                ("parsed", self.parsed),
                ("finish_reason", self.finish_reason),
                ("model", self.model),
                ("usage", _tokens(self.usage)),
                ("context", None if self.context is None else str(self.context)),
            ],
        )

    def _repr_html_(self) -> str:
        """The reply, its reasoning, tool calls and counts, for notebooks (all escaped)."""
        fields = [
            ("finish_reason", self.finish_reason),
            *self._model_fields(),
            ("tokens", _tokens(self.usage)),
            ("context", None if self.context is None else str(self.context)),
            ("parsed", repr(self.parsed) if self.parsed is not None else None),
        ]
        return block(
            field_table("ChatResult", fields),
            preformatted("reasoning", self.reasoning) if self.reasoning else "",
            preformatted("text", self.text),
            _calls_grid(self.tool_calls),
        )


@dataclass(frozen=True)
class CompletionResult(_ModelNames):
    """The outcome of a legacy ``/v1/completions`` call (``server``: the root URL of the server
    that answered)."""

    text: str
    finish_reason: str | None
    usage: Usage | None
    model: str | None
    sent_model: str
    raw: TextCompletion | None = field(default=None, repr=False)
    # Stamped by the Bridge as the call ends; not compared: two equal answers differ in time.
    timing: Timing = field(default_factory=Timing, repr=False, compare=False)
    # The server that answered (a Bridge may route to several); not compared, like timing.
    server: str | None = field(default=None, repr=False, compare=False)

    @property
    def truncated(self) -> bool:
        """Whether generation stopped at the token limit."""
        return self.finish_reason == "length"

    def __repr__(self) -> str:
        fields = [("text", self.text), ("finish_reason", self.finish_reason)]
        return compact_repr("CompletionResult", [*fields, ("model", self.model)])

    def _repr_html_(self) -> str:
        """The text and counts, for notebooks (all escaped)."""
        fields = [("finish_reason", self.finish_reason), *self._model_fields()]
        table = field_table("CompletionResult", [*fields, ("tokens", _tokens(self.usage))])
        return block(table, preformatted("text", self.text))


@dataclass(frozen=True)
class EmbeddingResult(_ModelNames):
    """Embedding vectors in input order; iterating the result yields the vectors (``server``:
    the root URL of the server that answered)."""

    vectors: list[list[float]]
    model: str | None
    sent_model: str
    usage: Usage | None
    raw: EmbeddingResponse | None = field(default=None, repr=False)
    # Stamped by the Bridge as the call ends; not compared: two equal answers differ in time.
    timing: Timing = field(default_factory=Timing, repr=False, compare=False)
    # The server that answered (a Bridge may route to several); not compared, like timing.
    server: str | None = field(default=None, repr=False, compare=False)

    def __iter__(self) -> Iterator[list[float]]:
        return iter(self.vectors)

    def __len__(self) -> int:
        return len(self.vectors)

    def __getitem__(self, index: int) -> list[float]:
        return self.vectors[index]

    @property
    def shape(self) -> tuple[int, int]:
        """``(vectors, dimensions)``, as numpy would say it."""
        return len(self.vectors), len(self.vectors[0]) if self.vectors else 0

    def __repr__(self) -> str:
        # The shape, never the floats: a repr of 1000 vectors must still fit on a line.
        count, dims = self.shape
        return compact_repr(
            "EmbeddingResult",
            [("shape", f"{count} vectors × {dims} dims"), ("model", self.model)],
            limit=80,
        )

    def _repr_html_(self) -> str:
        """The shape, the model and the first values of each vector, for notebooks."""
        count, dims = self.shape
        head = [("shape", f"{count} × {dims}"), *self._model_fields()]
        table = field_table("EmbeddingResult", [*head, ("tokens", _tokens(self.usage))])
        rows = [
            (i, ", ".join(f"{x:.4f}" for x in vector[:4]) + (", …" if dims > 4 else ""))
            for i, vector in enumerate(self.vectors[:5])
        ]
        more = [("…", f"{count - 5} more")] if count > 5 else []
        return block(table, grid("vectors", ["#", "first values"], [*rows, *more]))


@dataclass(frozen=True)
class ResponseResult(_ModelNames):
    """The outcome of a ``/v1/responses`` call.

    Attributes:
        id: pass it as ``previous_response_id`` to continue the conversation.
        text: the concatenated ``output_text`` of the message items.
        reasoning: the concatenated reasoning text, if any.
        tool_calls: the ``function_call`` items as :class:`ToolCall` (``id`` is the ``call_id``).
        output: the raw output items.
        usage: the usage object as the server sent it.
        parsed: the reply parsed into ``response_format``, if one was given.
        server: the root URL of the server that answered.
    """

    id: str
    text: str
    reasoning: str | None
    tool_calls: list[ToolCall]
    output: list[dict[str, Any]]
    usage: dict[str, Any] | None
    model: str | None
    sent_model: str
    raw: ResponseObject | None = field(default=None, repr=False)
    # Stamped by the Bridge as the call ends; not compared: two equal answers differ in time.
    timing: Timing = field(default_factory=Timing, repr=False, compare=False)
    # The server that answered (a Bridge may route to several); not compared, like timing.
    server: str | None = field(default=None, repr=False, compare=False)
    parsed: Any = None

    def __repr__(self) -> str:
        calls = [c.name for c in self.tool_calls] or None
        fields = [("id", self.id), ("text", self.text), ("reasoning", self.reasoning)]
        return compact_repr("ResponseResult", [*fields, ("tool_calls", calls)])

    def _repr_html_(self) -> str:
        """The reply, its reasoning and tool calls, for notebooks (all escaped)."""
        return block(
            field_table("ResponseResult", [("id", self.id), *self._model_fields()]),
            preformatted("reasoning", self.reasoning) if self.reasoning else "",
            preformatted("text", self.text),
            _calls_grid(self.tool_calls),
        )


def model_differs(requested: str, answered: str | None) -> bool:
    """Whether ``answered`` names another model than ``requested``.

    Instance suffixes (``:2``) and variant suffixes (``@q4_k_m``) do not count as different, and
    neither does a publisher prefix present on one side only (``qwen/qwen3-4b`` vs ``qwen3-4b``).
    """
    if not answered:
        return False

    def base(name: str) -> str:
        name = name.lower().split("@", 1)[0]
        head, sep, tail = name.rpartition(":")
        if sep and tail.isdigit():
            name = head
        return name.rsplit("/", 1)[-1]

    return base(requested) != base(answered)


class MismatchWarnings:
    """Warns (:class:`~lmbridge.ModelMismatchWarning`) when the server answered with another model.

    Once per (sent, answered) pair, so a loop of requests does not repeat it. One per Bridge;
    results and streams report to it as they finish.
    """

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._seen: set[tuple[str, str]] = set()

    def check(self, sent: str, answered: str | None) -> None:
        """Warn if ``answered`` is another model than ``sent`` and this pair was not warned of."""
        if not self.enabled or not answered or not model_differs(sent, answered):
            return
        if (sent, answered) in self._seen:
            return
        self._seen.add((sent, answered))
        warnings.warn(
            ModelMismatchWarning(
                f"asked for model {sent!r} but the server answered with {answered!r} "
                "(servers with one model loaded answer any name with it)"
            ),
            stacklevel=4,
        )


def decode_embedding(value: Sequence[float] | str) -> list[float]:
    """A vector from a float list or OpenAI's base64 little-endian float32 encoding.

    Raises:
        ValueError: the text is not base64, or not a whole number of float32s.
    """
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error as exc:  # a ValueError already; named for the reader
            raise ValueError(f"the embedding is not valid base64 ({exc})") from exc
        if len(raw) % 4:
            raise ValueError(
                f"the embedding decodes to {len(raw)} bytes, not a whole number of float32s"
            )
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    return list(value)


def embedding_result(
    answer: EmbeddingResponse, *, count: int, sent_model: str, url: str
) -> EmbeddingResult:
    """The vectors of ``answer`` in input order (the server may send them in any order).

    Raises:
        InvalidResponseError: the server sent another number of vectors than ``count`` inputs.
    """
    items = sorted(answer.data, key=lambda item: item.index)
    if len(items) != count:
        raise InvalidResponseError(
            f"asked for {count} embeddings, the server sent {len(items)}",
            url=url,
            model=sent_model,
        )
    try:
        vectors = [decode_embedding(item.embedding) for item in items]
    except ValueError as exc:
        raise InvalidResponseError(
            f"the server sent an unreadable embedding: {exc}", url=url, model=sent_model
        ) from exc
    return EmbeddingResult(
        vectors=vectors,
        model=answer.model,
        sent_model=sent_model,
        usage=answer.usage,
        raw=answer,
    )


def completion_result(
    answer: TextCompletion, *, sent_model: str, url: str | None = None
) -> CompletionResult:
    """The first choice of a ``/v1/completions`` answer.

    Raises:
        InvalidResponseError: the answer has no choices (an empty text would hide the failure).
    """
    if not answer.choices:
        raise InvalidResponseError(
            "the server's completion has no choices: there is no text in it",
            url=url,
            model=sent_model,
            body=answer.model_dump_json(),
        )
    choice = answer.choices[0]
    return CompletionResult(
        text=choice.text,
        finish_reason=choice.finish_reason,
        usage=answer.usage,
        model=answer.model,
        sent_model=sent_model,
        raw=answer,
    )
