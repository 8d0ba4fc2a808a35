"""Pydantic models of what OpenAI-compatible servers send, validated straight from JSON bytes.

Response models keep unknown fields (``extra="allow"``) so LM Studio's ``stats``/``model_info`` and
llama.cpp's ``timings`` survive in ``result.raw``. Stream chunks are TypedDicts that drop unknown
keys: they are validated once per token and must stay lean.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from typing_extensions import TypedDict

__all__ = [
    "ChatChunk",
    "ChatCompletion",
    "EmbeddingResponse",
    "TextCompletion",
    "Usage",
]


class _Lenient(BaseModel):
    # The schema is built on first use, not at import: most programs use a few of these models.
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class Usage(_Lenient):
    """Token counts reported by the server."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


# --- chat completions ------------------------------------------------------------------------


class WireFunction(_Lenient):
    name: str = ""
    # Most servers send a JSON string; a few send the object itself.
    arguments: str | dict[str, Any] | None = None


class WireToolCall(_Lenient):
    id: str | None = None
    type: str | None = "function"
    function: WireFunction = Field(default_factory=WireFunction)


class WireMessage(_Lenient):
    role: str = "assistant"
    content: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    tool_calls: list[WireToolCall] | None = None


class WireChoice(_Lenient):
    index: int = 0
    message: WireMessage = Field(default_factory=WireMessage)
    finish_reason: str | None = None


class ChatCompletion(_Lenient):
    """A ``chat.completion`` response."""

    id: str | None = None
    object: str | None = None
    created: int | None = None
    model: str | None = None
    choices: list[WireChoice] = Field(default_factory=list)
    usage: Usage | None = None
    stats: dict[str, Any] | None = None


# Stream chunks are validated once per token: TypedDicts (plain dicts, built by pydantic-core in
# one step) cost about half of what model instances do.


class FunctionDelta(TypedDict, total=False):
    name: str | None
    arguments: str | None


class ToolCallDelta(TypedDict, total=False):
    index: int
    id: str | None
    type: str | None
    function: FunctionDelta | None


class Delta(TypedDict, total=False):
    role: str | None
    content: str | None
    reasoning_content: str | None
    reasoning: str | None
    tool_calls: list[ToolCallDelta] | None


class ChunkChoice(TypedDict, total=False):
    index: int
    delta: Delta | None
    finish_reason: str | None


class ChatChunk(TypedDict, total=False):
    """One ``chat.completion.chunk`` of a stream (or an in-stream ``{"error": ...}``)."""

    id: str | None
    model: str | None
    choices: list[ChunkChoice] | None
    usage: Usage | None
    stats: dict[str, Any] | None
    error: str | dict[str, Any] | None


# --- legacy completions ------------------------------------------------------------------------


class CompletionChoice(_Lenient):
    index: int = 0
    text: str = ""
    finish_reason: str | None = None


class TextCompletion(_Lenient):
    """A ``text_completion`` response of ``/v1/completions``."""

    id: str | None = None
    object: str | None = None
    model: str | None = None
    choices: list[CompletionChoice] = Field(default_factory=list)
    usage: Usage | None = None
    stats: dict[str, Any] | None = None


# --- embeddings -------------------------------------------------------------------------------


class EmbeddingItem(_Lenient):
    index: int = 0
    # a list of floats, or base64 of little-endian float32 when encoding_format="base64"
    embedding: list[float] | str


class EmbeddingResponse(_Lenient):
    """A ``/v1/embeddings`` response."""

    model: str | None = None
    data: list[EmbeddingItem] = Field(default_factory=list)
    usage: Usage | None = None


# --- responses API ----------------------------------------------------------------------------


class ResponseObject(_Lenient):
    """A ``/v1/responses`` response object."""

    id: str
    model: str | None = None
    status: str | None = None
    output: list[dict[str, Any]] = Field(default_factory=list)
    usage: dict[str, Any] | None = None
    previous_response_id: str | None = None


@functools.cache
def chat_chunk_adapter() -> TypeAdapter[ChatChunk]:
    """The stream chunk validator, built on the first stream (it costs ~10 ms at import)."""
    return TypeAdapter(ChatChunk)
