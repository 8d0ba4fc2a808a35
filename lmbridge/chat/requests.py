"""What a request is made of: messages, keyword options, and the JSON bodies built from them.

Pure data and functions, no I/O: :class:`~lmbridge.Bridge` sends the bodies built here. Options
are declared once as TypedDicts (:class:`ChatOptions`, :class:`SamplingOptions`,
:class:`RequestOptions`); ``run_agent()``/``stream_agent()`` take
:class:`~lmbridge.agent.AgentSettings` (sampling options plus the agent's own). All are
keyword-only and optional; a misspelt name is a ``TypeError`` suggesting the closest known
one, and values are checked before sending (:mod:`lmbridge.chat.validate`). The Responses API builds its
body in :mod:`lmbridge.chat.responses`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from typing_extensions import TypedDict

from lmbridge.chat.images import ContentPart, ImageInput
from lmbridge.chat.results import ChatResult
from lmbridge.chat.structured import ResponseFormat, response_format_body
from lmbridge.chat.validate import check_option_names, check_option_values
from lmbridge.chat.window import FitMode
from lmbridge.transport.client import TimeoutArg

__all__ = [
    "ChatOptions",
    "Message",
    "MessagesArg",
    "RequestOptions",
    "SamplingOptions",
    "chat_body",
    "embedding_body",
    "normalize_messages",
    "sampling_body",
]

# --- messages ---------------------------------------------------------------------------------

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class Message:
    """A typed chat message.

    Use the constructors: ``Message.system(...)``, ``Message.user(...)``,
    ``Message.assistant(...)``, ``Message.tool(...)``. ``content`` may be a string or a list of
    content parts: dicts in OpenAI format and, for vision models, :class:`~lmbridge.Image`
    objects (``Message.user([{"type": "text", "text": "What is this?"}, Image.from_path(p)])``).
    """

    role: Role
    content: str | Sequence[ContentPart] | None
    tool_calls: Sequence[Mapping[str, Any]] | None = None
    tool_call_id: str | None = None
    name: str | None = None

    @classmethod
    def system(cls, content: str) -> Message:
        """A system message."""
        return cls("system", content)

    @classmethod
    def user(cls, content: str | Sequence[ContentPart]) -> Message:
        """A user message."""
        return cls("user", content)

    @classmethod
    def assistant(
        cls, content: str | None = None, *, tool_calls: Sequence[Mapping[str, Any]] | None = None
    ) -> Message:
        """An assistant message, optionally with the tool calls it made."""
        return cls("assistant", content, tool_calls=tool_calls)

    @classmethod
    def tool(cls, content: str, *, tool_call_id: str, name: str | None = None) -> Message:
        """A tool's result, answering the call with ``tool_call_id``."""
        return cls("tool", content, tool_call_id=tool_call_id, name=name)

    def to_dict(self) -> dict[str, Any]:
        """The message in OpenAI chat format."""
        data: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls is not None:
            data["tool_calls"] = [dict(call) for call in self.tool_calls]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            data["name"] = self.name
        return data


MessageLike = Message | Mapping[str, Any] | ChatResult[Any]
MessagesArg = str | Message | Iterable[MessageLike]
"""A prompt: a string (one user message), one :class:`Message`, or a sequence of messages as
:class:`Message`, dicts in OpenAI chat format, or earlier :class:`~lmbridge.ChatResult` replies."""


def _one(message: MessageLike) -> dict[str, Any]:
    if isinstance(message, Message):
        data = message.to_dict()
    elif isinstance(message, Mapping):
        data = dict(message)
    elif isinstance(message, ChatResult):
        data = message.to_message()
    else:
        raise TypeError(
            f"a message must be a Message, a dict or a ChatResult, not {type(message).__name__}"
        )
    role = data.get("role")
    if role == "developer":
        # LM Studio 0.3.15 rejects "developer" and later versions rewrite it: send what all accept.
        data["role"] = "system"
    elif role not in ("system", "user", "assistant", "tool"):
        raise ValueError(f"unknown message role {role!r}: use system, user, assistant or tool")
    return data


