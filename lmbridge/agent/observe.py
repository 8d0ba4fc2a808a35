"""A tool call as observers see it: started and finished events, an ``execute_tool`` span."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from lmbridge.agent.tools.base import ToolOutcome
from lmbridge.chat.results import ToolCall
from lmbridge.events import EventEmitter, ToolCallFinished, ToolCallStarted

__all__ = ["ToolWatch", "observed_tool"]


class ToolWatch:
    """Where the block puts the call's outcome, so the finished event can say if it failed."""

    outcome: ToolOutcome | None = None


@asynccontextmanager
async def observed_tool(
    events: EventEmitter, model: str, call: ToolCall, round_number: int
) -> AsyncIterator[ToolWatch]:
    """Observe one tool call over the block (its arguments and result are never reported)."""
    watch = ToolWatch()
    began = time.perf_counter()
    await events.emit(
        ToolCallStarted(model=model, tool=call.name, call_id=call.id, round=round_number)
    )
    with events.span(
        f"execute_tool {call.name}",
        attributes={
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": call.name,
            "gen_ai.tool.call.id": call.id,
            "gen_ai.tool.type": "function",
        },
    ) as span:
        try:
            yield watch
        except BaseException:
            with anyio.CancelScope(shield=True):
                await events.emit(
                    ToolCallFinished(
                        model=model,
                        tool=call.name,
                        call_id=call.id,
                        round=round_number,
                        duration=time.perf_counter() - began,
                        error=True,
                    )
                )
            raise
        failed = watch.outcome is None or watch.outcome.is_error
        if failed:
            # The tool's error went back to the model as its answer; the span still says so.
            span.set({"error.type": "tool_error"})
    await events.emit(
        ToolCallFinished(
            model=model,
            tool=call.name,
            call_id=call.id,
            round=round_number,
            duration=time.perf_counter() - began,
            error=failed,
        )
    )
