"""A prompt against its context window: estimates that learn, and what one call's answer says.

The server is the authority on token counts, but most servers cannot count for us (LM Studio's
OpenAI-compatible API has no tokenizer route). So a prompt's size is estimated from its
characters, at a per-model rate of characters per token that starts conservative — fewer
characters per token than real text has, so estimates run high — and is recalibrated from every
answer's ``usage.prompt_tokens`` (and every exact count): estimates tighten as a session goes on.
Pure logic and data, no I/O.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

from lmbridge import errors
from lmbridge.chat.results import ChatResult
from lmbridge.chat.tokens import ContextUsage

__all__ = [
    "DEFAULT_CHARS_PER_TOKEN",
    "DEFAULT_REPLY_RESERVE",
    "Calibration",
    "FitMode",
    "PromptWindow",
    "message_chars",
    "prompt_chars",
    "reply_reserve",
]

FitMode = Literal["error", "trim"]
"""``"error"``: raise before sending what cannot fit; ``"trim"``: drop the oldest turns first."""

#: Tokens kept free for the reply when ``max_tokens`` is not given (at most a quarter of the window).
DEFAULT_REPLY_RESERVE: Final = 512
#: The starting rate: English runs ~4 characters per token, code and JSON ~3; 2.5 errs high.
DEFAULT_CHARS_PER_TOKEN: Final = 2.5
#: What an image part is counted as, in characters (vision encoders take hundreds of tokens).
_IMAGE_CHARS: Final = 2048
#: Template tokens around each message (role markers, separators), in characters.
_MESSAGE_OVERHEAD_CHARS: Final = 16
#: A prompt this full (with the reply's reserve) is "near the limit": an empty stream after it is
#: read as an overflow rather than a plain broken stream.
_NEAR_LIMIT: Final = 0.9
# Answers with fewer prompt tokens than this say little about the rate (the template dominates).
_MIN_SAMPLE_TOKENS: Final = 32
_SAMPLES: Final = 8

T = TypeVar("T")


def _content_chars(content: Any) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return len(content)
    if isinstance(content, Sequence):
        total = 0
        for part in content:
            if not isinstance(part, Mapping):
                continue
            if part.get("type") in ("image_url", "input_image", "image"):
                total += _IMAGE_CHARS
            else:
                total += len(str(part.get("text", "")))
        return total
    return len(str(content))


def message_chars(message: Mapping[str, Any]) -> int:
    """The characters a message puts into the prompt: its text, tool calls and template overhead."""
    total = _MESSAGE_OVERHEAD_CHARS + _content_chars(message.get("content"))
    calls = message.get("tool_calls")
    if calls:
        total += len(json.dumps(calls, ensure_ascii=False))
    for key in ("name", "tool_call_id"):
        value = message.get(key)
        if isinstance(value, str):
            total += len(value)
    return total


def prompt_chars(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None = None
) -> int:
    """The characters of a whole prompt: every message, and the tool definitions."""
    total = sum(message_chars(message) for message in messages)
    if tools:
        total += len(json.dumps(list(tools), ensure_ascii=False))
    return total


def reply_reserve(max_tokens: int | None, context_length: int | None) -> int:
    """Tokens to keep free for the reply: ``max_tokens`` when given (and positive), else
    :data:`DEFAULT_REPLY_RESERVE`, at most a quarter of the window."""
    if max_tokens is not None and max_tokens > 0:
        return max_tokens
    if context_length:
        return min(DEFAULT_REPLY_RESERVE, context_length // 4)
    return DEFAULT_REPLY_RESERVE


class Calibration:
    """Characters per token, per model, learnt from what servers report.

    Each sample is one prompt's characters against the tokens the server counted for it. The rate
    used is the lowest of the last few samples (so estimates stay on the high side) — one sample
    is enough to replace the conservative default.
    """

    def __init__(self, default: float = DEFAULT_CHARS_PER_TOKEN) -> None:
        self._default = default
        self._samples: dict[str, deque[float]] = {}

    def observe(self, model: str, chars: int, tokens: int) -> None:
        """Learn from one prompt of ``chars`` characters that the server counted as ``tokens``."""
        if tokens < _MIN_SAMPLE_TOKENS or chars <= 0:
            return
        rate = min(max(chars / tokens, 0.5), 12.0)
        self._samples.setdefault(model, deque(maxlen=_SAMPLES)).append(rate)

    def rate(self, model: str) -> float:
        """Characters per token for ``model``: learnt, else the conservative default."""
        samples = self._samples.get(model)
        return min(samples) if samples else self._default

    def learnt(self, model: str) -> bool:
        """Whether any answer for ``model`` calibrated the rate yet."""
        return bool(self._samples.get(model))

    def estimate(self, model: str, chars: int) -> int:
        """Tokens for a prompt of ``chars`` characters (rounded up)."""
        return math.ceil(chars / self.rate(model))


@dataclass(frozen=True)
class PromptWindow:
    """One request's prompt measured against the model's window; finishes its result.

    Attributes:
        model: the model name sent (calibration is per model).
        chars: the prompt's characters (see :func:`prompt_chars`).
        prompt_tokens: its size in tokens, counted or estimated; ``None`` if not measured.
        context_length: the loaded window, when known.
        reserve: tokens kept free for the reply.
        calibration: learns from the answer's ``usage.prompt_tokens``.
    """

    model: str
    chars: int
    prompt_tokens: int | None
    context_length: int | None
    reserve: int
    calibration: Calibration | None = None

    @property
    def near_limit(self) -> bool:
        """Whether the prompt plus the reply's reserve fills (nearly) the whole window."""
        if self.prompt_tokens is None or not self.context_length:
            return False
        return self.prompt_tokens + self.reserve >= _NEAR_LIMIT * self.context_length

    def overflow(self, message: str, *, url: str | None) -> errors.ContextLengthExceededError:
        """The error for a prompt this window could not take."""
        return errors.ContextLengthExceededError(
            message,
            url=url,
            model=self.model,
            prompt_tokens=self.prompt_tokens,
            context_length=self.context_length,
        )

    def finish(self, result: ChatResult[T]) -> ChatResult[T]:
        """Learn from the answer's usage; the result with ``context`` filled in when known."""
        usage = result.usage
        if usage is not None and usage.prompt_tokens > 0 and self.calibration is not None:
            self.calibration.observe(self.model, self.chars, usage.prompt_tokens)
        if not self.context_length:
            return result
        if usage is not None and usage.prompt_tokens > 0:
            prompt, completion = usage.prompt_tokens, usage.completion_tokens
        elif self.prompt_tokens is not None:
            prompt, completion = self.prompt_tokens, 0
        else:
            return result
        context = ContextUsage(prompt, self.context_length, completion)
        return dataclasses.replace(result, context=context)
