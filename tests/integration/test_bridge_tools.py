"""Tool calls and structured output through lmbridge against the real llama-server.

The base model calls tools only after a few-shot history (see ``fewshot.py``); the server turns its
``<tool_call>`` blocks into OpenAI ``tool_calls``, streamed as an opening delta (id, name, ``"{"``)
followed by argument fragments. lmbridge must assemble both forms into the same ChatResult.
"""

from __future__ import annotations

from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from lmbridge import Bridge, ChatResult, TextDelta, ToolCallDelta, ToolCallReady, UsageReport
from tests.integration.bridge_support import (
    DETERMINISTIC,
    GET_WEATHER,
    PARALLEL_STOP,
    PARALLEL_TOKENS,
    SLOW_MACHINE_S,
    TOOL_TOKENS,
    assert_well_formed_call,
    fewshot_messages,
    parallel_fewshot_messages,
    parallel_tools,
)
from tests.integration.fewshot import GET_TIME, TOOL_CALL_STOP, get_time_tool
from tests.pool import pool_states

pytestmark = pytest.mark.timeout(SLOW_MACHINE_S + 60)

SINGLE: dict[str, Any] = {
    "tools": [get_time_tool()],
    "stop": TOOL_CALL_STOP,
    "max_tokens": TOOL_TOKENS,
    **DETERMINISTIC,
}
PARALLEL: dict[str, Any] = {
    "tools": parallel_tools(),
    "stop": PARALLEL_STOP,
    "max_tokens": PARALLEL_TOKENS,
    **DETERMINISTIC,
}


def assert_tool_call_result(result: ChatResult[Any], names: set[str]) -> None:
    assert result.finish_reason == "tool_calls"
    assert result.tool_calls
    for call in result.tool_calls:
        assert_well_formed_call(call, names)
    assert len({call.id for call in result.tool_calls}) == len(result.tool_calls)
    assert result.usage is not None and result.usage.completion_tokens >= 1
    message = result.to_message()
    assert message["role"] == "assistant"
    assert [c["id"] for c in message["tool_calls"]] == [c.id for c in result.tool_calls]


async def stream_events(
    bridge: Bridge, model: str, messages: list[dict[str, Any]], options: dict[str, Any]
) -> tuple[list[Any], ChatResult[Any]]:
    async with bridge.stream(model, messages, **options) as stream:
        events = [event async for event in stream]
        return events, await stream.result()


def assert_streamed_in_pieces(events: list[Any], result: ChatResult[Any]) -> None:
    """Deltas per call (opening one with id and name, then fragments), then Ready, then usage."""
    deltas = [event for event in events if isinstance(event, ToolCallDelta)]
    ready = [event.call for event in events if isinstance(event, ToolCallReady)]
    assert not [event for event in events if isinstance(event, TextDelta) and event.text.strip()]
    assert isinstance(events[-1], UsageReport)
    assert ready == result.tool_calls
    for index, call in enumerate(result.tool_calls):
        pieces = [delta for delta in deltas if delta.index == index]
        assert len(pieces) > 1, "the arguments arrive in fragments"
        first, *rest = pieces
        assert (first.id, first.name) == (call.id, call.name)
        assert all(piece.id is None and piece.name is None for piece in rest)
        assert "".join(piece.arguments for piece in pieces) == call.arguments_json
    # Calls stream one after the other: all of call 0, then all of call 1, ...
    assert [delta.index for delta in deltas] == sorted(delta.index for delta in deltas)


async def test_one_tool_call(bridge: Bridge, model_name: str) -> None:
    result = await bridge.chat(model_name, fewshot_messages(), **SINGLE)

    assert_tool_call_result(result, {GET_TIME})
    assert len(result.tool_calls) == 1
    assert "timezone" in result.tool_calls[0].arguments


async def test_one_tool_call_streamed_in_pieces(bridge: Bridge, model_name: str) -> None:
    events, result = await stream_events(bridge, model_name, fewshot_messages(), SINGLE)

    assert_tool_call_result(result, {GET_TIME})
    assert len(result.tool_calls) == 1
    assert_streamed_in_pieces(events, result)
    # The same request not streamed: the same shape.
    plain = await bridge.chat(model_name, fewshot_messages(), **SINGLE)
    assert_tool_call_result(plain, {GET_TIME})
    assert [c.name for c in plain.tool_calls] == [c.name for c in result.tool_calls]
    assert "active" not in pool_states(bridge)


async def test_parallel_tool_calls(bridge: Bridge, model_name: str) -> None:
    result = await bridge.chat(model_name, parallel_fewshot_messages(), **PARALLEL)

    assert_tool_call_result(result, {GET_TIME, GET_WEATHER})
    assert len(result.tool_calls) >= 2
    assert result.tool_calls[0].name == GET_TIME
    assert result.tool_calls[1].name == GET_WEATHER


async def test_parallel_tool_calls_streamed_in_pieces(bridge: Bridge, model_name: str) -> None:
    events, result = await stream_events(bridge, model_name, parallel_fewshot_messages(), PARALLEL)

    assert_tool_call_result(result, {GET_TIME, GET_WEATHER})
    assert len(result.tool_calls) >= 2
    assert_streamed_in_pieces(events, result)


class Verdict(BaseModel):
    """A small schema: the grammar the server derives from it keeps the reply short."""

    answer: Literal["yes", "no"]
    confidence: int = Field(ge=0, le=9)


async def test_structured_output_is_parsed_into_the_model(bridge: Bridge, model_name: str) -> None:
    question = "Is the sky blue? Answer in JSON."
    result = await bridge.chat(
        model_name, question, response_format=Verdict, max_tokens=48, **DETERMINISTIC
    )

    assert isinstance(result.parsed, Verdict)
    assert Verdict.model_validate_json(result.text) == result.parsed
    assert result.finish_reason == "stop"
    async with bridge.stream(
        model_name, question, response_format=Verdict, max_tokens=48, **DETERMINISTIC
    ) as stream:
        streamed = await stream.result()
    assert isinstance(streamed.parsed, Verdict)
