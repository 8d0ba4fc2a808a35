"""The options of an agent run, declared once for ``run_agent`` and ``stream_agent``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from typing_extensions import TypedDict

from lmbridge.transport.client import TimeoutArg

__all__ = ["AgentOptions", "AgentSettings", "agent_options"]


class AgentSettings(TypedDict, total=False):
    """Keyword options of :meth:`Bridge.run_agent <lmbridge.Bridge.run_agent>` and
    :meth:`Bridge.stream_agent <lmbridge.Bridge.stream_agent>`; every one is optional.

    Attributes:
        system: a system prompt (replaces one at the start of the task's messages).
        max_rounds: the most model calls (default 20).
        time_limit: wall-clock seconds for the whole run (default: none).
        token_budget: stop once this many tokens were used (default: none).
        tool_timeout: seconds one tool call may take; then the model is told it timed out
            (default 60).
        max_parallel_tools: tool calls of one reply running at once (default 4).
        max_invalid_calls: invalid calls (unknown tool, bad arguments) tolerated (default 8).
        loop_rounds: the same call in this many consecutive rounds is a loop (default 3).
        max_result_chars: longer tool results are cut, with a marker (default 20 000).
        pass_images: show images returned by tools to the model, for vision models.
        tool_choice: passed to every model call.
        temperature: passed to every model call (as are the options below).
        max_tokens: the most tokens of each model reply.
        top_p: nucleus sampling.
        top_k: top-k sampling.
        stop: stop strings.
        seed: a sampling seed.
        timeout: each model call's read timeout (seconds or ``httpx.Timeout``).
        extra_body: more fields for every model call.
    """

    system: str | None
    max_rounds: int
    time_limit: float | None
    token_budget: int | None
    tool_timeout: float | None
    max_parallel_tools: int
    max_invalid_calls: int
    loop_rounds: int
    max_result_chars: int | None
    pass_images: bool
    tool_choice: str | Mapping[str, Any] | None
    temperature: float | None
    max_tokens: int | None
    top_p: float | None
    top_k: int | None
    stop: str | Sequence[str] | None
    seed: int | None
    timeout: TimeoutArg
    extra_body: Mapping[str, Any] | None


_CHAT_OPTIONS = (
    "temperature",
    "max_tokens",
    "top_p",
    "top_k",
    "stop",
    "seed",
    "timeout",
    "extra_body",
)


@dataclass(frozen=True)
class AgentOptions:
    """How an agent run behaves: :class:`AgentSettings`, validated, with defaults filled in."""

    system: str | None = None
    max_rounds: int = 20
    time_limit: float | None = None
    token_budget: int | None = None
    tool_timeout: float | None = 60.0
    max_parallel_tools: int = 4
    max_invalid_calls: int = 8
    loop_rounds: int = 3
    max_result_chars: int | None = 20_000
    pass_images: bool = False
    tool_choice: str | Mapping[str, Any] | None = None
    chat_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_rounds < 1:
            raise ValueError("max_rounds must be at least 1")
        if self.max_parallel_tools < 1:
            raise ValueError("max_parallel_tools must be at least 1")
        if self.max_invalid_calls < 0:
            raise ValueError("max_invalid_calls must be >= 0")


def agent_options(settings: Mapping[str, Any]) -> AgentOptions:
    """Validated :class:`AgentOptions` from keyword options; unknown names are a ``TypeError``."""
    chat = {k: v for k, v in settings.items() if k in _CHAT_OPTIONS and v is not None}
    rest = {k: v for k, v in settings.items() if k not in _CHAT_OPTIONS}
    return AgentOptions(**rest, chat_options=chat)
