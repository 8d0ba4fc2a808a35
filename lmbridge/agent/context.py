"""Keeping an agent's transcript inside the model's context window, round after round.

Long runs overflow by accumulating tool output. Before each round the transcript is measured
(:meth:`AgentClient.count_tokens`, exact where the server can count) and, with ``fit="trim"``
(the agents' default), fitted by the agents' rules of :func:`~lmbridge.chat.fitting.fit_messages`:
old tool results shortened first (head and tail kept, the cut marked), then the oldest rounds
dropped, and a latest result too large even alone cut down to its head. Only what is sent is
trimmed: the run's ``messages`` keep the whole transcript.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lmbridge import errors
from lmbridge.chat.fitting import Fitted, fit_messages
from lmbridge.chat.window import FitMode, reply_reserve

if TYPE_CHECKING:
    from lmbridge.agent.client import AgentClient

__all__ = ["fit_transcript"]


async def fit_transcript(
    client: AgentClient,
    model: str,
    messages: list[dict[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None,
    fit: FitMode | None,
    max_tokens: int | None,
) -> Fitted:
    """The messages to send this round (``trimmed`` says what was cut, ``None``: nothing).

    Raises:
        ContextLengthExceededError: ``fit="error"`` and the transcript does not fit, or
            ``fit="trim"`` and even trimmed it cannot (the task alone is too long).
    """
    if fit is None:
        return Fitted(messages, 0, None)
    first = await client.count_tokens(model, messages, tools=tools)
    window = first.context_length
    if window is None:  # the server does not say: send as is, its own error stays typed
        return Fitted(messages, first.tokens, None)
    reserve = reply_reserve(max_tokens, window)
    if first.tokens + reserve <= window:
        return Fitted(messages, first.tokens, None)
    if fit == "error":
        raise errors.ContextLengthExceededError(
            f"the transcript needs {first.tokens} tokens plus {reserve} for the reply, but the "
            f"context window holds {window}; nothing was sent",
            model=model,
            prompt_tokens=first.tokens,
            context_length=window,
        )
    counts = iter([first.tokens])

    async def count(candidate: list[dict[str, Any]]) -> int:
        # The first measurement is the one just made: do not ask the server twice.
        known = next(counts, None)
        if known is not None:
            return known
        return (await client.count_tokens(model, candidate, tools=tools)).tokens

    return await fit_messages(
        messages,
        count=count,
        context_length=window,
        reserve=reserve,
        shorten_results=True,
        model=model,
    )
