"""A stream (chat or agent run) opened in the loop thread and read with a plain ``for`` loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from types import TracebackType
from typing import Generic, Protocol, TypeVar

from typing_extensions import Self

from lmbridge.sync.runner import LoopThread

__all__ = ["Streaming", "SyncStream"]

E = TypeVar("E")
R = TypeVar("R")
E_co = TypeVar("E_co", covariant=True)
R_co = TypeVar("R_co", covariant=True)


class Streaming(Protocol[E_co, R_co]):
    """What ``ChatStream`` and ``AgentRun`` share: events one by one, then a result."""

    def __anext__(self) -> Awaitable[E_co]: ...

    def result(self) -> Awaitable[R_co]: ...


async def _next(stream: Streaming[E, R]) -> list[E]:
    # The end becomes an empty list here: StopAsyncIteration, meant to end an `async for`,
    # should not travel through a future into another thread.
    try:
        return [await stream.__anext__()]
    except StopAsyncIteration:
        return []


class SyncStream(Generic[E, R]):
    """``with bridge.stream(...) as s: for event in s: ...``, then ``s.result()``.

    The HTTP stream is opened when the ``with`` block is entered and closed when it is left, in
    the loop thread and in one task: leaving early (``break``, an exception) closes the response
    and returns its connection to the pool, as the async stream does.
    """

    def __init__(
        self,
        loop: LoopThread,
        open_stream: Callable[[], AbstractAsyncContextManager[Streaming[E, R]]],
    ) -> None:
        self._loop = loop
        self._open = open_stream
        self._manager: AbstractContextManager[Streaming[E, R]] | None = None
        self._stream: Streaming[E, R] | None = None

    def __enter__(self) -> Self:
        if self._manager is not None:
            raise RuntimeError("a stream can be entered only once")
        manager = self._loop.wrap(self._open())
        self._stream = manager.__enter__()
        self._manager = manager
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return self.close(exc_type, exc, tb)

    def close(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> bool | None:
        """Close the stream (the ``with`` block does it); safe to call twice."""
        manager, self._manager, self._stream = self._manager, None, None
        if manager is None:
            return None
        return manager.__exit__(exc_type, exc, tb)

    def _opened(self) -> Streaming[E, R]:
        if self._stream is None:
            raise RuntimeError("use the stream in a `with` block: `with bridge.stream(...) as s:`")
        return self._stream

    def __iter__(self) -> Iterator[E]:
        stream = self._opened()
        while events := self._loop.run(_next, stream):
            yield events[0]

    def result(self) -> R:
        """The final result (a ``ChatResult`` or ``AgentResult``); reads what is left first."""
        return self._loop.run(self._opened().result)
