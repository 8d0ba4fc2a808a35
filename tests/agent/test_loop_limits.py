"""The limits that end an agent run, and what a stopped run keeps (simulated model)."""

from __future__ import annotations

from typing import Any

import anyio

from lmbridge.testing import Reply, ToolCallSpec
from tests.agent.loop_support import (
    MODEL,
    assert_valid_transcript,
    call,
    chat_bodies,
    new_bridge,
    new_sim,
    trailing_tool_messages,
)


def step(n: int) -> str:
    """Take step ``n``."""
    return f"step {n} taken"


def rounds_so_far(body: dict[str, Any]) -> int:
    return sum(1 for m in body["messages"] if m["role"] == "assistant")


async def test_max_rounds_stops_the_run_and_keeps_everything_done() -> None:
    sim = new_sim()
    sim.responder(
        MODEL,
        lambda body: Reply(
            f"round {rounds_so_far(body) + 1}",
            tool_calls=[call("step", n=rounds_so_far(body) + 1)],
        ),
    )
    async with new_bridge(sim) as bridge:
        result = await bridge.run_agent(MODEL, "Walk.", tools=[step], max_rounds=3)

    assert result.stop_reason == "max_rounds" and not result.completed
    assert result.rounds == 3 == len(chat_bodies(sim))
    assert [r.result for r in result.tool_calls] == ["step 1 taken", "step 2 taken", "step 3 taken"]
    assert [r.round for r in result.tool_calls] == [1, 2, 3]
    assert result.output == "round 3"
    assert trailing_tool_messages(result.messages)[0]["content"] == "step 3 taken"
    assert_valid_transcript(result.messages)


async def test_the_same_call_in_three_rounds_running_is_a_loop() -> None:
    sim = new_sim()
    sim.responder(MODEL, lambda body: Reply(tool_calls=[call("step", n=7)]))
    async with new_bridge(sim) as bridge:
        result = await bridge.run_agent(MODEL, "Walk.", tools=[step], max_rounds=10)

    assert result.stop_reason == "loop_detected"
    assert result.rounds == 3
    assert len(result.tool_calls) == 3
    assert_valid_transcript(result.messages)


async def test_too_many_invalid_calls_end_the_run() -> None:
    def respond(body: dict[str, Any]) -> Reply:
        n = rounds_so_far(body) + 1
        # Each round: one valid call and one invalid one (unknown tool, or arguments that are
        # not JSON), with arguments varying so the loop guard stays out of it.
        invalid = ToolCallSpec("step", f'{{"n": {n}') if n == 2 else call("no_such_tool", attempt=n)
        return Reply(tool_calls=[call("step", n=n), invalid])

    sim = new_sim()
    sim.responder(MODEL, respond)
    async with new_bridge(sim) as bridge:
        result = await bridge.run_agent(
            MODEL, "Walk.", tools=[step], max_invalid_calls=2, max_rounds=10
        )

    assert result.stop_reason == "invalid_calls"
    assert result.rounds == 3  # the third invalid call exceeded the budget of 2
    kinds = [r.outcome.error_kind for r in result.tool_calls]
    assert kinds == [None, "unknown_tool", None, "invalid_arguments", None, "unknown_tool"]
    # Every invalid call was answered with an error the model could read.
    bodies = chat_bodies(sim)
    unknown = trailing_tool_messages(bodies[1]["messages"])[1]["content"]
    assert "no_such_tool" in unknown and "step" in unknown
    bad_json = trailing_tool_messages(bodies[2]["messages"])[1]["content"]
    assert "not valid JSON" in bad_json
    assert_valid_transcript(result.messages)


async def test_the_token_budget_ends_the_run_once_reached() -> None:
    usage = {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60}
    sim = new_sim()
    sim.responder(
        MODEL,
        lambda body: Reply(tool_calls=[call("step", n=rounds_so_far(body) + 1)], usage=usage),
    )
    async with new_bridge(sim) as bridge:
        result = await bridge.run_agent(MODEL, "Walk.", tools=[step], token_budget=150)

    assert result.stop_reason == "token_budget"
    assert result.rounds == 3  # 60, 120, then 180 >= 150
    assert result.usage.total_tokens == 180
    assert result.usage.prompt_tokens == 150
    assert_valid_transcript(result.messages)


async def test_the_time_limit_cancels_a_slow_tool_and_keeps_the_transcript_valid() -> None:
    cancelled = anyio.Event()

    async def slow(seconds: float) -> str:
        """Wait a while."""
        try:
            await anyio.sleep(seconds)
        except anyio.get_cancelled_exc_class():
            cancelled.set()
            raise
        return "woke up"

    sim = new_sim()
    sim.script(MODEL, Reply(tool_calls=[call("step", n=1), call("slow", seconds=60)]))
    async with new_bridge(sim) as bridge:
        result = await bridge.run_agent(MODEL, "Walk.", tools=[step, slow], time_limit=1.0)

    assert result.stop_reason == "time_limit"
    assert cancelled.is_set()
    assert result.rounds == 1 == len(chat_bodies(sim))
    # The finished call is kept; the cut one is answered so the conversation can continue.
    assert [r.name for r in result.tool_calls] == ["step"]
    assert_valid_transcript(result.messages)
    answers = trailing_tool_messages(result.messages)
    assert answers[0]["content"] == "step 1 taken"
    assert "cancelled" in answers[1]["content"]


async def test_the_time_limit_cuts_a_slow_model_call() -> None:
    sim = new_sim()
    sim.script(MODEL, Reply("too late", delay=30))
    async with new_bridge(sim) as bridge:
        result = await bridge.run_agent(MODEL, "Hi.", tools=[step], time_limit=0.5)

    assert result.stop_reason == "time_limit"
    assert result.output == ""
    assert result.messages == [{"role": "user", "content": "Hi."}]
    await sim.wait_idle()
