"""The swap scheduler's terms: its settings, the queue it shows, and what it logs.

Apart from :mod:`~lmbridge.lifecycle.scheduler` so that the scheduler module holds the schedule
alone; the names are re-exported there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["MemoryPolicy", "Mine", "QueueEntry", "SwapSettings", "base_key", "log", "logger"]

MemoryPolicy = Literal["swap", "raise"]
"""What a load that runs out of memory does: unload this Bridge's idle models (``"swap"``), or
raise :class:`~lmbridge.errors.InsufficientMemoryError` at once (``"raise"``)."""

logger = logging.getLogger("lmbridge.models")
"""Where the scheduler says what it does: waiting for memory and unloading (INFO), loaded (DEBUG)."""

# Every message the scheduler logs, in one place, so that each can become a typed event later
# (the kinds are the keys, passed as ``extra={"lmbridge_event": kind}``).
_MESSAGES = {
    "waiting": "waiting for memory: %s must finish %d request(s) before it is unloaded for %s",
    "swap": "unloading %s to make room for %s",
    "jit_wait": "waiting for %s to finish %d request(s): loading %s by JIT would evict it",
    "loaded": "loaded %s",
}


def log(kind: str, *args: object) -> None:
    # A finished load is already an INFO record of the model events (lmbridge.events.logs):
    # the scheduler's own line about it is detail.
    level = logging.DEBUG if kind == "loaded" else logging.INFO
    logger.log(level, _MESSAGES[kind], *args, extra={"lmbridge_event": kind})


class SwapSettings(Protocol):
    """The settings the scheduler reads at every use (the model manager's attributes)."""

    on_insufficient_memory: MemoryPolicy
    """``"swap"`` or ``"raise"``."""
    evict_foreign: bool
    """Whether instances this Bridge did not load may be unloaded to make room."""
    load_timeout: float
    """The longest any wait of the scheduler lasts."""


@dataclass(frozen=True)
class QueueEntry:
    """This Bridge's requests for one loaded instance, as :meth:`~lmbridge.lifecycle.scheduler.SwapScheduler.queue` shows them.

    Attributes:
        running: requests sent and not answered yet.
        waiting: requests waiting for the model to be loaded (room being made), or to reopen.
        closed: whether the instance admits no new request now (it is being swapped out, or a
            JIT load this Bridge abandoned may still end and evict it).
        loaded_here: whether this Bridge loaded it (only those are unloaded to make room).
    """

    running: int
    waiting: int
    closed: bool
    loaded_here: bool


@dataclass
class Mine:
    """An instance this Bridge loaded: its model key, and whether it came by JIT."""

    key: str
    jit: bool


def base_key(identifier: str) -> str:
    """The model key an instance identifier names (``key:2`` -> ``key``)."""
    head, _, tail = identifier.rpartition(":")
    return head if head and tail.isdigit() else identifier
