"""Making a conversation fit its context window: which turns go, which tool results shrink.

The rules (``fit="trim"``):

- the leading system message and the latest user turn are always kept;
- what goes is the oldest first, a whole unit at a time: a user turn with the replies that
  followed it, or one round (an assistant message that called tools, with the results of those
  calls) — a tool call and its result are never separated, so the transcript stays valid;
- agents (``shorten_results=True``) first shorten old tool results, keeping their head and tail
  and marking the cut, before any round is dropped; and a latest result too large to fit even
  alone (50 kB into a 1k-token window) is cut down too, its head kept.

If it still cannot fit, :class:`~lmbridge.ContextLengthExceededError` is raised before anything
is sent. Counting is the caller's (exact or estimated): this module plans with the rate of
characters per token the last count showed, and verifies each step with a new count.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from lmbridge import errors
from lmbridge.chat.window import message_chars

__all__ = ["Fitted", "Trimmed", "fit_messages", "shorten_text"]

Count = Callable[[list[dict[str, Any]]], Awaitable[int]]

#: Old tool results are first shortened to this many characters (then halved, down to the floor).
_OLD_RESULT_CHARS: Final = 2000
_OLD_RESULT_FLOOR: Final = 200
_ROUNDS: Final = 12  # counts at most, per fit
# Once one count showed this conversation's rate, a trimmed version estimated below this share of
# the budget is taken as fitting without asking the counter again (a count may be two requests).
_SURE_SHARE: Final = 0.8
# Plan to save a little more than the excess (a share of the budget): the rate of characters
# per token is an average, and the next count should not land just over.
_MARGIN: Final = 0.05
#: Before any round is dropped, one latest tool result may take at most this share of the budget.
_LATEST_RESULT_SHARE: Final = 0.5


@dataclass(frozen=True, slots=True)
class Trimmed:
    """What fitting changed.

    Attributes:
        dropped_messages: messages left out (whole turns and rounds, oldest first).
        shortened_results: tool results shortened (head and tail kept, the cut marked).
        chars_cut: characters cut out of shortened results.
        tokens_before: the prompt's tokens before fitting.
        tokens_after: its tokens after.
        context_length: the window it was fitted to.
    """

    dropped_messages: int
    shortened_results: int
    chars_cut: int
    tokens_before: int
    tokens_after: int
    context_length: int


@dataclass(frozen=True, slots=True)
class Fitted:
    """The messages to send, their tokens, and what was trimmed (``None``: nothing)."""

    messages: list[dict[str, Any]]
    tokens: int
    trimmed: Trimmed | None


def shorten_text(text: str, keep: int, *, tail: bool = True) -> str:
    """``text`` cut to about ``keep`` characters: its head (and tail), the cut marked."""
    if len(text) <= keep:
        return text
    head_chars = keep * 2 // 3 if tail else keep
    tail_chars = keep - head_chars if tail else 0
    cut = len(text) - head_chars - tail_chars
    marker = f"\n[… {cut} characters cut to fit the context window …]\n"
    return text[:head_chars] + marker + (text[len(text) - tail_chars :] if tail_chars else "")


def _units(messages: Sequence[Mapping[str, Any]]) -> tuple[int, list[list[int]], list[int]]:
    """``(head, droppable units, protected tail)`` as message indices.

    ``head`` is 1 when a system message leads. Before the latest user message, a unit is a user
    turn with the replies after it; after it, one round each (an assistant message and the tool
    results that follow it). The latest user message and the last round are protected.
    """
    head = 1 if messages and messages[0].get("role") == "system" else 0
    last_user = max(
        (i for i in range(head, len(messages)) if messages[i].get("role") == "user"),
        default=None,
    )
    units: list[list[int]] = []
    for index in range(head, len(messages) if last_user is None else last_user):
        if messages[index].get("role") == "user" or not units:
            units.append([index])
        else:
            units[-1].append(index)
    rounds: list[list[int]] = []
    for index in range(len(messages) if last_user is None else last_user + 1, len(messages)):
        if messages[index].get("role") == "tool" and rounds:
            rounds[-1].append(index)
        else:
            rounds.append([index])
    tail = [] if last_user is None else [last_user]
    if rounds:
        tail += rounds.pop()
    return head, units + rounds, tail


class _Fitter:
    def __init__(
        self, messages: Sequence[Mapping[str, Any]], count: Count, budget: int, shorten: bool
    ) -> None:
        self.messages = [dict(message) for message in messages]
        self.count = count
        self.budget = budget
        self.shorten = shorten
        self.head, self.units, self.tail = _units(self.messages)
        self.dropped: set[int] = set()
        self.shortened: set[int] = set()
        self.chars_cut = 0
        self.tokens = 0
        self.counts = 0
        self.known_rate: float | None = None

    def current(self) -> list[dict[str, Any]]:
        return [m for i, m in enumerate(self.messages) if i not in self.dropped]

    async def measure(self) -> int:
        self.counts += 1
        current = self.current()
        chars = sum(message_chars(m) for m in current)
        if self.known_rate is not None:
            estimate = math.ceil(chars / self.known_rate)
            if estimate <= _SURE_SHARE * self.budget:
                self.tokens = estimate
                return estimate
        self.tokens = await self.count(current)
        if self.known_rate is None and self.tokens > 0:
            self.known_rate = chars / self.tokens
        return self.tokens

    def rate(self) -> float:
        """Characters per token, as the last count showed."""
        chars = sum(message_chars(m) for m in self.current())
        return max(chars / max(self.tokens, 1), 0.5)

    def excess_chars(self) -> int:
        excess = self.tokens - self.budget + _MARGIN * self.budget
        return math.ceil(excess * self.rate())

    def cut(self, index: int, keep: int, *, tail: bool) -> None:
        content = self.messages[index].get("content")
        if not isinstance(content, str) or len(content) <= keep:
            return
        shorter = shorten_text(content, keep, tail=tail)
        self.chars_cut += len(content) - len(shorter)
        self.messages[index]["content"] = shorter
        self.shortened.add(index)

    def old_results(self) -> list[int]:
        return [
            i
            for unit in self.units
            for i in unit
            if i not in self.dropped and self.messages[i].get("role") == "tool"
        ]

    async def shorten_old_results(self) -> None:
        keep = _OLD_RESULT_CHARS
        while self.tokens > self.budget and keep >= _OLD_RESULT_FLOOR and self.counts < _ROUNDS:
            long = [i for i in self.old_results() if len(str(self.messages[i]["content"])) > keep]
            if long:
                for index in long:
                    self.cut(index, keep, tail=True)
                await self.measure()
            keep //= 2

    async def drop_oldest(self) -> None:
        remaining = [unit for unit in self.units if unit[0] not in self.dropped]
        while self.tokens > self.budget and remaining and self.counts < _ROUNDS:
            need, saved = self.excess_chars(), 0
            while remaining and saved < need:
                unit = remaining.pop(0)
                self.dropped.update(unit)
                saved += sum(message_chars(self.messages[i]) for i in unit)
            await self.measure()

    async def cap_latest_results(self) -> None:
        """Cut the latest round's results to a share of the budget, so some history can stay."""
        cap = int(self.budget * _LATEST_RESULT_SHARE * self.rate())
        results = [i for i in self.tail if self.messages[i].get("role") == "tool"]
        if any(len(str(self.messages[i].get("content"))) > cap for i in results):
            for index in results:
                self.cut(index, cap, tail=False)
            await self.measure()

    async def shorten_latest_results(self) -> None:
        while self.tokens > self.budget and self.counts < _ROUNDS:
            results = [i for i in self.tail if self.messages[i].get("role") == "tool"]
            results = [i for i in results if isinstance(self.messages[i].get("content"), str)]
            if not results:
                return
            largest = max(results, key=lambda i: len(self.messages[i]["content"]))
            size = len(self.messages[largest]["content"])
            keep = max(size - self.excess_chars(), 0)
            if keep >= size:
                return
            self.cut(largest, keep, tail=False)
            await self.measure()


