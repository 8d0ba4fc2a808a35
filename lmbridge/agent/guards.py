"""Limits that end a run: the loop guard and the invalid-call budget."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from typing import Any

__all__ = ["LoopGuard"]


def _signature(name: str, arguments: dict[str, Any], raw: str) -> tuple[str, str]:
    try:
        canonical = json.dumps(arguments, sort_keys=True, default=str) if arguments else raw.strip()
    except (TypeError, ValueError):
        canonical = raw
    return name, canonical


class LoopGuard:
    """Spots a model stuck calling the same tool with the same arguments round after round.

    Args:
        rounds: how many consecutive rounds containing the same call count as a loop.
    """

    def __init__(self, rounds: int = 3) -> None:
        if rounds < 2:
            raise ValueError("a loop needs at least 2 rounds")
        self._window: deque[set[tuple[str, str]]] = deque(maxlen=rounds)

    def looping(self, calls: Iterable[tuple[str, dict[str, Any], str]]) -> bool:
        """Record one round's calls ``(name, arguments, raw)``; whether the run is looping."""
        self._window.append({_signature(*call) for call in calls})
        if len(self._window) < (self._window.maxlen or 0):
            return False
        return bool(set.intersection(*self._window))
