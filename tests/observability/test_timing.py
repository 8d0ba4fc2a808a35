"""``result.timing`` on every result, and the agent's sum of its rounds."""

from __future__ import annotations

from typing import Any

import pytest

from lmbridge import Bridge, SyncBridge, Timing
from lmbridge.events import Stopwatch
from lmbridge.testing import Reply, SimulatedLMStudio, ToolCallSpec
from tests.observability.support import NOMIC, QWEN


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_streamed_call_generates_from_its_first_token() -> None:
    clock = FakeClock()
    watch = Stopwatch(clock)
    clock.now += 0.5
    watch.sent()
    clock.now += 1.5
    watch.first_token()
    clock.now += 1.0
    watch.first_token()  # later tokens do not move it
    clock.now += 1.0
    assert watch.timing(40, streamed=True) == Timing(
        total=4.0, time_to_first_token=2.0, tokens_per_second=20.0
    )
    # Not streamed: generation counts from the (last) request sent.
    assert watch.timing(35, streamed=False).tokens_per_second == pytest.approx(10.0)
    assert watch.timing(None, streamed=True).tokens_per_second is None


async def test_every_result_has_its_timing() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN, NOMIC])
    async with Bridge(transport=sim.transport()) as bridge:
        sim.script(QWEN, Reply("a fine answer with words", delay=0.05))
        chat = await bridge.chat(QWEN, "hi")
        sim.script(QWEN, Reply("streamed words arrive in pieces", delay=0.05, chunk_size=3))
        async with bridge.stream(QWEN, "hi") as stream:
            streamed = await stream.result()
        completion = await bridge.complete(QWEN, "Once upon")
        response = await bridge.respond(QWEN, "hi")
        embedding = await bridge.embed(NOMIC, ["a", "b"])
    for result in (chat, streamed):
        timing = result.timing
        assert timing.time_to_first_token is not None and timing.time_to_first_token >= 0.05
        assert timing.total >= timing.time_to_first_token
        assert timing.tokens_per_second is not None and timing.tokens_per_second > 0
    assert streamed.timing.generation_time == pytest.approx(
        streamed.timing.total - streamed.timing.time_to_first_token  # type: ignore[operator]
    )
    for other in (completion, response):
        assert other.timing.total > 0 and other.timing.time_to_first_token is not None
    assert embedding.timing.total > 0
    assert embedding.timing.time_to_first_token is None  # embeddings generate no tokens
    assert embedding.timing.tokens_per_second is None


def test_a_result_built_by_hand_has_zero_timing_and_timing_does_not_affect_equality() -> None:
    from lmbridge import ChatResult

    a: ChatResult[Any] = ChatResult("x", None, [], "stop", None, None, "m")
    assert a.timing == Timing()
    import dataclasses

    assert dataclasses.replace(a, timing=Timing(total=3.0)) == a


async def test_an_agent_reports_model_time_and_tool_time_apart() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.script(
        QWEN,
        Reply(tool_calls=[ToolCallSpec("wait", {})], delay=0.02),
        Reply("done", delay=0.02),
    )

    async def wait() -> str:
        """Takes a moment."""
        import anyio

        await anyio.sleep(0.1)
        return "ok"

    async with Bridge(transport=sim.transport()) as bridge:
        result = await bridge.run_agent(QWEN, "go", tools=[wait])
    timing = result.timing
    assert len(timing.rounds) == 2
    assert timing.tool_time >= 0.1
    assert timing.model_time == pytest.approx(sum(t.total for t in timing.rounds))
    assert timing.model_time >= 0.04
    assert timing.total >= timing.model_time + timing.tool_time
    assert timing.time_to_first_token == timing.rounds[0].time_to_first_token
    assert timing.tokens_per_second is not None


def test_the_sync_bridge_returns_timed_results_and_its_usage() -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    with SyncBridge(transport=sim.transport()) as bridge:
        result = bridge.chat(QWEN, "hi")
        usage = bridge.usage()
    assert result.timing.total > 0
    assert usage[QWEN].calls == 1
