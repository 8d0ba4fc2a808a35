"""Agents keep their transcript inside the loaded context window (simulated model)."""

from __future__ import annotations

from typing import Any

import pytest

from lmbridge import ContextLengthExceededError
from lmbridge.agent import ContextTrimmed, RunFinished
from lmbridge.testing import Reply, SimulatedLMStudio, ToolCallSpec
from tests.agent.loop_support import MODEL, assert_valid_transcript, chat_bodies, new_bridge

ROUNDS = 10
BIG = 50_000  # characters per tool result: far more than a 2048-token window holds


def fetch_page(n: int) -> str:
    """Fetch page ``n`` (50 kB of text)."""
    return f"page {n} begins " + "lorem ipsum " * (BIG // 12) + f" page {n} ends"


def _sim(context_length: int = 2048) -> SimulatedLMStudio:
    sim = SimulatedLMStudio()
    sim.load(MODEL, context_length=context_length)
    rounds = 0

    def respond(body: dict[str, Any]) -> Reply:
        nonlocal rounds
        rounds += 1
        if rounds <= ROUNDS:
            return Reply(tool_calls=[ToolCallSpec("fetch_page", {"n": rounds})])
        return Reply("I read all the pages.")

    sim.responder(MODEL, respond)
    return sim


async def test_a_long_tool_heavy_run_finishes_instead_of_overflowing() -> None:
    sim = _sim(2048)
    events: list[Any] = []
    async with (
        new_bridge(sim) as bridge,
        bridge.stream_agent(
            MODEL, "Read pages 1 to 10.", tools=[fetch_page], system="Be thorough.", max_rounds=15
        ) as run,
    ):
        async for event in run:
            events.append(event)
        result = await run.result()
    assert result.stop_reason == "completed" and result.output == "I read all the pages."
    assert result.rounds == ROUNDS + 1
    bodies = chat_bodies(sim)
    assert len(bodies) == ROUNDS + 1, "no request was refused by the server"
    for body in bodies:
        sent = body["messages"]
        assert sent[0] == {"role": "system", "content": "Be thorough."}
        assert sent[1] == {"role": "user", "content": "Read pages 1 to 10."}
        assert_valid_transcript(sent)
    # The latest result is sent (cut to its head, marked), so the model reads the newest page.
    last = bodies[-1]["messages"][-1]
    assert last["role"] == "tool" and last["content"].startswith("page 10 begins")
    assert "characters cut to fit the context window" in last["content"]
    trims = [e for e in events if isinstance(e, ContextTrimmed)]
    assert trims and all(e.trimmed.tokens_after < e.trimmed.tokens_before for e in trims)
    assert all(e.trimmed.context_length == 2048 for e in trims)
    assert any(e.trimmed.dropped_messages > 0 for e in trims)
    assert isinstance(events[-1], RunFinished)
    # The run's own transcript keeps everything the tools returned.
    assert len(result.messages) == 2 + 2 * ROUNDS + 1


async def test_old_results_are_shortened_before_rounds_are_dropped() -> None:
    sim = _sim(4096)
    async with (
        new_bridge(sim) as bridge,
        bridge.stream_agent(
            MODEL, "Read.", tools=[fetch_page], max_rounds=4, max_result_chars=6000
        ) as run,
    ):
        trims = [e async for e in run if isinstance(e, ContextTrimmed)]
    assert trims
    first = trims[0].trimmed
    assert first.shortened_results > 0 and first.dropped_messages == 0
    sent = chat_bodies(sim)[trims[0].round - 1]["messages"]
    old = [m for m in sent if m["role"] == "tool"][:-1]
    # Head and tail kept, the cut marked.
    assert old and all("characters cut" in m["content"] for m in old)
    assert all(m["content"].startswith("page") for m in old)


async def test_fit_error_raises_before_the_round_is_sent() -> None:
    sim = _sim(2048)
    async with new_bridge(sim) as bridge:
        with pytest.raises(ContextLengthExceededError) as caught:
            await bridge.run_agent(MODEL, "Read.", tools=[fetch_page], fit="error")
    assert caught.value.context_length == 2048
    assert len(chat_bodies(sim)) == 1, "the first round fitted; the second was never sent"


async def test_fit_none_sends_everything() -> None:
    sim = _sim(2048)
    async with new_bridge(sim) as bridge:
        with pytest.raises(ContextLengthExceededError):
            await bridge.run_agent(MODEL, "Read.", tools=[fetch_page], fit=None)
    assert len(chat_bodies(sim)) == 2
