"""What an agent run returns: the output, why it stopped, and a record of every tool call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lmbridge.agent.tools.base import ToolOutcome
from lmbridge.chat.wire import Usage

__all__ = ["AgentResult", "StopReason", "ToolCallRecord"]

StopReason = Literal[
    "completed", "max_rounds", "time_limit", "token_budget", "loop_detected", "invalid_calls"
]
"""Why a run ended.

- ``completed``: the model answered without asking for a tool.
- ``max_rounds``: ``max_rounds`` model calls were made and the model still wanted tools.
- ``time_limit``: the run's wall-clock ``time_limit`` elapsed.
- ``token_budget``: the tokens used reached ``token_budget``.
- ``loop_detected``: the same tool with the same arguments was called in 3 rounds running.
- ``invalid_calls``: the model made more invalid tool calls than ``max_invalid_calls``.
"""


@dataclass(frozen=True)
class ToolCallRecord:
    """One tool call of a run.

    Attributes:
        round: the round (model call, from 1) that asked for it.
        id: the call id the model's message carries.
        name: the tool name as the model called it.
        tool: the tool's own name in its source (``None`` if the name matched no tool).
        source: the label of the tool's source (an MCP server name, ``py``...), if known.
        arguments: the parsed arguments (``{}`` when they did not parse).
        arguments_json: the arguments exactly as the model wrote them.
        outcome: what the tool returned (``outcome.is_error`` tells failure).
        duration: seconds the call took.
    """

    round: int
    id: str
    name: str
    tool: str | None
    source: str | None
    arguments: dict[str, Any]
    arguments_json: str
    outcome: ToolOutcome
    duration: float
    started_at: float = field(default=0.0, repr=False)

    @property
    def result(self) -> str | None:
        """The result text the model read, or ``None`` if the call failed."""
        return None if self.outcome.is_error else self.outcome.text

    @property
    def error(self) -> str | None:
        """The error the model read, or ``None`` if the call succeeded."""
        return self.outcome.text if self.outcome.is_error else None


@dataclass(frozen=True)
class AgentResult:
    """The outcome of :meth:`Bridge.run_agent <lmbridge.Bridge.run_agent>`.

    Attributes:
        output: the model's final text (the last reply's text when a limit stopped the run).
        reasoning: the reasoning of the last reply, if any.
        stop_reason: why the run ended (see :data:`StopReason`).
        rounds: how many model calls were made.
        tool_calls: every tool call, in order.
        messages: the whole conversation in OpenAI chat format, ready to continue.
        usage: tokens used over all rounds (rounds whose server sent no usage count zero).
        model: the model that was asked for.
    """

    output: str
    reasoning: str | None
    stop_reason: StopReason
    rounds: int
    tool_calls: list[ToolCallRecord]
    messages: list[dict[str, Any]]
    usage: Usage
    model: str

    @property
    def completed(self) -> bool:
        """Whether the model finished on its own (``stop_reason == "completed"``)."""
        return self.stop_reason == "completed"
