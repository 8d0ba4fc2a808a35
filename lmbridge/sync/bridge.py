"""``SyncBridge``: the :class:`~lmbridge.Bridge` without ``await``, for scripts and notebooks."""

from __future__ import annotations

import functools
import itertools
import weakref
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from typing_extensions import Self

from lmbridge.bridge import Bridge
from lmbridge.events import ModelUsage
from lmbridge.lifecycle.types import ListingSource
from lmbridge.servers import BridgeModels, ServerStatus
from lmbridge.sync.blocking import Proxy, blocking, blocking_stream, same_init
from lmbridge.sync.runner import LoopThread

__all__ = ["SyncBridge", "SyncModels"]

_numbers = itertools.count(1)


class SyncModels(Proxy[BridgeModels]):
    """``bridge.models`` of a :class:`SyncBridge`: the :class:`~lmbridge.BridgeModels` methods
    without ``await`` (``list``, ``loaded``, ``get``, ``ensure_loaded``, ``download``,
    ``unload``)."""

    def __init__(self, target: BridgeModels, loop: LoopThread, owner: SyncBridge) -> None:
        self._target = target
        self._loop = loop
        # Keeps the SyncBridge (and so its loop) alive while its models are in use, e.g. in
        # `SyncBridge().models.list()`, where nothing else refers to it.
        self._owner = owner

    list = blocking(BridgeModels.list)
    loaded = blocking(BridgeModels.loaded)
    get = blocking(BridgeModels.get)
    ensure_loaded = blocking(BridgeModels.ensure_loaded)
    download = blocking(BridgeModels.download)
    unload = blocking(BridgeModels.unload)

    @property
    def source(self) -> ListingSource | None:
        """Where listings come from (see :attr:`BridgeModels.source`)."""
        return self._target.source

    def invalidate(self) -> None:
        """Forget cached listings and confirmations (see :meth:`BridgeModels.invalidate`)."""
        self._target.invalidate()


class SyncBridge(Proxy[Bridge]):
    """The :class:`~lmbridge.Bridge` for code that does not ``await``: scripts, notebooks, threads.

    Takes the same arguments as :class:`~lmbridge.Bridge` and has the same methods, with the same
    parameters and results, minus ``await``::

        with SyncBridge() as bridge:
            print(bridge.chat("qwen/qwen3-4b", "Say hi").text)
            with bridge.stream("qwen/qwen3-4b", "A story") as s:
                for event in s:
                    ...
                final = s.result()

    It runs a :class:`~lmbridge.Bridge` on an event loop in a daemon thread of its own, so it
    works where ``asyncio.run()`` does not: in Jupyter (whose loop is already running), inside
    async frameworks, and from any number of threads at once (calls from several threads run
    concurrently on the one loop and share one connection pool). Close it with :meth:`close`
    or a ``with`` block; later calls raise :class:`~lmbridge.BridgeClosedError`.
    """

    @same_init(Bridge.__init__)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._target = Bridge(*args, **kwargs)
        self._loop = LoopThread(
            name=f"lmbridge-sync-{next(_numbers)}", on_closed=self._target.http.check_open
        )
        # Dropped without close() (a notebook cell run again), a SyncBridge still closes its pool
        # and stops its thread: when collected, or at interpreter exit at the latest.
        self._finalizer = weakref.finalize(self, _shut, self._loop, self._target)
        self.models = SyncModels(self._target.models, self._loop, self)
        """Model lifecycle without ``await``: ``list``, ``loaded``, ``get``, ``ensure_loaded``,
        ``unload``."""

    chat = blocking(Bridge.chat)
    stream = blocking_stream(Bridge.stream)
    embed = blocking(Bridge.embed)
    complete = blocking(Bridge.complete)
    stream_complete = blocking_stream(Bridge.stream_complete)
    respond = blocking(Bridge.respond)
    count_tokens = blocking(Bridge.count_tokens)
    stream_respond = blocking_stream(Bridge.stream_respond)
    check_vision = blocking(Bridge.check_vision)
    run_agent = blocking(Bridge.run_agent)
    stream_agent = blocking_stream(Bridge.stream_agent)

    def usage(self) -> Mapping[str, ModelUsage]:
        # No I/O: read here, in the caller's thread (the tally is guarded by a lock).
        return self._target.usage()

    # The twin's docstring and __wrapped__, as blocking() gives the others (functools.wraps as a
    # decorator would hide from type checkers that this is a method).
    functools.update_wrapper(usage, Bridge.usage)

    @property
    def base_url(self) -> str:
        """The server's root URL (without ``/v1``)."""
        return self._target.base_url

    @property
    def servers(self) -> list[ServerStatus]:
        """Each server as it stands now (see :attr:`Bridge.servers`)."""
        return self._target.servers

    @property
    def bridge(self) -> Bridge:
        """The async :class:`~lmbridge.Bridge` underneath (usable only on this facade's loop)."""
        return self._target

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._loop.closed

    def close(self) -> None:
        """Close the connection pool and stop the loop thread. Idempotent."""
        self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = ", closed" if self.closed else ""
        urls = [server.url for server in self.servers]
        shown = repr(urls[0]) if len(urls) == 1 else repr(urls)
        return f"SyncBridge({shown}{state})"


def _shut(loop: LoopThread, bridge: Bridge) -> None:
    """Close ``bridge`` on ``loop``, then stop the loop (a module function: a finalizer must not
    refer to the object it finalizes)."""
    loop.close(bridge.aclose)
