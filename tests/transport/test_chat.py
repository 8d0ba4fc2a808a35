"""chat(): request bodies, results, reasoning shapes, tool calls and structured output."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
import respx
from pydantic import BaseModel

import lmbridge
from lmbridge import Bridge, Message
from tests.transport.helpers import MODEL, completion

CHAT = "/v1/chat/completions"


def sent(route: respx.Route) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls.last.request.content)
    return body


async def test_string_prompt_and_options_are_sent(bridge: Bridge, server: respx.MockRouter) -> None:
    route = server.post(CHAT).respond(200, json=completion({"content": "hello"}))
    result = await bridge.chat(
        MODEL,
        "Say hi",
        temperature=0.2,
        max_tokens=5,
        top_k=40,
        stop="END",
        seed=7,
        ttl=300,
        extra_body={"repeat_penalty": 1.1},
    )
    body = sent(route)
    assert body["messages"] == [{"role": "user", "content": "Say hi"}]
    assert body["temperature"] == 0.2 and body["max_tokens"] == 5 and body["top_k"] == 40
    assert body["stop"] == ["END"] and body["seed"] == 7 and body["ttl"] == 300
    assert body["repeat_penalty"] == 1.1
    assert "stream" not in body and "top_p" not in body
    assert result.text == "hello"
    assert result.finish_reason == "stop" and not result.truncated
    assert result.usage is not None and result.usage.total_tokens == 8
    assert result.model == MODEL and not result.model_mismatch
    assert result.raw is not None and result.raw.id == "chatcmpl-1"


async def test_typed_messages_dicts_and_results_mix(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    route = server.post(CHAT).respond(200, json=completion({"content": "4"}))
    first = await bridge.chat(
        MODEL,
        [Message.system("be brief"), {"role": "developer", "content": "x"}, Message.user("2+2?")],
    )
    await bridge.chat(MODEL, [Message.user("2+2?"), first, {"role": "user", "content": "again"}])
    roles = [m["role"] for m in sent(route)["messages"]]
    assert roles == ["user", "assistant", "user"]
    assert route.calls[0].request.content.count(b'"developer"') == 0


async def test_bad_messages_are_rejected_before_sending(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    route = server.post(CHAT).respond(200, json=completion({"content": "x"}))
    with pytest.raises(ValueError, match="role"):
        await bridge.chat(MODEL, [{"role": "robot", "content": "x"}])
    with pytest.raises(ValueError, match="empty"):
        await bridge.chat(MODEL, [])
    with pytest.raises(TypeError):
        await bridge.chat(MODEL, [42])  # type: ignore[list-item]
    assert route.call_count == 0


@pytest.mark.parametrize(
    ("message", "reasoning", "text"),
    [
        ({"content": "42", "reasoning_content": "think hard"}, "think hard", "42"),
        ({"content": "42", "reasoning": "gpt-oss style"}, "gpt-oss style", "42"),
        ({"content": "<think>\ninline\n</think>\n\n42"}, "\ninline\n", "42"),
        ({"content": "", "reasoning_content": "all reasoning"}, "all reasoning", ""),
        (
            {"content": "plain <think>not reasoning</think>"},
            None,
            "plain <think>not reasoning</think>",
        ),
        ({"content": "42", "reasoning_content": "same", "reasoning": "same"}, "same", "42"),
    ],
    ids=[
        "reasoning_content",
        "reasoning",
        "inline-think",
        "reasoning-only",
        "think-not-at-start",
        "both-fields-filled",
    ],
)
async def test_reasoning_shapes(
    bridge: Bridge,
    server: respx.MockRouter,
    message: dict[str, Any],
    reasoning: str | None,
    text: str,
) -> None:
    server.post(CHAT).respond(200, json=completion(message))
    result = await bridge.chat(MODEL, "q")
    assert result.reasoning == reasoning
    assert result.text == text


async def test_reasoning_only_reply_cut_by_length_is_a_result_not_an_error(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    server.post(CHAT).respond(
        200, json=completion({"content": "<think>still thinking"}, finish="length")
    )
    result = await bridge.chat(MODEL, "q", max_tokens=3)
    assert result.truncated
    assert result.text == ""
    assert result.reasoning == "still thinking"


async def test_tool_calls_parsed_and_broken_arguments_kept(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    calls = [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_time", "arguments": '{"timezone": "Asia/Tokyo"}'},
        },
        {
            "id": "call_2",
            "type": "function",
            "function": {"name": "get_time", "arguments": '{"timezone": '},
        },
        {"type": "function", "function": {"name": "now", "arguments": ""}},
        {"id": "call_4", "type": "function", "function": {"name": "obj", "arguments": {"a": 1}}},
        {"id": "call_5", "type": "function", "function": {"name": "arr", "arguments": "[1, 2]"}},
    ]
    server.post(CHAT).respond(
        200, json=completion({"content": None, "tool_calls": calls}, finish="tool_calls")
    )
    tools = [
        {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
    ]
    result = await bridge.chat(MODEL, "time?", tools=tools, tool_choice="auto")
    ok, broken, empty, obj, arr = result.tool_calls
    assert (ok.id, ok.name, ok.arguments, ok.error) == (
        "call_1",
        "get_time",
        {"timezone": "Asia/Tokyo"},
        None,
    )
    assert (
        broken.arguments == {}
        and broken.arguments_json == '{"timezone": '
        and "not valid JSON" in (broken.error or "")
    )
    assert empty.ok and empty.arguments == {} and empty.id.startswith("call_")
    assert obj.arguments == {"a": 1} and json.loads(obj.arguments_json) == {"a": 1}
    assert not arr.ok and "JSON object" in (arr.error or "")
    assert result.finish_reason == "tool_calls" and result.text == ""
    assert (
        result.to_message()["tool_calls"][0]["function"]["arguments"]
        == '{"timezone": "Asia/Tokyo"}'
    )


class City(BaseModel):
    name: str
    population: int


async def test_structured_output_with_pydantic_model(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    route = server.post(CHAT).respond(
        200, json=completion({"content": '{"name": "Oslo", "population": 709000}'})
    )
    result = await bridge.chat(MODEL, "a city", response_format=City)
    assert result.parsed == City(name="Oslo", population=709000)
    fmt = sent(route)["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "City"
    assert fmt["json_schema"]["schema"]["required"] == ["name", "population"]


async def test_structured_output_invalid_json_keeps_raw_text(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    server.post(CHAT).respond(
        200, json=completion({"content": '{"name": "Oslo", "population": "many"'})
    )
    with pytest.raises(lmbridge.StructuredOutputError) as caught:
        await bridge.chat(MODEL, "a city", response_format=City)
    assert caught.value.raw_text == '{"name": "Oslo", "population": "many"'
    assert caught.value.model == MODEL


async def test_json_object_is_sent_as_json_schema(bridge: Bridge, server: respx.MockRouter) -> None:
    route = server.post(CHAT).respond(200, json=completion({"content": '```json\n{"a": 1}\n```'}))
    result = await bridge.chat(MODEL, "json please", response_format={"type": "json_object"})
    assert sent(route)["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "json_object", "schema": {"type": "object"}},
    }
    assert result.parsed == {"a": 1}


async def test_bare_json_schema_dict(bridge: Bridge, server: respx.MockRouter) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    route = server.post(CHAT).respond(200, json=completion({"content": '{"ok": true}'}))
    result = await bridge.chat(MODEL, "?", response_format=schema)
    assert sent(route)["response_format"]["json_schema"]["schema"] == schema
    assert result.parsed == {"ok": True}


async def test_model_mismatch_warns_once_and_is_flagged(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    server.post(CHAT).respond(200, json=completion({"content": "hi"}, model="gemma-3-270m"))
    with pytest.warns(lmbridge.ModelMismatchWarning, match="gemma-3-270m"):
        result = await bridge.chat(MODEL, "hi")
    assert result.model_mismatch and result.model == "gemma-3-270m"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        await bridge.chat(MODEL, "hi")  # the same pair is not warned about again


async def test_instance_and_variant_suffixes_are_not_a_mismatch(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    server.post(CHAT).respond(200, json=completion({"content": "hi"}, model="qwen/qwen3-4b:2"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = await bridge.chat(MODEL, "hi")
    assert not result.model_mismatch


async def test_invalid_response_shape(bridge: Bridge, server: respx.MockRouter) -> None:
    server.post(CHAT).respond(200, json={"choices": "nope"})
    with pytest.raises(lmbridge.InvalidResponseError):
        await bridge.chat(MODEL, "hi")
