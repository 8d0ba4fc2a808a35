"""``Bridge.stream_agent``: the events of a run, and leaving the block early (simulated model)."""

from __future__ import annotations

import itertools

import anyio
import pytest

from lmbridge.agent.events import (
    AgentEvent,
    RoundFinished,
    RunFinished,
    RunReasoningDelta,
    RunTextDelta,
    ToolCallRequested,
    ToolResultReady,
)
from lmbridge.errors import AgentRunCancelledError
from lmbridge.testing import Reply
from tests.agent.loop_support import (
    MODEL,
    assert_valid_transcript,
    call,
    chat_bodies,
    new_bridge,
    new_sim,
)


def step(n: int) -> str:
    """Take step ``n``."""
    return f"step {n} taken"


class SlowTool:
    """An async tool that runs until cancelled, reporting that it started and was cancelled."""

    def __init__(self) -> None:
        self.started = anyio.Event()
        self.cancelled = anyio.Event()

    async def wait_forever(self) -> str:
        """Wait for something that never comes."""
        self.started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            self.cancelled.set()
            raise
        return "unreachable"


async def test_events_come_in_order_and_end_with_the_result() -> None:
    sim = new_sim()
    sim.script(
        MODEL,
        Reply("Let me check.", tool_calls=[call("step", n=1)]),
        Reply("All done, step taken.", reasoning="The step was taken."),
    )
    events: list[AgentEvent] = []
    async with new_bridge(sim) as bridge, bridge.stream_agent(MODEL, "Walk.", tools=[step]) as run:
        async for event in run:
            events.append(event)
        result = await run.result()

    kinds = [kind for kind, _ in itertools.groupby(event.type for event in events)]
    assert kinds == [
        "round_started", "text", "tool_call", "tool_result", "round_finished",
        "round_started", "reasoning", "text", "round_finished",
        "run_finished",
    ]  # fmt: skip
    deltas = [e for e in events if isinstance(e, RunTextDelta)]
    assert len(deltas) > 2  # really streamed
    assert "".join(e.text for e in deltas if e.round == 1) == "Let me check."
    assert "".join(e.text for e in deltas if e.round == 2) == "All done, step taken."
    reasoning = "".join(e.text for e in events if isinstance(e, RunReasoningDelta))
    assert reasoning == "The step was taken."

    (requested,) = [e for e in events if isinstance(e, ToolCallRequested)]
    (ready,) = [e for e in events if isinstance(e, ToolResultReady)]
    assert (requested.round, requested.name, requested.arguments) == (1, "step", {"n": 1})
    assert ready.record.id == requested.id and ready.record.result == "step 1 taken"
    finished = [e for e in events if isinstance(e, RoundFinished)]
    assert [(e.round, e.tool_calls, e.finish_reason) for e in finished] == [
        (1, 1, "tool_calls"),
        (2, 0, "stop"),
    ]
    last = events[-1]
    assert isinstance(last, RunFinished) and last.result is result
    assert result.output == "All done, step taken."
    assert result.reasoning == "The step was taken."
    assert result.tool_calls == [ready.record]
    assert_valid_transcript(result.messages)


async def test_leaving_the_block_early_cancels_the_run_and_its_tools() -> None:
    tool = SlowTool()
    sim = new_sim()
    sim.script(MODEL, Reply(tool_calls=[call("wait_forever")]), Reply("never asked for"))
    async with new_bridge(sim) as bridge:
        with anyio.fail_after(10):
            async with bridge.stream_agent(MODEL, "Wait.", tools=[tool.wait_forever]) as run:
                async for event in run:
                    if isinstance(event, ToolCallRequested):
                        await tool.started.wait()
                        break

    assert tool.cancelled.is_set()
    assert len(chat_bodies(sim)) == 1  # no further model call after leaving
    assert sim.pending_replies(MODEL) == 1
    with pytest.raises(AgentRunCancelledError, match="cancelled before it ended"):
        await run.result()


async def test_an_error_in_the_block_cancels_the_run_and_propagates() -> None:
    tool = SlowTool()
    sim = new_sim()
    sim.script(MODEL, Reply(tool_calls=[call("wait_forever")]))
    async with new_bridge(sim) as bridge:
        with anyio.fail_after(10), pytest.raises(LookupError, match="stop watching"):
            async with bridge.stream_agent(MODEL, "Wait.", tools=[tool.wait_forever]):
                await tool.started.wait()
                raise LookupError("stop watching")

    assert tool.cancelled.is_set()


async def test_cancelling_the_watching_task_cancels_the_run_quietly() -> None:
    tool = SlowTool()
    sim = new_sim()
    sim.script(MODEL, Reply(tool_calls=[call("wait_forever")]))
    async with new_bridge(sim) as bridge:
        with anyio.fail_after(10), anyio.CancelScope() as scope:
            async with bridge.stream_agent(MODEL, "Wait.", tools=[tool.wait_forever]) as run:
                async for event in run:
                    if isinstance(event, ToolCallRequested):
                        await tool.started.wait()
                        scope.cancel()

    assert scope.cancelled_caught
    assert tool.cancelled.is_set()