def normalize_messages(messages: MessagesArg) -> list[dict[str, Any]]:
    """Messages in OpenAI chat format, from any accepted form."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if isinstance(messages, Message):
        return [messages.to_dict()]
    if isinstance(messages, Mapping):
        raise TypeError("pass a list of messages, not a single dict")
    result = [_one(message) for message in messages]
    if not result:
        raise ValueError("messages must not be empty")
    return result


# --- options ----------------------------------------------------------------------------------


class RequestOptions(TypedDict, total=False):
    """How one request is sent.

    Attributes:
        timeout: the read timeout in seconds (the longest wait for the next byte), or an
            ``httpx.Timeout``; default: the Bridge's.
        max_retries: retries of this request (default: the Bridge's, see the retry table).
        extra_body: more JSON fields, sent as they are (they win over lmbridge's own).
    """

    timeout: TimeoutArg
    max_retries: int | None
    extra_body: Mapping[str, Any] | None


class SamplingOptions(RequestOptions, total=False):
    """How the model generates.

    Attributes:
        temperature: sampling temperature.
        max_tokens: the most tokens to generate (``-1``: no limit, on LM Studio).
        top_p: nucleus sampling.
        top_k: top-k sampling (LM Studio, llama.cpp).
        stop: a stop string or several.
        seed: a seed for reproducible sampling.
        ttl: idle seconds after which LM Studio unloads a model this request JIT-loads.
        draft_model: a smaller model with the same vocabulary for speculative decoding (LM Studio
            0.3.10+); its statistics (``accepted_draft_tokens_count``...) land in
            ``ChatResult.stats``.
    """

    temperature: float | None
    max_tokens: int | None
    top_p: float | None
    top_k: int | None
    stop: str | Sequence[str] | None
    seed: int | None
    ttl: int | None
    draft_model: str | None


class ChatOptions(SamplingOptions, total=False):
    """Options of ``chat()`` and ``stream()`` besides ``response_format``.

    Attributes:
        tools: function tools in OpenAI chat format.
        tool_choice: ``"auto"``, ``"none"``, ``"required"`` or a named function.
        fit: what to do with a prompt that cannot fit the model's loaded context window with
            the reply's reserve (``max_tokens``, else 512 at most a quarter of the window):
            ``None`` (default) sends it as it is; ``"error"`` raises
            :class:`~lmbridge.ContextLengthExceededError` before sending; ``"trim"`` drops the
            oldest turns first (see the "Context windows" docs page).
        validation_retries: with a ``response_format``, how many times a reply that does not
            validate is asked again, the error fed back (default 1; see "Structured output").
        images: images for the last user message (vision models): paths, ``bytes``, ``data:``
            or ``http(s)`` URLs, PIL images or :class:`~lmbridge.Image` objects.
    """

    tools: Sequence[Mapping[str, Any]] | None
    tool_choice: str | Mapping[str, Any] | None
    fit: FitMode | None
    validation_retries: int
    images: Sequence[ImageInput] | None


_BODY_KEYS = (
    "temperature",
    "max_tokens",
    "top_p",
    "top_k",
    "seed",
    "ttl",
    "draft_model",
    "tool_choice",
)
_TRANSPORT_KEYS = frozenset({"timeout", "max_retries"})
_KNOWN = frozenset({*_BODY_KEYS, *_TRANSPORT_KEYS, "stop", "tools", "extra_body"})
# Read by the Bridge, never sent: chat and stream take them, complete() does not.
_CHAT_KNOWN = _KNOWN | {"fit", "validation_retries", "images"}


def sampling_body(options: Mapping[str, Any], *, known: frozenset[str] = _KNOWN) -> dict[str, Any]:
    """The JSON fields for ``options`` (``None`` values left out, ``extra_body`` merged last).

    Raises:
        TypeError: an option name none of the TypedDicts declares (the closest known name is
            suggested), or a value of the wrong type.
        ValueError: a value out of range (``top_p=1.5``); the message says what is allowed.
    """
    check_option_names(options, known, what="option")
    check_option_values(options)
    body = {key: options[key] for key in _BODY_KEYS if options.get(key) is not None}
    stop = options.get("stop")
    if stop is not None:
        body["stop"] = [stop] if isinstance(stop, str) else list(stop)
    tools = options.get("tools")
    if tools:
        body["tools"] = [dict(tool) for tool in tools]
    body.update(options.get("extra_body") or {})
    return body


# --- bodies -----------------------------------------------------------------------------------


def chat_body(
    model: str,
    messages: MessagesArg,
    *,
    response_format: ResponseFormat | None,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """The body of ``POST /v1/chat/completions``.

    Raises:
        ValueError: ``model`` is empty.
        TypeError: an option name :class:`~lmbridge.ChatOptions` does not declare.
    """
    if not isinstance(model, str) or not model.strip():
        raise ValueError("model must be a non-empty string")
    body: dict[str, Any] = {"model": model, "messages": normalize_messages(messages)}
    if response_format is not None:
        body["response_format"] = response_format_body(response_format)
    body.update(sampling_body(options, known=_CHAT_KNOWN))
    return body


def embedding_body(
    model: str,
    texts: Sequence[str],
    *,
    encoding_format: Literal["float", "base64"],
    dimensions: int | None,
    extra_body: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The body of ``POST /v1/embeddings``."""
    if not texts:
        raise ValueError("input must not be empty")
    body: dict[str, Any] = {
        "model": model,
        "input": list(texts),
        "encoding_format": encoding_format,
    }
    if dimensions is not None:
        body["dimensions"] = dimensions
    body.update(extra_body or {})
    return body