async def fit_messages(
    messages: Sequence[Mapping[str, Any]],
    *,
    count: Count,
    context_length: int,
    reserve: int,
    shorten_results: bool = False,
    model: str | None = None,
    url: str | None = None,
) -> Fitted:
    """``messages`` made to fit ``context_length`` less ``reserve`` tokens (see the module doc).

    Args:
        messages: the conversation, in OpenAI chat format (not changed).
        count: counts a list of messages in tokens (exact or estimated).
        context_length: the loaded window.
        reserve: tokens kept free for the reply.
        shorten_results: the agents' rules: shorten tool results before dropping rounds.
        model: for the error.
        url: for the error.

    Raises:
        ContextLengthExceededError: even trimmed as far as the rules allow it cannot fit.
    """
    fitter = _Fitter(messages, count, context_length - reserve, shorten_results)
    before = await fitter.measure()
    if before <= fitter.budget:
        return Fitted(fitter.messages, before, None)
    if shorten_results:
        await fitter.cap_latest_results()
        await fitter.shorten_old_results()
    await fitter.drop_oldest()
    if shorten_results:
        await fitter.shorten_latest_results()
    if fitter.tokens > fitter.budget:
        raise errors.ContextLengthExceededError(
            f"the prompt needs {fitter.tokens} tokens (after trimming what the rules allow; "
            f"{before} before) plus {reserve} for the reply, but the context window holds "
            f"{context_length}",
            url=url,
            model=model,
            prompt_tokens=fitter.tokens,
            context_length=context_length,
        )
    trimmed = Trimmed(
        dropped_messages=len(fitter.dropped),
        shortened_results=len(fitter.shortened - fitter.dropped),
        chars_cut=fitter.chars_cut,
        tokens_before=before,
        tokens_after=fitter.tokens,
        context_length=context_length,
    )
    return Fitted(fitter.current(), fitter.tokens, trimmed)
