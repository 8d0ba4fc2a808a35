"""How long a call took, measured on the client: :class:`Timing`, :class:`AgentTiming`, :class:`Stopwatch`."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["AgentTiming", "Stopwatch", "Timing"]


@dataclass(frozen=True, slots=True)
class Timing:
    """How long one call took, measured by lmbridge (no server support needed).

    Attributes:
        total: seconds from the call to its result (a model load or retries on the way count).
        time_to_first_token: seconds from the call to the first token lmbridge received: the first
            streamed delta, or for a call that does not stream, the whole answer's arrival.
            ``None`` for calls that generate no tokens (embeddings) or when none arrived.
        tokens_per_second: completion tokens over generation time (for a stream, from the first
            token to the last; otherwise the time the final request took), when the server
            reported usage; else ``None``.
    """

    total: float = 0.0
    time_to_first_token: float | None = None
    tokens_per_second: float | None = None

    @property
    def generation_time(self) -> float | None:
        """The seconds spent generating (``total`` minus time to first token, for streams)."""
        if self.time_to_first_token is None:
            return None
        return max(self.total - self.time_to_first_token, 0.0)


@dataclass(frozen=True, slots=True)
class AgentTiming:
    """An agent run's time, the model's share and the tools' share apart.

    Attributes:
        total: seconds the run took.
        time_to_first_token: the first round's time to first token.
        tokens_per_second: completion tokens of every round over their generation time.
        model_time: seconds spent in model calls (the sum of the rounds' ``total``).
        tool_time: seconds spent running tools (each round's batch of concurrent calls counts
            once, as the wall-clock time it took).
        rounds: each round's :class:`Timing`, in order.
    """

    total: float = 0.0
    time_to_first_token: float | None = None
    tokens_per_second: float | None = None
    model_time: float = 0.0
    tool_time: float = 0.0
    rounds: tuple[Timing, ...] = ()

    @classmethod
    def of(
        cls,
        *,
        total: float,
        rounds: Sequence[Timing],
        completion_tokens: Sequence[int | None],
        tool_time: float,
    ) -> AgentTiming:
        """Sum the rounds: token rates are over the rounds whose server reported usage."""
        tokens = 0
        generating = 0.0
        for timing, count in zip(rounds, completion_tokens, strict=True):
            if count and timing.tokens_per_second:
                tokens += count
                generating += count / timing.tokens_per_second
        first = next((t.time_to_first_token for t in rounds), None)
        return cls(
            total=total,
            time_to_first_token=first,
            tokens_per_second=tokens / generating if generating > 0 else None,
            model_time=sum(t.total for t in rounds),
            tool_time=tool_time,
            rounds=tuple(rounds),
        )


class Stopwatch:
    """Marks the moments of one call: started, request sent, first token; then its :class:`Timing`.

    Args:
        clock: a monotonic clock in seconds.
    """

    __slots__ = ("_clock", "_first", "_sent", "started")

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self.started = clock()
        self._sent: float | None = None
        self._first: float | None = None

    def elapsed(self) -> float:
        """Seconds since the call started."""
        return self._clock() - self.started

    def sent(self) -> None:
        """The (final) request is being sent: generation time is counted from here."""
        self._sent = self._clock()
        self._first = None

    def first_token(self) -> None:
        """A token arrived; only the first call counts."""
        if self._first is None:
            self._first = self._clock()

    def timing(self, completion_tokens: int | None, *, streamed: bool) -> Timing:
        """The call's timing now, given the completion tokens the server reported."""
        now = self._clock()
        first = None if self._first is None else self._first - self.started
        # A stream generates from its first token on; a single answer from when it was sent.
        since = self._first if streamed else self._sent
        rate = None
        if completion_tokens and since is not None and now - since > 0:
            rate = completion_tokens / (now - since)
        return Timing(total=now - self.started, time_to_first_token=first, tokens_per_second=rate)
