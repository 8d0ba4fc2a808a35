"""The context window a model is loaded with (not the one it was trained for).

LM Studio's listings say it per instance (``loaded_context_length``, ``config.context_length``,
``lms ps``); llama.cpp's ``/v1/models`` has it in each model's ``meta`` (``n_ctx`` per slot,
``n_ctx_train`` trained). An instance keeps its window while loaded, so an answer is remembered
for a while rather than asked before every request; an overflow forgets it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lmbridge import errors
from lmbridge.lifecycle.models import ModelManager
from lmbridge.lifecycle.parsers import base_key
from lmbridge.transport.client import HTTPTransport

__all__ = ["ContextWindows", "Window"]

_REMEMBER_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Window:
    """``context_length``: the loaded window; ``max_context_length``: the trained maximum."""

    context_length: int | None = None
    max_context_length: int | None = None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


class ContextWindows:
    """Looks up, and remembers for a minute, each model's loaded window."""

    def __init__(
        self,
        *,
        models: ModelManager,
        http: HTTPTransport,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._models = models
        self._http = http
        self._clock = clock
        self._known: dict[str, tuple[float, Window]] = {}

    def forget(self, name: str) -> None:
        """Ask again next time (after an overflow: the model may have been reloaded)."""
        self._known.pop(name, None)

    def known(self, name: str) -> int | None:
        """The loaded window of ``name`` from what is already known, with no I/O: a look-up of
        the last minute, else the last listing the model manager read."""
        remembered = self.remembered(name)
        if remembered is not None:
            return remembered
        for info in self._models.cached_models():
            for instance in info.instances:
                if instance.identifier == name:
                    return instance.context_length
        return None

    def remembered(self, name: str) -> int | None:
        """The loaded window of ``name`` if it was looked up within the last minute (no I/O)."""
        entry = self._known.get(name)
        if entry is not None and self._clock() - entry[0] < _REMEMBER_SECONDS:
            return entry[1].context_length
        return None

    async def get(self, name: str) -> Window:
        """The window of the instance ``name`` (the name sent) runs on; unknown fields ``None``.

        Never raises for a listing that failed: the window is then unknown.
        """
        entry = self._known.get(name)
        if entry is not None and self._clock() - entry[0] < _REMEMBER_SECONDS:
            return entry[1]
        try:
            window = await self._look_up(name)
        except errors.LMBridgeError:
            return Window()
        self._known[name] = (self._clock(), window)
        return window

    def _openai_only(self) -> bool:
        return self._models.source == "/v1/models"

    async def _look_up(self, name: str) -> Window:
        if not self._openai_only():
            best: Window | None = None
            for info in await self._models.list():
                for instance in info.instances:
                    if instance.identifier == name:
                        return Window(instance.context_length, info.max_context_length)
                if info.key in (name, base_key(name)):
                    loaded = info.instances[0].context_length if info.instances else None
                    best = Window(loaded, info.max_context_length)
            # The first listing may have found out that the server has only /v1/models.
            if not self._openai_only():
                return best or Window()
        return await self._from_openai_listing(name)

    async def _from_openai_listing(self, name: str) -> Window:
        """llama.cpp: ``meta.n_ctx`` of the model named (or of the only one: it answers any name)."""
        listing = await self._http.get_json("/v1/models")
        rows = listing.get("data") if isinstance(listing, dict) else None
        if not isinstance(rows, list):
            return Window()
        rows = [row for row in rows if isinstance(row, dict)]
        chosen = next((row for row in rows if row.get("id") == name), None)
        if chosen is None and len(rows) == 1:
            chosen = rows[0]
        meta = chosen.get("meta") if chosen is not None else None
        if not isinstance(meta, dict):
            return Window()
        return Window(_int(meta.get("n_ctx")), _int(meta.get("n_ctx_train")))
