"""count_tokens and fit on chat/stream/respond, against the simulated LM Studio."""

from __future__ import annotations

from typing import Any

import pytest

from lmbridge import Bridge, ContextLengthExceededError, TokenCount
from lmbridge.testing import SimulatedLMStudio

MODEL = "qwen/qwen3-4b"  # trained for 32 768 tokens
SYSTEM = {"role": "system", "content": "You are terse."}


def _sim(context_length: int = 2048) -> SimulatedLMStudio:
    sim = SimulatedLMStudio()
    sim.load(MODEL, context_length=context_length)
    return sim


def _chat_bodies(sim: SimulatedLMStudio) -> list[dict[str, Any]]:
    return [r.body for r in sim.requests if r.path == "/v1/chat/completions"]


def _history(turns: int, size: int = 1200) -> list[dict[str, Any]]:
    """A long conversation: user/assistant turns, some with a tool round, then the question."""
    messages: list[dict[str, Any]] = [SYSTEM]
    for n in range(turns):
        messages.append({"role": "user", "content": f"question {n} " + "q" * size})
        if n % 3 == 1:
            call = {
                "id": f"call_{n}",
                "type": "function",
                "function": {"name": "look", "arguments": "{}"},
            }
            messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
            messages.append({"role": "tool", "tool_call_id": f"call_{n}", "content": "r" * size})
        messages.append({"role": "assistant", "content": f"answer {n} " + "a" * size})
    messages.append({"role": "user", "content": "And finally: what now?"})
    return messages


def _assert_pairs_whole(messages: list[dict[str, Any]]) -> None:
    """Every tool call is answered right after it, and no tool message is orphaned."""
    answered: set[str] = set()
    for index, message in enumerate(messages):
        if message.get("tool_calls"):
            ids = [call["id"] for call in message["tool_calls"]]
            following = messages[index + 1 : index + 1 + len(ids)]
            assert [m.get("tool_call_id") for m in following] == ids
            answered.update(ids)
        if message["role"] == "tool":
            assert message["tool_call_id"] in answered, "a tool result lost its call"


async def test_count_tokens_reports_the_loaded_window_not_the_trained_one() -> None:
    sim = _sim(4096)
    async with Bridge(transport=sim.transport()) as bridge:
        count = await bridge.count_tokens(MODEL, [SYSTEM, {"role": "user", "content": "Hello"}])
    assert isinstance(count, TokenCount)
    assert count.context_length == 4096 and count.max_context_length == 32768
    assert count.exact is False and count.tokens > 0
    assert "4096" in repr(count)


async def test_estimates_start_high_and_tighten_from_usage() -> None:
    sim = _sim(8192)
    messages = [SYSTEM, {"role": "user", "content": "Tell me about tokens. " * 200}]
    async with Bridge(transport=sim.transport()) as bridge:
        before = await bridge.count_tokens(MODEL, messages)
        result = await bridge.chat(MODEL, messages)
        after = await bridge.count_tokens(MODEL, messages)
    assert result.usage is not None
    reported = result.usage.prompt_tokens
    assert before.tokens > reported, "the first estimate errs on the high side"
    assert abs(after.tokens - reported) < abs(before.tokens - reported) / 2
    # LM Studio cannot count: probed once, never asked again.
    probes = [r for r in sim.requests if r.path == "/apply-template"]
    assert len(probes) == 1


async def test_fit_error_raises_before_sending_with_both_figures() -> None:
    sim = _sim(2048)
    async with Bridge(transport=sim.transport()) as bridge:
        with pytest.raises(ContextLengthExceededError) as caught:
            await bridge.chat(
                MODEL, [SYSTEM, {"role": "user", "content": "x" * 12000}], fit="error"
            )
    assert caught.value.context_length == 2048
    assert caught.value.prompt_tokens is not None and caught.value.prompt_tokens > 2048
    assert _chat_bodies(sim) == [], "nothing was sent"


async def test_fit_error_counts_the_reply_reserve() -> None:
    sim = _sim(2048)
    prompt = [{"role": "user", "content": "y" * 3000}]  # fits alone, not with 1500 reply tokens
    async with Bridge(transport=sim.transport()) as bridge:
        await bridge.chat(MODEL, prompt, fit="error", max_tokens=100)
        with pytest.raises(ContextLengthExceededError):
            await bridge.chat(MODEL, prompt, fit="error", max_tokens=1500)
    assert len(_chat_bodies(sim)) == 1


