"""Events of an agent run, as :meth:`Bridge.stream_agent <lmbridge.Bridge.stream_agent>` yields them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from lmbridge.agent.result import AgentResult, ToolCallRecord
from lmbridge.chat.fitting import Trimmed
from lmbridge.chat.wire import Usage

__all__ = [
    "AgentEvent",
    "ContextTrimmed",
    "RoundFinished",
    "RoundRetried",
    "RoundStarted",
    "RunFinished",
    "RunReasoningDelta",
    "RunTextDelta",
    "ToolCallRequested",
    "ToolResultReady",
]


@dataclass(frozen=True, slots=True)
class RoundStarted:
    """A model call is starting."""

    round: int
    type: Literal["round_started"] = "round_started"


@dataclass(frozen=True, slots=True)
class RunTextDelta:
    """A piece of the model's text in this round."""

    round: int
    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class RunReasoningDelta:
    """A piece of the model's reasoning in this round."""

    round: int
    text: str
    type: Literal["reasoning"] = "reasoning"


@dataclass(frozen=True, slots=True)
class RoundRetried:
    """The round's model call failed part way (e.g. the model was evicted) and runs again.

    Discard the text and reasoning deltas received for this round so far.
    """

    round: int
    reason: str
    type: Literal["round_retried"] = "round_retried"


@dataclass(frozen=True, slots=True)
class ToolCallRequested:
    """The model asked for a tool call; it is about to run."""

    round: int
    id: str
    name: str
    arguments: dict[str, Any]
    arguments_json: str
    type: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True)
class ToolResultReady:
    """A tool call finished (successfully or not: see ``record.outcome.is_error``)."""

    round: int
    record: ToolCallRecord
    type: Literal["tool_result"] = "tool_result"


@dataclass(frozen=True, slots=True)
class RoundFinished:
    """The round's reply is complete (its tool calls, if any, have run)."""

    round: int
    text: str
    tool_calls: int
    finish_reason: str | None
    usage: Usage | None
    type: Literal["round_finished"] = "round_finished"


@dataclass(frozen=True, slots=True)
class ContextTrimmed:
    """What this round sends was trimmed to fit the model's context window (``fit="trim"``).

    ``trimmed`` says how: old tool results shortened (head and tail kept, the cut marked in the
    text the model reads), the oldest rounds dropped, tokens before and after. The run's
    ``messages`` keep the whole transcript.
    """

    round: int
    trimmed: Trimmed
    type: Literal["context_trimmed"] = "context_trimmed"


@dataclass(frozen=True, slots=True)
class RunFinished:
    """The run ended; ``result`` is what ``run.result()`` returns."""

    result: AgentResult
    type: Literal["run_finished"] = "run_finished"


AgentEvent = (
    RoundStarted
    | RunTextDelta
    | RunReasoningDelta
    | RoundRetried
    | ContextTrimmed
    | ToolCallRequested
    | ToolResultReady
    | RoundFinished
    | RunFinished
)
"""Any event of an agent run; switch on ``event.type`` or ``isinstance``."""
