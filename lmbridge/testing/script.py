"""What the simulated model says: scripted replies, responders, injected failures and defaults."""

from __future__ import annotations

import inspect
import json
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field, replace
from typing import Any, Literal, TypeAlias

from lmbridge.testing.catalogue import ReasoningShape, SimModel
from lmbridge.testing.failures import SimError
from lmbridge.testing.request_text import estimate_tokens, last_user_text
from lmbridge.testing.schema_instance import minimal_instance

__all__ = [
    "ANY_MODEL",
    "FinishReason",
    "Reply",
    "RequestKind",
    "Responder",
    "ScriptItem",
    "Scripts",
    "ToolCallSpec",
    "ToolCallStyle",
    "apply_limits",
    "default_reply",
]

ANY_MODEL = "*"
"""Script, responder or failure key that applies to requests for any model."""

ToolCallStyle = Literal["first_only", "repeat", "empty_name"]
"""How streamed tool-call pieces carry ``id``/``name``: first piece only (current LM Studio), every
piece, or later pieces with ``"name": ""`` (LM Studio before 0.3.16)."""

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]
RequestKind = Literal["chat", "completion", "responses", "embedding"]


@dataclass(frozen=True)
class ToolCallSpec:
    """A tool call the simulated model makes.

    Attributes:
        name: the function name.
        arguments: a dict (sent as JSON) or a raw string, which may be INVALID JSON on purpose.
        id: the call id; generated (``call_1``, ``call_2``...) when ``None``.
    """

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_text(self) -> str:
        """The arguments as the server sends them: a JSON string (or the raw string given)."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments))


@dataclass(frozen=True)
class Reply:
    """One answer of the simulated model, and how it is delivered.

    ``Reply("Hello")`` is a plain answer. Everything else is keyword-only.

    Attributes:
        text: the answer text (``content``).
        reasoning: reasoning text, if any.
        reasoning_shape: ``"reasoning_content"``, ``"reasoning"`` (gpt-oss) or ``"think"`` (inline
            ``<think>...</think>`` at the start of ``content``).
        tool_calls: tool calls to make.
        finish_reason: defaults to ``"tool_calls"`` when there are calls, else ``"stop"``.
        delay: seconds before the first byte (the model "processing the prompt").
        chunk_delay: seconds between stream chunks.
        chunk_size: characters of text per stream delta.
        tool_call_style: see :data:`ToolCallStyle`.
        interleave_tool_calls: with several calls, stream their pieces round-robin (else one after
            the other).
        send_usage: send ``usage`` (in streams only when the request asked for
            ``stream_options.include_usage``); ``False`` imitates servers that send none.
        omit_done: end the stream without ``data: [DONE]`` (``/v1/responses``: without
            ``response.completed``).
        stop_after_chunks: cut the stream after this many data chunks (then ``[DONE]`` unless
            ``omit_done``).
        drop_connection: end a cut stream by breaking the connection (the client sees a protocol
            error) instead of closing it cleanly.
        stream_error: after this many chunks, send an in-stream ``data: {"error": {...}}`` and end.
        stream_error_message: the message of that in-stream error.
        error: answer with this HTTP error instead.
        usage: override the computed ``usage`` object.
        stats: override the LM Studio ``stats`` object of ``/api/v0`` routes.
        model: override the ``model`` the response names.
    """

    text: str = ""
    _: KW_ONLY
    reasoning: str | None = None
    reasoning_shape: ReasoningShape = "reasoning_content"
    tool_calls: Sequence[ToolCallSpec] = ()
    finish_reason: FinishReason | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    chunk_size: int = 4
    tool_call_style: ToolCallStyle = "first_only"
    interleave_tool_calls: bool = True
    send_usage: bool = True
    omit_done: bool = False
    stop_after_chunks: int | None = None
    drop_connection: bool = False
    stream_error: int | None = None
    stream_error_message: str = "The model crashed during generation."
    error: SimError | None = None
    usage: Mapping[str, Any] | None = None
    stats: Mapping[str, Any] | None = None
    model: str | None = None

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        object.__setattr__(self, "tool_calls", tuple(self.tool_calls))

    @property
    def resolved_finish_reason(self) -> str:
        """The finish reason sent: the explicit one, else derived from the tool calls."""
        if self.finish_reason is not None:
            return self.finish_reason
        return "tool_calls" if self.tool_calls else "stop"


ScriptItem: TypeAlias = Reply | str | SimError
"""What ``sim.script`` accepts: a ``Reply``, a plain string (the text), or a ``SimError``."""

Responder: TypeAlias = Callable[
    [dict[str, Any]], Reply | str | SimError | Awaitable[Reply | str | SimError]
]
"""A function from the request body to the reply, sync or async."""


def as_reply(item: Reply | str | SimError) -> Reply:
    """Normalise a script item to a :class:`Reply`."""
    if isinstance(item, Reply):
        return item
    if isinstance(item, SimError):
        return Reply(error=item)
    if isinstance(item, str):
        return Reply(item)
    raise TypeError(f"expected Reply, str or SimError, got {type(item).__name__}")


class Scripts:
    """Per-model queues of replies, responders and injected failures."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Reply]] = {}
        self._responders: dict[str, Responder] = {}
        self._failures: dict[str, deque[SimError]] = {}

    def add(self, model: str, items: Iterable[ScriptItem]) -> None:
        """Queue replies for a model key, instance identifier or ``"*"``."""
        self._queues.setdefault(model, deque()).extend(as_reply(item) for item in items)

    def set_responder(self, model: str, fn: Responder | None) -> None:
        """Install (or with ``None`` remove) a responder."""
        if fn is None:
            self._responders.pop(model, None)
        else:
            self._responders[model] = fn

    def fail_next(self, model: str, error: SimError, times: int) -> None:
        """Answer the next ``times`` requests for ``model`` with ``error``."""
        self._failures.setdefault(model, deque()).extend([error] * times)

    def pending(self, model: str) -> int:
        """Scripted replies not consumed yet for this name."""
        return len(self._queues.get(model, ()))

    def clear(self) -> None:
        """Forget all scripts, responders and failures."""
        self._queues.clear()
        self._responders.clear()
        self._failures.clear()

    def take_failure(self, names: Sequence[str]) -> SimError | None:
        """Pop the first injected failure among ``names`` (tried in order)."""
        for name in names:
            queue = self._failures.get(name)
            if queue:
                return queue.popleft()
        return None

    async def next_reply(self, names: Sequence[str], body: dict[str, Any]) -> Reply | None:
        """The scripted reply for a request, else the responder's, else ``None`` (use a default)."""
        for name in names:
            queue = self._queues.get(name)
            if queue:
                return queue.popleft()
        for name in names:
            fn = self._responders.get(name)
            if fn is not None:
                result = fn(body)
                if inspect.isawaitable(result):
                    result = await result
                return as_reply(result)
        return None


