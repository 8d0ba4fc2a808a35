"""The events a chat stream yields, in the order a reply produces them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from lmbridge.chat.results import ToolCall
from lmbridge.chat.wire import Usage

__all__ = [
    "PartialParsed",
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


# A stream makes one TextDelta per token: setting the slots through their descriptors costs half
# of the frozen dataclass's __init__ (the same trick as the SSE decoder's events, #18).
_set_text = vars(TextDelta)["text"].__set__
_set_type = vars(TextDelta)["type"].__set__


def text_delta(text: str) -> TextDelta:
    """``TextDelta(text)``, faster."""
    event: TextDelta = object.__new__(TextDelta)
    _set_text(event, text)
    _set_type(event, "text")
    return event


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


@dataclass(frozen=True, slots=True)
class PartialParsed:
    """The structured reply so far, parsed from the partial JSON (streams with a
    ``response_format`` only): fields appear as they arrive, the last string may be cut short.
    Not validated: ``await stream.result()`` gives the validated object."""

    value: dict[str, Any]
    type: Literal["partial_parsed"] = "partial_parsed"


StreamEvent = (
    TextDelta | ReasoningDelta | ToolCallDelta | ToolCallReady | UsageReport | PartialParsed
)
"""Any event a chat stream yields; switch on ``event.type`` or ``isinstance``."""
