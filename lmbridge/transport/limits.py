"""A cap on the requests a Bridge has at one server at once, and the count of those waiting.

A local server runs few requests in parallel (LM Studio: 4 slots by default); a gather of 200
piles 196 onto its queue, where they hold connections and time out. With a cap, requests beyond
it wait inside the Bridge, in the order they came (anyio's semaphore wakes waiters first in,
first out), and a waiting request that is cancelled leaves the queue without a trace.
"""

from __future__ import annotations

import anyio

__all__ = ["ConcurrencyLimit", "Slot"]


class Slot:
    """One request's place at the server, held for an ``async with`` block (waiting for it
    first, if capped); :meth:`release` (idempotent) gives it up early, e.g. when a stream's body
    has been read to the end though its block is still open.

    A class rather than a generator-based context manager: it is on every request's path."""

    __slots__ = ("_held", "_limit")

    def __init__(self, limit: ConcurrencyLimit) -> None:
        self._limit = limit
        self._held = False

    async def __aenter__(self) -> Slot:
        limit = self._limit
        if limit._semaphore is not None:
            limit.waiting += 1
            try:
                await limit._semaphore.acquire()
            finally:
                limit.waiting -= 1
        limit.in_flight += 1
        self._held = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        """Give the place to the next waiting request (once; later calls do nothing)."""
        if self._held:
            self._held = False
            limit = self._limit
            limit.in_flight -= 1
            if limit._semaphore is not None:
                limit._semaphore.release()


class ConcurrencyLimit:
    """Counts requests in flight and waiting; with ``limit``, holds back those beyond it.

    Args:
        limit: the most requests in flight at once; ``None``: no cap (only counting).
    """

    def __init__(self, limit: int | None) -> None:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise TypeError(f"max_concurrency must be an int, not {type(limit).__name__}")
        if limit is not None and limit < 1:
            raise ValueError(f"max_concurrency must be at least 1, not {limit}")
        self.limit = limit
        self.in_flight = 0
        """Requests holding a place now."""
        self.waiting = 0
        """Requests waiting for a place."""
        self._semaphore = anyio.Semaphore(limit) if limit is not None else None

    def slot(self) -> Slot:
        """A place for one request: ``async with limit.slot() as slot``."""
        return Slot(self)
