"""Chat through lmbridge against the real llama-server: plain, streamed, cut short, concurrent."""

from __future__ import annotations

import anyio
import pytest

from lmbridge import (
    Bridge,
    ChatResult,
    ModelMismatchWarning,
    TextDelta,
    UsageReport,
)
from tests.integration.bridge_support import (
    DETERMINISTIC,
    KEEP_GOING,
    SHORT,
    SLOW_MACHINE_S,
    running_tasks,
    still_running,
)
from tests.pool import pool_states

pytestmark = pytest.mark.timeout(SLOW_MACHINE_S + 60)

LONG = 1000  # max_tokens of a reply still running long after the test cuts it (~30 s of tokens)


def assert_complete(result: ChatResult[object], model: str) -> None:
    assert result.finish_reason in {"stop", "length"}
    assert isinstance(result.text, str)
    assert result.tool_calls == []
    assert result.model == model and not result.model_mismatch
    assert result.usage is not None
    assert 1 <= result.usage.completion_tokens <= SHORT
    assert result.usage.prompt_tokens >= 1
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens


async def test_chat_returns_a_complete_result(bridge: Bridge, model_name: str) -> None:
    result = await bridge.chat(model_name, "Say hello.", max_tokens=SHORT, **DETERMINISTIC)

    assert_complete(result, model_name)
    assert result.truncated == (result.finish_reason == "length")
    assert result.raw is not None and result.raw.model == model_name
    assert result.to_message() == {"role": "assistant", "content": result.text}


async def test_stream_yields_text_then_usage_and_the_same_result(
    bridge: Bridge, model_name: str
) -> None:
    async with bridge.stream(model_name, "Say hello.", max_tokens=SHORT, **DETERMINISTIC) as stream:
        events = [event async for event in stream]
        result = await stream.result()

    *deltas, last = events
    assert deltas and all(isinstance(event, TextDelta) for event in deltas)
    assert isinstance(last, UsageReport)
    assert_complete(result, model_name)
    assert result.usage == last.usage
    assert result.text == "".join(event.text for event in deltas if isinstance(event, TextDelta))
    assert "active" not in pool_states(bridge)


async def test_breaking_out_after_the_first_delta_frees_the_connection(
    bridge: Bridge, model_name: str, llama_url: str
) -> None:
    ours: set[int] = set()
    async with bridge.stream(
        model_name, "Tell a story.", max_tokens=LONG, extra_body=KEEP_GOING, **DETERMINISTIC
    ) as s:
        async for event in s:
            if isinstance(event, TextDelta):
                ours = await running_tasks(llama_url)
                break
        assert pool_states(bridge) == ["active"], "the reply is still coming"

    assert ours, "the server was generating the reply"
    assert "active" not in pool_states(bridge)
    assert await still_running(llama_url, ours) == set(), "the server saw us go and stopped"
    after = await bridge.chat(model_name, "Say hello.", max_tokens=SHORT, **DETERMINISTIC)
    assert_complete(after, model_name)
    assert "active" not in pool_states(bridge)


async def test_cancelling_mid_stream_frees_the_connection(
    bridge: Bridge, model_name: str, llama_url: str
) -> None:
    received: list[object] = []
    ours: set[int] = set()
    with anyio.move_on_after(SLOW_MACHINE_S) as scope:
        async with bridge.stream(
            model_name, "Tell a story.", max_tokens=LONG, extra_body=KEEP_GOING, **DETERMINISTIC
        ) as stream:
            async for event in stream:
                received.append(event)
                if len(received) == 1:
                    ours = await running_tasks(llama_url)
                    # Cancel a moment after the first delta, while the tokens keep coming.
                    scope.deadline = anyio.current_time() + 0.3

    assert scope.cancelled_caught
    assert received and all(isinstance(event, TextDelta) for event in received)
    assert len(received) < LONG
    assert ours, "the server was generating the reply"
    assert "active" not in pool_states(bridge)
    assert await still_running(llama_url, ours) == set(), "the server saw us go and stopped"
    after = await bridge.chat(model_name, "Say hello.", max_tokens=SHORT, **DETERMINISTIC)
    assert_complete(after, model_name)


async def test_sixteen_concurrent_streams_share_two_slots(bridge: Bridge, model_name: str) -> None:
    results: dict[int, ChatResult[object]] = {}

    async def one(number: int) -> None:
        async with bridge.stream(
            model_name, f"Count to {number}.", max_tokens=8, **DETERMINISTIC
        ) as stream:
            results[number] = await stream.result()

    with anyio.fail_after(SLOW_MACHINE_S):
        async with anyio.create_task_group() as group:
            for number in range(16):
                group.start_soon(one, number)

    assert sorted(results) == list(range(16))
    for result in results.values():
        assert result.finish_reason in {"stop", "length"}
        assert result.usage is not None and 1 <= result.usage.completion_tokens <= 8
    assert "active" not in pool_states(bridge)


async def test_an_unknown_model_name_is_answered_by_the_loaded_model(
    bridge: Bridge, model_name: str
) -> None:
    with pytest.warns(ModelMismatchWarning, match=model_name):
        result = await bridge.chat("no-such-model", "Say hello.", max_tokens=4, **DETERMINISTIC)

    assert result.requested_model == "no-such-model"
    assert result.model == model_name
    assert result.model_mismatch
    with pytest.warns(ModelMismatchWarning):
        async with bridge.stream("other-model", "Hi", max_tokens=4, **DETERMINISTIC) as stream:
            streamed = await stream.result()
    assert streamed.model == model_name and streamed.model_mismatch
