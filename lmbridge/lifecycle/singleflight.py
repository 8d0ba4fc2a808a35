"""One run of a job per key, however many tasks ask for it at once.

The first caller for a key runs the job itself, in its own task (no background task is spawned);
callers arriving while it runs wait for it and get the same result, or the same exception. Keys are independent, so jobs for different
keys run in parallel.

Cancellation: a waiter that is cancelled simply stops waiting. If the caller running the job is
cancelled, the job is cancelled with it (for a load, the ``lms`` process is terminated), and the
waiters do not inherit that cancellation: the first of them to wake up runs the job again, the
others wait for that run. So a job ends early only when the task running it is cancelled, and a
cancelled job never fails the callers still waiting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar, cast

import anyio

__all__ = ["SingleFlight"]

T = TypeVar("T")


class _Flight(Generic[T]):
    def __init__(self) -> None:
        self.done = anyio.Event()
        self.finished = False
        self.result: T | None = None
        self.error: Exception | None = None


class SingleFlight(Generic[T]):
    """Deduplicates concurrent runs of a job by key."""

    def __init__(self) -> None:
        self._flights: dict[Hashable, _Flight[T]] = {}

    def running(self, key: Hashable) -> bool:
        """Whether a job for ``key`` is running now."""
        return key in self._flights

    async def run(self, key: Hashable, job: Callable[[], Awaitable[T]]) -> T:
        """Run ``job`` unless a run for ``key`` is in flight; either way, return that run's result.

        Args:
            key: what identifies the job (e.g. a model key).
            job: starts the work; only called by the caller that runs it.

        Raises:
            Exception: whatever the job raised, in every caller that waited for it.
        """
        while True:
            flight = self._flights.get(key)
            if flight is None:
                return await self._lead(key, job)
            await flight.done.wait()
            if flight.finished:
                if flight.error is not None:
                    raise flight.error
                return cast(T, flight.result)
            # The caller running it was cancelled: run it again (or wait for whoever does).

    async def _lead(self, key: Hashable, job: Callable[[], Awaitable[T]]) -> T:
        flight: _Flight[T] = _Flight()
        self._flights[key] = flight
        try:
            flight.result = await job()
        except Exception as exc:
            flight.error = exc
            flight.finished = True
            raise
        else:
            flight.finished = True
            return flight.result
        finally:
            # Reached on success, failure and cancellation alike; unfinished means "run it again".
            del self._flights[key]
            flight.done.set()
