"""The event loop a sync facade runs its async object on: one daemon thread, one anyio portal.

Why a thread of its own: ``asyncio.run()`` cannot be called where a loop already runs (Jupyter,
IPython, an async web app), and a pooled ``httpx`` client is bound to the loop that opened its
connections, so a Bridge reused across two ``asyncio.run()`` calls fails with "Event loop is
closed". A loop that lives as long as the facade, in its own thread, has neither problem, and
needs no patching of asyncio (no ``nest_asyncio``). anyio's :class:`BlockingPortal` does the
cross-thread calls: it is thread-safe, so one facade may be used from many threads at once.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any, TypeVar

import anyio
from anyio.from_thread import BlockingPortal

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """An event loop in a daemon thread, running coroutines for callers in other threads.

    Args:
        name: the thread's name (shown in debuggers and thread dumps).
        on_closed: raises the error for a call made after :meth:`close`.
    """

    def __init__(self, *, name: str, on_closed: Callable[[], None]) -> None:
        self._on_closed = on_closed
        self._closed = False
        self._lock = threading.Lock()
        ready: queue.Queue[BlockingPortal] = queue.Queue(maxsize=1)
        # A daemon thread: a script that forgets close() still exits (a non-daemon loop thread
        # would keep the interpreter waiting for ever).
        self._thread = threading.Thread(
            target=anyio.run, args=(self._serve, ready), name=name, daemon=True
        )
        self._thread.start()
        self._portal = ready.get()

    @staticmethod
    async def _serve(ready: queue.Queue[BlockingPortal]) -> None:
        async with BlockingPortal() as portal:
            ready.put(portal)
            await portal.sleep_until_stopped()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def run(self, func: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run ``await func(*args, **kwargs)`` on the loop and return its result here.

        An interrupt while waiting (Ctrl-C, a notebook's "interrupt kernel") cancels the task on
        the loop too, so it does not go on generating in the background.
        """
        if self._closed:
            self._on_closed()
            raise RuntimeError("this sync facade is closed")
        if threading.current_thread() is self._thread:
            raise RuntimeError(
                "a sync facade was called from its own event loop (e.g. from an async tool): "
                "await the async Bridge there instead"
            )
        future = self._portal.start_task_soon(functools.partial(func, *args, **kwargs))
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def wrap(self, manager: AbstractAsyncContextManager[T]) -> AbstractContextManager[T]:
        """``manager`` as a sync context manager; entered and exited in one task of the loop."""
        if self._closed:
            self._on_closed()
            raise RuntimeError("this sync facade is closed")
        return self._portal.wrap_async_context_manager(manager)

    def close(self, final: Callable[[], Awaitable[object]]) -> None:
        """Run ``final()`` on the loop, then stop the loop and its thread. Idempotent."""
        with self._lock:
            if self._closed:
                return
            if threading.current_thread() is self._thread:
                # Collected by a garbage collection that ran in the loop thread itself: it
                # cannot wait for itself, so the loop is left to end with the process.
                self._closed = True
                return
            try:
                self.run(final)
            finally:
                self._closed = True
                # cancel_remaining: a call still running in another thread ends now, with a
                # cancellation, instead of keeping the loop alive.
                self._portal.call(self._portal.stop, True)
                self._thread.join(timeout=10)
