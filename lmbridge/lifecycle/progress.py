"""Load progress for the caller: the callback's type, and the one way every loader calls it."""

from __future__ import annotations

import inspect
from collections.abc import Callable

__all__ = ["ProgressCallback", "report_progress"]

ProgressCallback = Callable[[float], object]
"""Called with a load's progress in ``0..1``; it may return an awaitable, which is awaited."""


async def report_progress(on_progress: ProgressCallback | None, fraction: float) -> None:
    """Tell ``on_progress`` (when given) that the load reached ``fraction``.

    An awaitable it returns is awaited, so an async callback finishes before the load goes on;
    an exception it raises propagates and stops the load.
    """
    if on_progress is None:
        return
    result = on_progress(fraction)
    if inspect.isawaitable(result):
        await result
