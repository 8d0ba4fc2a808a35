"""The options of an agent run, declared once for ``run_agent`` and ``stream_agent``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

from lmbridge.agent.tools.registry import DEFAULT_MAX_RESULT_CHARS
from lmbridge.chat.images import ImageInput
from lmbridge.chat.requests import SamplingOptions
from lmbridge.chat.validate import check_option_names, check_option_values
from lmbridge.chat.window import FitMode

__all__ = ["AGENT_DEFAULTS", "AgentSettings", "agent_settings", "chat_options"]


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
        fit: keeping the transcript inside the model's loaded context window: ``"trim"``
            (default) shortens old tool results, then drops the oldest rounds, and tells the
            caller with a :class:`~lmbridge.agent.ContextTrimmed` event; ``"error"`` raises
            :class:`~lmbridge.ContextLengthExceededError` before sending; ``None`` sends all.
        images: images for the task's last user message (vision models), as ``chat()`` takes
            them; read once, before the first round.
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
    fit: FitMode | None
    images: Sequence[ImageInput] | None


_CHAT_OPTIONS = SamplingOptions.__optional_keys__
_AGENT_OPTIONS = AgentSettings.__optional_keys__ - _CHAT_OPTIONS

#: The agent's own options when a call leaves them out (its chat options have no defaults:
#: the server's apply).
AGENT_DEFAULTS: Final[AgentSettings] = {
    "system": None,
    "max_rounds": 20,
    "time_limit": None,
    "token_budget": None,
    "tool_timeout": 60.0,
    "max_parallel_tools": 4,
    "max_invalid_calls": 8,
    "loop_rounds": 3,
    "max_result_chars": DEFAULT_MAX_RESULT_CHARS,
    "pass_images": False,
    "tool_choice": None,
    "fit": "trim",
    "images": None,
}


def agent_settings(given: Mapping[str, Any]) -> AgentSettings:
    """The settings of one run: ``given`` checked, with :data:`AGENT_DEFAULTS` filled in.

    Chat options given as ``None`` are left out (the server's defaults apply).

    Raises:
        TypeError: an option name that :class:`AgentSettings` does not declare (the closest
            known name is suggested), or a sampling option of the wrong type.
        ValueError: a limit or a sampling option out of range.
    """
    check_option_names(given, AgentSettings.__optional_keys__, what="agent option")
    check_option_values(given)
    settings: dict[str, Any] = dict(AGENT_DEFAULTS)
    for key, value in given.items():
        if key in _AGENT_OPTIONS or value is not None:
            settings[key] = value
    if settings["max_rounds"] < 1:
        raise ValueError("max_rounds must be at least 1")
    if settings["max_parallel_tools"] < 1:
        raise ValueError("max_parallel_tools must be at least 1")
    if settings["max_invalid_calls"] < 0:
        raise ValueError("max_invalid_calls must be >= 0")
    return cast(AgentSettings, settings)


def chat_options(settings: AgentSettings) -> SamplingOptions:
    """The options of ``settings`` that go to every model call of the run."""
    return cast(SamplingOptions, {k: v for k, v in settings.items() if k in _CHAT_OPTIONS})