async def test_fit_trim_drops_oldest_turns_keeps_system_latest_user_and_pairs() -> None:
    sim = _sim(2048)
    history = _history(12)
    async with Bridge(transport=sim.transport()) as bridge:
        result = await bridge.chat(MODEL, history, fit="trim", max_tokens=200)
    sent = _chat_bodies(sim)[-1]["messages"]
    assert sent[0] == SYSTEM
    assert sent[-1] == history[-1]
    assert 2 < len(sent) < len(history)
    assert all(message in history for message in sent), "kept messages are sent unchanged"
    # What goes is the oldest: the kept turns are the latest ones, in order.
    kept = [history.index(message) for message in sent]
    assert kept == sorted(kept) and kept[1] > 1
    assert kept[1:] == list(range(kept[1], len(history))), "only the oldest turns went"
    assert sent[1]["role"] == "user", "a dropped turn takes its replies with it"
    _assert_pairs_whole(sent)
    assert result.context is not None and result.context.context_length == 2048
    assert 0 < result.context.fraction <= 1
    assert str(result.context).endswith("of 2048")


async def test_fit_trim_that_cannot_fit_raises() -> None:
    sim = _sim(2048)
    messages = [
        SYSTEM,
        {"role": "user", "content": "old"},
        {"role": "user", "content": "z" * 20000},
    ]
    async with Bridge(transport=sim.transport()) as bridge:
        with pytest.raises(ContextLengthExceededError) as caught:
            await bridge.chat(MODEL, messages, fit="trim")
    assert caught.value.context_length == 2048
    assert _chat_bodies(sim) == []


async def test_fit_none_sends_as_is_and_the_server_error_is_typed() -> None:
    sim = _sim(2048)
    history = _history(12)
    async with Bridge(transport=sim.transport()) as bridge:
        with pytest.raises(ContextLengthExceededError):
            await bridge.chat(MODEL, history)
    assert _chat_bodies(sim)[-1]["messages"] == history


async def test_stream_fit_trim_and_context() -> None:
    sim = _sim(2048)
    history = _history(12)
    async with (
        Bridge(transport=sim.transport()) as bridge,
        bridge.stream(MODEL, history, fit="trim") as stream,
    ):
        result = await stream.result()
    sent = _chat_bodies(sim)[-1]["messages"]
    assert sent[0] == SYSTEM and sent[-1] == history[-1] and len(sent) < len(history)
    _assert_pairs_whole(sent)
    assert result.context is not None and result.usage is not None
    assert result.context.prompt_tokens == result.usage.prompt_tokens


async def test_result_context_without_fit() -> None:
    sim = _sim(4096)
    async with Bridge(transport=sim.transport()) as bridge:
        result = await bridge.chat(MODEL, "Hello there")
    assert result.usage is not None and result.context is not None
    assert result.context.fraction == pytest.approx(result.usage.prompt_tokens / 4096)
    assert "of 4096" in repr(result)


async def test_respond_fit_trim_drops_oldest_items_and_keeps_call_pairs() -> None:
    sim = _sim(2048)
    items: list[dict[str, Any]] = []
    for n in range(10):
        items.append({"role": "user", "content": f"q{n} " + "q" * 1500})
        items.append({"type": "function_call", "call_id": f"c{n}", "name": "f", "arguments": "{}"})
        items.append({"type": "function_call_output", "call_id": f"c{n}", "output": "o" * 1500})
    items.append({"role": "user", "content": "last question"})
    async with Bridge(transport=sim.transport()) as bridge:
        await bridge.respond(MODEL, items, instructions="Be brief.", fit="trim")
        with pytest.raises(ContextLengthExceededError):
            await bridge.respond(MODEL, items, fit="error")
    sent = [r.body for r in sim.requests if r.path == "/v1/responses"][-1]["input"]
    assert sent[-1] == items[-1] and len(sent) < len(items)
    calls = [i["call_id"] for i in sent if i.get("type") == "function_call"]
    outputs = [i["call_id"] for i in sent if i.get("type") == "function_call_output"]
    assert calls == outputs


async def test_fit_is_checked() -> None:
    sim = _sim()
    async with Bridge(transport=sim.transport()) as bridge:
        with pytest.raises(ValueError, match="fit"):
            await bridge.chat(MODEL, "hi", fit="squeeze")  # type: ignore[call-overload]


async def test_stream_respond_fits_like_respond() -> None:
    sim = _sim(2048)
    items: list[dict[str, Any]] = [
        {"role": "user", "content": f"q{n} " + "q" * 1500} for n in range(10)
    ]
    items.append({"role": "user", "content": "last question"})
    async with Bridge(transport=sim.transport()) as bridge:
        async with bridge.stream_respond(MODEL, items, fit="trim") as stream:
            await stream.result()
        sent = [r.body for r in sim.requests if r.path == "/v1/responses"]
        with pytest.raises(ContextLengthExceededError):
            async with bridge.stream_respond(MODEL, items, fit="error") as stream:
                await stream.result()
        with pytest.raises(ValueError, match="fit"):
            async with bridge.stream_respond(MODEL, items, fit="squeeze"):  # type: ignore[arg-type]
                pass
    assert len(sent) == 1  # the one that fitted; the others sent nothing
    assert sent[0]["stream"] is True
    assert sent[0]["input"][-1] == items[-1] and len(sent[0]["input"]) < len(items)
    assert len([r for r in sim.requests if r.path == "/v1/responses"]) == 1
