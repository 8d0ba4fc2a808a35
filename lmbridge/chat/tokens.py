"""Token figures a caller sees: a prompt's count, and how full the context window was.

Pure data, shown compactly: ``TokenCount(tokens=412, exact=True, context_length=4096)`` and
``ContextUsage`` as ``87% of 4096``, so a notebook user reads at a glance how close to the limit a
conversation runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmbridge.display.text import compact_repr

__all__ = ["ContextUsage", "TokenCount"]


@dataclass(frozen=True, slots=True)
class TokenCount:
    """What :meth:`Bridge.count_tokens <lmbridge.Bridge.count_tokens>` returns.

    Attributes:
        tokens: the prompt's size in tokens, as the model would see it (chat template included).
        exact: ``True`` when the server counted (llama.cpp's ``/apply-template`` + ``/tokenize``);
            ``False`` for an estimate, which starts conservative (too high rather than too low)
            and tightens as answers report their ``usage.prompt_tokens``.
        context_length: the context window the model is **loaded** with, when known.
        max_context_length: the longest context the model was trained for, when known (what a
            reload with a larger ``context_length`` could reach).
    """

    tokens: int
    exact: bool
    context_length: int | None = None
    max_context_length: int | None = None

    @property
    def fraction(self) -> float | None:
        """``tokens / context_length``; ``None`` when the window is unknown."""
        if not self.context_length:
            return None
        return self.tokens / self.context_length

    def fits(self, reserve: int = 0) -> bool | None:
        """Whether the prompt plus ``reserve`` reply tokens fit; ``None`` when the window is unknown."""
        if self.context_length is None:
            return None
        return self.tokens + reserve <= self.context_length

    def __repr__(self) -> str:
        return compact_repr(
            "TokenCount",
            [
                ("tokens", self.tokens),
                ("exact", self.exact),
                ("context_length", self.context_length),
                ("max_context_length", self.max_context_length),
            ],
        )


@dataclass(frozen=True, slots=True)
class ContextUsage:
    """How full the context window was after a call: ``result.context``, shown as ``87% of 4096``.

    Attributes:
        prompt_tokens: the prompt's tokens, as the server reported them (else as counted).
        context_length: the loaded context window.
        completion_tokens: the reply's tokens (the next turn's prompt holds them too).
    """

    prompt_tokens: int
    context_length: int
    completion_tokens: int = 0

    @property
    def fraction(self) -> float:
        """``prompt_tokens / context_length``."""
        return self.prompt_tokens / self.context_length if self.context_length else 0.0

    @property
    def remaining(self) -> int:
        """Tokens left for the next turn: the window less this prompt and its reply."""
        return max(0, self.context_length - self.prompt_tokens - self.completion_tokens)

    def __str__(self) -> str:
        return f"{self.fraction:.0%} of {self.context_length}"

    def __repr__(self) -> str:
        return (
            f"ContextUsage({self}: prompt_tokens={self.prompt_tokens}, "
            f"completion_tokens={self.completion_tokens})"
        )
