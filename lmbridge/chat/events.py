"""The events a chat stream yields, in the order a reply produces them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lmbridge.chat.results import ToolCall
from lmbridge.chat.wire import Usage

__all__ = [
    "ReasoningDelta",
    "StreamEvent",
    "TextDelta",
    "ToolCallDelta",
    "ToolCallReady",
    "UsageReport",
]


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the reply's text."""

    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of the model's reasoning."""

    text: str
    type: Literal["reasoning"] = "reasoning"


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a tool call as it streams: ``name`` arrives first, then argument fragments."""

    index: int
    id: str | None
    name: str | None
    arguments: str
    type: Literal["tool_call_delta"] = "tool_call_delta"


@dataclass(frozen=True, slots=True)
class ToolCallReady:
    """A tool call, complete, once the stream has finished it."""

    call: ToolCall
    type: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True)
class UsageReport:
    """Token usage, sent by the server at the end of a stream."""

    usage: Usage
    type: Literal["usage"] = "usage"


StreamEvent = TextDelta | ReasoningDelta | ToolCallDelta | ToolCallReady | UsageReport
"""Any event a chat stream yields; switch on ``event.type`` or ``isinstance``."""
