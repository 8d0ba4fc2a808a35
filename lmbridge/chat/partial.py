"""Partial objects while structured JSON streams in, for forms that fill as the reply arrives."""

from __future__ import annotations

from typing import Any

import pydantic_core

from lmbridge.chat.events import PartialParsed, StreamEvent

__all__ = ["PartialJSON"]


class PartialJSON:
    """Turns the reply text so far into :class:`~lmbridge.PartialParsed` events.

    pydantic-core parses incomplete JSON (``allow_partial``), closing what is open; an event is
    added only when the object changed, and only for objects (a schema's root). Text that is not
    JSON yet (a code fence being opened, prose before it) adds nothing.
    """

    def __init__(self) -> None:
        self._last: dict[str, Any] | None = None
        self._seen = 0

    def update(self, text: str, pending: list[StreamEvent]) -> None:
        """Add an event to ``pending`` if ``text`` parses to a new partial object."""
        if len(text) == self._seen:
            return
        self._seen = len(text)
        start = text.find("{")
        if start < 0:
            return
        candidate = text[start:]
        fence = candidate.rfind("```")
        if fence > 0:
            candidate = candidate[:fence]
        try:
            value = pydantic_core.from_json(candidate, allow_partial="trailing-strings")
        except ValueError:
            return
        if isinstance(value, dict) and value and value != self._last:
            self._last = value
            pending.append(PartialParsed(value))
