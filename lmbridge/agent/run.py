"""Entry points: run an agent to completion, or watch it run event by event."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from lmbridge.agent.events import AgentEvent
from lmbridge.agent.loop import AgentLoop
from lmbridge.agent.options import AgentSettings
from lmbridge.agent.result import AgentResult
from lmbridge.errors import AgentRunCancelledError
from lmbridge.events import EventEmitter

if TYPE_CHECKING:
    from lmbridge.agent.client import AgentClient
    from lmbridge.chat.requests import MessagesArg

__all__ = ["AgentRun"]


async def _discard(event: AgentEvent) -> None:
    return None


async def run_agent(
    client: AgentClient,
    model: str,
    task: MessagesArg,
    *,
    tools: Sequence[Any] | Mapping[str, Any],
    settings: AgentSettings,
    events: EventEmitter | None = None,
) -> AgentResult:
    """Run the loop to the end (see :meth:`Bridge.run_agent <lmbridge.Bridge.run_agent>`)."""
    loop = AgentLoop(
        client, model, task, tools=tools, settings=settings, emit=_discard, events=events
    )
    return await loop.run()


class AgentRun:
    """A running agent: ``async for event in run``, then ``await run.result()``.

    Returned by :meth:`Bridge.stream_agent <lmbridge.Bridge.stream_agent>`; use it as an async
    context manager. Leaving the block before the run ended cancels it (in-flight tool calls
    included); the MCP sessions you passed stay open and usable.
    """

    def __init__(self, loop: AgentLoop) -> None:
        self._loop = loop
        self._send: MemoryObjectSendStream[AgentEvent]
        self._receive: MemoryObjectReceiveStream[AgentEvent]
        self._send, self._receive = anyio.create_memory_object_stream[AgentEvent](math.inf)
        self._group: TaskGroup | None = None
        self._done = anyio.Event()
        self._result: AgentResult | None = None
        self._error: BaseException | None = None

    async def __aenter__(self) -> AgentRun:
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._run)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._group is not None
        if not self._done.is_set():
            self._group.cancel_scope.cancel()
        try:
            # The block's own exception is not handed to the task group, which would wrap it in
            # an ExceptionGroup: it propagates unchanged once the run has stopped.
            await self._group.__aexit__(None, None, None)
        finally:
            self._receive.close()
        return None

    async def _run(self) -> None:
        async with self._send:
            try:
                self._result = await self._loop.run()
            except Exception as exc:
                # Handed to the reader through result()/iteration, not lost in the task group.
                self._error = exc
            finally:
                self._done.set()

    def __aiter__(self) -> AgentRun:
        return self

    async def __anext__(self) -> AgentEvent:
        try:
            return await self._receive.receive()
        except anyio.EndOfStream:
            if self._error is not None:
                raise self._error from None
            raise StopAsyncIteration from None

    async def result(self) -> AgentResult:
        """Wait for the end of the run and return its result (re-raising its error, if any).

        Raises:
            AgentRunCancelledError: the run was cancelled before it ended (the block was left).
        """
        await self._done.wait()
        if self._error is not None:
            raise self._error
        if self._result is None:
            raise AgentRunCancelledError(
                f"the agent run on {self._loop.model!r} was cancelled before it ended",
                model=self._loop.model,
            )
        return self._result

    @classmethod
    def start(
        cls,
        client: AgentClient,
        model: str,
        task: MessagesArg,
        *,
        tools: Sequence[Any] | Mapping[str, Any],
        settings: AgentSettings,
        events: EventEmitter | None = None,
    ) -> AgentRun:
        """Build a run whose events go to the returned object (started on ``async with``)."""
        run: AgentRun

        async def emit(event: AgentEvent) -> None:
            await run._send.send(event)

        run = cls(
            AgentLoop(client, model, task, tools=tools, settings=settings, emit=emit, events=events)
        )
        return run
