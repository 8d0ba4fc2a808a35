"""Keeping the simulator honest: the same tests against ``SimulatedLMStudio`` and the real llama-server.

The unit tests trust ``lmbridge.testing``; these check that where the OpenAI protocol leaves no
room, the simulator and a real third-party server behave alike: the SSE framing, the chunk shapes,
how tool calls stream, usage. Where they legitimately differ (LM Studio is not llama.cpp), the test
says so and checks each side's own behaviour.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from lmbridge import (
    Bridge,
    ContextLengthExceededError,
    ModelMismatchWarning,
    ModelNotFoundError,
    TextDelta,
    ToolCallDelta,
    ToolCallReady,
    UsageReport,
)
from lmbridge.testing import Reply, SimModel, SimulatedLMStudio, ToolCallSpec
from tests.integration.bridge_support import (
    DETERMINISTIC,
    REQUEST_TIMEOUT_S,
    SHORT,
    TOOL_TOKENS,
    assert_well_formed_call,
    fewshot_messages,
)
from tests.integration.fewshot import GET_TIME, TOOL_CALL_STOP, get_time_tool

Kind = Literal["sim", "llama"]


@dataclass(frozen=True)
class Target:
    """A server under test, behind a Bridge, and the name of its model."""

    kind: Kind
    bridge: Bridge
    model: str
    sim: SimulatedLMStudio | None = None

    def tool_call_request(self) -> dict[str, Any]:
        """Chat arguments that make this server's model call ``get_time`` once.

        The real base model needs the few-shot history and the stop string; the simulator is told.
        """
        if self.sim is not None:
            call = ToolCallSpec(GET_TIME, {"timezone": "Asia/Tokyo"})
            self.sim.script(self.model, Reply(tool_calls=[call], chunk_size=4))
        return {
            "messages": fewshot_messages(),
            "tools": [get_time_tool()],
            "stop": TOOL_CALL_STOP,
            "max_tokens": TOOL_TOKENS,
            **DETERMINISTIC,
        }


@pytest.fixture(params=["sim", "llama"])
async def target(
    request: pytest.FixtureRequest, llama_url: str, model_name: str, missing_lms: Path
) -> AsyncIterator[Target]:
    """The simulator (in-process, with a model named like the real one) or the real server."""
    kind: Kind = request.param
    if kind == "sim":
        sim = SimulatedLMStudio(models=[SimModel(key=model_name)], loaded=[model_name])
        async with Bridge(
            SimulatedLMStudio.base_url, transport=sim.transport(), lms_path=missing_lms
        ) as bridge:
            yield Target(kind, bridge, model_name, sim)
    else:
        async with Bridge(llama_url, lms_path=missing_lms, timeout=REQUEST_TIMEOUT_S) as bridge:
            yield Target(kind, bridge, model_name)


def chat_body(target: Target, **extra: Any) -> dict[str, Any]:
    return {
        "model": target.model,
        "messages": [{"role": "user", "content": "Say hello."}],
        "max_tokens": SHORT,
        **DETERMINISTIC,
        **extra,
    }


async def raw_stream(target: Target, body: dict[str, Any]) -> list[str]:
    """The ``data`` fields of a streamed chat completion, as sent."""
    data: list[str] = []
    async with target.bridge.http.stream_events(
        "/v1/chat/completions", body, model=target.model
    ) as batches:
        async for batch in batches:
            data += [event.data for event in batch if event.data]
    return data


async def test_stream_framing_on_the_wire(target: Target) -> None:
    body = chat_body(target, stream=True, stream_options={"include_usage": True})

    data = await raw_stream(target, body)

    assert data[-1] == "[DONE]"
    chunks = [json.loads(item) for item in data[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk["id"] for chunk in chunks}) == 1, "one id for the whole stream"
    assert {chunk["model"] for chunk in chunks} == {target.model}
    # First: the role, no content yet.
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None}
    # Then content deltas, then exactly one chunk with finish_reason and an empty delta.
    *content, finishing, usage_chunk = chunks[1:]
    assert content
    assert all(set(c["choices"][0]["delta"]) == {"content"} for c in content)
    assert all(c["choices"][0]["finish_reason"] is None for c in content)
    assert finishing["choices"][0]["delta"] == {}
    assert finishing["choices"][0]["finish_reason"] in {"stop", "length"}
    # Last before [DONE]: no choices, the usage.
    assert usage_chunk["choices"] == []
    usage = usage_chunk["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert 1 <= usage["completion_tokens"] <= SHORT


async def test_no_usage_chunk_unless_asked(target: Target) -> None:
    data = await raw_stream(target, chat_body(target, stream=True))

    chunks = [json.loads(item) for item in data[:-1]]
    assert data[-1] == "[DONE]"
    assert all(chunk["choices"] for chunk in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] in {"stop", "length"}


async def test_stream_events_then_the_result(target: Target) -> None:
    async with target.bridge.stream(
        target.model, "Say hello.", max_tokens=SHORT, **DETERMINISTIC
    ) as stream:
        events = [event async for event in stream]
        result = await stream.result()

    *deltas, last = events
    assert deltas and all(isinstance(event, TextDelta) for event in deltas)
    assert isinstance(last, UsageReport) and last.usage == result.usage
    assert result.text == "".join(event.text for event in deltas if isinstance(event, TextDelta))
    assert result.finish_reason in {"stop", "length"}
    assert result.model == target.model and not result.model_mismatch


async def test_chat_result_and_usage(target: Target) -> None:
    result = await target.bridge.chat(target.model, "Say hello.", max_tokens=SHORT, **DETERMINISTIC)

    assert result.raw is not None and result.raw.object == "chat.completion"
    assert result.text and result.finish_reason in {"stop", "length"}
    assert result.usage is not None
    assert result.usage.prompt_tokens >= 1 and 1 <= result.usage.completion_tokens <= SHORT
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens


async def test_a_streamed_tool_call_is_assembled(target: Target) -> None:
    request = target.tool_call_request()
    messages = request.pop("messages")

    async with target.bridge.stream(target.model, messages, **request) as stream:
        events = [event async for event in stream]
        result = await stream.result()

    assert result.finish_reason == "tool_calls"
    [call] = result.tool_calls
    assert_well_formed_call(call, {GET_TIME})
    assert set(call.arguments) == {"timezone"}
    deltas = [event for event in events if isinstance(event, ToolCallDelta)]
    first, *rest = deltas
    assert (first.index, first.id, first.name) == (0, call.id, GET_TIME)
    assert rest, "the arguments arrive in pieces"
    assert all((d.index, d.id, d.name) == (0, None, None) for d in rest)
    assert "".join(d.arguments for d in deltas) == call.arguments_json
    assert [event.call for event in events if isinstance(event, ToolCallReady)] == [call]
    assert isinstance(events[-1], UsageReport)


async def test_a_tool_call_without_streaming(target: Target) -> None:
    request = target.tool_call_request()
    messages = request.pop("messages")

    result = await target.bridge.chat(target.model, messages, **request)

    assert result.finish_reason == "tool_calls"
    [call] = result.tool_calls
    assert_well_formed_call(call, {GET_TIME})
    assert result.raw is not None
    [choice] = result.raw.choices
    assert choice.message is not None and choice.message.tool_calls is not None
    [wire_call] = choice.message.tool_calls
    assert wire_call.type == "function" and wire_call.id == call.id


async def test_a_prompt_over_the_context_is_context_length_exceeded(target: Target) -> None:
    # The simulator checks prompts against each instance's loaded context length too, and
    # answers with LM Studio's wording; both carry the window's size.
    with pytest.raises(ContextLengthExceededError) as caught:
        await target.bridge.chat(target.model, "lorem ipsum " * 5000, max_tokens=SHORT)
    assert caught.value.status_code == 400
    assert caught.value.context_length is not None
    assert caught.value.prompt_tokens is not None
    assert caught.value.prompt_tokens > caught.value.context_length


async def test_an_unknown_model_name(target: Target) -> None:
    if target.kind == "llama":
        # llama-server serves one model and answers every name with it.
        with pytest.warns(ModelMismatchWarning):
            result = await target.bridge.chat("no-such-model", "Hi", max_tokens=4)
        assert result.model == target.model and result.model_mismatch
    else:
        # LM Studio knows its downloaded models: lmbridge checks the name against its listing
        # (which llama-server's /v1/models cannot support: it lists only what is loaded) and
        # refuses a typo before sending anything, with the closest names as suggestions.
        assert target.sim is not None
        sent = len(target.sim.requests)
        with pytest.raises(ModelNotFoundError) as caught:
            await target.bridge.chat("gemma-3-207m", "Hi", max_tokens=4)
        assert caught.value.suggestions == [target.model]
        assert not [r for r in target.sim.requests[sent:] if r.path == "/v1/chat/completions"]
