"""A simulated LM Studio on a loopback port, served from a thread of its own.

For tests whose code under test blocks (the sync facade, scripts, docs blocks): the server must
keep answering while the test's thread waits.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import anyio

from lmbridge.testing import SimulatedLMStudio


@contextmanager
def served_in_thread(sim: SimulatedLMStudio) -> Iterator[str]:
    """Serve ``sim`` over HTTP until the block ends; yields its base URL."""
    urls: queue.Queue[str | BaseException] = queue.Queue()
    stop = threading.Event()

    async def serve() -> None:
        try:
            async with sim.serve() as url:
                urls.put(url)
                while not stop.is_set():
                    await anyio.sleep(0.01)
        except BaseException as exc:  # reported to the waiting test instead of lost
            urls.put(exc)
            raise

    thread = threading.Thread(target=anyio.run, args=(serve,), daemon=True)
    thread.start()
    try:
        url = urls.get(timeout=20)
        if isinstance(url, BaseException):
            raise url
        yield url
    finally:
        stop.set()
        thread.join(timeout=20)
