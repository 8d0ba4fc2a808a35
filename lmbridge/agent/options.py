"""The options of an agent run, declared once for ``run_agent`` and ``stream_agent``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lmbridge.options import SamplingOptions

__all__ = ["AgentOptions", "AgentSettings", "agent_options"]


class AgentSettings(SamplingOptions, total=False):
    """Keyword options of :meth:`Bridge.run_agent <lmbridge.Bridge.run_agent>` and
    :meth:`Bridge.stream_agent <lmbridge.Bridge.stream_agent>`; every one is optional.

    Besides these, the sampling options of :class:`~lmbridge.SamplingOptions` (``temperature``,
    ``max_tokens``, ``top_p``, ``top_k``, ``stop``, ``seed``, ``ttl``, ``timeout``,
    ``max_retries``, ``extra_body``) are passed to every model call.

    Attributes:
        system: a system prompt (replaces one at the start of the task's messages).
        max_rounds: the most model calls (default 20).
        time_limit: wall-clock seconds for the rounds (default: none).
        token_budget: stop once this many tokens were used (default: none).
        tool_timeout: seconds one tool call may take; then the model is told it timed out
            (default 60).
        max_parallel_tools: tool calls of one reply running at once (default 4).
        max_invalid_calls: invalid calls (unknown tool, bad arguments) tolerated (default 8).
        loop_rounds: the same call in this many consecutive rounds is a loop (default 3).
        max_result_chars: longer tool results are cut, with a marker (default 20 000).
        pass_images: show images returned by tools to the model, for vision models.
        tool_choice: passed to every model call that offers tools.
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


_CHAT_OPTIONS = SamplingOptions.__optional_keys__


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
