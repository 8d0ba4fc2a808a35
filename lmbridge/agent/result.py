"""What an agent run returns: the output, why it stopped, and a record of every tool call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lmbridge.agent.tools.base import ToolOutcome
from lmbridge.chat.wire import Usage
from lmbridge.display.html import block, field_table, grid, preformatted
from lmbridge.display.text import compact_repr
from lmbridge.events.timing import AgentTiming

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
        timing: the run's time, the model's and the tools' shares apart, and each round's
            (:class:`~lmbridge.AgentTiming`).
    """

    output: str
    reasoning: str | None
    stop_reason: StopReason
    rounds: int
    tool_calls: list[ToolCallRecord]
    messages: list[dict[str, Any]]
    usage: Usage
    model: str
    timing: AgentTiming = field(default_factory=AgentTiming, repr=False, compare=False)

    @property
    def completed(self) -> bool:
        """Whether the model finished on its own (``stop_reason == "completed"``)."""
        return self.stop_reason == "completed"

    def __repr__(self) -> str:
        return compact_repr(
            "AgentResult",
            [
                ("output", self.output),
                ("stop_reason", self.stop_reason),
                ("rounds", self.rounds),
                ("tool_calls", [call.name for call in self.tool_calls]),
                ("model", self.model),
            ],
        )

    def _repr_html_(self) -> str:
        """The run for notebooks: its outcome, every tool call, and the transcript (escaped)."""
        summary = field_table(
            "AgentResult",
            [
                ("model", self.model),
                ("stop_reason", self.stop_reason),
                ("rounds", self.rounds),
                ("tokens", f"{self.usage.prompt_tokens} prompt + {self.usage.completion_tokens}"),
            ],
        )
        calls = grid(
            f"{len(self.tool_calls)} tool calls",
            ["round", "tool", "arguments", "result", "s"],
            [
                (
                    c.round,
                    f"{c.source}/{c.tool}" if c.source and c.tool else c.name,
                    c.arguments_json,
                    c.result if c.error is None else f"error: {c.error}",
                    f"{c.duration:.2f}",
                )
                for c in self.tool_calls
            ],
        )
        transcript = [_message_html(message) for message in self.messages]
        return block(
            summary,
            preformatted("output", self.output),
            calls if self.tool_calls else "",
            "<details><summary>transcript</summary>" + "".join(transcript) + "</details>",
        )


def _message_html(message: dict[str, Any]) -> str:
    """One message of the transcript: who spoke, what was said, which tools were called."""
    role = str(message.get("role", "?"))
    content = message.get("content")
    text = content if isinstance(content, str) else "" if content is None else repr(content)
    if role == "tool":
        role = f"tool result ({message.get('tool_call_id', '')})"
    calls = [
        f"→ {call.get('function', {}).get('name')}({call.get('function', {}).get('arguments')})"
        for call in message.get("tool_calls") or []
    ]
    return preformatted(role, "\n".join([text, *calls]).strip(), limit=2000)