def _tool_choice_call(body: dict[str, Any]) -> ToolCallSpec | None:
    """The call a model forced by ``tool_choice`` makes, with minimal valid arguments."""
    tools = body.get("tools")
    choice = body.get("tool_choice")
    if not isinstance(tools, list) or not tools:
        return None
    wanted: str | None = None
    if isinstance(choice, dict):
        named = choice.get("function")
        wanted = named.get("name") if isinstance(named, dict) else choice.get("name")
    elif choice != "required":
        return None
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        nested = tool.get("function")
        function: dict[str, Any] = nested if isinstance(nested, dict) else tool
        name = function.get("name")
        if isinstance(name, str) and (wanted is None or name == wanted):
            params = function.get("parameters")
            arguments = minimal_instance(params) if isinstance(params, dict) else {}
            return ToolCallSpec(name, arguments if isinstance(arguments, dict) else {})
    return None


def _requested_schema(kind: RequestKind, body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema a request asks the reply to follow: chat's ``response_format``, or the
    Responses API's flat ``text.format`` (honoured, as LM Studio versions without bug #2403 do)."""
    if kind == "chat":
        fmt = body.get("response_format")
        spec = fmt.get("json_schema") if isinstance(fmt, dict) else None
    elif kind == "responses":
        text = body.get("text")
        spec = text.get("format") if isinstance(text, dict) else None
    else:
        return None
    if not isinstance(spec, dict) or (kind == "responses" and spec.get("type") != "json_schema"):
        return None
    if kind == "chat" and not (isinstance(fmt, dict) and fmt.get("type") == "json_schema"):
        return None
    schema = spec.get("schema", {})
    return schema if isinstance(schema, dict) else {}


def default_reply(model: SimModel, kind: RequestKind, body: dict[str, Any]) -> Reply:
    """What the simulator says when nothing is scripted: deterministic and short.

    A JSON-schema ``response_format`` (or ``text.format`` on ``/v1/responses``) gets a minimal
    valid instance of the schema; ``tool_choice``
    ``"required"`` (or naming a function) gets a call with minimal arguments; otherwise an echo such as
    ``"Simulated reply from qwen/qwen3-4b to: Hello"``. Reasoning models also reason.
    """
    said = last_user_text(body)[:40]
    reasoning = None
    if model.reasoning_shape is not None and kind != "completion":
        reasoning = f"The user said: {said}"
    shape: ReasoningShape = model.reasoning_shape or "reasoning_content"
    call = _tool_choice_call(body) if kind == "chat" else None
    if call is not None:
        return Reply(reasoning=reasoning, reasoning_shape=shape, tool_calls=[call])
    schema = _requested_schema(kind, body)
    if schema is not None:
        text = json.dumps(minimal_instance(schema))
        return Reply(text, reasoning=reasoning, reasoning_shape=shape)
    noun = "completion" if kind == "completion" else "reply"
    return Reply(
        f"Simulated {noun} from {model.key} to: {said}", reasoning=reasoning, reasoning_shape=shape
    )


def apply_limits(reply: Reply, body: dict[str, Any], *, token_field: str = "max_tokens") -> Reply:
    """Cut a reply at the request's stop strings and token budget, as a model would.

    A reply with an explicit ``finish_reason`` is left alone (the script decides). Reasoning uses the
    budget first, so a tiny ``max_tokens`` leaves reasoning and no text (``finish_reason: "length"``).
    """
    if reply.finish_reason is not None or reply.error is not None:
        return reply
    text = reply.text
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    for s in stops:
        if isinstance(s, str) and s and s in text:
            text = text[: text.index(s)]
    reply = replace(reply, text=text)
    budget = body.get(token_field)
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 0:
        return reply
    reasoning = reply.reasoning or ""
    used = (
        estimate_tokens(reasoning)
        + estimate_tokens(text)
        + sum(estimate_tokens(call.arguments_text) for call in reply.tool_calls)
    )
    if used <= budget:
        return reply
    chars = budget * 4
    kept_reasoning = reasoning[:chars]
    kept_text = text[: max(0, chars - len(kept_reasoning))]
    return replace(
        reply,
        text=kept_text,
        reasoning=kept_reasoning if reply.reasoning is not None else None,
        tool_calls=(),
        finish_reason="length",
    )
