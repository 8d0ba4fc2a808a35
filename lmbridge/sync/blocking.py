"""Sync twins of async methods, typed from the async signatures (never a hand-kept copy).

``blocking(Bridge.chat)`` is a method taking exactly ``Bridge.chat``'s parameters (overloads
included: mypy keeps them) and returning what the coroutine returns. A ``ParamSpec`` carries the
parameters, so a change to the async method changes the sync one, for readers and type checkers
alike; ``functools.wraps`` carries the docstring for ``help()`` and the docs.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Concatenate, Generic, TypeVar

from typing_extensions import ParamSpec

from lmbridge.sync.runner import LoopThread
from lmbridge.sync.stream import Streaming, SyncStream

__all__ = ["Proxy", "blocking", "blocking_stream", "same_init"]

P = ParamSpec("P")
R = TypeVar("R")
E = TypeVar("E")
Owner = TypeVar("Owner")
# Covariant: a twin made from a method the Bridge inherits (typed on its base class) applies
# to the proxy of a Bridge.
Owner_co = TypeVar("Owner_co", covariant=True)


class Proxy(Generic[Owner_co]):
    """A sync view of the async object ``_target``, whose coroutines run on ``_loop``."""

    _target: Owner_co
    _loop: LoopThread


def blocking(
    method: Callable[Concatenate[Owner, P], Awaitable[R]],
) -> Callable[Concatenate[Proxy[Owner], P], R]:
    """The sync twin of the async ``method``: same parameters, the coroutine's result."""

    @functools.wraps(method)
    def call(self: Proxy[Owner], /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._loop.run(method, self._target, *args, **kwargs)

    return call


def blocking_stream(
    method: Callable[Concatenate[Owner, P], AbstractAsyncContextManager[Streaming[E, R]]],
) -> Callable[Concatenate[Proxy[Owner], P], SyncStream[E, R]]:
    """The sync twin of a method opening a stream (``stream``, ``stream_agent``)."""

    @functools.wraps(method)
    def call(self: Proxy[Owner], /, *args: P.args, **kwargs: P.kwargs) -> SyncStream[E, R]:
        # The stream opens when the `with` block is entered, as with the async method.
        return SyncStream(self._loop, lambda: method(self._target, *args, **kwargs))

    return call


def same_init(
    source: Callable[Concatenate[Any, P], None],
) -> Callable[[Callable[..., None]], Callable[Concatenate[Any, P], None]]:
    """Give the decorated ``__init__`` the parameters of ``source`` (for type checkers)."""

    def decorate(init: Callable[..., None]) -> Callable[Concatenate[Any, P], None]:
        return functools.wraps(source)(init)

    return decorate
