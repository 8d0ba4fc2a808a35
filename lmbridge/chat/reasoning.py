"""Split an inline ``<think>...</think>`` block out of reply text, incrementally."""

from __future__ import annotations

__all__ = ["ThinkSplitter", "split_think"]

_OPEN = "<think>"
_CLOSE = "</think>"


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that could be the start of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class ThinkSplitter:
    """Separates reasoning from text when a model writes ``<think>...</think>`` inline.

    Only a block that opens the reply (after optional whitespace) counts as reasoning, as models
    emit it; a ``<think>`` later in the text is left alone. Tags may be split across any number of
    :meth:`feed` calls. An unterminated block (a reply cut off by ``max_tokens``) is reasoning.
    """

    __slots__ = ("_pending", "_state", "found")

    def __init__(self) -> None:
        self._state = "start"  # start -> think -> after -> text, or start -> text
        self._pending = ""
        #: whether an inline reasoning block opened the reply
        self.found = False

    def feed(self, piece: str) -> tuple[str, str]:
        """Take the next piece of content; return the ``(reasoning, text)`` it completes."""
        if self._state == "text":
            return "", piece
        buffered = self._pending + piece
        self._pending = ""
        if self._state == "start":
            stripped = buffered.lstrip()
            if not stripped or (len(stripped) < len(_OPEN) and _OPEN.startswith(stripped)):
                self._pending = buffered
                return "", ""
            if not stripped.startswith(_OPEN):
                self._state = "text"
                return "", buffered
            self._state = "think"
            self.found = True
            buffered = stripped[len(_OPEN) :]
        if self._state == "think":
            end = buffered.find(_CLOSE)
            if end < 0:
                keep = _partial_suffix(buffered, _CLOSE)
                self._pending = buffered[len(buffered) - keep :] if keep else ""
                return buffered[: len(buffered) - keep], ""
            reasoning = buffered[:end]
            self._state = "after"
            _, text = self.feed(buffered[end + len(_CLOSE) :])
            return reasoning, text
        # "after": drop the blank lines models put between the block and the answer
        text = buffered.lstrip()
        if not text:
            return "", ""
        self._state = "text"
        return "", text

    def end(self) -> tuple[str, str]:
        """Flush what is held back at the end of the reply."""
        pending, self._pending = self._pending, ""
        if self._state == "think":
            return pending, ""
        if self._state == "start":
            return "", pending
        return "", ""


def split_think(content: str) -> tuple[str | None, str]:
    """Split a whole reply into ``(reasoning or None, text)``."""
    splitter = ThinkSplitter()
    reasoning, text = splitter.feed(content)
    tail_reasoning, tail_text = splitter.end()
    if not splitter.found:
        return None, content
    return reasoning + tail_reasoning, text + tail_text
