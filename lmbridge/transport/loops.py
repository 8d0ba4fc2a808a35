"""Which asyncio event loop a connection pool belongs to, and whether that loop has ended.

Pooled connections belong to the event loop that opened them. A Bridge used in one
``asyncio.run()`` and then in another (two cells of a script, a test helper run twice) finds its
keep-alive connections tied to a loop that is closed, and httpx fails with a bare
``RuntimeError: Event loop is closed``. Those connections are dead for good, so the transport
starts a new pool instead (only for a pool it created itself: a pool in a client or transport
the user passed is theirs to manage).
"""

from __future__ import annotations

import asyncio
import weakref

__all__ = ["LoopWatch"]


def _running_asyncio_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # no asyncio loop runs here (trio, or no loop at all)
        return None


class LoopWatch:
    """Remembers the asyncio loop a pool was used on; tells when that loop has ended."""

    def __init__(self) -> None:
        self._loop: weakref.ref[asyncio.AbstractEventLoop] | None = None

    def moved_on(self) -> bool:
        """Whether this call runs on a new loop and the pool's previous loop has ended.

        Records the current loop either way. A previous loop that was garbage-collected has
        ended too.
        """
        current = _running_asyncio_loop()
        if current is None:
            return False
        previous = self._loop() if self._loop is not None else None
        ended = self._loop is not None and previous is not current
        ended = ended and (previous is None or previous.is_closed())
        self._loop = weakref.ref(current)
        return ended
